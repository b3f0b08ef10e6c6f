// The real Pulumi CLI over the project, through `npm run engine` (scripts/engine.sh: the built CLI,
// language host and providers, offline), with the run's own backend, passphrase, Docker engine
// and Docker client config (where buildx keeps its builders), so nothing of the machine's leaks in
// and `destroy` can be checked to leave nothing behind.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");

export interface CliRun {
    status: number | null;
    signal: NodeJS.Signals | null;
    /** stdout and stderr, interleaved as they came. */
    out: string;
    /** Wall time in seconds. */
    seconds: number;
}

export interface CliOptions {
    /** PULUMI_BACKEND_URL, DOCKER_HOST, DOCKER_CONFIG, PULUMI_CONFIG_PASSPHRASE… */
    env: Record<string, string>;
    /** Echo the CLI's output (E2E_VERBOSE=1). */
    verbose?: boolean;
}

/** The pids of `pid`'s descendants, deepest last. */
function descendants(pid: number): { pid: number; comm: string }[] {
    const children = spawnSync("ps", ["-o", "pid=,comm=", "--ppid", String(pid)], { encoding: "utf8" }).stdout
        .split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p[0] !== "").map(([p, comm]) => ({ pid: Number(p), comm }));
    return children.flatMap((c) => [c, ...descendants(c.pid)]);
}

export class PulumiCli {
    constructor(private readonly options: CliOptions) {}

    /** Starts `pulumi <args>`; `whileRunning` may act on the process (e.g. kill it). */
    start(args: string[]): { child: ChildProcess; done: Promise<CliRun>; killCli(): boolean } {
        const started = Date.now();
        const child = spawn("npm", ["run", "-s", "engine", "--", ...args, "--non-interactive"], {
            cwd: REPO_ROOT, env: { ...process.env, ...this.options.env }, stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        const take = (chunk: Buffer) => {
            out += chunk.toString();
            if (this.options.verbose) process.stderr.write(chunk);
        };
        child.stdout!.on("data", take);
        child.stderr!.on("data", take);
        const done = new Promise<CliRun>((resolve) => child.on("close", (status, signal) => resolve({ status, signal, out, seconds: (Date.now() - started) / 1000 })));
        return {
            child, done,
            // The CLI itself, not npm or the script in front of it: the process named `pulumi`.
            killCli: () => {
                // npm runs a shell that runs scripts/engine.sh, which execs the CLI.
                const self = spawnSync("ps", ["-o", "comm=", "-p", String(child.pid)], { encoding: "utf8" }).stdout.trim();
                const cli = [{ pid: child.pid!, comm: self }, ...descendants(child.pid!)].find((p) => p.comm === "pulumi");
                if (cli === undefined) return false;
                process.kill(cli.pid, "SIGKILL");
                return true;
            },
        };
    }

    run(...args: string[]): Promise<CliRun> {
        return this.start(args).done;
    }

    /** Runs and throws with the output unless it exited 0. */
    async ok(...args: string[]): Promise<CliRun> {
        const run = await this.run(...args);
        if (run.status !== 0) throw new Error(`pulumi ${args.join(" ")} exited ${run.status}:\n${run.out.slice(-6000)}`);
        return run;
    }
}

/** The `N to create`-style counts of the CLI's summary ("Resources:" block), by operation. */
export function summaryCounts(out: string): Record<string, number> {
    const block = out.slice(out.lastIndexOf("Resources:"));
    const counts: Record<string, number> = {};
    for (const m of block.matchAll(/^\s+([~+-]|\+-|-\+)?\s*(\d+) (to create|created|to update|updated|to delete|deleted|to replace|replaced|unchanged)\b/gm)) {
        counts[m[3]] = Number(m[2]);
    }
    return counts;
}
