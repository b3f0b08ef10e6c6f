// The download engine. A large file is fetched as parallel Range requests straight to the URL its
// redirect resolved to (as ollama's puller and hf_transfer do), into a bounded window of parts; one
// hasher takes the parts strictly in order (still one streaming sha256) and one writer writes them
// in order, because gcsfuse keeps streaming writes only for sequential writes. A server that does
// not honour Range gets one stream. Either way bodies are written in large writes.
import { createHash, Hash } from "crypto";
import * as fs from "fs";
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
/** Single-stream bodies are gathered into writes of at least this size. */
const WRITE_BYTES = 8 * MiB;
// The hasher and the writer take a part's bytes as they arrive, in runs of at least this size
// (this machine's L2 cache), while those bytes are still in the CPU's caches. Taken only once a
// whole 8 MiB part was in, they were read back from memory: copying 2 GiB into the page cache
// took 2.4-3.1 CPU-s instead of 1.2-1.4 (perf, copy_folio_from_iter_atomic), and a 2 GiB sync
// 6.0 CPU-s instead of 5.1 (medians of 10 runs). 256 KiB and 4 MiB runs both did worse.
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

// Hashing runs beside the network and the writes: sha256 (~1.5 GB/s) would otherwise be the
// main thread's largest cost. The part buffers are shared memory the worker reads in place: the
// same runs of bytes are written and hashed at once, and nothing is copied or transferred (moving
// 8 MiB buffers back and forth registered 2 GiB of new external memory per 2 GiB file, and V8
// answered with full garbage collections: 0.4 s of the main thread's time).
const HASH_WORKER = `
const { parentPort } = require("worker_threads");
const { createHash } = require("crypto");
let hashes = [];
let slots = [];
parentPort.on("message", (m) => {
    if (m.init) {
        hashes = m.init.map(([algo, prefix]) => (prefix ? createHash(algo).update(prefix) : createHash(algo)));
        slots = m.slots;
    } else if (m.digest) {
        parentPort.postMessage(hashes.map((h) => h.digest("hex")));
    } else {
        const part = new Uint8Array(slots[m.slot], m.offset, m.length);
        for (const h of hashes) h.update(part);
        parentPort.postMessage(m.slot);
    }
});
`;

/** One hasher on a worker thread, fed runs of shared buffers strictly in file order. */
class HashWorker {
    private readonly worker = new Worker(HASH_WORKER, { eval: true });
    private readonly waiting: { resolve: (v: string[] | number) => void; reject: (e: Error) => void }[] = [];
    private size = 0;

    constructor(private readonly url: string, private readonly expect: Expectation, knownSize: number, slots: SharedArrayBuffer[]) {
        const prefix = blobPrefix(url, expect, knownSize);
        this.worker.postMessage({ init: prefix === undefined ? [["sha256"]] : [["sha256"], ["sha1", prefix]], slots });
        this.worker.on("message", (m: string[] | number) => this.waiting.shift()?.resolve(m));
        this.worker.on("error", (err) => {
            for (const w of this.waiting.splice(0)) w.reject(err);
        });
    }

    private ask(message: object): Promise<string[] | number> {
        return new Promise((resolve, reject) => {
            this.waiting.push({ resolve, reject });
            this.worker.postMessage(message);
        });
    }

    /** Hashes `length` bytes at `offset` of shared buffer `slot`, which must not change until this resolves. */
    async update(slot: number, offset: number, length: number): Promise<void> {
        this.size += length;
        await this.ask({ slot, offset, length });
    }

    async finish(): Promise<DownloadResult> {
        const [sha256, sha1] = (await this.ask({ digest: true })) as string[];
        return verify(this.url, this.expect, this.size, sha256, sha1);
    }

    stop(): Promise<number> {
        return this.worker.terminate();
    }
}

async function writeAll(fh: fs.promises.FileHandle, chunks: Buffer[], position: number, opts: DownloadOptions): Promise<void> {
    let total = 0;
    for (const c of chunks) total += c.length;
    opts.onWrite?.(position, total);
    // writev takes at most IOV_MAX (1024) buffers and may write less than asked.
    let written = 0;
    let i = 0;
    while (i < chunks.length) {
        const batch = chunks.slice(i, i + 1024);
        let { bytesWritten } = await fh.writev(batch, position + written);
        written += bytesWritten;
        for (const c of batch) {
            if (bytesWritten >= c.length) {
                bytesWritten -= c.length;
                i++;
            } else {
                if (bytesWritten > 0) chunks[i] = c.subarray(bytesWritten);
                break;
            }
        }
    }
    if (written !== total) throw new Error(`short write at ${position}: ${written} of ${total} bytes`);
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
                pending = writeAll(fh, batch, position, opts);
                position += batchBytes;
                batch = [];
                batchBytes = 0;
                progress(received);
            }
        }
        await pending;
        if (batch.length > 0) await writeAll(fh, batch, position, opts);
        if (declared !== undefined && received !== declared) throw new Error(`truncated body from ${o.url}: ${received} of ${declared} bytes`);
        return digests.finish();
    } finally {
        dog.untrack(o.watched);
        await fh.close();
    }
}

/**
 * Parts of `partSize` bytes fetched `connections` at a time from the resolved URL into a window of
 * `connections + 2` buffers: memory stays bounded whatever the file size. The hasher and the writer
 * follow the bytes that have arrived contiguously from the start of the file, in runs of at least
 * STREAM_BYTES, and a part's buffer is reused once both are past it. Each part retries on its own,
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
    const hasher = new HashWorker(first.url, expect, total, slots);
    const live = new Set<Opened>();
    const fh = await fs.promises.open(dest, "w");
    let probe: Opened | undefined = first;
    let stopped = false;
    let received = 0;
    const progress = progressLog(opts, first.url, total);
    /** Runs the writer, the hasher and new requests as far as the bytes that have arrived allow. */
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
            /** File offsets: handed to the hasher, hashed, and written. */
            let hashSent = 0;
            let hashed = 0;
            let written = 0;
            let writing = false;
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
                if (hashed === total && written === total) return resolve();
                // One writer, strictly in file order (gcsfuse streams only sequential writes).
                const write = writing ? undefined : nextRun(written);
                if (write !== undefined) {
                    writing = true;
                    writeAll(fh, [Buffer.from(slots[write.slot], write.offset, write.length)], written, opts).then(() => {
                        writing = false;
                        written += write.length;
                        advance();
                    }, fail);
                }
                // The hasher takes runs in file order and answers them in order, so several may wait in its queue.
                for (let run = nextRun(hashSent); run !== undefined; run = nextRun(hashSent)) {
                    const length = run.length;
                    hashSent += length;
                    hasher.update(run.slot, run.offset, length).then(() => {
                        hashed += length;
                        advance();
                    }, fail);
                }
                const passed = Math.min(written, hashed);
                const done = passed === total ? parts : Math.floor(passed / par.partSize);
                while (inFlight < par.connections && launched < parts && launched < done + window) {
                    inFlight++;
                    fetchPart(launched++).then(() => {
                        inFlight--;
                        advance();
                    }, fail);
                }
            };
            advance();
        });
        return await hasher.finish();
    } finally {
        stopParts();
        await hasher.stop();
        await fh.close();
    }
}
