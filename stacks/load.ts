// Reads the stack configuration from Pulumi config and validates it before any resource exists.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { missingBuildPaths } from "./buildPaths";
import { platformStackProblems } from "./platformStack";
import { StackConfig, StackConfigInput, stackConfigSchema } from "./schema";
import { configErrorMap } from "./schema/messages";

/** The project namespace of every warmstart key in a stack file. */
export const CONFIG_NAMESPACE = "warmstart";

/** The engine's own settings (`pulumi:tags`, `pulumi:disable-default-providers`, …). */
export const ENGINE_NAMESPACE = "pulumi";

/**
 * The config namespace of each resource provider this program depends on, as its package
 * declares it (`pulumi.name` beside `pulumi.resource: true`): a provider added to package.json
 * adds its namespace, and nothing else has to know.
 */
export function providerNamespaces(root = path.join(__dirname, "..")): string[] {
    const read = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as { dependencies?: Record<string, string>; pulumi?: { resource?: boolean; name?: string } };
    return Object.keys(read(path.join(root, "package.json")).dependencies ?? {})
        .map((dep) => read(path.join(root, "node_modules", dep, "package.json")).pulumi)
        .flatMap((plugin) => (plugin?.resource === true && plugin.name !== undefined ? [plugin.name] : []))
        .sort();
}

/** Every namespace something reads: this program's, the engine's and its providers'. */
export function readNamespaces(): string[] {
    return [CONFIG_NAMESPACE, ENGINE_NAMESPACE, ...providerNamespaces()].sort();
}

/** Keys read from the `warmstart:` namespace, in the order the README documents them. */
export const CONFIG_KEYS = ["target", "local", "layer", "platformStack", "region", "namePrefix", "deletionProtection", "builder", "registry", "bases", "services", "modelCache", "models", "sync", "monitoring", "pricing"] as const;

/** A stack configuration that cannot be deployed; the message names every bad key and value. */
export class StackConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`Invalid stack configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
        this.name = "StackConfigError";
    }
}

/** `warmstart:services[1].cpu`, or `gcp:project` for the one key of another namespace. */
export function configKeyOf(path: PropertyKey[]): string {
    if (path.length === 0) return `${CONFIG_NAMESPACE}:<root>`;
    const [head, ...rest] = path;
    const prefix = head === "project" ? "gcp:project" : `${CONFIG_NAMESPACE}:${String(head)}`;
    return rest.reduce<string>((acc, part) => (typeof part === "number" ? `${acc}[${part}]` : `${acc}.${String(part)}`), prefix);
}

function valueAt(root: unknown, path: PropertyKey[]): unknown {
    let value: unknown = root;
    for (const part of path) {
        if (value === null || typeof value !== "object") return undefined;
        value = (value as Record<PropertyKey, unknown>)[part];
    }
    return value;
}

function describe(value: unknown): string {
    if (value === undefined) return "(not set)";
    const text = JSON.stringify(value);
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Validates a raw configuration object; throws StackConfigError naming each bad key and value. */
export function parseStackConfig(raw: StackConfigInput | Record<string, unknown>): StackConfig {
    const result = stackConfigSchema.safeParse(raw, { error: configErrorMap });
    if (result.success) return result.data;
    throw new StackConfigError(configProblems(result.error, raw));
}

/**
 * Each issue as `<config key>: <message> (value <value>)`. `at` is where the validated value sits
 * in the whole configuration, when a section was validated on its own (`["pricing"]`).
 */
export function configProblems(error: z.ZodError, raw: unknown, at: PropertyKey[] = []): string[] {
    const root = at.reduceRight<unknown>((value, key) => ({ [key]: value }), raw);
    return error.issues.map((issue) => {
        const path = [...at, ...issue.path];
        // An unknown key is reported on its parent; name the key itself.
        if (issue.code === "unrecognized_keys") {
            return issue.keys
                .map((key) => `${configKeyOf([...path, key])}: is not a known key (value ${describe(valueAt(root, [...path, key]))})`)
                .join("; ");
        }
        return `${configKeyOf(path)}: ${issue.message} (value ${describe(valueAt(root, path))})`;
    });
}

/**
 * The raw object the schema validates, from config as the CLI hands it to the program:
 * `namespace:key` -> string, objects as JSON. Unknown `warmstart:` keys are kept so the schema
 * names them (a misspelt key would otherwise be ignored and its default used instead).
 */
export function flatToRaw(flat: Record<string, string>): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    if (flat["gcp:project"] !== undefined && flat["gcp:project"] !== "") raw.project = flat["gcp:project"];
    for (const [fullKey, text] of Object.entries(flat)) {
        const [namespace, key] = fullKey.split(":");
        if (namespace !== CONFIG_NAMESPACE || key === undefined) continue;
        // Pulumi.yaml declares optional strings (builder, platformStack) with an empty default:
        // the CLI requires a default for every declared key, and empty means "not set".
        if (text === "") continue;
        raw[key] = parseValue(text);
    }
    return raw;
}

/**
 * Keys in a namespace nothing reads: a misspelt `warmstrat:models` would otherwise be dropped in
 * silence and the stack deployed without models.
 */
export function unreadNamespaceProblems(flat: Record<string, string>, namespaces = readNamespaces()): string[] {
    return Object.entries(flat).flatMap(([fullKey, text]) => {
        const [namespace, key] = fullKey.split(":");
        if (namespaces.includes(namespace)) return [];
        const meant = (CONFIG_KEYS as readonly string[]).includes(key) ? `; did you mean ${CONFIG_NAMESPACE}:${key}?` : "";
        return [`${fullKey}: is in the namespace '${namespace}', which neither this program nor its providers read (they read ${namespaces.join(", ")})${meant} (value ${describe(parseValue(text))})`];
    });
}

/** A config value: JSON for objects, lists, numbers and booleans; plain strings (region, builder) as `pulumi config set` stores them, unquoted. */
function parseValue(text: string): unknown {
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

/** Validates config as the CLI hands it to the program; throws StackConfigError naming every bad key. */
export function parseFlatConfig(flat: Record<string, string>): StackConfig {
    const unread = unreadNamespaceProblems(flat);
    const raw = flatToRaw(flat);
    const result = stackConfigSchema.safeParse(raw, { error: configErrorMap });
    if (!result.success || unread.length > 0) throw new StackConfigError([...unread, ...(result.success ? [] : configProblems(result.error, raw))]);
    return result.data;
}

/**
 * The validated configuration of the running stack, whose build contexts and Dockerfiles exist
 * under `root`, where Pulumi runs the program and the builder reads them.
 */
export function loadStackConfig(root: string = process.cwd()): StackConfig {
    const flat = pulumi.runtime.allConfig();
    const cfg = parseFlatConfig(flat);
    const organization = platformStackProblems(cfg.platformStack, pulumi.getOrganization());
    if (organization.length > 0) throw new StackConfigError(organization);
    const missing = missingBuildPaths(cfg, root);
    if (missing.length > 0) {
        const raw = flatToRaw(flat);
        throw new StackConfigError(missing.map((m) => `${configKeyOf(m.key)}: ${m.message} (value ${describe(valueAt(raw, m.key))})`));
    }
    return cfg;
}
