// gcsfuse mounting the emulator's bucket, as Cloud Run mounts a volume: the volume's own flags
// (gcsfuseArgs), plus only what pointing it at the emulator needs. Unmounted in teardown whatever
// happened, and at exit if the test run dies first.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import { GcsVolume, gcsfuseArgs } from "./gcsfuseArgs";

/**
 * Flags the emulator needs; nothing else is added to the volume's own.
 * - --custom-endpoint, --anonymous-access: the emulator, without credentials.
 * - --enable-atomic-rename-object=false: gcsfuse renames a file with the MoveObject call
 *   (POST …/o/<src>/moveTo/o/<dst>, internal/fs/fs.go atomicRename), which fake-gcs-server does not
 *   route (400 "Metadata in the request couldn't decode"); false makes it copy, then delete the
 *   source. The destination still changes in one step, which is what readers rely on.
 * - Bucket layout and hierarchical namespace need no flag: with a custom endpoint gcsfuse creates no
 *   storage-control client (internal/storage/storage_handle.go, "Skipping storage control client
 *   creation for custom-endpoint") and assumes a flat bucket, so it never asks for the layout or
 *   for folders. The program's default bucket is flat; its HNS variant cannot be exercised here.
 */
export function emulatorFlags(endpoint: string): string[] {
    return [`--custom-endpoint=${endpoint}/storage/v1/`, "--anonymous-access", "--enable-atomic-rename-object=false"];
}

const mounted = new Set<string>();
process.on("exit", () => {
    for (const mountPoint of mounted) spawnSync("fusermount3", ["-uz", mountPoint]);
});

function isMounted(mountPoint: string): boolean {
    // /proc/self/mountinfo field 5 is the mount point (spaces escaped as \040).
    return fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((line) => line.split(" ")[4] === mountPoint.replace(/ /g, "\\040"));
}

export class GcsfuseMount {
    private constructor(readonly mountPoint: string, private readonly child: ChildProcess, readonly logFile: string) {}

    static async mount(gcsfuse: string, endpoint: string, volume: GcsVolume, mountPoint: string): Promise<GcsfuseMount> {
        fs.mkdirSync(mountPoint, { recursive: true });
        const logFile = `${mountPoint}.gcsfuse.log`;
        const args = ["--foreground", "--log-file", logFile, ...emulatorFlags(endpoint), ...gcsfuseArgs(volume, mountPoint)];
        const child = spawn(gcsfuse, args, { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        mounted.add(mountPoint);
        const m = new GcsfuseMount(mountPoint, child, logFile);
        const deadline = Date.now() + 15_000;
        while (!isMounted(mountPoint)) {
            if (child.exitCode !== null || Date.now() > deadline) {
                await m.unmount();
                const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8").slice(-3000) : "";
                throw new Error(`gcsfuse ${args.join(" ")}: not mounted (exit ${child.exitCode}): ${stderr}${log}`);
            }
            await new Promise((r) => setTimeout(r, 50));
        }
        return m;
    }

    /** Lazy unmount (works with files still open), then the gcsfuse process ends. */
    async unmount(): Promise<void> {
        spawnSync("fusermount3", ["-uz", this.mountPoint]);
        mounted.delete(this.mountPoint);
        if (this.child.exitCode === null && this.child.signalCode === null) {
            const exited = new Promise((r) => this.child.once("exit", r));
            const timer = setTimeout(() => this.child.kill("SIGKILL"), 5000);
            this.child.kill("SIGTERM");
            await exited;
            clearTimeout(timer);
        }
    }

    get stillMounted(): boolean {
        return isMounted(this.mountPoint);
    }
}

/** Removes a test directory, refusing to descend into anything still mounted under it. */
export function removeTestDir(dir: string): void {
    const inside = () => fs.readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((p) => p !== undefined && p.startsWith(`${dir}/`));
    for (const p of inside()) spawnSync("fusermount3", ["-uz", p.replace(/\\040/g, " ")]);
    const left = inside();
    if (left.length > 0) throw new Error(`${dir} left in place: still mounted under it: ${left.join(", ")}`);
    fs.rmSync(dir, { recursive: true, force: true });
}
