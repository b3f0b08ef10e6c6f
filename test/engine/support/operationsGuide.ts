// The operations guide's commands, read where a user reads them, so the suite runs exactly what it says.
import * as fs from "fs";
import * as path from "path";

const OPERATIONS = path.resolve(__dirname, "..", "..", "..", "docs", "operations.md");

/**
 * The `pulumi …` commands of docs/operations.md's "An interrupted `pulumi up`" block before its final
 * `pulumi up`, as argument lists (comments dropped, `<stack>` kept for the caller to fill).
 */
export function recoveryCommands(): string[][] {
    const text = fs.readFileSync(OPERATIONS, "utf8");
    const section = /^## An interrupted `pulumi up`\n([\s\S]*?)^#/m.exec(text)?.[1];
    const block = section !== undefined ? /```sh\n([\s\S]*?)```/.exec(section)?.[1] : undefined;
    if (block === undefined) throw new Error("docs/operations.md has no sh block under \"## An interrupted `pulumi up`\"");
    const commands = block.split("\n").map((l) => l.replace(/#.*$/, "").trim()).filter(Boolean).map((l) => l.split(/\s+/));
    const last = commands.pop();
    if (last?.[0] !== "pulumi" || last[1] !== "up") throw new Error(`the recovery block should end with pulumi up, not ${last?.join(" ")}`);
    if (commands.some((c) => c[0] !== "pulumi")) throw new Error("the recovery block runs more than the Pulumi CLI");
    return commands;
}
