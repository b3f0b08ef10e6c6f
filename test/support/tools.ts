// The tools `npm run tools` builds from Go modules (tools/versions.env), found where tools/build.sh
// put them: the script is the one home of the cache's layout, so it answers where a tool lives.
import { spawnSync } from "child_process";
import * as path from "path";

const BUILD_SCRIPT = path.join(__dirname, "..", "..", "tools", "build.sh");

/** The path of `binary` of a built tool, or undefined with the reason when it is not built. */
export function findTool(tool: string, binary = tool): { path?: string; reason?: string } {
    const run = spawnSync("bash", [BUILD_SCRIPT, "--path", tool], { encoding: "utf8" });
    if (run.status !== 0) return { reason: run.stderr.trim() || `tools/build.sh --path ${tool} exited ${run.status}` };
    return { path: path.join(run.stdout.trim(), binary) };
}

/** The path of a built tool's binary; throws, naming the command that builds it, when it is missing. */
export function requireTool(tool: string, binary = tool): string {
    const found = findTool(tool, binary);
    if (found.path === undefined) throw new Error(`${found.reason} (tools/versions.env lists what it builds)`);
    return found.path;
}

/** The version tools/versions.env pins for a tool. */
export function toolVersion(tool: string): string {
    const run = spawnSync("bash", [BUILD_SCRIPT, "--version", tool], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(run.stderr.trim());
    return run.stdout.trim();
}
