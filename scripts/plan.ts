// `npm run plan -- <stack>`: evaluates a stack offline (no cloud account, no Pulumi CLI) and
// prints the resources it would create as a tree, each with what it depends on.
import { StackConfigError } from "../stacks/load";
import { EvaluationError, evaluateStack, listStacks, Plan, PlannedResource } from "./evaluate";

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
            const flags = [r.protect ? "protected" : "", r.retainOnDelete ? "retained on delete" : ""].filter(Boolean);
            lines.push(`${indent}${last ? "└─" : "├─"} ${r.type}  ${r.name}${flags.length > 0 ? `  [${flags.join(", ")}]` : ""}`);
            const childIndent = `${indent}${last ? "   " : "│  "}`;
            // Dependencies on the parent are implied by the tree.
            const deps = r.dependencies.filter((d) => d !== r.parent);
            if (deps.length > 0) lines.push(`${childIndent}   depends on: ${deps.map(shortUrn).join(", ")}`);
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

async function main(argv: string[]): Promise<number> {
    const stack = argv.find((a) => !a.startsWith("-"));
    if (stack === undefined) {
        console.error(`usage: npm run plan -- <stack>   (stacks: ${listStacks().join(", ")})`);
        return 2;
    }
    try {
        const plan = await evaluateStack(stack);
        console.log(renderTree(plan));
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
