// Renderings of an offline plan for review: stable JSON (snapshots, artifacts), Graphviz DOT and
// SVG (the picture), and a readable diff between two JSON plans.
import type { Plan, PlannedResource } from "./evaluate";

export interface JsonResource {
    urn: string;
    type: string;
    name: string;
    parent?: string;
    dependencies: string[];
    inputs: Record<string, unknown>;
    protect?: boolean;
    retainOnDelete?: boolean;
    customTimeouts?: Record<string, string>;
}

export interface JsonPlan {
    stack: string;
    resources: JsonResource[];
    outputs: Record<string, unknown>;
}

/** Credentials never go into a plan file, even the offline placeholder. */
function redact(value: unknown, key = ""): unknown {
    if (/^(password|accessToken)$/.test(key) && value !== undefined) return "[redacted]";
    if (Array.isArray(value)) return value.map((v) => redact(v));
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(Object.keys(value).sort().map((k) => [k, redact((value as Record<string, unknown>)[k], k)]));
    }
    return value;
}

/** The plan as stable JSON data: sorted by URN, keys sorted, no timestamps or random ids. */
export function toJsonPlan(plan: Plan): JsonPlan {
    return {
        stack: plan.stack,
        resources: [...plan.resources]
            .sort((a, b) => a.urn.localeCompare(b.urn))
            .map((r) => ({
                urn: r.urn, type: r.type, name: r.name, parent: r.parent, dependencies: [...r.dependencies].sort(),
                inputs: redact(r.inputs) as Record<string, unknown>,
                ...(r.protect ? { protect: true } : {}), ...(r.retainOnDelete ? { retainOnDelete: true } : {}),
                ...(r.customTimeouts ? { customTimeouts: r.customTimeouts } : {}),
            })),
        outputs: redact(plan.outputs) as Record<string, unknown>,
    };
}

export function jsonText(plan: Plan): string {
    return `${JSON.stringify(toJsonPlan(plan), null, 2)}\n`;
}

const PROVIDER_COLOURS: Record<string, string> = { gcp: "#e8f0fe", "docker-build": "#e6f4ea", docker: "#e0f7fa", pulumi: "#f1f3f4" };

const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * The graph in DOT: each component is a cluster (nested like the components), each resource a
 * node, each dependency an arrow from what is needed to what needs it.
 */
export function toDot(plan: Plan): string {
    const resources = [...plan.resources].sort((a, b) => a.urn.localeCompare(b.urn));
    const id = new Map(resources.map((r, i) => [r.urn, `n${i}`]));
    const children = new Map<string | undefined, PlannedResource[]>();
    const known = new Set(resources.map((r) => r.urn));
    for (const r of resources) {
        const parent = r.parent !== undefined && known.has(r.parent) ? r.parent : undefined;
        children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const lines = [
        `digraph ${quote(`warmstart-${plan.stack}`)} {`,
        "  rankdir=TB; compound=true; newrank=true; nodesep=0.3; ranksep=0.5;",
        `  label=${quote(`warmstart · ${plan.stack}`)}; labelloc=t; fontname="Helvetica"; fontsize=16;`,
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [color="#5f6368", arrowsize=0.6];',
    ];
    const emit = (parent: string | undefined, indent: string) => {
        for (const r of children.get(parent) ?? []) {
            if (!r.custom) {
                lines.push(`${indent}subgraph ${quote(`cluster_${id.get(r.urn)}`)} {`);
                lines.push(`${indent}  label=${quote(`${r.type.split(":").pop()} ${r.name}`)}; style="rounded,dashed"; color="#9aa0a6"; fontsize=11;`);
                emit(r.urn, `${indent}  `);
                lines.push(`${indent}}`);
            } else {
                const provider = r.type.split(":")[0];
                const kind = r.type.split(":").pop()!;
                lines.push(`${indent}${id.get(r.urn)} [label=${quote(`${kind}\n${r.name}`)}, fillcolor=${quote(PROVIDER_COLOURS[provider] ?? "#ffffff")}];`);
            }
        }
    };
    emit(undefined, "  ");
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    for (const r of resources.filter((x) => x.custom)) {
        for (const dep of r.dependencies) {
            // Only resource-to-resource edges; parenthood is already drawn by the clusters.
            const from = byUrn.get(dep);
            if (dep === r.parent || from === undefined || !from.custom) continue;
            // Plumbing (registries, accounts) recedes so the build-and-serve flow stands out.
            const plumbing = /repository:Repository$|account:Account$/.test(from.type);
            lines.push(`  ${id.get(dep)} -> ${id.get(r.urn)}${plumbing ? ' [color="#c7c9cc", style=dashed]' : ""};`);
        }
    }
    lines.push("}");
    return `${lines.join("\n")}\n`;
}

/** SVG from DOT with Graphviz compiled to WebAssembly: no system Graphviz needed. */
export async function toSvg(dot: string): Promise<string> {
    const { Graphviz } = (await import("@hpcc-js/wasm-graphviz")) as typeof import("@hpcc-js/wasm-graphviz");
    const graphviz = await Graphviz.load();
    return graphviz.dot(dot);
}

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
    if (value !== null && typeof value === "object") {
        const entries = Array.isArray(value) ? value.map((v, i) => [String(i), v] as const) : Object.entries(value);
        if (entries.length === 0) out.set(prefix, JSON.stringify(value));
        for (const [k, v] of entries) flatten(v, prefix === "" ? k : `${prefix}.${k}`, out);
    } else {
        out.set(prefix, JSON.stringify(value));
    }
}

/** Human-readable differences between two JSON plans: added, removed and changed resources and fields. */
export function diffPlans(before: JsonPlan, after: JsonPlan, max = 40): string[] {
    const lines: string[] = [];
    const a = new Map(before.resources.map((r) => [r.urn, r]));
    const b = new Map(after.resources.map((r) => [r.urn, r]));
    const short = (urn: string) => {
        const [, , types, name] = urn.split("::");
        return `${types?.split("$").pop()} ${name}`;
    };
    for (const urn of b.keys()) if (!a.has(urn)) lines.push(`+ ${short(urn)}`);
    for (const urn of a.keys()) if (!b.has(urn)) lines.push(`- ${short(urn)}`);
    for (const [urn, old] of a) {
        const now = b.get(urn);
        if (now === undefined) continue;
        const fa = new Map<string, string>();
        const fb = new Map<string, string>();
        flatten(old, "", fa);
        flatten(now, "", fb);
        for (const key of new Set([...fa.keys(), ...fb.keys()])) {
            if (fa.get(key) !== fb.get(key)) lines.push(`~ ${short(urn)}  ${key}: ${fa.get(key) ?? "(none)"} -> ${fb.get(key) ?? "(none)"}`);
        }
    }
    const fo = new Map<string, string>();
    const fn = new Map<string, string>();
    flatten(before.outputs, "", fo);
    flatten(after.outputs, "", fn);
    for (const key of new Set([...fo.keys(), ...fn.keys()])) {
        if (fo.get(key) !== fn.get(key)) lines.push(`~ output ${key}: ${fo.get(key) ?? "(none)"} -> ${fn.get(key) ?? "(none)"}`);
    }
    return lines.length > max ? [...lines.slice(0, max), `… and ${lines.length - max} more differences`] : lines;
}
