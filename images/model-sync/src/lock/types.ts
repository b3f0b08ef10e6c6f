// What both lock kinds share, and what the rest of the program sees of them.
import type { Storage } from "@google-cloud/storage";
import type { Holder } from "./holder";

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
    /** This run, as the lock records it; default: this process, with Cloud Run's variables from its environment. */
    self?: Holder;
}

export interface HeldLock {
    /** Why the previous holder's lock was taken over (it went stale, or its run has ended), if one was. */
    readonly tookOver?: string;
    /** Throws LockLostError unless this run still holds the lock, checked at the source. */
    verify(): Promise<void>;
    /** Stops the heartbeat and removes the lock if it is still ours. */
    release(): Promise<void>;
}

/** What a lock records: who holds it and, on the bucket, until when it counts as alive without a heartbeat. */
export interface LockRecord extends Holder {
    owner: string;
    expiresAt?: string;
}
