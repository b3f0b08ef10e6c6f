// The README as a newcomer's path and docs/ as its references: links that lead somewhere, an
// outline of the README's own headings, and the how-tos' steps followed as written.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../scripts/evaluate";
import { lintDockerfile } from "../scripts/dockerfileLint";
import { parseStackConfig, flatToRaw } from "../stacks/load";
import { devConfigWith, evaluateWith, one } from "./support/plan";

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
const PAGES = ["README.md", ...fs.readdirSync(path.join(REPO_ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** A page's lines outside fenced code blocks, with their line numbers. */
function prose(text: string): { line: string; at: number }[] {
    let fenced = false;
    return text.split("\n").flatMap((line, i) => {
        if (/^\s*```/.test(line)) {
            fenced = !fenced;
            return [];
        }
        return fenced ? [] : [{ line, at: i + 1 }];
    });
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, each space a hyphen. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
const headings = (text: string) => prose(text).map((l) => /^#{1,6} (.*)$/.exec(l.line)?.[1]).filter((h): h is string => h !== undefined);

/** The body of a `## title` section of a page, up to the next heading of its level. */
function section(text: string, title: string): string {
    const start = text.indexOf(`\n${title}\n`);
    expect(start, `a "${title}" section`).to.be.greaterThan(0);
    const level = /^#+/.exec(title)![0];
    const rest = text.slice(start + title.length + 2);
    const end = rest.search(new RegExp(`\\n${level} `));
    return end < 0 ? rest : rest.slice(0, end);
}

describe("the README and docs/", () => {
    it("link only to files that exist, and to headings those files have", () => {
        const broken: string[] = [];
        for (const page of PAGES) {
            for (const { line, at } of prose(read(page))) {
                for (const [, target] of line.matchAll(/\]\(([^)\s]+)\)/g)) {
                    if (/^[a-z]+:/.test(target)) continue;
                    const [file, anchor] = target.split("#");
                    const resolved = file === "" ? page : path.normalize(path.join(path.dirname(page), file));
                    if (!fs.existsSync(path.join(REPO_ROOT, resolved))) broken.push(`${page}:${at}: ${target} (no file ${resolved})`);
                    else if (anchor !== undefined && resolved.endsWith(".md") && !headings(read(resolved)).map(anchorOf).includes(anchor)) broken.push(`${page}:${at}: ${target} (no heading #${anchor} in ${resolved})`);
                }
            }
        }
        expect(broken).to.deep.equal([]);
    });

    it("start every heading on a line of its own, after a blank line", () => {
        const runOn = PAGES.flatMap((page) => {
            const lines = read(page).split("\n");
            return prose(read(page)).filter(({ line, at }) => /^#{1,6} /.test(line) && at > 1 && lines[at - 2].trim() !== "").map(({ line, at }) => `${page}:${at}: ${line}`);
        });
        expect(runOn).to.deep.equal([]);
    });

    it("keep the README a path (what it is, try it, deploy it, change it), its references in docs/", () => {
        const readme = read("README.md");
        const outline = headings(readme).filter((h) => !h.startsWith("#"));
        for (const step of ["Two commands", "Try it without a cloud account", "Deploying for real", "Forking a stack per project", "Adding a service", "Adding a model"]) expect(outline, step).to.include(step);
        // Sample outputs and key-by-key tables belong to docs/: none of their headings or rows here.
        expect(outline.filter((h) => /^Cost (change )?of stack|^Fixed:|^Per unit of use|^Prices used/.test(h)), "the cost estimate's own headings").to.deep.equal([]);
        expect(readme).not.to.include("| key | type | default | meaning |");
        for (const doc of ["docs/configuration.md", "docs/cost.md", "docs/operations.md"]) expect(readme, doc).to.include(`](${doc}`);
    });

    it("name only npm scripts that exist", () => {
        const scripts = Object.keys((JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts);
        const named = PAGES.flatMap((page) => [...read(page).matchAll(/\bnpm run (?:-s )?([a-z][\w:-]*)/g)].map((m) => [page, m[1]]));
        expect(named.length).to.be.greaterThan(10);
        expect(named.filter(([, script]) => !scripts.includes(script)).map(([page, script]) => `${page}: npm run ${script}`)).to.deep.equal([]);
    });

    describe("how-tos, followed as written", () => {
        const readme = read("README.md");

        it("Adding a service: a context with the files it names passes the Dockerfile lint", () => {
            const steps = section(readme, "## Adding a service");
            // The Dockerfile images/README.md shows, and every file the step names beside it.
            const dockerfile = /```dockerfile\n([\s\S]*?)```/.exec(section(read("images/README.md"), "## Adding a service on the bases"))![1];
            const context = fs.mkdtempSync(path.join(os.tmpdir(), "service-"));
            try {
                fs.writeFileSync(path.join(context, "Dockerfile"), dockerfile);
                expect(lintDockerfile(dockerfile, "Dockerfile", context).map((v) => v.rule), "the lint checks what the step must name").to.include("dockerignore");
                for (const [, file] of steps.matchAll(/`(\.[\w.-]+)`/g)) fs.writeFileSync(path.join(context, file), "");
                expect(lintDockerfile(dockerfile, "Dockerfile", context)).to.deep.equal([]);
                expect(steps).to.include("npm run lint:dockerfiles");
            } finally {
                fs.rmSync(context, { recursive: true, force: true });
            }
        });

        it("Adding a service: its stack entry is one the schema takes", () => {
            const entry = parseYaml(/```yaml\n([\s\S]*?)```/.exec(section(readme, "## Adding a service"))![1].replace(/^ {3}/gm, "")) as unknown[];
            const services = JSON.parse(devConfigWith({})["warmstart:services"]) as unknown[];
            expect(() => parseStackConfig(flatToRaw(devConfigWith({ "warmstart:services": [...services, ...entry] })))).not.to.throw();
        });

        it("Adding a model: each example entry reaches the sync job's MODELS_JSON", async () => {
            const entries = parseYaml(/```yaml\n([\s\S]*?)```/.exec(section(readme, "## Adding a model"))![1].replace(/^ {3}/gm, "")) as { name: string; source: string }[];
            expect(entries.map((e) => e.source).sort()).to.deep.equal(["huggingface", "ollama", "url"]);
            const models = JSON.parse(devConfigWith({})["warmstart:models"]) as unknown[];
            const plan = await evaluateWith({ "warmstart:models": [...models, ...entries] });
            const envs = (one(plan, "gcp:cloudrunv2/job:Job", "model-sync-job").inputs.template as { template: { containers: { envs: { name: string; value: string }[] }[] } }).template.containers[0].envs;
            const synced = JSON.parse(envs.find((e) => e.name === "MODELS_JSON")!.value) as { name: string }[];
            expect(synced.map((m) => m.name)).to.include.members(entries.map((e) => e.name));
        });

        it("What a change costs: the base plan and the comparison run as written", function () {
            this.timeout(120000);
            const block = /```sh\n([\s\S]*?)```/.exec(section(readme, "## What a change costs"))![1];
            const commands = block.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter(Boolean);
            expect(commands).to.have.length(2);
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "base-plan-"));
            try {
                // The same commands, with the base plan in a folder of its own rather than the clone.
                const runs = commands.map((c) => spawnSync("sh", ["-c", c.replace(/\bbase\.json\b/g, path.join(dir, "base.json"))], { cwd: REPO_ROOT, encoding: "utf8" }));
                for (const [i, run] of runs.entries()) expect(run.status, `${commands[i]}\n${run.stderr}`).to.equal(0);
                expect(runs[1].stdout).to.include("## Cost change of stack `prod` against the base plan");
                expect(runs[1].stdout).to.include("No cost line changed.");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
