// What a refusal says when a field has no message of its own: what to write there, read from the
// field's schema (its checks, bounds, options), never the schema library's generic text. The
// field's own messages come first: this only fills the gaps, for every key alike.
import { z } from "zod";

/** The parts of a zod schema's internals read here (zod 4 keeps them under `_zod`). */
interface SchemaInternals {
    def: { type: string; innerType?: unknown; checks?: { _zod: { def: { error?: (issue: unknown) => unknown } } }[]; entries?: Record<string, unknown>; values?: unknown[] };
}

const internals = (schema: unknown): SchemaInternals | undefined => (schema as { _zod?: SchemaInternals } | undefined)?._zod;

/** The schema under `.default()`, `.optional()` and the like. */
function unwrap(schema: unknown): SchemaInternals | undefined {
    let at = internals(schema);
    while (at?.def.innerType !== undefined) at = internals(at.def.innerType);
    return at;
}

/** A check's own message when it has a fixed one (`.regex(re, "must be …")`). */
function checkMessage(schema: SchemaInternals): string | undefined {
    for (const check of schema.def.checks ?? []) {
        const text = check._zod.def.error?.({ code: "custom", input: undefined });
        if (typeof text === "string") return text;
    }
    return undefined;
}

const list = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(", ");

/** The range a number field takes, from its checks: "a whole number from 1 to 65535". */
function numberText(schema: SchemaInternals | undefined): string {
    const checks = (schema?.def.checks ?? []).map((c) => c._zod.def as { check?: string; format?: string; value?: number; inclusive?: boolean });
    const kind = checks.some((c) => c.check === "number_format" && c.format?.includes("int") === true) ? "a whole number" : "a number";
    const low = checks.find((c) => c.check === "greater_than");
    const high = checks.find((c) => c.check === "less_than");
    if (low?.inclusive === true && high?.inclusive === true) return `${kind} from ${low.value} to ${high.value}`;
    const parts = [low === undefined ? "" : `${low.inclusive === true ? "at least" : "greater than"} ${low.value}`, high === undefined ? "" : `${high.inclusive === true ? "at most" : "less than"} ${high.value}`].filter(Boolean);
    return parts.length === 0 ? kind : `${kind} ${parts.join(" and ")}`;
}

/** What to write in a field, as "must be …" or "must …" (a check's own message). */
function whatToWrite(schema: SchemaInternals | undefined): string {
    switch (schema?.def.type) {
        case "string": {
            return checkMessage(schema) ?? "must be text";
        }
        case "number":
            return `must be ${numberText(schema)}`;
        case "boolean":
            return "must be true or false, without quotes";
        case "enum":
            return `must be one of ${list(Object.values(schema.def.entries ?? {}))}`;
        case "literal":
            return `must be ${list(schema.def.values ?? [])}`;
        case "array":
            return "must be a list (YAML lines starting with '- ')";
        case "object":
        case "record":
            return "must be a map of keys to values (indented YAML lines `key: value`)";
        default:
            return "must be as the configuration reference (docs/configuration.md) describes";
    }
}

/** How YAML read a value of the wrong type, to say why it does not fit. */
function readAs(input: unknown): string {
    if (input === null) return "an empty value (null)";
    if (Array.isArray(input)) return "a list";
    if (typeof input === "string") return `the text ${JSON.stringify(input)}`;
    return typeof input === "object" ? "a map" : `the ${typeof input} ${JSON.stringify(input)}`;
}

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * The message of an issue no field gave a message for; undefined leaves it to the field's schema.
 * Passed to `safeParse(…, { error })`, below every message a schema sets itself.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
    // `schema` is the field a check belongs to (a bound's issue is raised by the check itself).
    const schema = unwrap((issue as { schema?: unknown }).schema ?? issue.inst);
    switch (issue.code) {
        case "invalid_type": {
            if (issue.input === undefined) return `is required: it ${whatToWrite(schema)}`;
            if (issue.expected === "int") return `must be ${numberText(schema)}`;
            const what = whatToWrite(schema);
            // A scalar YAML read as another type: `memory: 512` arrives as a number, `"true"` as text.
            if (schema?.def.type === "string" && typeof issue.input !== "object") return `${what}, in quotes (YAML read ${readAs(issue.input)})`;
            return `${what} (YAML read ${readAs(issue.input)})`;
        }
        case "too_big":
        case "too_small": {
            const bound = Number(issue.code === "too_big" ? issue.maximum : issue.minimum);
            const inclusive = issue.inclusive !== false;
            if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") return `must be ${numberText(schema)}`;
            if (issue.origin === "array" || issue.origin === "set") {
                const n = inclusive ? bound : issue.code === "too_big" ? bound - 1 : bound + 1;
                return issue.code === "too_big" ? `must list at most ${plural(n, "entry", "entries")}` : `must list at least ${plural(n, "entry", "entries")}`;
            }
            if (issue.origin === "string") {
                if (issue.code === "too_small" && bound <= 1) return "must not be empty";
                return issue.code === "too_big" ? `must be at most ${plural(bound, "character", "characters")}` : `must be at least ${plural(bound, "character", "characters")}`;
            }
            return undefined;
        }
        case "invalid_value":
            return issue.values.length === 1 ? `must be ${list(issue.values)}` : `must be one of ${list(issue.values)}`;
        case "invalid_format":
            return issue.format === "email" ? "must be an email address such as oncall@example.com" : issue.format === "url" ? "must be a URL such as https://example.com/path" : `must be a ${issue.format}`;
        case "invalid_key": {
            // The key's own schema said what is wrong with it.
            const why = issue.issues.map((i) => i.message).filter((m) => m !== undefined && m !== "").join("; ");
            return `is not a key this map takes${why === "" ? "" : `: the key ${why}`}`;
        }
        case "not_multiple_of":
            return `must be a multiple of ${String(issue.divisor)}`;
        case "invalid_union":
            return "matches none of the forms this key takes (see docs/configuration.md)";
        default:
            return undefined;
    }
};
