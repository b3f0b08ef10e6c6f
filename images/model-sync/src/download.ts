// The download engine. A large file is fetched as parallel Range requests straight to the URL its
// redirect resolved to (as ollama's puller and hf_transfer do), into a bounded window of parts; one
// worker thread hashes the parts strictly in order (still one streaming sha256) and writes them in
// order, because gcsfuse keeps streaming writes only for sequential writes. A server that does not
// honour Range gets one stream. Either way writes are as large as the filesystem takes them best:
// one per run through FUSE, 64 KiB to a local disk (LOCAL_WRITE_BYTES).
import { createHash, Hash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { Worker } from "worker_threads";
import {
    Answer, checkIdentity, failOn, header, HttpOptions, IDENTITY, identityError, open, Opened, ParallelOptions, PermanentError, statusError, Watchdog, withRetries,
} from "./http";
import { RangeConnection, UnsupportedResponse } from "./rangeConnection";

const MiB = 1024 * 1024;
// 2 connections of 8 MiB parts: on 2 cores, 4 connections of 4 MiB took 15-25 % longer (twice the
// requests, and more work for a local server sharing the cores), and the window (4 parts, 32 MiB)
// keeps a 2 GiB download under 150 MB of RSS. Since parts are read in place (rangeConnection.ts),
// 2 × 8, 4 × 8 and 2 × 16 MiB are within this machine's noise of each other (medians 4.1-4.2 s
// of 4 interleaved runs), and 2 × 8 holds the least memory of the three. Over a WAN link, where
// each connection is slow and the CPU idle, raise SYNC_CONNECTIONS_PER_FILE.
export const DEFAULT_PARALLEL: ParallelOptions = { minSize: 64 * MiB, partSize: 8 * MiB, connections: 2 };
/** Single-stream bodies are written once this much of them has arrived. */
const WRITE_BYTES = 8 * MiB;
// The worker takes a part's bytes as they arrive, in runs of at least this size
// (this machine's L2 cache), while those bytes are still in the CPU's caches. Taken only once a
// whole 8 MiB part was in, they were read back from memory: copying 2 GiB into the page cache
// took 2.4-3.1 CPU-s instead of 1.2-1.4 (perf, copy_folio_from_iter_atomic), and a 2 GiB sync
// 6.0 CPU-s instead of 5.1 (medians of 10 runs). 256 KiB and 4 MiB runs both did worse. (Measured
// with a hasher and a writer of their own.)
const STREAM_BYTES = 1 * MiB;

export interface Expectation {
    size?: number;
    sha256?: string;
    /** A git blob id: sha1 of "blob <size>\0" + content (non-LFS Hub files). */
    gitSha1?: string;
}

export interface DownloadOptions extends HttpOptions {
    label: string;
    /** Abandons the download (another file of the model failed). */
    signal?: AbortSignal;
    /** Observes each write to the file (offset, length), in the order they are issued. */
    onWrite?: (offset: number, length: number) => void;
}

export interface DownloadResult {
    size: number;
    sha256: string;
}

function blobPrefix(url: string, expect: Expectation, knownSize: number | undefined): string | undefined {
    if (expect.gitSha1 === undefined) return undefined;
    if (knownSize === undefined) throw new PermanentError(`${url}: a git blob id needs the size up front, and none is known`);
    return `blob ${knownSize}\0`;
}

/** Checks size, sha256 and git blob id against the expectation. */
function verify(url: string, expect: Expectation, size: number, sha256: string, gitSha1: string | undefined): DownloadResult {
    if (expect.size !== undefined && size !== expect.size) throw new PermanentError(`size mismatch for ${url}: got ${size} bytes, expected ${expect.size}`);
    if (expect.sha256 !== undefined && sha256 !== expect.sha256) throw new PermanentError(`checksum mismatch for ${url}: got sha256 ${sha256}, expected ${expect.sha256}`);
    if (expect.gitSha1 !== undefined && gitSha1 !== expect.gitSha1) throw new PermanentError(`checksum mismatch for ${url}: got git blob ${gitSha1}, expected ${expect.gitSha1}`);
    return { size, sha256 };
}

/** The digests of a single stream, fed in file order on this thread. */
class Digests {
    private readonly sha256 = createHash("sha256");
    private readonly sha1?: Hash;
    private size = 0;

    constructor(private readonly url: string, private readonly expect: Expectation, knownSize: number | undefined) {
        const prefix = blobPrefix(url, expect, knownSize);
        if (prefix !== undefined) this.sha1 = createHash("sha1").update(prefix);
    }

    update(chunk: Buffer): void {
        this.sha256.update(chunk);
        this.sha1?.update(chunk);
        this.size += chunk.length;
    }

    finish(): DownloadResult {
        return verify(this.url, this.expect, this.size, this.sha256.digest("hex"), this.sha1?.digest("hex"));
    }
}

/** FUSE's f_type (linux/magic.h): gcsfuse, where every write is a request to the daemon. */
const FUSE_SUPER_MAGIC = 0x65735546;
// The largest write a file gets on a local filesystem. There a write's length sets the size of the
// page-cache folios it fills, and large ones cost far more to fill unless memory was just freed in
// blocks as large (on a VM that hands freed pages back to its host, pages not just freed are faulted
// back in): 2 GiB written from one buffer into a fresh file, each after another file written in
// smaller writes was removed, took 0.50-1.02 s of system time in 64 KiB writes, 1.04-2.29 s in
// 128 KiB and 0.73-5.76 s in 1 MiB writes (6 rounds each, medians 0.6, 1.1 and 3.4 s); 2 GiB syncs
// in 1 MiB writes took 2.6-8.7 s of system time, in 64 KiB writes 1.2-1.5 s. Through FUSE a
// write is a round trip to gcsfuse instead, so there each run is one write.
const LOCAL_WRITE_BYTES = 64 * 1024;

/** The largest single write for a file in `dir`: unbounded on FUSE, LOCAL_WRITE_BYTES elsewhere. */
async function writeLimitFor(dir: string): Promise<number> {
    const { type } = await fs.promises.statfs(dir);
    return type === FUSE_SUPER_MAGIC ? Infinity : LOCAL_WRITE_BYTES;
}

// A ranged download's runs are hashed and then written by one worker thread, straight from the
// part buffers, which are shared memory: nothing is copied or transferred to get them there
// (moving 8 MiB buffers back and forth registered 2 GiB of new external memory per 2 GiB file, and
// V8 answered with full garbage collections). Hashing (sha256, ~1.4 GB/s) is the largest cost and
// stays off the main thread, as do the writes: a write that waits on gcsfuse does not stall the
// network or the lock's heartbeat. Written right after it was hashed, a run is still in the
// worker's CPU cache; a writer of its own cost another thread (13 MB of RSS) for no measured gain
// (2.84-3.09 s against 2.81-3.17 s per 2 GiB, 4 interleaved rounds). Runs are taken and answered in
// file order, so the writes are sequential, as gcsfuse needs to stream them.
const RUN_WORKER = `
const { parentPort } = require("worker_threads");
const { createHash } = require("crypto");
const { writeSync } = require("fs");
let hashes, slots, fd, limit;
function write(run, position) {
    for (let done = 0; done < run.length; ) {
        const n = writeSync(fd, run, done, Math.min(limit, run.length - done), position + done);
        if (n === 0) throw Object.assign(new Error("write returned 0 bytes at " + (position + done)), { code: "EIO" });
        done += n;
    }
}
parentPort.on("message", (m) => {
    if (m.init) {
        ({ slots, fd, limit } = m.init);
        hashes = m.init.algorithms.map(([algo, prefix]) => (prefix ? createHash(algo).update(prefix) : createHash(algo)));
    } else if (m.digest) {
        parentPort.postMessage(hashes.map((h) => h.digest("hex")));
    } else {
        const run = new Uint8Array(slots[m.slot], m.offset, m.length);
        for (const h of hashes) h.update(run);
        try {
            write(run, m.position);
            parentPort.postMessage(null);
        } catch (err) {
            parentPort.postMessage({ message: err.message, code: err.code });
        }
    }
});
`;

/** Hashes runs of the shared part buffers on a worker thread, then writes them to an open file, in the order given. */
class HashingWriter {
    private readonly worker = new Worker(RUN_WORKER, { eval: true });
    private readonly waiting: { resolve: (answer: unknown) => void; reject: (e: Error) => void }[] = [];
    private size = 0;

    constructor(private readonly url: string, private readonly expect: Expectation, knownSize: number, slots: SharedArrayBuffer[], fd: number, limit: number) {
        const prefix = blobPrefix(url, expect, knownSize);
        const algorithms = prefix === undefined ? [["sha256"]] : [["sha256"], ["sha1", prefix]];
        this.worker.postMessage({ init: { algorithms, slots, fd, limit } });
        this.worker.on("message", (answer: unknown) => this.waiting.shift()?.resolve(answer));
        this.worker.on("error", (err) => {
            for (const w of this.waiting.splice(0)) w.reject(err);
        });
    }

    private ask(message: object): Promise<unknown> {
        return new Promise((resolve, reject) => {
            this.waiting.push({ resolve, reject });
            this.worker.postMessage(message);
        });
    }

    /**
     * Hashes `length` bytes at `offset` of shared buffer `slot` and writes them at file offset
     * `position`; the bytes must not change until this resolves.
     */
    async take(slot: number, offset: number, length: number, position: number): Promise<void> {
        this.size += length;
        const failed = (await this.ask({ slot, offset, length, position })) as { message: string; code?: string } | null;
        if (failed !== null) throw Object.assign(new Error(failed.message), { code: failed.code });
    }

    async finish(): Promise<DownloadResult> {
        const [sha256, sha1] = (await this.ask({ digest: true })) as string[];
        return verify(this.url, this.expect, this.size, sha256, sha1);
    }

    /** Ends the worker; a write under way finishes first. */
    stop(): Promise<number> {
        return this.worker.terminate();
    }
}

/** Writes `chunks` at `position` in order, in writes of at most `limit` bytes each. */
async function writeAll(fh: fs.promises.FileHandle, chunks: Buffer[], position: number, limit: number, opts: DownloadOptions): Promise<void> {
    let total = 0;
    for (const c of chunks) total += c.length;
    opts.onWrite?.(position, total);
    let at = position;
    const batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = async () => {
        // writev may write less than asked: the rest goes in the next call.
        while (batch.length > 0) {
            let { bytesWritten } = await fh.writev(batch, at);
            if (bytesWritten === 0) throw new Error(`short write at ${at}: 0 of ${batchBytes} bytes`);
            at += bytesWritten;
            batchBytes -= bytesWritten;
            while (bytesWritten > 0) {
                const taken = Math.min(bytesWritten, batch[0].length);
                bytesWritten -= taken;
                if (taken === batch[0].length) batch.shift();
                else batch[0] = batch[0].subarray(taken);
            }
        }
    };
    for (let chunk of chunks) {
        while (chunk.length > 0) {
            const take = Math.min(chunk.length, limit - batchBytes);
            batch.push(chunk.subarray(0, take));
            batchBytes += take;
            chunk = chunk.subarray(take);
            // writev takes at most IOV_MAX (1024) buffers.
            if (batchBytes === limit || batch.length === 1024) await flush();
        }
    }
    await flush();
}

/** Logs a large file's progress at most every 10 s: call it with the bytes received so far. */
function progressLog(opts: DownloadOptions, file: string, total: number | undefined): (bytes: number) => void {
    let last = Date.now();
    return (bytes) => {
        if (Date.now() - last <= 10_000) return;
        last = Date.now();
        opts.logger.info({ model: opts.label, file, bytes, total }, "downloading");
    };
}

function contentRange(o: Pick<Answer, "headers">): { start: number; end: number; total: number } | undefined {
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header(o, "content-range") ?? "");
    return m === null ? undefined : { start: Number(m[1]), end: Number(m[2]), total: Number(m[3]) };
}

/**
 * Downloads `url` to `dest`, hashing as it writes. Fails on a truncated body, on a size, sha256 or
 * git blob id that differs from the expected one, and after `timeoutSeconds` without data.
 */
export async function download(url: string, dest: string, expect: Expectation, opts: DownloadOptions): Promise<DownloadResult> {
    const par: ParallelOptions = { ...DEFAULT_PARALLEL, ...opts.parallel };
    const ranged = expect.size === undefined || expect.size >= par.minSize;
    return withRetries(url, opts, async () => {
        const dog = new Watchdog(opts.timeoutSeconds * 1000);
        const abandon = () => dog.abortAll(new PermanentError(`${url}: abandoned, another file of ${opts.label} failed`));
        if (opts.signal?.aborted) abandon();
        opts.signal?.addEventListener("abort", abandon);
        try {
            // Asking for the first part answers three questions at once: where the redirects end,
            // whether that server honours Range, and (Content-Range) the size.
            const first = await open(url, opts, ranged ? { ...IDENTITY, Range: `bytes=0-${par.partSize - 1}` } : IDENTITY, dog);
            if (first.status === 416 && ranged) {
                // An empty file has no byte 0 to serve.
                first.body.resume();
                dog.untrack(first.watched);
                const whole = await open(url, opts, IDENTITY, dog);
                if (whole.status !== 200) failOn(whole, opts, dog);
                return await single(whole, dest, expect, opts, dog);
            }
            if (first.status === 206) {
                const range = contentRange(first);
                if (range === undefined || range.start !== 0) {
                    first.body.destroy();
                    throw new Error(`${first.url}: unexpected Content-Range ${JSON.stringify(header(first, "content-range"))}`);
                }
                return await parallel(first, range.total, dest, expect, opts, par, dog);
            }
            if (first.status !== 200) failOn(first, opts, dog);
            return await single(first, dest, expect, opts, dog);
        } finally {
            opts.signal?.removeEventListener("abort", abandon);
            dog.stop();
        }
    });
}

/** One response body, gathered into large writes; the next write waits for the previous one. */
async function single(o: Opened, dest: string, expect: Expectation, opts: DownloadOptions, dog: Watchdog): Promise<DownloadResult> {
    checkIdentity(o);
    const length = header(o, "content-length");
    const declared = length !== undefined ? Number(length) : undefined;
    const digests = new Digests(o.url, expect, expect.size ?? declared);
    const limit = await writeLimitFor(path.dirname(dest));
    const fh = await fs.promises.open(dest, "w");
    try {
        let batch: Buffer[] = [];
        let batchBytes = 0;
        let position = 0;
        let pending: Promise<void> = Promise.resolve();
        let received = 0;
        const progress = progressLog(opts, o.url, expect.size ?? declared);
        for await (const chunk of o.body as AsyncIterable<Buffer>) {
            o.watched.seen++;
            digests.update(chunk);
            opts.onBytes?.(chunk.length);
            received += chunk.length;
            batch.push(chunk);
            batchBytes += chunk.length;
            if (batchBytes >= WRITE_BYTES) {
                await pending;
                pending = writeAll(fh, batch, position, limit, opts);
                position += batchBytes;
                batch = [];
                batchBytes = 0;
                progress(received);
            }
        }
        await pending;
        if (batch.length > 0) await writeAll(fh, batch, position, limit, opts);
        if (declared !== undefined && received !== declared) throw new Error(`truncated body from ${o.url}: ${received} of ${declared} bytes`);
        return digests.finish();
    } finally {
        dog.untrack(o.watched);
        await fh.close();
    }
}

/**
 * Parts of `partSize` bytes fetched `connections` at a time from the resolved URL into a window of
 * `connections + 2` buffers: memory stays bounded whatever the file size. The worker that hashes
 * and writes follows the bytes that have arrived contiguously from the start of the file, in runs
 * of at least STREAM_BYTES, and a part's buffer is reused once it is past it. Each part retries on its own,
 * asking only for the bytes it still lacks; the first part is the response that probed for Range
 * support.
 */
async function parallel(first: Opened, total: number, dest: string, expect: Expectation, opts: DownloadOptions, par: ParallelOptions, dog: Watchdog): Promise<DownloadResult> {
    checkIdentity(first);
    if (expect.size !== undefined && total !== expect.size) {
        first.body.destroy();
        throw new PermanentError(`size mismatch for ${first.url}: Content-Range says ${total} bytes, expected ${expect.size}`);
    }
    const parts = Math.max(1, Math.ceil(total / par.partSize));
    const window = Math.min(parts, par.connections + 2);
    const slotSize = Math.min(par.partSize, total);
    const slots = Array.from({ length: window }, () => new SharedArrayBuffer(slotSize));
    const partStart = (i: number) => i * par.partSize;
    /** Exclusive. */
    const partEnd = (i: number) => Math.min(total, partStart(i) + par.partSize);
    const partLength = (i: number) => partEnd(i) - partStart(i);
    /** Bytes of each part in its buffer so far. */
    const arrived = new Array<number>(parts).fill(0);
    const limit = await writeLimitFor(path.dirname(dest));
    const live = new Set<Opened>();
    const fh = await fs.promises.open(dest, "w");
    const worker = new HashingWriter(first.url, expect, total, slots, fh.fd, limit);
    let probe: Opened | undefined = first;
    let stopped = false;
    let received = 0;
    const progress = progressLog(opts, first.url, total);
    /** Hands runs to the worker and starts new requests, as far as the bytes that have arrived allow. */
    let advance = () => {};

    // Parts after the first are read straight into their buffers (rangeConnection.ts), until a
    // server frames or redirects one in a way that reader does not follow; then through node:http.
    let direct = true;
    const target = new URL(first.url);
    const idle: RangeConnection[] = [];
    const connections = new Set<RangeConnection>();
    /** Stops every part: no request after this, and the ones in flight fail (with `err`, if given). */
    const stopParts = (err?: Error) => {
        stopped = true;
        for (const o of live) o.body.destroy();
        for (const c of connections) c.destroy(err);
        probe?.body.destroy();
    };

    /** Why a part's answer is not the range asked for, if it is not. */
    const partError = (a: Answer, start: number, end: number): Error | undefined => {
        if (a.status === 200) return new PermanentError(`${a.url} stopped honouring Range requests (200 for bytes ${start}-${end})`);
        if (a.status !== 206) return statusError(a, opts.tokenEnv);
        const coded = identityError(a);
        if (coded !== undefined) return coded;
        const r = contentRange(a);
        if (r === undefined || r.start !== start || r.end !== end || r.total !== total) return new Error(`${a.url}: Content-Range ${JSON.stringify(header(a, "content-range"))} for bytes ${start}-${end}/${total}`);
        return undefined;
    };

    /** Bytes of part `i` landed in its buffer. */
    const landed = (i: number, n: number) => {
        arrived[i] += n;
        received += n;
        opts.onBytes?.(n);
        progress(received);
        advance();
    };

    const readDirect = async (i: number, into: Buffer, start: number, end: number): Promise<void> => {
        const conn = idle.pop() ?? new RangeConnection(target);
        connections.add(conn);
        const watched = dog.track(`${first.url} bytes ${start}-${end}`, (err) => conn.destroy(err));
        try {
            await conn.get({
                headers: first.sent, start, end, into,
                check: (head) => partError({ ...head, url: first.url, sent: first.sent }, start, end),
                onRead: (n) => {
                    watched.seen++;
                    landed(i, n);
                },
            });
        } catch (err) {
            connections.delete(conn);
            conn.destroy();
            throw err;
        } finally {
            dog.untrack(watched);
        }
        idle.push(conn);
    };

    /** A part through node:http: the probe that asked for the first part, or a new request. */
    const readThroughHttp = async (i: number, probed: Opened | undefined, into: Buffer, start: number, end: number): Promise<void> => {
        let o = probed;
        if (o === undefined) {
            o = await open(first.url, { ...opts, headers: first.sent }, { ...IDENTITY, Range: `bytes=${start}-${end}` }, dog);
            const wrong = partError(o, start, end);
            if (wrong !== undefined) {
                o.body.destroy();
                dog.untrack(o.watched);
                throw wrong;
            }
        }
        const res = o.body;
        // Destroyed (abandoned) before we listened: its 'error' and 'close' are past.
        if (res.destroyed) {
            dog.untrack(o.watched);
            throw res.errored ?? new Error(`connection closed early by ${o.url}`);
        }
        live.add(o);
        const { watched } = o;
        let got = 0;
        try {
            // Plain 'data' events: an async iterator costs a promise per 64 KiB chunk.
            await new Promise<void>((resolve, reject) => {
                res.on("data", (chunk: Buffer) => {
                    watched.seen++;
                    if (got + chunk.length > into.length) return void res.destroy(new Error(`${o.url}: more than ${into.length} bytes for bytes ${start}-${end}`));
                    chunk.copy(into, got);
                    got += chunk.length;
                    landed(i, chunk.length);
                });
                res.on("end", resolve);
                res.on("error", reject);
                res.on("close", () => reject(new Error(`connection closed early by ${o.url}`)));
            });
        } finally {
            live.delete(o);
            dog.untrack(watched);
        }
        if (got !== into.length) throw new Error(`truncated body from ${o.url}: ${got} of ${into.length} bytes for bytes ${start}-${end}`);
    };

    const fetchPart = (i: number): Promise<void> => {
        const slot = Buffer.from(slots[i % window], 0, partLength(i));
        return withRetries(`${first.url} bytes ${partStart(i)}-${partEnd(i) - 1}`, opts, async () => {
            if (stopped) throw new PermanentError(`${first.url}: download abandoned`);
            // A retry asks only for the bytes the last attempt did not bring: those it did may
            // already be hashed and written, so they are never read again into the buffer.
            if (arrived[i] === slot.length) return;
            const into = slot.subarray(arrived[i]);
            const start = partStart(i) + arrived[i];
            const end = partEnd(i) - 1;
            const probed = probe;
            probe = undefined;
            if (probed === undefined && direct) {
                try {
                    return await readDirect(i, into, start, end);
                } catch (err) {
                    if (!(err instanceof UnsupportedResponse)) throw err;
                    direct = false;
                    opts.logger.info({ model: opts.label, file: first.url, reason: err.message }, "reading the remaining parts through node:http");
                }
            }
            await readThroughHttp(i, probed, into, start, end);
        });
    };

    try {
        await new Promise<void>((resolve, reject) => {
            let launched = 0;
            let inFlight = 0;
            /** The first part that has not wholly arrived. */
            let head = 0;
            /** File offsets: handed to the worker, and hashed and written by it. */
            let sent = 0;
            let done = 0;
            let failed = false;
            const fail = (err: unknown) => {
                if (failed) return;
                failed = true;
                stopParts(err as Error);
                reject(err as Error);
            };
            /** The next run at file offset `from`: within one part, STREAM_BYTES or more unless it ends the part. */
            const nextRun = (from: number): { slot: number; offset: number; length: number } | undefined => {
                while (head < parts && arrived[head] === partLength(head)) head++;
                const contiguous = head === parts ? total : partStart(head) + arrived[head];
                const i = Math.floor(from / par.partSize);
                const stop = Math.min(contiguous, partEnd(i));
                if (from >= total || stop <= from || (stop - from < STREAM_BYTES && stop < partEnd(i))) return undefined;
                return { slot: i % window, offset: from - partStart(i), length: stop - from };
            };
            advance = () => {
                if (failed) return;
                if (done === total) return resolve();
                // The worker takes runs in file order and answers them in order, so several may wait in its queue.
                for (let run = nextRun(sent); run !== undefined; run = nextRun(sent)) {
                    const { length } = run;
                    opts.onWrite?.(sent, length);
                    worker.take(run.slot, run.offset, length, sent).then(() => {
                        done += length;
                        advance();
                    }, fail);
                    sent += length;
                }
                // A part's buffer takes the next part once the worker is past it.
                const passed = done === total ? parts : Math.floor(done / par.partSize);
                while (inFlight < par.connections && launched < parts && launched < passed + window) {
                    inFlight++;
                    fetchPart(launched++).then(() => {
                        inFlight--;
                        advance();
                    }, fail);
                }
            };
            advance();
        });
        return await worker.finish();
    } finally {
        stopParts();
        // No write may be under way when its file closes.
        await worker.stop();
        await fh.close();
    }
}
