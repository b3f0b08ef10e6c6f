// The run lock as an object in the cache bucket, through the JSON API with generation
// preconditions: GCS itself decides every race. gcsfuse cannot give this: its O_EXCL create is
// checked only at close (gcsfuse docs/semantics.md), so both runs would write until then.
//   take      insert with ifGenerationMatch=0              (412: someone holds it)
//   take over insert with ifGenerationMatch=<stale gen>    (412: another contender won)
//   heartbeat insert with ifGenerationMatch=<held gen>     (412/404: lost; a new generation each time)
//   release   delete with ifGenerationMatch=<held gen>     (412/404: not ours any more, left alone)
import { Storage } from "@google-cloud/storage";
import { Holder, holderGone, newOwner, thisProcess } from "./holder";
import { HeldLock, LOCK, LockHeldError, LockLostError, LockOptions, LockRecord } from "./types";

function status(err: unknown): number | undefined {
    return (err as { code?: unknown }).code as number | undefined;
}

export async function acquireBucketLock(bucketName: string, opts: LockOptions): Promise<HeldLock> {
    const bucket = (opts.storage ?? new Storage()).bucket(bucketName);
    const self: Holder = opts.self ?? thisProcess(process.env);
    const owner = newOwner(self);
    const where = `gs://${bucketName}/${LOCK}`;

    /** Writes our record if the object's generation is `match` (0: absent); the new generation, or undefined on 412. */
    async function write(match: number): Promise<{ generation: number; expiresAt: number } | undefined> {
        const expiresAt = Date.now() + opts.staleSeconds * 1000;
        const record: LockRecord = { owner, ...self, expiresAt: new Date(expiresAt).toISOString() };
        const file = bucket.file(LOCK);
        try {
            await file.save(JSON.stringify(record), {
                resumable: false,
                // A tiny object read by this code only; the upload's own precondition is what matters.
                validation: false,
                contentType: "application/json",
                metadata: { cacheControl: "no-store", metadata: record },
                preconditionOpts: { ifGenerationMatch: match },
            });
        } catch (err) {
            if (status(err) === 412) return undefined;
            throw err;
        }
        return { generation: Number(file.metadata.generation), expiresAt };
    }

    /** The current lock: its generation and record, or undefined when there is none. */
    async function read(): Promise<{ generation: number; record: Partial<LockRecord> } | undefined> {
        try {
            const [meta] = await bucket.file(LOCK).getMetadata();
            return { generation: Number(meta.generation), record: (meta.metadata ?? {}) as Partial<LockRecord> };
        } catch (err) {
            if (status(err) === 404) return undefined;
            throw err;
        }
    }

    let held: { generation: number; expiresAt: number } | undefined;
    let tookOver: string | undefined;
    for (let tries = 0; tries < 3 && held === undefined; tries++) {
        held = await write(0);
        if (held !== undefined) break;
        const current = await read();
        if (current === undefined) continue; // released meanwhile: try again
        // A retried insert whose first attempt did land: the lock is already ours.
        if (current.record.owner === owner) {
            held = { generation: current.generation, expiresAt: Date.parse(current.record.expiresAt!) };
            break;
        }
        const expires = Date.parse(current.record.expiresAt ?? "");
        const gone = holderGone(current.record, self);
        if (gone === undefined && Number.isFinite(expires) && expires > Date.now()) {
            throw new LockHeldError(`another sync holds ${where} (${current.record.owner}, alive until ${current.record.expiresAt} unless it renews)`);
        }
        // Stale or ended: replace exactly the generation judged, so of two contenders only one wins.
        held = await write(current.generation);
        if (held === undefined) throw new LockHeldError(`another sync took over the stale ${where} first`);
        tookOver = `${current.record.owner ?? "a lock without an owner"}: ${gone ?? `expired at ${current.record.expiresAt ?? "(no expiry)"}`}`;
    }
    if (held === undefined) throw new LockHeldError(`could not take ${where}: it kept changing hands`);

    let lost: string | undefined;
    let beating: Promise<void> = Promise.resolve();
    const beat = async () => {
        if (lost !== undefined || held === undefined) return;
        try {
            let next = await write(held.generation);
            if (next === undefined) {
                // A retried beat whose first attempt landed carries our owner: still ours.
                const current = await read();
                if (current?.record.owner === owner) next = { generation: current.generation, expiresAt: Date.parse(current.record.expiresAt!) };
            }
            if (next === undefined) lost = `${where} was replaced by another run (generation ${held.generation} no longer current)`;
            else held = next;
        } catch (err) {
            // A transient failure: the next beat retries; verify() fails once our expiry passed.
            if (status(err) === 404) lost = `${where} was deleted`;
        }
    };
    const timer = setInterval(() => {
        beating = beating.then(beat);
    }, opts.heartbeatSeconds * 1000);
    timer.unref();

    return {
        tookOver,
        verify() {
            // In line with the heartbeats, so a read never races our own write.
            const check = beating.then(async () => {
                if (lost !== undefined) return;
                if (Date.now() >= held!.expiresAt) {
                    lost = `no heartbeat of ${where} landed before it went stale`;
                    return;
                }
                const current = await read();
                if (current?.generation !== held!.generation) lost = `${where} is at generation ${current?.generation ?? "(none)"}, ours was ${held!.generation}`;
            });
            beating = check.catch(() => undefined);
            return check.then(() => {
                if (lost !== undefined) throw new LockLostError(`lost the lock: ${lost}`);
            });
        },
        async release() {
            clearInterval(timer);
            await beating;
            if (lost !== undefined) return;
            try {
                await bucket.file(LOCK).delete({ ifGenerationMatch: held!.generation });
            } catch (err) {
                if (status(err) !== 412 && status(err) !== 404) throw err;
            }
        },
    };
}
