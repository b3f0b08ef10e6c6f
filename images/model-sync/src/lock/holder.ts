// Who holds a lock, recorded so that a successor can tell a crashed holder from a live one at
// once instead of waiting for the lock to go stale. Host and pid alone do not name a life: the
// local sync container is pid 1 under the same host name on every `docker start`. So the record
// also carries the process's start time and the kernel's boot id, and, on Cloud Run, the task
// attempt it belongs to.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";

/** A lock holder as recorded (strings only: the bucket lock keeps it in custom metadata). */
export interface Holder {
    host: string;
    pid: string;
    /** The process's start, in clock ticks since boot (/proc/<pid>/stat, field 22); Linux only. */
    processStart?: string;
    /** The running kernel's boot id: pids and start times compare only within one boot. */
    bootId?: string;
    /** Cloud Run job task: CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_ATTEMPT. */
    execution?: string;
    task?: string;
    attempt?: string;
}

/** Names one acquisition: host/pid/random. */
export function newOwner(self: Holder): string {
    return `${self.host}/${self.pid}/${randomBytes(6).toString("hex")}`;
}

function readText(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8").trim();
    } catch {
        return undefined;
    }
}

/** A process's start time and state from /proc, or undefined when /proc has no such process. */
function procStat(pid: string): { start: string; state: string } | undefined {
    const text = readText(`/proc/${pid}/stat`);
    if (text === undefined) return undefined;
    // `pid (comm) state ...`: comm may hold spaces and parentheses, so fields count from the last ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0], start: fields[19] };
}

/** This process, as a lock records it; the Cloud Run fields come from `env`. */
export function thisProcess(env: NodeJS.ProcessEnv): Holder {
    const self: Holder = { host: os.hostname(), pid: String(process.pid) };
    const start = procStat("self")?.start;
    const bootId = readText("/proc/sys/kernel/random/boot_id");
    if (start !== undefined && bootId !== undefined) Object.assign(self, { processStart: start, bootId });
    if (env.CLOUD_RUN_EXECUTION) Object.assign(self, { execution: env.CLOUD_RUN_EXECUTION, task: env.CLOUD_RUN_TASK_INDEX ?? "0", attempt: env.CLOUD_RUN_TASK_ATTEMPT ?? "0" });
    return self;
}

/** Whether a process with this pid exists here, zombies excepted (they have ended, unreaped). */
function processExists(pid: number): boolean {
    try {
        process.kill(pid, 0);
    } catch (err) {
        // EPERM: it exists, under another user.
        return (err as NodeJS.ErrnoException).code !== "ESRCH";
    }
    const state = procStat(String(pid))?.state;
    return state !== "Z" && state !== "X";
}

/**
 * Why the recorded holder cannot be running any more, or undefined when that cannot be shown from
 * here (then only the lock's staleness frees it).
 */
export function holderGone(held: Partial<Holder>, self: Holder): string | undefined {
    // Cloud Run starts a task's next attempt only once the previous one has ended.
    if (self.execution !== undefined && held.execution === self.execution && held.task === self.task && Number(held.attempt) < Number(self.attempt)) {
        return `attempt ${held.attempt} of task ${held.task} of ${held.execution} has ended (this is attempt ${self.attempt})`;
    }
    // Same host name and same boot: the holder's pid is one this kernel gave out, as ours was.
    if (held.host !== self.host || self.bootId === undefined || held.bootId !== self.bootId) return undefined;
    const pid = Number(held.pid);
    if (!Number.isInteger(pid) || pid <= 0 || held.processStart === undefined) return undefined;
    if (!processExists(pid)) return `process ${pid} on ${held.host} has exited`;
    // The pid is taken again (by us, as pid 1 of a restarted container, or by any later process).
    const start = procStat(String(pid))?.start;
    if (start !== undefined && start !== held.processStart) return `process ${pid} on ${held.host} is a later one than the holder (started at tick ${start}, the holder at ${held.processStart})`;
    return undefined;
}
