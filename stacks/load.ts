// Reads the stack configuration from Pulumi config and validates it before any resource exists.
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { StackConfig, StackConfigInput, stackConfigSchema } from "./schema";

/** The project namespace of every warmstart key in a stack file. */
export const CONFIG_NAMESPACE = "warmstart";

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
    const result = stackConfigSchema.safeParse(raw);
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
        try {
            raw[key] = JSON.parse(text);
        } catch {
            // Plain strings (region, builder) are stored unquoted by `pulumi config set`.
            raw[key] = text;
        }
    }
    return raw;
}

/** Collects the stack's keys from Pulumi config into the raw object the schema validates. */
export function readRawConfig(): Record<string, unknown> {
    return flatToRaw(pulumi.runtime.allConfig());
}

/** The validated configuration of the running stack. */
export function loadStackConfig(): StackConfig {
    return parseStackConfig(readRawConfig());
}
