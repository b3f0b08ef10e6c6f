// The real programs the mount tests run: tools built by tools/build.sh (a cache outside the clone)
// and the sync as its image runs it, compiled.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../../scripts/evaluate";

/** The bin directory of a tool tools/build.sh built; a clear error when it is not built. */
export function toolBin(name: string): string {
    const found = spawnSync("bash", [path.join(REPO_ROOT, "tools/build.sh"), "--path", name], { encoding: "utf8" });
    if (found.status !== 0) throw new Error(`${name}: ${found.stderr.trim() || `tools/build.sh --path exited ${found.status}`} (npm run tools builds it)`);
    return found.stdout.trim();
}

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
