// `npm run plan -- <stack>`: evaluates a stack offline (no cloud account, no Pulumi CLI) and
// prints the resources it would create as a tree, each with what it depends on.
import { StackConfigError } from "../stacks/load";
import * as fs from "fs";
import * as path from "path";
import { parseArgs } from "util";
import { EvaluationError, evaluateStack, listStacks, Plan, PlannedResource, REPO_ROOT } from "./evaluate";
import { jsonText, toDot, toSvg } from "./render";

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

export const FORMATS = ["tree", "json", "dot", "svg"] as const;
export type Format = (typeof FORMATS)[number];

/** Where the reviewed artifacts live: a JSON snapshot per stack, the picture of dev. */
export const SNAPSHOT_DIR = path.join(REPO_ROOT, "test", "snapshots");
export const PICTURE_STACK = "dev";
export const PICTURE_DOT = path.join(REPO_ROOT, "docs", `graph-${PICTURE_STACK}.dot`);
export const PICTURE_SVG = path.join(REPO_ROOT, "docs", `graph-${PICTURE_STACK}.svg`);

export async function render(plan: Plan, format: Format): Promise<string> {
    switch (format) {
        case "tree":
            return `${renderTree(plan)}\n`;
        case "json":
            return jsonText(plan);
        case "dot":
            return toDot(plan);
        case "svg":
            return toSvg(toDot(plan));
    }
}

/** Rewrites every stack's snapshot and the README's picture. */
async function updateSnapshots(): Promise<void> {
    fs.mkdirSync(SNAPSHOT_DIR, { recursive: true });
    const stacks = listStacks();
    for (const file of fs.readdirSync(SNAPSHOT_DIR)) {
        if (file.endsWith(".json") && !stacks.includes(file.slice(0, -5))) fs.rmSync(path.join(SNAPSHOT_DIR, file));
    }
    for (const stack of stacks) {
        const plan = await evaluateStack(stack);
        fs.writeFileSync(path.join(SNAPSHOT_DIR, `${stack}.json`), jsonText(plan));
        if (stack === PICTURE_STACK) {
            fs.writeFileSync(PICTURE_DOT, toDot(plan));
            fs.writeFileSync(PICTURE_SVG, await toSvg(toDot(plan)));
        }
        console.log(`updated ${path.relative(REPO_ROOT, path.join(SNAPSHOT_DIR, `${stack}.json`))}`);
    }
}

async function main(argv: string[]): Promise<number> {
    let args;
    try {
        args = parseArgs({ args: argv, allowPositionals: true, options: { format: { type: "string", default: "tree" }, out: { type: "string" }, "update-snapshots": { type: "boolean", default: false } } });
    } catch (err) {
        console.error(`${(err as Error).message}\nusage: npm run plan -- <stack> [--format tree|json|dot|svg] [--out FILE] | --update-snapshots`);
        return 2;
    }
    if (args.values["update-snapshots"]) {
        await updateSnapshots();
        return 0;
    }
    const stack = args.positionals[0];
    const format = args.values.format as Format;
    if (stack === undefined || !FORMATS.includes(format)) {
        console.error(`usage: npm run plan -- <stack> [--format ${FORMATS.join("|")}] [--out FILE] | --update-snapshots   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    try {
        const output = await render(await evaluateStack(stack), format);
        if (args.values.out !== undefined) fs.writeFileSync(args.values.out, output);
        else process.stdout.write(output);
        return 0;
    } catch (err) {
        const cause = err instanceof EvaluationError ? err.cause : err;
        const message = cause instanceof StackConfigError ? cause.message : `plan of stack '${stack}' failed: ${(cause as Error).message}`;
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
