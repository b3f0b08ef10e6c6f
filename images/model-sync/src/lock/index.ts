// The run lock: one sync at a time per cache. On the bucket it is an object written with
// generation preconditions (exclusive on GCS itself); for a plain directory, an O_EXCL file.
// Both are kept alive by a heartbeat: a holder that stops beating is taken over once stale (at
// once when it provably ended: ./holder), and a holder that finds it lost the lock stops before
// publishing.
import { acquireFileLock } from "./file";
import { SETTINGS } from "../settings";
import { thisProcess } from "./holder";
import type { HeldLock, LockOptions } from "./types";

export { LOCK, LockHeldError, LockLostError } from "./types";
export type { HeldLock, LockOptions, LockRecord } from "./types";

function positive(name: string, value: string | undefined, fallback: number): number {
    if (value === undefined || value === "") return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(value)})`);
    return n;
}

/** Lock settings from the environment; every bad value is named. */
export function readLockOptions(env: NodeJS.ProcessEnv): LockOptions {
    const { heartbeatSeconds: beat, staleSeconds: stale, bucket: bucketSetting } = SETTINGS;
    const heartbeatSeconds = positive(beat.env, env[beat.env], beat.default);
    // The stale limit's default is a multiple of the heartbeat (settings.ts says so in words).
    const staleSeconds = positive(stale.env, env[stale.env], 4 * heartbeatSeconds);
    if (staleSeconds < 2 * heartbeatSeconds) {
        throw new Error(`${stale.env} must be at least twice ${beat.env} (got ${staleSeconds} and ${heartbeatSeconds})`);
    }
    const bucket = env[bucketSetting.env] || undefined;
    if (bucket !== undefined && !/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) throw new Error(`${bucketSetting.env} is not a bucket name (got ${JSON.stringify(bucket)})`);
    return { bucket, heartbeatSeconds, staleSeconds, self: thisProcess(env) };
}

/** Takes the run lock for the cache at `dir` (or its bucket); throws LockHeldError if another run holds it. */
export async function acquireRunLock(dir: string, opts: LockOptions): Promise<HeldLock> {
    if (opts.bucket === undefined) return acquireFileLock(dir, opts);
    // Loaded only for a bucket: the Cloud Storage client costs ~120 ms of start-up a local run does without.
    const { acquireBucketLock } = await import("./bucket");
    return acquireBucketLock(opts.bucket, opts);
}
