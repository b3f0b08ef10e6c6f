// What both lock kinds share, and what the rest of the program sees of them.
import type { Storage } from "@google-cloud/storage";

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
