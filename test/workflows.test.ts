// The GitHub workflows, checked against the GitHub Actions schema here, so a typo fails CI in
// this repository instead of on GitHub.
import * as fs from "fs";
import * as path from "path";
import { validateWorkflow } from "@action-validator/core";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../scripts/evaluate";

const DIR = path.join(REPO_ROOT, ".github", "workflows");
const read = (name: string) => fs.readFileSync(path.join(DIR, name), "utf8");

describe("GitHub workflows", () => {
    const files = fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)).sort();

    it("has the test and preview workflows", () => {
        expect(files).to.deep.equal(["preview.yml", "test.yml"]);
    });

    for (const file of files) {
        it(`${file} validates against the GitHub Actions schema`, () => {
            expect(validateWorkflow(read(file)).errors).to.deep.equal([]);
        });
    }

    it("rejects a workflow with a typo", () => {
        const broken = read("test.yml").replace("runs-on:", "runs_on:");
        expect(validateWorkflow(broken).errors).not.to.deep.equal([]);
    });

    it("tests with the README's command on every push and pull request", () => {
        const wf = parseYaml(read("test.yml")) as { on: Record<string, unknown>; jobs: { test: { steps: { run?: string }[] } } };
        expect(Object.keys(wf.on).sort()).to.deep.equal(["pull_request", "push"]);
        expect(wf.jobs.test.steps.map((s) => s.run ?? "").join("\n")).to.include(".ci/run");
    });

    it("keeps the tools built from source between runs, keyed on everything that builds them", () => {
        const wf = parseYaml(read("test.yml")) as { jobs: { test: { env: Record<string, string>; steps: { uses?: string; run?: string; with?: Record<string, string> }[] } } };
        const cache = wf.jobs.test.steps.find((s) => s.uses?.startsWith("actions/cache@"))!;
        expect(cache.with?.path).to.equal("${{ env.WARMSTART_TOOLS }}");
        expect(cache.with?.key).to.include("hashFiles('tools/**')");
        // .ci/run runs under sudo: the cache's folder must reach tools/build.sh.
        expect(wf.jobs.test.steps.map((s) => s.run ?? "").join("\n")).to.match(/--preserve-env=[^ ]*WARMSTART_TOOLS/);
    });

    // Current majors, read 2026-11: pulumi/actions CHANGELOG 7.0.0 (node 24 runtime),
    // google-github-actions/auth README ("uses: google-github-actions/auth@v3").
    it("uses the current majors of the Pulumi and Google auth actions", () => {
        const uses = [...read("preview.yml").matchAll(/uses:\s*(\S+)/g)].map((m) => m[1]);
        expect(uses).to.include.members(["pulumi/actions@v7", "google-github-actions/auth@v3"]);
    });

        it("previews with the policy pack when it has credentials, and uploads the offline plan when not", () => {
        const wf = parseYaml(read("preview.yml")) as { jobs: { preview: { steps: { uses?: string; run?: string; if?: string; with?: Record<string, unknown> }[] } } };
        const steps = wf.jobs.preview.steps;
        const preview = steps.find((s) => s.uses?.startsWith("pulumi/actions@"))!;
        expect(preview.with).to.include({ command: "preview", "comment-on-pr": true, policyPacks: "policy" });
        expect(preview.if).to.equal("env.HAS_CREDENTIALS == 'true'");
        const auth = steps.find((s) => s.uses?.startsWith("google-github-actions/auth@"))!;
        expect(auth.with).to.have.keys(["workload_identity_provider", "service_account"]);
        const offline = steps.filter((s) => s.if === "env.HAS_CREDENTIALS != 'true'");
        expect(offline.map((s) => s.run ?? s.uses).join("\n")).to.match(/--format json[\s\S]*--format svg[\s\S]*upload-artifact/);
    });

    it("publishes the cost estimate and its diff against the base branch's plan, with or without credentials", () => {
        const wf = parseYaml(read("preview.yml")) as { jobs: { preview: { steps: { uses?: string; run?: string; if?: string; with?: Record<string, unknown> }[] } } };
        const steps = wf.jobs.preview.steps;
        const base = steps.find((s) => s.uses?.startsWith("actions/checkout@") && s.with?.path === "base")!;
        expect(base.with).to.include({ ref: "${{ github.event.pull_request.base.sha }}" });
        const cost = steps.find((s) => s.run?.includes("--format cost"))!;
        expect(cost.if, "the cost step runs with and without credentials").to.equal(undefined);
        expect(cost.run).to.match(/--prefix base plan -- \$\{\{ matrix.stack \}\} --format json[\s\S]*--format cost --against cost\/base-/);
        expect(cost.run).to.include("$GITHUB_STEP_SUMMARY");
        const upload = steps.find((s) => s.uses?.startsWith("actions/upload-artifact@") && s.with?.path === "cost/")!;
        expect(upload.if).to.equal(undefined);
    });
});
