// `npm run plan -- <stack>`: evaluates a stack offline (no cloud account, no Pulumi CLI) and
// prints the resources it would create as a tree, each with what it depends on.
import { configProblems, StackConfigError } from "../stacks/load";
import { pricingSchema } from "../stacks/schema";
import { configErrorMap } from "../stacks/schema/messages";
import { CostOptions, costOf, costOfPlanFile, diffCost, PricingError, renderCost, renderCostDiff } from "./cost";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { EvaluationError, evaluateStack, listStacks, Plan, PlannedResource, REPO_ROOT, stackFileConfig } from "./evaluate";
import { toDot, toJsonPlan, toSvg } from "./render";

function shortUrn(urn: string): string {
    // urn:pulumi:<stack>::<project>::<type chain>::<name> -> <last type>::<name>
    const parts = urn.split("::");
    const type = parts[2]?.split("$").pop() ?? "";
    return `${type}::${parts[3] ?? ""}`;
}

export function renderTree(plan: Plan): string {
    const children = new Map<string | undefined, PlannedResource[]>();
    const known = new Set(plan.resources.map((r) => r.urn));
    for (const r of plan.resources) {
        const parent = r.parent !== undefined && known.has(r.parent) ? r.parent : undefined;
        children.set(parent, [...(children.get(parent) ?? []), r]);
    }
    const lines: string[] = [`stack ${plan.stack}: ${plan.resources.length} resources`];
    const walk = (parent: string | undefined, indent: string) => {
        const list = children.get(parent) ?? [];
        list.forEach((r, i) => {
            const last = i === list.length - 1;
            const flags = [r.options.protect ? "protected" : "", r.options.retainOnDelete ? "retained on delete" : ""].filter(Boolean);
            lines.push(`${indent}${last ? "└─" : "├─"} ${r.type}  ${r.name}${flags.length > 0 ? `  [${flags.join(", ")}]` : ""}`);
            const childIndent = `${indent}${last ? "   " : "│  "}`;
            // Dependencies on the parent are implied by the tree.
            const deps = r.dependencies.filter((d) => d !== r.parent);
            if (deps.length > 0) lines.push(`${childIndent}   depends on: ${deps.map(shortUrn).join(", ")}`);
            if (r.dependsOn.length > 0) lines.push(`${childIndent}   after (dependsOn): ${r.dependsOn.map(shortUrn).join(", ")}`);
            walk(r.urn, childIndent);
        });
    };
    walk(undefined, "");
    lines.push("", "outputs:");
    for (const [key, value] of Object.entries(plan.outputs)) {
        lines.push(`  ${key}: ${typeof value === "string" ? value : JSON.stringify(value, null, 2).replace(/\n/g, "\n  ")}`);
    }
    return lines.join("\n");
}

export const FORMATS = ["tree", "json", "dot", "svg", "cost"] as const;
export type Format = (typeof FORMATS)[number];

/** Where the reviewed artifacts live: a JSON snapshot per stack, the picture of dev. */
export const SNAPSHOT_DIR = path.join(REPO_ROOT, "test", "snapshots");
export const PICTURE_STACK = "dev";
export const PICTURE_DOT = path.join(REPO_ROOT, "docs", `graph-${PICTURE_STACK}.dot`);
export const PICTURE_SVG = path.join(REPO_ROOT, "docs", `graph-${PICTURE_STACK}.svg`);

/** The cost estimate's inputs from the stack file: its price overrides. */
export function stackCostOptions(stack: string): CostOptions {
    return costOptionsOf(stackFileConfig(stack));
}

/** The cost estimate's inputs from a stack's config as the CLI hands it over. */
export function costOptionsOf(config: Record<string, string>): CostOptions {
    const raw = config["warmstart:pricing"];
    const pricing: unknown = raw === undefined ? {} : JSON.parse(raw);
    const parsed = pricingSchema.safeParse(pricing, { error: configErrorMap });
    if (!parsed.success) throw new StackConfigError(configProblems(parsed.error, pricing, ["pricing"]));
    return { overrides: parsed.data.overrides };
}

/** The JSON plan with its cost section: the snapshot format and `--format json`. */
export function planJsonText(plan: Plan, cost: CostOptions): string {
    const json = toJsonPlan(plan);
    return `${JSON.stringify({ ...json, cost: costOf(json, cost) }, null, 2)}\n`;
}

export async function render(plan: Plan, format: Format, cost: CostOptions = {}, against?: string): Promise<string> {
    switch (format) {
        case "tree":
            return `${renderTree(plan)}\n`;
        case "json":
            return planJsonText(plan, cost);
        case "dot":
            return toDot(plan);
        case "svg":
            return toSvg(toDot(plan));
        case "cost": {
            const estimate = costOf(toJsonPlan(plan), cost);
            return against === undefined ? renderCost(estimate) : `${renderCostDiff(diffCost(costOfPlanFile(against), estimate))}\n${renderCost(estimate)}`;
        }
    }
}

/** Where --update-snapshots writes: the snapshots' folder and the picture's two files. */
export interface SnapshotPaths { dir: string; pictureDot: string; pictureSvg: string }

const SNAPSHOT_PATHS: SnapshotPaths = { dir: SNAPSHOT_DIR, pictureDot: PICTURE_DOT, pictureSvg: PICTURE_SVG };

/** Writes `text` to `file` unless it already holds exactly that; says which. */
function writeIfChanged(file: string, text: string): "updated" | "unchanged" {
    if (fs.existsSync(file) && fs.readFileSync(file, "utf8") === text) return "unchanged";
    fs.writeFileSync(file, text);
    return "updated";
}

/**
 * Rewrites every stack's snapshot and the README's picture; returns a line per file: `updated`
 * only for a file whose content changed, `unchanged` for one already up to date, `removed` for
 * the snapshot of a stack file that is gone.
 */
export async function updateSnapshots(paths: SnapshotPaths = SNAPSHOT_PATHS): Promise<string[]> {
    fs.mkdirSync(paths.dir, { recursive: true });
    const report: string[] = [];
    const shown = (file: string) => path.relative(REPO_ROOT, file);
    const stacks = listStacks();
    for (const file of fs.readdirSync(paths.dir).sort()) {
        if (!file.endsWith(".json") || stacks.includes(file.slice(0, -5))) continue;
        fs.rmSync(path.join(paths.dir, file));
        report.push(`removed ${shown(path.join(paths.dir, file))}`);
    }
    for (const stack of stacks) {
        const plan = await evaluateStack(stack);
        const file = path.join(paths.dir, `${stack}.json`);
        report.push(`${writeIfChanged(file, planJsonText(plan, stackCostOptions(stack)))} ${shown(file)}`);
        if (stack === PICTURE_STACK) {
            const dot = toDot(plan);
            report.push(`${writeIfChanged(paths.pictureDot, dot)} ${shown(paths.pictureDot)}`);
            report.push(`${writeIfChanged(paths.pictureSvg, await toSvg(dot))} ${shown(paths.pictureSvg)}`);
        }
    }
    return report;
}

/** The options `npm run plan` takes, for parseArgs and for --help alike. */
const OPTIONS = {
    format: { type: "string", default: "tree" },
    out: { type: "string" },
    against: { type: "string" },
    manifest: { type: "string" },
    "update-snapshots": { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
} as const;

/** What `npm run plan -- --help` prints: stacks found, formats, options and exit codes. */
export function usageText(): string {
    return [
        "usage: npm run -s plan -- <stack> [--format FORMAT] [--out FILE] [--against PLAN.json] [--manifest FILE]",
        "       npm run -s plan -- --update-snapshots",
        "",
        "Evaluates Pulumi.<stack>.yaml offline (no cloud account, no Pulumi CLI) and prints what it would create.",
        "",
        `stacks (the Pulumi.<stack>.yaml files here): ${listStacks().join(", ")}`,
        "",
        "options:",
        `  --format FORMAT      ${FORMATS.join(", ")} (default tree): the resource tree, the JSON plan with its cost, Graphviz dot, an SVG picture, the cost estimate`,
        "  --out FILE           write to FILE instead of standard output",
        "  --against PLAN.json  with --format cost: the difference from a plan written by --format json --out PLAN.json",
        "  --manifest FILE      with --format cost: bucket storage measured from a sync's manifest.json",
        "  --update-snapshots   rewrite test/snapshots/<stack>.json for every stack, and the picture of dev",
        "  -h, --help           print this and exit",
        "",
        "exit codes: 0 done; 1 the stack's config or its cost estimate is refused (the message names the key and value); 2 a usage error",
        "",
        "npm prints its own banner on standard output: use `npm run -s plan` (or --out) when the output goes to a file.",
    ].join("\n");
}

/**
 * Writes `text` and resolves once the stream has handed all of it to the OS. A pipe takes 64 KiB
 * at a time; Node queues the rest and `process.exit` drops whatever a slow reader has not taken.
 */
function writeWhole(stream: NodeJS.WritableStream, text: string): Promise<void> {
    return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())));
}

async function main(argv: string[]): Promise<number> {
    let args;
    try {
        args = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
    } catch (err) {
        console.error(`${(err as Error).message}\n${usageText()}`);
        return 2;
    }
    if (args.values.help) {
        console.log(usageText());
        return 0;
    }
    if (args.values["update-snapshots"]) {
        for (const line of await updateSnapshots()) console.log(line);
        return 0;
    }
    const stack = args.positionals[0];
    const format = args.values.format as Format;
    if (stack === undefined || !FORMATS.includes(format)) {
        console.error(`${stack === undefined ? "no stack named" : `unknown --format '${format}' (use --format ${FORMATS.join("|")})`}\n${usageText()}`);
        return 2;
    }
    if (args.values.against !== undefined && format !== "cost") {
        console.error(`--against compares cost estimates: use it with --format cost (not ${format})`);
        return 2;
    }
    try {
        const cost = { ...stackCostOptions(stack), manifestFile: args.values.manifest };
        const output = await render(await evaluateStack(stack), format, cost, args.values.against);
        if (args.values.out !== undefined) fs.writeFileSync(args.values.out, output);
        else await writeWhole(process.stdout, output);
        return 0;
    } catch (err) {
        const cause = err instanceof EvaluationError ? err.cause : err;
        const message = cause instanceof StackConfigError ? cause.message : cause instanceof PricingError ? `cost of stack '${stack}': ${cause.message}` : `plan of stack '${stack}' failed: ${(cause as Error).message}`;
        console.error(message);
        return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => process.exit(code), (err) => {
        console.error(err);
        process.exit(1);
    });
}
