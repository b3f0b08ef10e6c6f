// HTTP with the failure handling a nightly job needs: retries with exponential backoff and jitter
// on 5xx, resets and timeouts; one idle watchdog per download; redirects followed by hand so a
// token never leaves its origin; error messages that carry the Hub's own reason.
import * as http from "http";
import * as https from "https";
import type { Readable } from "stream";
import type { Logger } from "./log";

export interface ParallelOptions {
    /** Files at least this large (or of unknown size) are fetched as parallel Range requests. */
    minSize: number;
    /** Bytes per Range request, and per buffer of the window; a part retries on its own. */
    partSize: number;
    /** Range requests in flight per file. */
    connections: number;
}

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
    /** The environment variable the Authorization header comes from, named in 401/403/404 errors. */
    tokenEnv?: string;
    parallel?: Partial<ParallelOptions>;
}

/** A failure that retrying will not fix (4xx, checksum mismatch). */
export class PermanentError extends Error {}

export class HttpStatusError extends Error {
    constructor(readonly status: number, message: string) {
        super(message);
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

/** One request the watchdog follows: `seen` grows with every chunk, nothing else runs per chunk. */
export interface Watched {
    seen: number;
    lastSeen: number;
    since: number;
    abort: (err: Error) => void;
    what: string;
}

/**
 * One interval per download that aborts any of its requests silent for `ms`, instead of a timer
 * re-armed per chunk (ollama server/download.go watches its parts with one ticker the same way).
 */
export class Watchdog {
    private readonly watched = new Set<Watched>();
    private timer?: NodeJS.Timeout;
    private abandoned?: Error;

    constructor(private readonly ms: number) {}

    track(what: string, abort: (err: Error) => void): Watched {
        const w: Watched = { seen: 0, lastSeen: 0, since: Date.now(), abort, what };
        if (this.abandoned !== undefined) {
            const err = this.abandoned;
            setImmediate(() => w.abort(err));
            return w;
        }
        this.watched.add(w);
        this.timer ??= setInterval(() => this.tick(), Math.max(20, Math.min(1000, this.ms / 5)));
        return w;
    }

    untrack(w: Watched): void {
        this.watched.delete(w);
    }

    /** Aborts every request now and any started later (the download is abandoned). */
    abortAll(err: Error): void {
        this.abandoned = err;
        for (const w of this.watched) w.abort(err);
        this.watched.clear();
    }

    stop(): void {
        clearInterval(this.timer);
        this.timer = undefined;
        this.watched.clear();
    }

    private tick(): void {
        const now = Date.now();
        for (const w of this.watched) {
            if (w.seen !== w.lastSeen) {
                w.lastSeen = w.seen;
                w.since = now;
            } else if (now - w.since >= this.ms) {
                this.watched.delete(w);
                w.abort(new Error(`no data from ${w.what} for ${this.ms / 1000}s`));
            }
        }
    }
}

// node's own client: it loads in a few milliseconds where undici took 130 ms of every start-up,
// and the bulk of a large file's bytes bypass it (rangeConnection.ts). Keep-alive lets metadata
// requests and a model's files reuse connections; no client timeouts: the watchdog has them.
const agents = {
    "http:": new http.Agent({ keepAlive: true, maxSockets: 32 }),
    "https:": new https.Agent({ keepAlive: true, maxSockets: 32 }),
};

/** One GET; resolves with the response head, its body still to be read. */
function get(target: URL, headers: Record<string, string>, signal: AbortSignal): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
        const client = target.protocol === "https:" ? https : http;
        const req = client.request(target, { method: "GET", headers, agent: agents[target.protocol as "http:" | "https:"], signal }, resolve);
        req.on("error", reject);
        req.end();
    });
}

type Headers = Record<string, string | string[] | undefined>;

/** A response's status and headers, where it came from and what was sent to get it. */
export interface Answer {
    status: number;
    headers: Headers;
    /** The URL that answered, after redirects. */
    url: string;
    /** The headers sent to it: Authorization only while on the first origin. */
    sent: Record<string, string>;
}

export interface Opened extends Answer {
    body: Readable;
    watched: Watched;
}

export function header(o: Pick<Answer, "headers">, name: string): string | undefined {
    const v = o.headers[name];
    return Array.isArray(v) ? v[0] : v;
}

function hasAuth(headers: Record<string, string>): boolean {
    return Object.keys(headers).some((k) => k.toLowerCase() === "authorization");
}

function withoutAuth(headers: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));
}

/** Why a request failed, in the Hub's words (X-Error-Code/X-Error-Message) and what to do about a token. */
export function statusError(o: Answer, tokenEnv?: string): Error {
    const status = o.status;
    // huggingface_hub utils/_http.py hf_raise_for_status reads the reason from these two headers.
    const code = header(o, "x-error-code");
    const reason = header(o, "x-error-message");
    let message = `HTTP ${status} from ${o.url}`;
    if (code !== undefined || reason !== undefined) message += `: ${[code, reason].filter(Boolean).join(": ")}`;
    if (tokenEnv !== undefined && (status === 401 || status === 403 || status === 404)) {
        message += hasAuth(o.sent)
            ? ` (${tokenEnv} was sent: check that its token can read this repo${code === "GatedRepo" ? " and that its account accepted the repo's access conditions" : ""})`
            : ` (${tokenEnv} is not set: a gated or private repo needs a token)`;
    }
    if (status >= 400 && status < 500 && status !== 429 && status !== 408) return new PermanentError(message);
    return new HttpStatusError(status, message);
}

/**
 * GETs `url`, following redirects itself: on a redirect to another origin the Authorization header
 * is dropped, as huggingface_hub file_download.py does for CDN (signed) URLs. The response is
 * returned whatever its status; the caller decides.
 */
export async function open(url: string, opts: HttpOptions, extra: Record<string, string>, dog: Watchdog): Promise<Opened> {
    let sent: Record<string, string> = { ...opts.headers, ...extra };
    let current = url;
    for (let hop = 0; ; hop++) {
        const target = new URL(current);
        if (target.protocol !== "http:" && target.protocol !== "https:") throw new PermanentError(`unsupported URL ${current}`);
        const controller = new AbortController();
        const watched = dog.track(current, (err) => controller.abort(err));
        let body: http.IncomingMessage;
        try {
            body = await get(target, sent, controller.signal);
        } catch (err) {
            dog.untrack(watched);
            if (controller.signal.aborted) throw controller.signal.reason as Error;
            const code = (err as NodeJS.ErrnoException).code;
            throw code !== undefined && !(err as Error).message.includes(current) ? Object.assign(new Error(`${current}: ${code} ${(err as Error).message}`), { code }) : err;
        }
        // The watchdog, or an abandoned download, may destroy a body while nothing listens to it
        // (between reads, before the reader attaches): its 'error' must not be uncaught. Readers
        // still see the error: the async iterator throws it, the part reader gets it or 'close'.
        body.on("error", () => {});
        watched.abort = (err) => body.destroy(err);
        const o: Opened = { status: body.statusCode ?? 0, headers: body.headers, body, url: current, sent, watched };
        const location = header(o, "location");
        if (o.status >= 300 && o.status < 400 && location !== undefined) {
            body.resume();
            dog.untrack(watched);
            if (hop >= 10) throw new Error(`${url}: more than 10 redirects`);
            const next = new URL(location, current);
            if (next.origin !== target.origin) sent = withoutAuth(sent);
            current = next.toString();
            continue;
        }
        return o;
    }
}

/** Throws the response's status as an error after draining it. */
export function failOn(o: Opened, opts: HttpOptions, dog: Watchdog): never {
    o.body.resume();
    dog.untrack(o.watched);
    throw statusError(o, opts.tokenEnv);
}

// We never decode a body: a compressed one would not match its size or hash. huggingface_hub
// sends the same (file_download.py: "prevent any compression => we want to know the real size").
export const IDENTITY = { "Accept-Encoding": "identity" };

/** A body in a content coding, which a server may pick when Accept-Encoding is absent, is an error. */
export function identityError(o: Answer): PermanentError | undefined {
    const coding = header(o, "content-encoding");
    if (coding === undefined || coding.toLowerCase() === "identity") return undefined;
    return new PermanentError(`${o.url} answered with Content-Encoding: ${coding} although identity was asked`);
}

/** Rejects (and discards) a body in a content coding. */
export function checkIdentity(o: Opened): void {
    const err = identityError(o);
    if (err === undefined) return;
    o.body.destroy();
    throw err;
}

/** GET a JSON document (metadata: listings, manifests). */
export async function getJson<T>(url: string, opts: HttpOptions, accept = "application/json"): Promise<{ body: T; raw: Buffer }> {
    return withRetries(url, opts, async () => {
        const dog = new Watchdog(opts.timeoutSeconds * 1000);
        try {
            const o = await open(url, opts, { Accept: accept, ...IDENTITY }, dog);
            if (o.status !== 200) failOn(o, opts, dog);
            checkIdentity(o);
            const chunks: Buffer[] = [];
            for await (const chunk of o.body as AsyncIterable<Buffer>) {
                o.watched.seen++;
                chunks.push(chunk);
            }
            const raw = Buffer.concat(chunks);
            dog.untrack(o.watched);
            const declared = Number(header(o, "content-length") ?? NaN);
            if (Number.isFinite(declared) && raw.length !== declared) throw new Error(`truncated body from ${o.url}: ${raw.length} of ${declared} bytes`);
            return { body: JSON.parse(raw.toString("utf8")) as T, raw };
        } finally {
            dog.stop();
        }
    });
}
