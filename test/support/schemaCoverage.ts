// Which of a zod schema's rules a set of inputs breaks. The rules are read from the schema
// itself (every check, enum, literal and union node; every `ctx.addIssue` of a cross-field
// rule), so a rule added without a failing fixture shows up as not covered.
import * as fs from "fs";
import type { z } from "zod";

interface Node {
    _zod: {
        def: { type: string; checks?: Node[]; check?: string; format?: string; shape?: Record<string, Node>; element?: Node; innerType?: Node; options?: Node[]; discriminator?: string; keyType?: Node; valueType?: Node; in?: Node; out?: Node };
        traits: Set<string>;
        check?: (payload: Payload) => unknown;
        run: (payload: Payload, ctx: unknown) => unknown;
    };
}
interface Payload {
    value: unknown;
    issues: { code: string }[];
}

export interface SchemaRules {
    /** Rule id -> where it first appears in the schema, e.g. `services[].cpu regex`. */
    readonly rules: Map<string, string>;
    /** Rule ids broken by the inputs parsed since `instrument`. */
    readonly broken: Set<string>;
}

/** `ctx.addIssue` sites of the schema's source files, as `<path>:line`. */
function addIssueSites(sourceFiles: string[]): string[] {
    return sourceFiles.flatMap((file) => fs
        .readFileSync(file, "utf8")
        .split("\n")
        .flatMap((line, i) => (/ctx\.addIssue\(/.test(line) ? [`${file}:${i + 1}`] : [])));
}

/** The first stack frame in one of the files (ts-node maps frames to .ts lines). */
function callerIn(sourceFiles: string[]): string | undefined {
    for (const frame of new Error().stack?.split("\n") ?? []) {
        for (const file of sourceFiles) {
            const at = frame.indexOf(`${file}:`);
            if (at >= 0) return `${file}:${/^(\d+)/.exec(frame.slice(at + file.length + 1))?.[1]}`;
        }
    }
    return undefined;
}

/** Instruments every rule of `schema` (once) so that parsing records the rules broken. */
export function instrument(schema: z.ZodType, sourceFiles: string[]): SchemaRules {
    const rules = new Map<string, string>();
    const broken = new Set<string>();
    const ids = new Map<object, string>();
    const idOf = (thing: object, where: string) => {
        if (!ids.has(thing)) {
            ids.set(thing, `rule${ids.size}`);
            rules.set(ids.get(thing)!, where);
        }
        return ids.get(thing)!;
    };
    for (const site of addIssueSites(sourceFiles)) rules.set(site, `${site} ctx.addIssue`);
    const wrapped = new Set<object>();

    // A number's bounds and integrality are one rule per field: a fixture out of range is enough.
    const numberRanges = new Map<string, object>();
    const wrapCheck = (check: Node, where: string, numeric: boolean) => {
        const kind = numeric ? "number range" : `${check._zod.def.check ?? check._zod.def.type}${check._zod.def.format ? `:${check._zod.def.format}` : ""}`;
        if (numeric && !numberRanges.has(where)) numberRanges.set(where, {});
        const id = idOf(numeric ? numberRanges.get(where)! : check, `${where} ${kind}`);
        if (wrapped.has(check)) return;
        wrapped.add(check);
        const original = check._zod.check!.bind(check._zod);
        check._zod.check = (payload) => {
            const before = payload.issues.length;
            const push = payload.issues.push;
            // A cross-field rule adds its issues with ctx.addIssue: attribute each to its line.
            payload.issues.push = function (...items) {
                const site = callerIn(sourceFiles);
                if (site !== undefined && rules.has(site)) broken.add(site);
                return push.apply(this, items);
            };
            try {
                return original(payload);
            } finally {
                payload.issues.push = push;
                if (payload.issues.length > before) broken.add(id);
            }
        };
    };
    const wrapRun = (node: Node, where: string, code: string) => {
        const id = idOf(node, `${where} ${code}`);
        if (wrapped.has(node)) return;
        wrapped.add(node);
        const original = node._zod.run.bind(node._zod);
        node._zod.run = (payload, ctx) => {
            const result = original(payload, ctx) as Payload;
            if (result.issues.some((i) => i.code === code)) broken.add(id);
            return result;
        };
    };

    const walk = (node: Node | undefined, where: string, seen: Set<Node>) => {
        if (node === undefined || seen.has(node)) return;
        seen.add(node);
        const def = node._zod.def;
        if (node._zod.traits.has("$ZodCheck")) wrapCheck(node, where, false);
        for (const check of def.checks ?? []) wrapCheck(check, where, def.type === "number");
        if (def.type === "enum" || def.type === "literal") wrapRun(node, where, "invalid_value");
        if (def.type === "union") wrapRun(node, where, "invalid_union");
        for (const [key, child] of Object.entries(def.shape ?? {})) walk(child, where === "" ? key : `${where}.${key}`, seen);
        walk(def.element, `${where}[]`, seen);
        walk(def.keyType, `${where}.<key>`, seen);
        walk(def.valueType, `${where}.*`, seen);
        // A discriminated union picks its option by the discriminator: that literal never fails itself.
        for (const option of def.options ?? []) {
            const discriminator = def.discriminator === undefined ? undefined : option._zod.def.shape?.[def.discriminator];
            if (discriminator !== undefined) seen.add(discriminator);
            walk(option, where, seen);
        }
        for (const inner of [def.innerType, def.in, def.out]) walk(inner, where, seen);
    };
    walk(schema as unknown as Node, "", new Set());
    return { rules, broken };
}
