// The run lock: one sync at a time per cache. On the bucket it is an object written with
// generation preconditions (exclusive on GCS itself); for a plain directory, an O_EXCL file.
// Both are kept alive by a heartbeat: a holder that stops beating is taken over once stale, and
// a holder that finds it lost the lock stops before publishing.
import { randomBytes } from "crypto";
import * as os from "os";
import type { Storage } from "@google-cloud/storage";
import { acquireFileLock } from "./file";

/** The lock's name: an object at the bucket's root, or a file in the cache directory. */
export const LOCK = ".sync.lock";

/** Another run holds the lock (exit 75). */
export class LockHeldError extends Error {}
/** This run held the lock and lost it: another run may be writing (exit 75, nothing published). */
export class LockLostError extends LockHeldError {}

export interface LockOptions {
    /** The cache bucket (MODEL_CACHE_BUCKET): lock there through the JSON API. Unset: a file lock. */
    bucket?: string;
    /** Seconds between heartbeats. */
    heartbeatSeconds: number;
    /** A lock not renewed for this long is stale and may be taken over (several heartbeats). */
    staleSeconds: number;
    /** The client to use (tests point one at a loopback server); default: `new Storage()`. */
    storage?: Storage;
}

export interface HeldLock {
    /** Throws LockLostError unless this run still holds the lock, checked at the source. */
    verify(): Promise<void>;
    /** Stops the heartbeat and removes the lock if it is still ours. */
    release(): Promise<void>;
}

/** What a lock records: who holds it and until when it counts as alive without a heartbeat. */
export interface LockRecord {
    owner: string;
    expiresAt: string;
}

export function newOwner(): string {
    return `${os.hostname()}/${process.pid}/${randomBytes(6).toString("hex")}`;
}

function positive(name: string, value: string | undefined, fallback: number): number {
    if (value === undefined || value === "") return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number (got ${JSON.stringify(value)})`);
    return n;
}

/** Lock settings from the environment; every bad value is named. */
export function readLockOptions(env: NodeJS.ProcessEnv): LockOptions {
    const heartbeatSeconds = positive("SYNC_LOCK_HEARTBEAT_SECONDS", env.SYNC_LOCK_HEARTBEAT_SECONDS, 30);
    const staleSeconds = positive("SYNC_LOCK_STALE_SECONDS", env.SYNC_LOCK_STALE_SECONDS, 4 * heartbeatSeconds);
    if (staleSeconds < 2 * heartbeatSeconds) {
        throw new Error(`SYNC_LOCK_STALE_SECONDS must be at least twice SYNC_LOCK_HEARTBEAT_SECONDS (got ${staleSeconds} and ${heartbeatSeconds})`);
    }
    const bucket = env.MODEL_CACHE_BUCKET || undefined;
    if (bucket !== undefined && !/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/.test(bucket)) throw new Error(`MODEL_CACHE_BUCKET is not a bucket name (got ${JSON.stringify(bucket)})`);
    return { bucket, heartbeatSeconds, staleSeconds };
}

/** Takes the run lock for the cache at `dir` (or its bucket); throws LockHeldError if another run holds it. */
export async function acquireRunLock(dir: string, opts: LockOptions): Promise<HeldLock> {
    if (opts.bucket === undefined) return acquireFileLock(dir, opts);
    // Loaded only for a bucket: the Cloud Storage client costs ~120 ms of start-up a local run does without.
    const { acquireBucketLock } = await import("./bucket");
    return acquireBucketLock(opts.bucket, opts);
}
