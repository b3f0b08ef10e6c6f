// Range requests whose bodies land straight in the caller's buffer. The parts of a parallel
// download are nearly all of its bytes: through an HTTP client each 64 KiB socket read is a new
// buffer, copied through the parser and then into the part (undici copies it into llhttp's wasm
// memory, node:http into a new buffer); here the socket reads into the part itself (net/tls
// `onread` with a buffer per read). Receiving 2 GiB over loopback in 8 MiB parts on two
// connections took 1.6-2.9 CPU-seconds through undici and 0.6-0.8 this way.
// It speaks only what a Range request to a file server or CDN needs: HTTP/1.1 keep-alive, a 206
// framed by Content-Length. A redirect, or a response framed any other way, is an
// UnsupportedResponse, and the caller goes back to node:http; metadata and single-stream bodies
// never come here.
import * as net from "net";
import * as tls from "tls";
import { PermanentError } from "./http";

/** The status line and headers of a response (names lower-case, repeated ones joined by ", "). */
export interface ResponseHead {
    status: number;
    headers: Record<string, string>;
}

/** A response this reader does not follow or frame (a redirect, chunked, no Content-Length, not HTTP/1.1). */
export class UnsupportedResponse extends Error {}

/** A connection the server had closed while it sat idle: nothing of the request was answered. */
class StaleConnection extends Error {}

const HEAD_LIMIT = 64 * 1024;
const EMPTY = Buffer.alloc(0);
// Header names are tokens; values may not carry CR, LF or NUL (RFC 9110 5.5): a value that did
// could smuggle a second request onto the connection.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const UNSAFE_VALUE = /[\r\n\0]/;

export interface RangeRequest {
    /** Request headers besides Host (Range is set here from start/end). */
    headers: Record<string, string>;
    start: number;
    /** Inclusive, as in the Range header. */
    end: number;
    /** Receives the body: exactly end - start + 1 bytes. */
    into: Buffer;
    /**
     * Called with the final response head (not an interim 1xx, not a redirect) before any body byte
     * is read; an Error it returns fails the
     * request (and closes the connection: the body is never read). A 206 it accepts must carry a
     * Content-Length of exactly the range's size.
     */
    check: (head: ResponseHead) => Error | undefined;
    /** Called after each read into `into`, with the bytes read. */
    onRead: (n: number) => void;
}

/**
 * One keep-alive connection to the origin of `url`, carrying one Range request at a time.
 * `destroy(err)` fails the request in flight (the watchdog and an abandoned download use it).
 */
export class RangeConnection {
    private socket?: net.Socket;
    /** Set by destroy(): no request is sent after it (an abort must not be outlived by a retry). */
    private ended?: Error;
    private readonly headBuffer = Buffer.allocUnsafe(16 * 1024);
    /** The bytes of the response head received so far. */
    private head = EMPTY;
    /** What the next socket read is for: a response head, a body, or nothing (idle). */
    private state: "idle" | "head" | "body" = "idle";
    private current?: {
        req: RangeRequest;
        got: number;
        want: number;
        /** Sent on a connection an earlier request used (the server may have closed it meanwhile). */
        reused: boolean;
        answered: boolean;
        keepAlive: boolean;
        resolve: () => void;
        reject: (err: Error) => void;
    };

    constructor(private readonly url: URL) {
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new UnsupportedResponse(`unsupported URL ${url}`);
    }

    /** Fetches one range into `req.into`; a connection the server closed while idle is replaced once. */
    async get(req: RangeRequest): Promise<void> {
        try {
            await this.send(req);
        } catch (err) {
            if (!(err instanceof StaleConnection)) throw err;
            await this.send(req);
        }
    }

    destroy(err?: Error): void {
        const reason = err ?? new Error(`connection to ${this.url.origin} closed`);
        this.ended ??= reason;
        const socket = this.socket;
        this.socket = undefined;
        socket?.destroy();
        this.fail(reason);
    }

    private send(req: RangeRequest): Promise<void> {
        if (this.ended !== undefined) return Promise.reject(this.ended);
        const lines = [`GET ${this.url.pathname}${this.url.search} HTTP/1.1`, `Host: ${this.url.host}`];
        for (const [name, value] of Object.entries(req.headers)) {
            if (!TOKEN.test(name) || UNSAFE_VALUE.test(value)) return Promise.reject(new PermanentError(`request header ${JSON.stringify(name)} is not a valid HTTP header (a name token, a value without CR, LF or NUL)`));
            if (!["host", "range"].includes(name.toLowerCase())) lines.push(`${name}: ${value}`);
        }
        lines.push(`Range: bytes=${req.start}-${req.end}`);
        const want = req.end - req.start + 1;
        if (req.into.length !== want) return Promise.reject(new Error(`a buffer of ${req.into.length} bytes for bytes ${req.start}-${req.end}`));
        return new Promise<void>((resolve, reject) => {
            this.current = { req, got: 0, want, reused: this.socket !== undefined, answered: false, keepAlive: true, resolve, reject };
            this.head = EMPTY;
            this.state = "head";
            (this.socket ?? this.connect()).write(`${lines.join("\r\n")}\r\n\r\n`);
        });
    }

    private connect(): net.Socket {
        const host = this.url.hostname.replace(/^\[(.*)\]$/, "$1");
        const onread: net.OnReadOpts = {
            buffer: () => this.nextBuffer(),
            callback: (n) => {
                this.onData(n);
                return true;
            },
        };
        const secure = this.url.protocol === "https:";
        const port = Number(this.url.port || (secure ? 443 : 80));
        const socket = secure
            // tls.connect takes `onread` as net.connect does (node lib/_tls_wrap.js passes it to
            // the socket when no `socket` option is given); @types/node does not declare it.
            ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined, ALPNProtocols: ["http/1.1"], onread } as tls.ConnectionOptions)
            : net.connect({ host, port, onread });
        socket.setNoDelay(true);
        socket.on("error", (err) => this.lost(socket, err));
        socket.on("close", () => this.lost(socket, new Error(`connection closed early by ${this.url.origin}`)));
        this.socket = socket;
        return socket;
    }

    /** Where the next read lands: the rest of the body's buffer, or the head buffer. */
    private nextBuffer(): Buffer {
        const c = this.current;
        return this.state === "body" && c !== undefined ? c.req.into.subarray(c.got, c.want) : this.headBuffer;
    }

    private onData(n: number): void {
        const c = this.current;
        if (c === undefined || this.state === "idle") {
            // Bytes nobody asked for: the connection can no longer be trusted.
            this.destroy();
            return;
        }
        c.answered = true;
        if (this.state === "body") {
            c.got += n;
            c.req.onRead(n);
            if (c.got === c.want) this.finish();
            return;
        }
        this.head = Buffer.concat([this.head, this.headBuffer.subarray(0, n)]);
        this.parseHead();
    }

    private parseHead(): void {
        const c = this.current!;
        for (;;) {
            const all = this.head;
            const end = all.indexOf("\r\n\r\n");
            if (end < 0) {
                if (all.length > HEAD_LIMIT) this.destroy(new Error(`${this.url.origin}: a response head larger than ${HEAD_LIMIT} bytes`));
                return;
            }
            const [statusLine, ...fields] = all.subarray(0, end).toString("latin1").split("\r\n");
            const rest = all.subarray(end + 4);
            const status = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(statusLine);
            if (status === null) return this.destroy(new UnsupportedResponse(`${this.url.origin} answered ${JSON.stringify(statusLine.slice(0, 80))}, not HTTP/1.x`));
            const headers: Record<string, string> = {};
            for (const field of fields) {
                const colon = field.indexOf(":");
                const name = field.slice(0, colon).toLowerCase();
                if (colon <= 0 || !TOKEN.test(name)) return this.destroy(new UnsupportedResponse(`${this.url.origin}: malformed header line ${JSON.stringify(field.slice(0, 80))}`));
                const value = field.slice(colon + 1).trim();
                headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
            }
            const code = Number(status[2]);
            if (code >= 100 && code < 200) {
                // An interim response (100 Continue, 103 Early Hints): the real one follows.
                this.head = rest;
                continue;
            }
            // Redirects are followed (and Authorization dropped across origins) by http.ts alone.
            if (code >= 300 && code < 400 && headers.location !== undefined) return this.destroy(new UnsupportedResponse(`${this.url} redirected bytes ${c.req.start}-${c.req.end}`));
            const refused = c.req.check({ status: code, headers });
            if (refused !== undefined) return this.destroy(refused);
            if (code !== 206) return this.destroy(new Error(`${this.url.origin} answered ${code} to a Range request`));
            const connection = (headers.connection ?? "").toLowerCase();
            c.keepAlive = status[1] === "1" ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
            if (headers["transfer-encoding"] !== undefined || headers["content-length"] !== String(c.want)) {
                return this.destroy(new UnsupportedResponse(`${this.url.origin} framed a ${code} for ${c.want} bytes with ${headers["transfer-encoding"] !== undefined ? `Transfer-Encoding: ${headers["transfer-encoding"]}` : `Content-Length: ${headers["content-length"] ?? "(none)"}`}`));
            }
            if (rest.length > c.want) return this.destroy(new Error(`${this.url.origin} sent ${rest.length - c.want} bytes past the end of bytes ${c.req.start}-${c.req.end}`));
            rest.copy(c.req.into, 0);
            c.got = rest.length;
            this.head = EMPTY;
            this.state = "body";
            if (rest.length > 0) c.req.onRead(rest.length);
            if (c.got === c.want) this.finish();
            return;
        }
    }

    private finish(): void {
        const c = this.current!;
        this.current = undefined;
        this.state = "idle";
        if (!c.keepAlive) {
            const socket = this.socket;
            this.socket = undefined;
            socket?.destroy();
        }
        c.resolve();
    }

    /** The socket failed or closed: the request in flight, if any, fails with it. */
    private lost(socket: net.Socket, err: Error): void {
        if (socket !== this.socket) return;
        this.socket = undefined;
        const c = this.current;
        this.fail(c !== undefined && c.reused && !c.answered ? new StaleConnection(err.message) : err);
    }

    private fail(err: Error): void {
        const c = this.current;
        this.current = undefined;
        this.state = "idle";
        c?.reject(err);
    }
}
