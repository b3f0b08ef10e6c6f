// HTTP with the failure handling a nightly job needs: retries with exponential backoff and jitter
// on 5xx, resets and timeouts; an idle timeout on bodies; streaming to disk while hashing, so
// memory stays bounded whatever the file size.
import { createHash } from "crypto";
import * as fs from "fs";
import { Readable, Transform } from "stream";
import { pipeline } from "stream/promises";
import type { Logger } from "./log";

export interface HttpOptions {
    /** Seconds without a byte (or a response) before a request is abandoned. */
    timeoutSeconds: number;
    /** Attempts per request, the first included. */
    attempts: number;
    /** First backoff; doubles each retry, with up to 50 % jitter. */
    backoffMs: number;
    headers?: Record<string, string>;
    logger: Logger;
    /** Counts body bytes received, for the summary. */
    onBytes?: (n: number) => void;
}

/** A failure that retrying will not fix (4xx, checksum mismatch). */
export class PermanentError extends Error {}

export class HttpStatusError extends Error {
    constructor(readonly status: number, url: string) {
        super(`HTTP ${status} from ${url}`);
    }
}

function retryable(err: unknown): boolean {
    if (err instanceof PermanentError) return false;
    if (err instanceof HttpStatusError) return err.status >= 500 || err.status === 429 || err.status === 408;
    if ((err as NodeJS.ErrnoException)?.code === "ENOSPC") return false;
    // Resets, refused connections, aborted (timed out) and truncated bodies.
    return true;
}

export function backoffDelay(attempt: number, baseMs: number, random: () => number = Math.random): number {
    const exp = baseMs * 2 ** attempt;
    return Math.round(exp + exp * 0.5 * random());
}

export async function withRetries<T>(what: string, opts: Pick<HttpOptions, "attempts" | "backoffMs" | "logger">, fn: (attempt: number) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
        try {
            return await fn(attempt);
        } catch (err) {
            if (!retryable(err) || attempt + 1 >= opts.attempts) throw err;
            const delay = backoffDelay(attempt, opts.backoffMs);
            opts.logger.warn({ what, attempt: attempt + 1, delay_ms: delay, error: (err as Error).message }, "retrying after a transient failure");
            await new Promise((r) => setTimeout(r, delay));
        }
    }
}

/** fetch with an abort after `timeoutSeconds` of silence; the returned `touch` re-arms it. */
async function timedFetch(url: string, opts: HttpOptions, extraHeaders: Record<string, string> = {}): Promise<{ res: Response; touch: () => void; done: () => void }> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout;
    const touch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => controller.abort(new Error(`no data from ${url} for ${opts.timeoutSeconds}s`)), opts.timeoutSeconds * 1000);
    };
    touch();
    try {
        const res = await fetch(url, { headers: { ...opts.headers, ...extraHeaders }, redirect: "follow", signal: controller.signal });
        return { res, touch, done: () => clearTimeout(timer) };
    } catch (err) {
        clearTimeout(timer!);
        if (controller.signal.aborted) throw controller.signal.reason as Error;
        // undici says "fetch failed"; the cause says why (ECONNREFUSED, ECONNRESET, ...).
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new Error(`${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
}

/** GET a JSON document (metadata: listings, manifests). */
export async function getJson<T>(url: string, opts: HttpOptions, accept = "application/json"): Promise<{ body: T; raw: Buffer }> {
    return withRetries(url, opts, async () => {
        const { res, done } = await timedFetch(url, opts, { Accept: accept });
        try {
            if (!res.ok) {
                await res.body?.cancel();
                if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) throw new PermanentError(`HTTP ${res.status} from ${url}`);
                throw new HttpStatusError(res.status, url);
            }
            const raw = Buffer.from(await res.arrayBuffer());
            return { body: JSON.parse(raw.toString("utf8")) as T, raw };
        } finally {
            done();
        }
    });
}

export interface DownloadResult {
    size: number;
    sha256: string;
}

/**
 * Streams `url` to `dest`, hashing as it writes (one pass). Fails on a truncated body, on a size
 * or sha256 that differs from the expected one, and after `timeoutSeconds` without data.
 */
export async function download(url: string, dest: string, expect: { size?: number; sha256?: string }, opts: HttpOptions & { label: string }): Promise<DownloadResult> {
    return withRetries(url, opts, async () => {
        const { res, touch, done } = await timedFetch(url, opts);
        try {
            if (!res.ok || res.body === null) {
                await res.body?.cancel();
                if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) throw new PermanentError(`HTTP ${res.status} from ${url}`);
                throw new HttpStatusError(res.status, url);
            }
            const hash = createHash("sha256");
            let size = 0;
            let lastProgress = Date.now();
            const total = expect.size ?? Number(res.headers.get("content-length") ?? NaN);
            const meter = new Transform({
                transform(chunk: Buffer, _enc, cb) {
                    touch();
                    hash.update(chunk);
                    size += chunk.length;
                    opts.onBytes?.(chunk.length);
                    if (Date.now() - lastProgress > 10_000) {
                        lastProgress = Date.now();
                        opts.logger.info({ model: opts.label, file: url, bytes: size, total: Number.isFinite(total) ? total : undefined }, "downloading");
                    }
                    cb(null, chunk);
                },
            });
            await pipeline(Readable.fromWeb(res.body as import("stream/web").ReadableStream<Uint8Array>), meter, fs.createWriteStream(dest));
            const declared = Number(res.headers.get("content-length") ?? NaN);
            if (Number.isFinite(declared) && size !== declared) throw new Error(`truncated body from ${url}: ${size} of ${declared} bytes`);
            const sha256 = hash.digest("hex");
            if (expect.size !== undefined && size !== expect.size) throw new PermanentError(`size mismatch for ${url}: got ${size} bytes, expected ${expect.size}`);
            if (expect.sha256 !== undefined && sha256 !== expect.sha256) throw new PermanentError(`checksum mismatch for ${url}: got sha256 ${sha256}, expected ${expect.sha256}`);
            return { size, sha256 };
        } finally {
            done();
        }
    });
}
