#!/usr/bin/env node
// `npm run sync`: the compiled program, as the image runs it (dist/cli.js), built first only when
// what it is built from changed. That is judged by content (a sha256 of the sources and the build
// config, kept beside the build), not by mtimes: a checkout that restores an older source rebuilds,
// and an unchanged tree costs a few small reads instead of a compile. The build's own output is
// hashed too, so dist/ written by anything else (`npm run build` from other sources) is rebuilt.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const PKG = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIST = path.join(PKG, "dist");
const STAMP = ".build-sha256";
/** What the build reads besides src/: its config and the compiler's pinned version. */
const BUILD_CONFIG = ["tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"];

/** Every file under dir (absolute), relative to `root`, sorted. */
function filesUnder(root, dir) {
    return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name !== STAMP)
        .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join("/"))
        .sort();
}

/** The sha256 of files under root: each one's path and content. */
function hashOf(root, files) {
    const hash = createHash("sha256");
    for (const file of files) hash.update(`${file}\0`).update(fs.readFileSync(path.join(root, file))).update("\0");
    return hash.digest("hex");
}

const inputsHash = () => hashOf(PKG, [...BUILD_CONFIG, ...filesUnder(PKG, path.join(PKG, "src"))]);
const outputsHash = (dir) => hashOf(dir, filesUnder(dir, dir));

/** Whether dist/ is what a build of these inputs produced, untouched since. */
function upToDate(inputs) {
    let stamp;
    try {
        stamp = fs.readFileSync(path.join(DIST, STAMP), "utf8").trim().split(" ");
    } catch {
        return false;
    }
    return stamp[0] === inputs && stamp[1] === outputsHash(DIST);
}

/** Compiles into a fresh directory, then puts it in place of dist/ with the hashes of what went in and came out. */
function build(inputs) {
    process.stderr.write("model-sync: dist/ is not the build of these sources, compiling it\n");
    const out = fs.mkdtempSync(path.join(PKG, ".dist-"));
    try {
        const tsc = createRequire(path.join(PKG, "package.json")).resolve("typescript/bin/tsc");
        const compiled = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", out], { cwd: PKG, stdio: ["ignore", process.stderr, process.stderr] });
        if (compiled.status !== 0) throw new Error(`the build failed (tsc exited ${compiled.status ?? compiled.signal}), dist/ is unchanged`);
        fs.writeFileSync(path.join(out, STAMP), `${inputs} ${outputsHash(out)}\n`);
        fs.rmSync(DIST, { recursive: true, force: true });
        fs.renameSync(out, DIST);
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
}

const inputs = inputsHash();
if (!upToDate(inputs)) {
    try {
        build(inputs);
    } catch (err) {
        process.stderr.write(`model-sync: ${err.message}\n`);
        process.exit(1);
    }
}
const { main } = createRequire(import.meta.url)(path.join(DIST, "cli.js"));
process.exitCode = await main(process.argv.slice(2), process.env);
