import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { evaluateStack, listStacks, Plan, REPO_ROOT } from "../scripts/evaluate";
import { PICTURE_DOT, PICTURE_STACK, PICTURE_SVG, SNAPSHOT_DIR, updateSnapshots } from "../scripts/plan";
import { diffPlans, JsonPlan, jsonText, toDot, toJsonPlan, toSvg } from "../scripts/render";
import { evaluateWith } from "./support/plan";

const UPDATE = "npm run plan -- --update-snapshots";
const IMAGE_TYPE = "docker-build:index:Image";

describe("reviewing changes", function () {
    this.timeout(120000);

    describe("graph snapshots", () => {
        it("keeps one snapshot per stack file, and none for a stack that is gone", () => {
            const snapshots = fs.readdirSync(SNAPSHOT_DIR).filter((f) => f.endsWith(".json")).map((f) => f.slice(0, -5)).sort();
            expect(snapshots, `stack files and snapshots differ: run ${UPDATE}`).to.deep.equal(listStacks());
        });

        for (const stack of listStacks()) {
            it(`matches the snapshot of ${stack}`, async () => {
                const file = path.join(SNAPSHOT_DIR, `${stack}.json`);
                const expected = JSON.parse(fs.readFileSync(file, "utf8")) as JsonPlan;
                const actual = toJsonPlan(await evaluateStack(stack));
                const diff = diffPlans(expected, JSON.parse(JSON.stringify(actual)) as JsonPlan);
                expect(diff, `the ${stack} graph changed; if intended, run ${UPDATE} and commit:\n${diff.join("\n")}`).to.deep.equal([]);
            });
        }

        it("is stable from run to run", async () => {
            expect(jsonText(await evaluateStack("prod"))).to.equal(jsonText(await evaluateStack("prod")));
        });

        it("never writes credentials into a plan file", () => {
            const withToken: Plan = {
                stack: "dev", outputs: {},
                resources: [{ urn: "urn:x", type: IMAGE_TYPE, name: "x", custom: true, dependencies: [], dependsOn: [], options: {}, state: {}, inputs: { registries: [{ address: "h", username: "u", password: "secret-token" }] } }],
            };
            expect(jsonText(withToken)).to.include('"password": "[redacted]"').and.not.to.include("secret-token");
            // The program passes no credentials at all: pushes use the host's credential helper.
            expect(fs.readFileSync(path.join(SNAPSHOT_DIR, "dev.json"), "utf8")).not.to.match(/"registries"|"password"/);
        });

        it("shows a changed component as a readable diff", async () => {
            const before = toJsonPlan(await evaluateStack("dev"));
            // PyTorch 2.8 is published for CUDA 12.9 (stacks/torchWheels.ts); 2.7, the default, is not.
            const bases = [{ name: "runtime", kind: "runtime", cudaVersion: "12.9.1", torchVersion: "2.8.0" }, { name: "devel", kind: "devel", cudaVersion: "12.9.1", torchVersion: "2.8.0" }];
            const after = toJsonPlan(await evaluateWith({ "warmstart:bases": bases }));
            const diff = diffPlans(before, after, 1000);
            expect(diff).to.include.members([
                "~ docker-build:index:Image bases-runtime  inputs.buildArgs.CUDA_VERSION: \"12.8.1\" -> \"12.9.1\"",
                "~ docker-build:index:Image bases-runtime  inputs.buildArgs.TORCH_INDEX_URL: \"https://download.pytorch.org/whl/cu128\" -> \"https://download.pytorch.org/whl/cu129\"",
            ]);
            expect(diff.some((l) => l.startsWith("~ gcp:cloudrunv2/service:Service embeddings-service  inputs.template.containers.0.image:"))).to.equal(true);
            const removed = diffPlans(before, { ...before, resources: before.resources.filter((r) => r.name !== "model-sync-schedule") });
            expect(removed).to.deep.equal(["- gcp:cloudscheduler/job:Job model-sync-schedule"]);
        });
    });

    it("--update-snapshots says updated only for a file whose content it changed", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshots-"));
        const paths = { dir: path.join(dir, "snapshots"), pictureDot: path.join(dir, "graph.dot"), pictureSvg: path.join(dir, "graph.svg") };
        try {
            fs.mkdirSync(paths.dir);
            fs.writeFileSync(path.join(paths.dir, "gone.json"), "{}\n");
            const first = await updateSnapshots(paths);
            const files = [...listStacks().map((s) => path.join(paths.dir, `${s}.json`)), paths.pictureDot, paths.pictureSvg].map((f) => path.relative(REPO_ROOT, f)).sort();
            expect(first.filter((l) => l.startsWith("removed "))).to.deep.equal([`removed ${path.relative(REPO_ROOT, path.join(paths.dir, "gone.json"))}`]);
            expect(first.filter((l) => l.startsWith("updated ")).map((l) => l.slice(8)).sort()).to.deep.equal(files);
            // One file edited by hand: only it is rewritten, the rest are said to be unchanged.
            const prod = path.join(paths.dir, "prod.json");
            const written = fs.readFileSync(prod, "utf8");
            fs.writeFileSync(prod, `${written} `);
            const again = await updateSnapshots(paths);
            expect(again.filter((l) => l.startsWith("updated "))).to.deep.equal([`updated ${path.relative(REPO_ROOT, prod)}`]);
            expect(again.filter((l) => l.startsWith("unchanged ")).length).to.equal(files.length - 1);
            expect(fs.readFileSync(prod, "utf8")).to.equal(written);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    describe("the picture", () => {
        it("draws each component as a cluster and each dependency as an arrow", async () => {
            const plan = await evaluateStack("dev");
            const dot = toDot(plan);
            const components = plan.resources.filter((r) => !r.custom);
            expect((dot.match(/subgraph "cluster_/g) ?? []).length).to.equal(components.length);
            const customs = new Set(plan.resources.filter((r) => r.custom).map((r) => r.urn));
            const edges = plan.resources.filter((r) => r.custom).reduce((n, r) => n + r.dependencies.filter((d) => d !== r.parent && customs.has(d)).length, 0);
            expect((dot.match(/ -> /g) ?? []).length).to.equal(edges);
            const svg = await toSvg(dot);
            expect(svg).to.match(/^<\?xml[\s\S]*<svg[\s\S]*<\/svg>\s*$/);
            expect(svg).to.include("embeddings&#45;service"); // Graphviz escapes hyphens in SVG text
        });

        it("is in the README and is the real dev graph", async () => {
            const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
            expect(readme).to.include(`(${path.relative(REPO_ROOT, PICTURE_SVG)})`);
            const dot = toDot(await evaluateStack(PICTURE_STACK));
            expect(dot, `docs picture is stale: run ${UPDATE}`).to.equal(fs.readFileSync(PICTURE_DOT, "utf8"));
            expect(await toSvg(dot), `docs picture is stale: run ${UPDATE}`).to.equal(fs.readFileSync(PICTURE_SVG, "utf8"));
        });
    });

    describe("npm run plan formats", () => {
        const plan = (...args: string[]) => spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/plan.ts", ...args], { cwd: REPO_ROOT, encoding: "utf8" });

        it("writes the json plan to --out", () => {
            const out = path.join(os.tmpdir(), `plan-${process.pid}.json`);
            const run = plan("prod", "--format", "json", "--out", out);
            expect(run.status, run.stderr).to.equal(0);
            expect(fs.readFileSync(out, "utf8")).to.equal(fs.readFileSync(path.join(SNAPSHOT_DIR, "prod.json"), "utf8"));
            fs.rmSync(out);
        });

        it("refuses an unknown format", () => {
            const run = plan("dev", "--format", "png");
            expect(run.status).to.equal(2);
            expect(run.stderr).to.include("--format tree|json|dot|svg");
        });
    });
});
