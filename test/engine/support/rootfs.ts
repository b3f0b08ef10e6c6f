// A Debian root filesystem made by debootstrap from Debian's mirror (reachable here; Docker Hub is
// not): every image the end-to-end run needs is this tree plus a few files. Built once into a
// cache outside the clone, keyed by the suite and the package list, and moved into place by a
// rename, so a killed debootstrap never leaves half a tree. The Docker engine itself starts empty
// every run (see dockerd.ts): only this raw material is reused.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Debian 12: its glibc runs the npm registry's Node 24 and Debian's runc. */
export const DEBIAN_SUITE = "bookworm";

/**
 * What the images need beyond minbase: python3 (the test services and the bases' health probe),
 * tini (the bases' init), wget (the registry container's health probe), runc (BuildKit's worker),
 * ca-certificates (npm inside the sync image's build).
 */
export const ROOTFS_PACKAGES = ["python3", "tini", "wget", "runc", "ca-certificates"] as const;

const CACHE = process.env.WARMSTART_E2E_CACHE ?? path.join(os.homedir(), ".cache", "warmstart", "e2e");

/** The cached tree for `suite` with `packages`; debootstraps it when missing. */
export function debianRootfs(suite: string = DEBIAN_SUITE, packages: readonly string[] = ROOTFS_PACKAGES): string {
    const key = createHash("sha256").update(JSON.stringify([suite, [...packages].sort()])).digest("hex").slice(0, 12);
    const dir = path.join(CACHE, `rootfs-${suite}-${key}`);
    if (fs.existsSync(path.join(dir, "etc", "os-release"))) return dir;
    fs.mkdirSync(CACHE, { recursive: true });
    const work = fs.mkdtempSync(path.join(CACHE, `.rootfs-${suite}-`));
    const run = spawnSync("debootstrap", ["--variant=minbase", `--include=${packages.join(",")}`, suite, work, "http://deb.debian.org/debian"], { encoding: "utf8", timeout: 15 * 60_000 });
    if (run.status !== 0) {
        fs.rmSync(work, { recursive: true, force: true });
        throw new Error(`debootstrap ${suite} failed (exit ${run.status}): ${(run.stderr || run.stdout).trim().split("\n").slice(-5).join("\n")}`);
    }
    // The apt caches are half the tree and no image needs them.
    for (const sub of ["var/cache/apt/archives", "var/lib/apt/lists"]) {
        for (const entry of fs.readdirSync(path.join(work, sub))) if (entry.endsWith(".deb") || entry.endsWith("_Packages")) fs.rmSync(path.join(work, sub, entry), { force: true });
    }
    // mkdtemp made it 0700: as an image's `/` that would lock every user but root out.
    fs.chmodSync(work, 0o755);
    fs.renameSync(work, dir);
    return dir;
}
