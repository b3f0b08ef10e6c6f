import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { REPO_ROOT } from "../scripts/evaluate";
import { CONFIG_KEYS } from "../stacks/load";
import { stackConfigSchema } from "../stacks/schema";

type JsonSchema = { properties?: Record<string, JsonSchema>; items?: JsonSchema; oneOf?: JsonSchema[]; anyOf?: JsonSchema[] };

/** Every key path of the schema, written as the README writes them: `services[].gpu.type`. */
function keyPaths(schema: JsonSchema, prefix = ""): string[] {
    const out: string[] = [];
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        const here = `${prefix}${key}`;
        out.push(here);
        out.push(...keyPaths(sub, `${here}.`));
        for (const variant of [sub.items, ...(sub.items?.oneOf ?? []), ...(sub.items?.anyOf ?? [])]) {
            if (variant !== undefined) out.push(...keyPaths(variant, `${here}[].`));
        }
    }
    return [...new Set(out)];
}

describe("documentation", () => {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");

    it("documents every configuration key the schema accepts", () => {
        const schema = z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
        const paths = keyPaths(schema).map((p) => (p === "project" ? "gcp:project" : p));
        expect(paths.length).to.be.greaterThan(50);
        const missing = paths.filter((p) => !readme.includes(`\`${p}\``) && !readme.includes(`\`${p}:`));
        expect(missing, "keys missing from the README's configuration reference").to.deep.equal([]);
    });

    it("declares every program key in Pulumi.yaml with a description", () => {
        const project = parseYaml(fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8")) as { config: Record<string, { description?: string }> };
        expect(Object.keys(project.config).sort()).to.deep.equal([...CONFIG_KEYS].sort());
        for (const [key, decl] of Object.entries(project.config)) expect(decl.description?.trim().length ?? 0, key).to.be.greaterThan(0);
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

    it("gives the newcomer commands the scripts define", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
        expect(readme).to.include("npm ci && npm run plan -- dev");
        expect(readme).to.include("npm test");
        expect(pkg.scripts.plan).to.be.a("string");
        expect(pkg.scripts.test).to.be.a("string");
        expect(fs.readFileSync(path.join(REPO_ROOT, ".ci/run"), "utf8")).to.match(/^npm test$/m);
    });
});
