// The download engine. A large file is fetched as parallel Range requests straight to the URL its
// redirect resolved to (as ollama's puller and hf_transfer do), into a bounded window of parts; one
// hasher takes the parts strictly in order (still one streaming sha256) and one writer writes them
// in order, because gcsfuse keeps streaming writes only for sequential writes. A server that does
// not honour Range gets one stream. Either way bodies are written in large writes.
import { createHash, Hash } from "crypto";
import * as fs from "fs";
import {
    checkIdentity, failOn, HttpOptions, IDENTITY, open, Opened, ParallelOptions, PermanentError, Watchdog, withRetries,
} from "./http";

const MiB = 1024 * 1024;
export const DEFAULT_PARALLEL: ParallelOptions = { minSize: 64 * MiB, partSize: 8 * MiB, connections: 8 };
/** Single-stream bodies are gathered into writes of at least this size. */
const WRITE_BYTES = 8 * MiB;

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

/** The digests a file must match, fed strictly in file order. */
class Digests {
    private readonly sha256 = createHash("sha256");
    private readonly sha1?: Hash;
    private size = 0;

    constructor(private readonly url: string, private readonly expect: Expectation, knownSize: number | undefined) {
        if (expect.gitSha1 !== undefined) {
            if (knownSize === undefined) throw new PermanentError(`${url}: a git blob id needs the size up front, and none is known`);
            this.sha1 = createHash("sha1").update(`blob ${knownSize}\0`);
        }
    }

    update(chunk: Buffer): void {
        this.sha256.update(chunk);
        this.sha1?.update(chunk);
        this.size += chunk.length;
    }

    /** Checks size, sha256 and git blob id against the expectation. */
    finish(): DownloadResult {
        const { url, expect, size } = this;
        const sha256 = this.sha256.digest("hex");
        if (expect.size !== undefined && size !== expect.size) throw new PermanentError(`size mismatch for ${url}: got ${size} bytes, expected ${expect.size}`);
        if (expect.sha256 !== undefined && sha256 !== expect.sha256) throw new PermanentError(`checksum mismatch for ${url}: got sha256 ${sha256}, expected ${expect.sha256}`);
        if (this.sha1 !== undefined) {
            const blob = this.sha1.digest("hex");
            if (blob !== expect.gitSha1) throw new PermanentError(`checksum mismatch for ${url}: got git blob ${blob}, expected ${expect.gitSha1}`);
        }
        return { size, sha256 };
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

function contentRange(o: Opened): { start: number; end: number; total: number } | undefined {
    const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(o.res.headers["content-range"] ?? ""));
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
            if (first.res.statusCode === 416 && ranged) {
                // An empty file has no byte 0 to serve.
                first.res.resume();
                dog.untrack(first.watched);
                const whole = await open(url, opts, IDENTITY, dog);
                if (whole.res.statusCode !== 200) failOn(whole, opts, dog);
                return await single(whole, dest, expect, opts, dog);
            }
            if (first.res.statusCode === 206) {
                const range = contentRange(first);
                if (range === undefined || range.start !== 0) {
                    first.res.destroy();
                    throw new Error(`${first.url}: unexpected Content-Range ${JSON.stringify(first.res.headers["content-range"])}`);
                }
                return await parallel(first, range.total, dest, expect, opts, par, dog);
            }
            if (first.res.statusCode !== 200) failOn(first, opts, dog);
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
    const declared = o.res.headers["content-length"] !== undefined ? Number(o.res.headers["content-length"]) : undefined;
    const digests = new Digests(o.url, expect, expect.size ?? declared);
    const fh = await fs.promises.open(dest, "w");
    try {
        let batch: Buffer[] = [];
        let batchBytes = 0;
        let position = 0;
        let pending: Promise<void> = Promise.resolve();
        let received = 0;
        let lastProgress = Date.now();
        for await (const chunk of o.res as AsyncIterable<Buffer>) {
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
                if (Date.now() - lastProgress > 10_000) {
                    lastProgress = Date.now();
                    opts.logger.info({ model: opts.label, file: o.url, bytes: received, total: expect.size ?? declared }, "downloading");
                }
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
 * Parts of `partSize` bytes fetched `connections` at a time from the resolved URL, within a window
 * of `connections + 2` parts not yet written: memory stays bounded whatever the file size. Each part
 * retries on its own; the first part is the response that probed for Range support.
 */
async function parallel(first: Opened, total: number, dest: string, expect: Expectation, opts: DownloadOptions, par: ParallelOptions, dog: Watchdog): Promise<DownloadResult> {
    checkIdentity(first);
    if (expect.size !== undefined && total !== expect.size) {
        first.res.destroy();
        throw new PermanentError(`size mismatch for ${first.url}: Content-Range says ${total} bytes, expected ${expect.size}`);
    }
    const digests = new Digests(first.url, expect, total);
    const parts = Math.max(1, Math.ceil(total / par.partSize));
    const window = par.connections + 2;
    const ready = new Map<number, Buffer[]>();
    const live = new Set<Opened>();
    const fh = await fs.promises.open(dest, "w");
    let probe: Opened | undefined = first;
    let stopped = false;
    let received = 0;
    let lastProgress = Date.now();

    const fetchPart = (i: number): Promise<Buffer[]> => {
        const start = i * par.partSize;
        const end = Math.min(total, start + par.partSize) - 1;
        return withRetries(`${first.url} bytes ${start}-${end}`, opts, async () => {
            if (stopped) throw new PermanentError(`${first.url}: download abandoned`);
            let o = probe;
            probe = undefined;
            if (o === undefined) {
                o = await open(first.url, { ...opts, headers: first.headers }, { ...IDENTITY, Range: `bytes=${start}-${end}` }, dog);
                if (o.res.statusCode !== 206) {
                    if (o.res.statusCode === 200) {
                        o.res.destroy();
                        throw new PermanentError(`${o.url} stopped honouring Range requests (200 for bytes ${start}-${end})`);
                    }
                    failOn(o, opts, dog);
                }
                checkIdentity(o);
                const r = contentRange(o);
                if (r === undefined || r.start !== start || r.end !== end || r.total !== total) {
                    o.res.destroy();
                    throw new Error(`${o.url}: Content-Range ${JSON.stringify(o.res.headers["content-range"])} for bytes ${start}-${end}/${total}`);
                }
            }
            live.add(o);
            const chunks: Buffer[] = [];
            let got = 0;
            try {
                for await (const chunk of o.res as AsyncIterable<Buffer>) {
                    o.watched.seen++;
                    chunks.push(chunk);
                    got += chunk.length;
                    received += chunk.length;
                    opts.onBytes?.(chunk.length);
                }
            } finally {
                live.delete(o);
                dog.untrack(o.watched);
            }
            if (got !== end - start + 1) throw new Error(`truncated body from ${o.url}: ${got} of ${end - start + 1} bytes for bytes ${start}-${end}`);
            return chunks;
        });
    };

    try {
        await new Promise<void>((resolve, reject) => {
            let launched = 0;
            let inFlight = 0;
            let hashed = 0;
            let written = 0;
            let writing = false;
            let failed = false;
            const fail = (err: unknown) => {
                if (failed) return;
                failed = true;
                stopped = true;
                for (const o of live) o.res.destroy();
                reject(err as Error);
            };
            const advance = () => {
                if (failed) return;
                // The hasher takes every part that is next in file order, never one out of turn.
                while (ready.has(hashed)) {
                    for (const c of ready.get(hashed)!) digests.update(c);
                    hashed++;
                }
                // One writer, in order: the next write starts when the previous one is done.
                if (!writing && written < hashed) {
                    writing = true;
                    const chunks = ready.get(written)!;
                    writeAll(fh, chunks, written * par.partSize, opts).then(() => {
                        ready.delete(written);
                        written++;
                        writing = false;
                        if (written === parts) resolve();
                        else advance();
                    }, fail);
                }
                while (inFlight < par.connections && launched < parts && launched < written + window) {
                    const i = launched++;
                    inFlight++;
                    fetchPart(i).then((chunks) => {
                        inFlight--;
                        ready.set(i, chunks);
                        if (Date.now() - lastProgress > 10_000) {
                            lastProgress = Date.now();
                            opts.logger.info({ model: opts.label, file: first.url, bytes: received, total }, "downloading");
                        }
                        advance();
                    }, fail);
                }
            };
            advance();
        });
        return digests.finish();
    } finally {
        stopped = true;
        for (const o of live) o.res.destroy();
        probe?.res.destroy();
        await fh.close();
    }
}
