import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { evaluateStack, listStacks, REPO_ROOT, stackFileConfig } from "../scripts/evaluate";
import { renderTree, SNAPSHOT_DIR } from "../scripts/plan";
import { CONFIG_KEYS } from "../stacks/load";
import { stackConfigSchema } from "../stacks/schema";
import { keyPaths, stackJsonSchema } from "./support/schemaKeys";

describe("documentation", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

    it("documents every configuration key the schema accepts", () => {
        const paths = keyPaths(stackJsonSchema()).map((p) => (p === "project" ? "gcp:project" : p));
        expect(paths.length).to.be.greaterThan(50);
        const reference = fs.readFileSync(path.join(REPO_ROOT, "docs", "configuration.md"), "utf8");
        const missing = paths.filter((p) => !reference.includes(`\`${p}\``) && !reference.includes(`\`${p}:`));
        expect(missing, "keys missing from the configuration reference, docs/configuration.md").to.deep.equal([]);
        expect(readme).to.include("](docs/configuration.md)");
    });

    it("declares every program key in Pulumi.yaml with a description", () => {
        const project = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { description?: string }> };
        expect(Object.keys(project.config).sort()).to.deep.equal([...CONFIG_KEYS].sort());
        for (const [key, decl] of Object.entries(project.config)) expect(decl.description?.trim().length ?? 0, key).to.be.greaterThan(0);
    });

    // The snapshots are the program's outputs for each stack file (the snapshot tests keep them so).
    it("lists every stack output, and only those, for each kind of stack", () => {
        const section = /### Stack outputs\n([\s\S]*?)(\n#|$)/.exec(readme)?.[1] ?? "";
        const rows = section.split("\n").filter((l) => l.startsWith("|")).map((l) => l.split("|").slice(1, -1).map((c) => c.trim()));
        expect(rows.length, "the Stack outputs table").to.be.greaterThan(2);
        const [header, , ...body] = rows;
        const marked = (column: string) => {
            const at = header.indexOf(column);
            expect(at, `column ${column} in ${header.join(" | ")}`).to.be.greaterThan(0);
            return body.filter((r) => r[at] === "✓").map((r) => /^`([^`]+)`$/.exec(r[0])?.[1] ?? r[0]).sort();
        };
        for (const stack of listStacks()) {
            const config = stackFileConfig(stack);
            const column = config["warmstart:target"] === "local" ? "local" : `GCP, \`${config["warmstart:layer"] ?? "all"}\``;
            const snapshot = JSON.parse(fs.readFileSync(path.join(SNAPSHOT_DIR, `${stack}.json`), "utf8")) as { outputs: Record<string, unknown> };
            expect(marked(column), `outputs of stack ${stack} (column ${column})`).to.deep.equal(Object.keys(snapshot.outputs).sort());
        }
    });

    describe("the two commands", () => {
        const block = /## Two commands[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
        const commands = block.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter(Boolean);
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string>; dependencies: Record<string, string>; devDependencies: Record<string, string> };

        it("are the README's install-and-plan and test commands", () => {
            expect(commands).to.deep.equal(["npm ci && npm run plan -- dev", "npm test"]);
        });

        it("install from a lockfile that matches package.json (what npm ci refuses otherwise)", () => {
            const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }> };
            expect(lock.packages[""].dependencies).to.deep.equal(pkg.dependencies);
            expect(lock.packages[""].devDependencies).to.deep.equal(pkg.devDependencies);
        });

        it("plan the dev stack as written, printing its whole graph", async function () {
            this.timeout(120000);
            // The install step is the lockfile check above; the rest runs as a newcomer types it.
            const [install, plan] = commands[0].split("&&").map((c) => c.trim());
            expect(install).to.equal("npm ci");
            const run = spawnSync("sh", ["-c", plan], { cwd: REPO_ROOT, encoding: "utf8" });
            expect(run.status, run.stderr).to.equal(0);
            expect(run.stdout).to.include(`${renderTree(await evaluateStack("dev"))}\n`);
        });

        it("test with the script CI runs", () => {
            expect(commands[1]).to.equal("npm test");
            // The suite itself is not run from inside the suite: CI's entry point runs this command.
            const ci = fs.readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8");
            expect(ci.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#")).pop()).to.equal(commands[1]);
            expect(pkg.scripts.test.split("&&").map((c) => c.trim())).to.include.members(["npm run build", "npm run lint", "mocha"]);
        });
    });

    // Pulumi CLI 3.187+ takes `type: object` and `type: array` (items: {type: object}) in a
    // project's config (pulumi/pulumi sdk/go/common/workspace/project.json); older ones refuse them.
    it("types every key in Pulumi.yaml as the schema does, and names the CLI version that reads it", () => {
        const project = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { type?: string; items?: { type?: string } }> };
        type Typed = { type?: string; enum?: unknown[]; items?: Typed; properties?: unknown; anyOf?: Typed[]; oneOf?: Typed[] };
        const schema = z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any" }) as { properties: Record<string, Typed> };
        for (const key of CONFIG_KEYS) {
            const prop = schema.properties[key];
            const expected = prop.type ?? (prop.enum !== undefined ? "string" : undefined);
            expect(project.config[key].type, key).to.equal(expected);
            if (expected === "array") {
                const items = prop.items!;
                const itemType = items.type ?? (items.oneOf ?? items.anyOf ?? [])[0]?.type;
                expect(project.config[key].items?.type, `${key} items`).to.equal(itemType);
            }
        }
        expect(readme).to.match(/Pulumi CLI\]\([^)]*\) 3\.187 or newer/);
    });
});
