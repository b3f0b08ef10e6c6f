// Stack configuration as the Pulumi CLI would hand it to the program, read from the
// repository's Pulumi.yaml (project defaults) and Pulumi.<stack>.yaml files.
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const PROJECT = "warmstart";

/** Stack config as the CLI hands it to the program: `ns:key` -> string (objects as JSON). */
export type FlatConfig = Record<string, string>;

function stringify(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

const qualified = (key: string) => (key.includes(":") ? key : `${PROJECT}:${key}`);

/** Project-level defaults declared in Pulumi.yaml, as `warmstart:key` entries. */
export function projectDefaults(root = REPO_ROOT): FlatConfig {
    const project = parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { config?: Record<string, { default?: unknown }> };
    const out: FlatConfig = {};
    for (const [key, decl] of Object.entries(project.config ?? {})) {
        if (decl?.default !== undefined) out[qualified(key)] = stringify(decl.default);
    }
    return out;
}

/** Stack names with a `Pulumi.<stack>.yaml` in the repository. */
export function listStacks(root = REPO_ROOT): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/** The config of `Pulumi.<stack>.yaml` over the project defaults. */
export function stackFileConfig(stack: string, root = REPO_ROOT): FlatConfig {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const known = listStacks(root).join(", ");
        throw new Error(`no stack file Pulumi.${stack}.yaml (stacks here: ${known || "none"})`);
    }
    const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const out = projectDefaults(root);
    for (const [key, value] of Object.entries(doc.config ?? {})) out[qualified(key)] = stringify(value);
    return out;
}
