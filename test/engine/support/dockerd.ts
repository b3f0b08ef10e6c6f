// A Docker engine of the run's own: Debian's dockerd with a fresh data root, exec root and socket,
// so no image, container, volume or builder left by an earlier run (or by anything else on the
// machine) can hide a missing step, and `destroy` can be checked against an engine that held only
// this stack. vfs: the storage driver that works everywhere here. Its own bridge (a /24 of its
// own), so it never fights another engine over docker0; no iptables rules and no masquerading:
// containers reach the host's end of that bridge and each other, nothing beyond (published
// loopback ports go through docker-proxy, which needs no rules).
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

/**
 * A runc in front of runc that drops CAP_SYS_RESOURCE from a container's capabilities. This
 * machine's own bounding set lacks it (it is itself a container), and a privileged container asks
 * for every capability the kernel knows (moby 20.10 caps.GetAllCapabilities), so runc fails with
 * "unable to apply caps: operation not permitted" — and the buildx docker-container driver always
 * runs BuildKit privileged. A machine with the full set needs no such thing; nothing else changes.
 */
const RUNC_WITHOUT_SYS_RESOURCE = `#!/bin/sh
# create/run: the bundle's config.json; exec: the --process file (its capabilities at the top).
spec=""; prev=""
for a in "$@"; do
    case "$prev" in --bundle|-b) spec="$a/config.json" ;; --process|-p) spec="$a" ;; esac
    case "$a" in --bundle=*) spec="\${a#--bundle=}/config.json" ;; --process=*) spec="\${a#--process=}" ;; esac
    prev=$a
done
if [ -n "$spec" ] && [ -f "$spec" ]; then
    python3 -c '
import json, sys
f = sys.argv[1]
spec = json.load(open(f))
caps = spec.get("process", spec).get("capabilities") or {}
for k in caps:
    caps[k] = [c for c in caps[k] if c != "CAP_SYS_RESOURCE"]
json.dump(spec, open(f, "w"))
' "$spec"
fi
exec runc "$@"
`;

/** Whether this process's capability bounding set lacks CAP_SYS_RESOURCE (bit 24). */
function lacksSysResource(): boolean {
    const bounding = /^CapBnd:\s+([0-9a-f]+)$/m.exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1];
    return bounding !== undefined && (BigInt(`0x${bounding}`) & (1n << 24n)) === 0n;
}

export interface DockerEngine {
    /** `unix://…` for DOCKER_HOST. */
    host: string;
    /** The host's address on the engine's bridge: what containers reach the host's servers at. */
    bridgeAddress: string;
    /** The engine's own files: data root, exec root, its log. */
    dir: string;
    /** `docker …` against this engine; throws with the output when it exits non-zero. */
    docker(args: string[], input?: string | Buffer): string;
    /** The same, returning the exit status and output instead of throwing. */
    tryDocker(args: string[]): { status: number | null; out: string };
    stop(): Promise<void>;
}

/** A /24 in 10.231.0.0/16 no interface of this machine uses yet, and its bridge name. */
function freeBridge(): { name: string; third: number } {
    const used = spawnSync("ip", ["-4", "-o", "addr"], { encoding: "utf8" }).stdout;
    const links = spawnSync("ip", ["-o", "link"], { encoding: "utf8" }).stdout;
    for (let third = 1 + (process.pid % 200); ; third = (third % 250) + 1) {
        const name = `wse2e${third}`;
        if (!used.includes(`10.231.${third}.`) && !links.includes(`${name}:`)) return { name, third };
    }
}

function run(cmd: string, args: string[]): void {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr.trim()}`);
}

/** Starts the engine under `dir` (created fresh) and waits until it answers. */
export async function startDockerEngine(dir: string): Promise<DockerEngine> {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const { name: bridge, third } = freeBridge();
    const bridgeAddress = `10.231.${third}.1`;
    run("ip", ["link", "add", bridge, "type", "bridge"]);
    run("ip", ["addr", "add", `${bridgeAddress}/24`, "dev", bridge]);
    run("ip", ["link", "set", bridge, "up"]);
    const socket = path.join(dir, "docker.sock");
    const host = `unix://${socket}`;
    const runtime: string[] = [];
    if (lacksSysResource()) {
        const wrapper = path.join(dir, "runc-without-sys-resource");
        fs.writeFileSync(wrapper, RUNC_WITHOUT_SYS_RESOURCE, { mode: 0o755 });
        runtime.push("--add-runtime", `e2e-runc=${wrapper}`, "--default-runtime", "e2e-runc");
    }
    const log = fs.openSync(path.join(dir, "dockerd.log"), "a");
    const daemon: ChildProcess = spawn("dockerd", [
        "--data-root", path.join(dir, "data"), "--exec-root", path.join(dir, "exec"),
        "--pidfile", path.join(dir, "dockerd.pid"), "-H", host, "--storage-driver", "vfs",
        "--bridge", bridge, "--iptables=false", "--ip-masq=false",
        // The harness's upstream registry listens on the bridge address, plain HTTP.
        "--insecure-registry", `10.231.${third}.0/24`,
        ...runtime,
    ], { stdio: ["ignore", log, log], detached: true });
    fs.closeSync(log);

    const docker = (args: string[], input?: string | Buffer): string => {
        const r = spawnSync("docker", args, { env: { ...process.env, DOCKER_HOST: host }, input, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        if (r.status !== 0) throw new Error(`docker ${args.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
        return r.stdout;
    };
    const tryDocker = (args: string[]) => {
        const r = spawnSync("docker", args, { env: { ...process.env, DOCKER_HOST: host }, encoding: "utf8" });
        return { status: r.status, out: `${r.stdout}${r.stderr}` };
    };
    const stop = async (): Promise<void> => {
        if (daemon.exitCode === null && daemon.pid !== undefined) {
            const exited = new Promise((resolve) => daemon.once("exit", resolve));
            daemon.kill("SIGTERM");
            await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
            if (daemon.exitCode === null) daemon.kill("SIGKILL");
        }
        spawnSync("ip", ["link", "del", bridge]);
        // What the engine left mounted under its roots (its netns files, a volume in use), deepest first.
        const mounts = fs.readFileSync("/proc/self/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(`${dir}/`));
        for (const m of mounts.sort().reverse()) spawnSync("umount", ["-l", m]);
        // vfs trees of a stopped engine: plain directories, removable once it is gone.
        spawnSync("rm", ["-rf", "--one-file-system", dir]);
    };

    const deadline = Date.now() + 60_000;
    while (tryDocker(["version", "--format", "{{.Server.Version}}"]).status !== 0) {
        if (daemon.exitCode !== null || Date.now() > deadline) {
            const tail = fs.readFileSync(path.join(dir, "dockerd.log"), "utf8").trim().split("\n").slice(-5).join("\n");
            await stop();
            throw new Error(`dockerd did not answer on ${host}:\n${tail}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
    }
    return { host, bridgeAddress, dir, docker, tryDocker, stop };
}
