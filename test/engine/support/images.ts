// The images the run needs, made without a single pull: the Debian tree of rootfs.ts plus a few
// files, imported into the run's engine with `docker import` (one layer, settings by --change).
// Two kinds: what the engine itself would pull (the registry the stack runs, the BuildKit image its
// builder runs) is loaded under the exact name the program asks for; what builds pull FROM goes to
// the upstream registry (upstream.ts), behind the stack's pull-through proxy.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { DockerEngine } from "./dockerd";

/** Extra files laid over the tree: path inside the image -> a host file or tree to copy, contents, or an empty directory. */
export type Overlay = Record<string, ({ from: string } | { text: string } | { directory: true }) & { mode?: number; owner?: number }>;

export interface ImportedImage {
    /** `name:tag` in the engine. */
    ref: string;
    /** The tree it starts from. */
    rootfs: string;
    overlay?: Overlay;
    /** Dockerfile instructions for --change (ENTRYPOINT, CMD, ENV, USER, EXPOSE…). */
    changes?: string[];
}

/** Writes `overlay` under a fresh directory whose every directory is 0755 (tar records them). */
function overlayDir(overlay: Overlay): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-overlay-"));
    fs.chmodSync(dir, 0o755);
    for (const [target, source] of Object.entries(overlay)) {
        const file = path.join(dir, target);
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
        // Trees keep their links (npm's bin/npm is one); a single file is copied as what it points to.
        if ("from" in source) fs.cpSync(source.from, file, fs.statSync(source.from).isDirectory() ? { recursive: true, verbatimSymlinks: true } : { dereference: true });
        else if ("text" in source) fs.writeFileSync(file, source.text);
        else fs.mkdirSync(file, { recursive: true, mode: 0o755 });
        if (source.mode !== undefined) fs.chmodSync(file, source.mode);
        if (source.owner !== undefined) fs.chownSync(file, source.owner, source.owner);
    }
    return dir;
}

/**
 * Imports `image` into `engine`: the tree with the overlay over it, as one layer. A layer may not
 * name a path twice, so the two are merged first, in a copy made of hard links (fast, no space):
 * each overlay file replaces its link (--remove-destination), never the shared tree's file.
 */
export function importImage(engine: DockerEngine, image: ImportedImage): void {
    const merged = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-image-"));
    const extra = image.overlay !== undefined ? overlayDir(image.overlay) : undefined;
    const sh = (cmd: string, args: string[]) => {
        const r = spawnSync(cmd, args, { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
    };
    try {
        sh("cp", ["-al", `${image.rootfs}/.`, merged]);
        if (extra !== undefined) sh("cp", ["-a", "--remove-destination", `${extra}/.`, merged]);
        fs.chmodSync(merged, 0o755);
        // Numeric owners as they are on disk: the tree's files belong to root, a user's to its uid.
        const tar = spawnSync("tar", ["-c", "--numeric-owner", "-C", merged, "."], { maxBuffer: 2 * 1024 * 1024 * 1024 });
        if (tar.status !== 0) throw new Error(`tar of ${merged} failed: ${tar.stderr.toString().trim()}`);
        const changes = (image.changes ?? []).flatMap((c) => ["--change", c]);
        engine.docker(["import", ...changes, "-", image.ref], tar.stdout);
    } finally {
        for (const dir of [merged, extra]) if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `/etc/passwd` and `/etc/group` of `rootfs` with one more user (and its group) appended. */
export function withUser(rootfs: string, user: { name: string; uid: number; gid: number; home: string }): Overlay {
    const passwd = fs.readFileSync(path.join(rootfs, "etc", "passwd"), "utf8");
    const group = fs.readFileSync(path.join(rootfs, "etc", "group"), "utf8");
    return {
        "etc/passwd": { text: `${passwd}${user.name}:x:${user.uid}:${user.gid}::${user.home}:/bin/sh\n` },
        "etc/group": { text: `${group}${user.name}:x:${user.gid}:\n` },
    };
}
