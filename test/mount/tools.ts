// What the mount tests need beyond the tools of tools/build.sh (test/support/tools.ts finds
// those): the sync as its image runs it, compiled, and commands from the machine.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../scripts/evaluate";

/** The compiled sync program, as the job's image runs it (`node dist/cli.js`). */
export const SYNC_CLI = path.join(REPO_ROOT, "images/model-sync/dist/cli.js");

export function requireCompiledSync(): void {
    if (!fs.existsSync(SYNC_CLI)) throw new Error(`${SYNC_CLI} is missing: npm --prefix images/model-sync run build (npm run test:mount does)`);
}

/** Commands the tests need from the machine, with the Debian package that has each. */
export function requireCommands(commands: Record<string, string>): void {
    const missing = Object.entries(commands).filter(([cmd]) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status !== 0);
    if (missing.length > 0) throw new Error(`missing ${missing.map(([cmd, pkg]) => `${cmd} (Debian: ${pkg})`).join(", ")}`);
}
