#!/usr/bin/env node
// `npm run sync`: the compiled program, as the image runs it (dist/cli.js), built first only when
// what it is built from changed. That is judged by content (a sha256 of the sources and the build
// config, kept beside the build), not by mtimes: a checkout that restores an older source rebuilds,
// and an unchanged tree costs a few small reads instead of a compile.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const PKG = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const DIST = path.join(PKG, "dist");
const STAMP = ".inputs-sha256";
/** What the build reads besides src/: its config and the compiler's pinned version. */
const BUILD_CONFIG = ["tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"];

/** Every file under dir, relative to the package, sorted. */
function filesUnder(dir) {
    return fs.readdirSync(path.join(PKG, dir), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => path.relative(PKG, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join("/"))
        .sort();
}

/** The sha256 of the build's inputs: each file's path and content. */
function inputsHash() {
    const hash = createHash("sha256");
    for (const file of [...BUILD_CONFIG, ...filesUnder("src")]) {
        hash.update(`${file}\0`).update(fs.readFileSync(path.join(PKG, file))).update("\0");
    }
    return hash.digest("hex");
}

function builtFrom() {
    try {
        return fs.readFileSync(path.join(DIST, STAMP), "utf8").trim();
    } catch {
        return undefined;
    }
}

/** Compiles into a fresh directory, then puts it in place of dist/ with the inputs' hash inside. */
function build(hash) {
    process.stderr.write("model-sync: sources changed since the last build, compiling dist/\n");
    const out = fs.mkdtempSync(path.join(PKG, ".dist-"));
    try {
        const tsc = createRequire(path.join(PKG, "package.json")).resolve("typescript/bin/tsc");
        const compiled = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", out], { cwd: PKG, stdio: ["ignore", process.stderr, process.stderr] });
        if (compiled.status !== 0) throw new Error(`the build failed (tsc exited ${compiled.status ?? compiled.signal}), dist/ is unchanged`);
        fs.writeFileSync(path.join(out, STAMP), `${hash}\n`);
        fs.rmSync(DIST, { recursive: true, force: true });
        fs.renameSync(out, DIST);
    } finally {
        fs.rmSync(out, { recursive: true, force: true });
    }
}

const hash = inputsHash();
if (builtFrom() !== hash) {
    try {
        build(hash);
    } catch (err) {
        process.stderr.write(`model-sync: ${err.message}\n`);
        process.exit(1);
    }
}
const { main } = createRequire(import.meta.url)(path.join(DIST, "cli.js"));
process.exitCode = await main(process.argv.slice(2), process.env);
