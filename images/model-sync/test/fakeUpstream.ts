// A real HTTP server on loopback that speaks the parts of the Hugging Face Hub and the Ollama
// registry the sync uses, serving fixtures the tests generate, with faults on demand.
import { createHash, randomBytes } from "crypto";
import * as http from "http";
import * as https from "https";
import { gzipSync } from "zlib";
import type { AddressInfo } from "net";

export type Fault =
    | { kind: "status"; code: number }
    | { kind: "reset"; afterBytes: number }
    | { kind: "truncate"; afterBytes: number }
    | { kind: "stall"; afterBytes: number; ms: number }
    | { kind: "corrupt" };

export interface HubRepo {
    sha: string;
    files: Record<string, Buffer>;
    /** Files served as LFS (sha256 in the listing, body through a redirect to the CDN). */
    lfs: string[];
    /** A gated repo: the listing and `resolve` want `Authorization: Bearer <token>`. */
    token?: string;
}

export interface OllamaTag {
    manifest: Buffer;
    blobs: Buffer[];
}

export const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
/** Git's blob id, as the Hub's tree API gives it in `oid`. */
export const gitOid = (b: Buffer) => createHash("sha1").update(`blob ${b.length}\0`).update(b).digest("hex");
const lfsPointer = (b: Buffer) => Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(b)}\nsize ${b.length}\n`);

export function randomCommit(): string {
    return randomBytes(20).toString("hex");
}

export function ollamaTag(layerSizes: number[]): OllamaTag {
    const config = Buffer.from(JSON.stringify({ model_format: "gguf", model_family: "llama" }));
    const layers = layerSizes.map((n) => randomBytes(n));
    const manifest = Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.v2+json",
        config: { mediaType: "application/vnd.docker.container.image.v1+json", digest: `sha256:${sha256(config)}`, size: config.length },
        layers: layers.map((l, i) => ({ mediaType: i === 0 ? "application/vnd.ollama.image.model" : "application/vnd.ollama.image.params", digest: `sha256:${sha256(l)}`, size: l.length })),
    }));
    return { manifest, blobs: [config, ...layers] };
}

export class FakeUpstream {
    readonly repos = new Map<string, HubRepo>();
    readonly tags = new Map<string, OllamaTag>();
    readonly urls = new Map<string, Buffer>();
    /** Faults queued per request path (without query), or per `path#rangeStart` for Range requests; one is used per request. */
    readonly faults = new Map<string, Fault[]>();
    /** Body bytes of model files served (blobs, resolve, CDN, URL files), not metadata. */
    modelBytes = 0;
    readonly requests: string[] = [];
    /** Entries per page of the tree API (the Hub answers with a `Link: <…>; rel="next"` header). */
    treePageSize = 1000;
    /** Like the Hub above some size: `siblings` in the revision answer stops listing files. */
    siblingsLimit = Infinity;
    /** Request headers by path, in arrival order. */
    readonly headers: { path: string; headers: http.IncomingHttpHeaders }[] = [];
    /** Range bodies in the order they finished: `path#start`. */
    readonly rangesDone: string[] = [];
    /** Range responses open at once, now and at most. */
    rangesOpen = 0;
    rangesOpenPeak = 0;
    /** Honour Range requests (206, Accept-Ranges), as CDNs do. */
    ranges = true;
    /** Frame Range bodies with chunked transfer coding instead of Content-Length, as some dynamic servers do. */
    chunkedRanges = false;
    /** TCP connections accepted. */
    connectionsAccepted = 0;
    /** Compress bodies unless the client asks for identity (RFC 9110: no Accept-Encoding means any coding). */
    compress = false;
    /** Where LFS and blob redirects point: this server unless another origin is set. */
    cdn?: string;
    /** Serve /cdn/ as signed URLs: refuse a request that also carries Authorization. */
    signedCdn = false;
    private server?: http.Server;
    private readonly sockets = new Set<import("net").Socket>();
    private readonly timers = new Set<NodeJS.Timeout>();
    endpoint = "";

    /** Listens on loopback: plain HTTP, or HTTPS for localhost with `cert`. */
    async start(cert?: { key: string; cert: string }): Promise<void> {
        const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
        this.server = cert === undefined ? http.createServer(handler) : https.createServer(cert, handler);
        this.server.on(cert === undefined ? "connection" : "secureConnection", (s: import("net").Socket) => {
            this.connectionsAccepted++;
            this.sockets.add(s);
            s.on("close", () => this.sockets.delete(s));
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        const port = (this.server!.address() as AddressInfo).port;
        this.endpoint = cert === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`;
    }

    async stop(): Promise<void> {
        for (const t of this.timers) clearTimeout(t);
        for (const s of this.sockets) s.destroy();
        await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
    }

    fault(path: string, ...faults: Fault[]): void {
        this.faults.set(path, [...(this.faults.get(path) ?? []), ...faults]);
    }

    count(path: string): number {
        return this.requests.filter((r) => r === path).length;
    }

    private blobByDigest(hex: string): Buffer | undefined {
        for (const repo of this.repos.values()) for (const f of Object.values(repo.files)) if (sha256(f) === hex) return f;
        for (const tag of this.tags.values()) for (const b of tag.blobs) if (sha256(b) === hex) return b;
        return undefined;
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = new URL(req.url ?? "/", "http://x");
        const p = decodeURIComponent(url.pathname);
        this.requests.push(p);
        this.headers.push({ path: p, headers: req.headers });
        const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
        const fault = (range !== null && this.ranges ? this.faults.get(`${p}#${range[1]}`)?.shift() : undefined) ?? this.faults.get(p)?.shift();
        if (fault?.kind === "status") {
            res.writeHead(fault.code).end("injected failure");
            return;
        }
        const json = (body: unknown) => {
            const data = Buffer.from(JSON.stringify(body));
            res.writeHead(200, { "Content-Type": "application/json", "Content-Length": data.length }).end(data);
        };
        // Like the Hub: the reason in X-Error-Code/X-Error-Message.
        const refuse = (repo: HubRepo | undefined): boolean => {
            if (repo === undefined) {
                res.writeHead(401, { "X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found" }).end();
                return true;
            }
            if (repo.token !== undefined && req.headers.authorization !== `Bearer ${repo.token}`) {
                res.writeHead(401, { "X-Error-Code": "GatedRepo", "X-Error-Message": "Access to this model is restricted. You must have access to it and be authenticated to access it." }).end();
                return true;
            }
            return false;
        };
        const cdn = this.cdn ?? this.endpoint;
        let m: RegExpMatchArray | null;
        if ((m = p.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/))) {
            const repo = this.repos.get(m[1]);
            if (refuse(repo) || repo === undefined) return;
            return json({
                id: m[1],
                sha: repo.sha,
                siblings: Object.entries(repo.files).slice(0, this.siblingsLimit).map(([name, data]) => ({
                    rfilename: name,
                    size: data.length,
                    ...(repo.lfs.includes(name) ? { lfs: { sha256: sha256(data), size: data.length } } : {}),
                })),
            });
        }
        if ((m = p.match(/^\/api\/models\/([^/]+\/[^/]+)\/tree\/([0-9a-f]{40})$/))) {
            const repo = this.repos.get(m[1]);
            if (repo === undefined || repo.sha !== m[2]) return void res.writeHead(404).end();
            if (url.searchParams.get("recursive") !== "true") return void res.writeHead(400).end("only recursive listings are faked");
            // Folders first, then files, as the Hub lists a recursive tree.
            const dirs = [...new Set(Object.keys(repo.files).flatMap((f) => f.split("/").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("/"))))];
            const entries = [
                ...dirs.map((d) => ({ type: "directory", oid: gitOid(Buffer.from(d)), size: 0, path: d })),
                ...Object.entries(repo.files).map(([name, data]) => repo.lfs.includes(name)
                    ? { type: "file", oid: gitOid(lfsPointer(data)), size: data.length, path: name, lfs: { oid: sha256(data), size: data.length, pointerSize: lfsPointer(data).length }, xetHash: sha256(Buffer.concat([Buffer.from("xet"), data])) }
                    : { type: "file", oid: gitOid(data), size: data.length, path: name }),
            ];
            const start = Number(url.searchParams.get("cursor") ?? 0);
            const page = entries.slice(start, start + this.treePageSize);
            const headers: Record<string, string> = {};
            if (start + this.treePageSize < entries.length) {
                const next = new URL(`${this.endpoint}${url.pathname}`);
                next.search = url.search;
                next.searchParams.set("cursor", String(start + this.treePageSize));
                headers.Link = `<${next.toString()}>; rel="next"`;
            }
            const data = Buffer.from(JSON.stringify(page));
            res.writeHead(200, { "Content-Type": "application/json", "Content-Length": data.length, ...headers }).end(data);
            return;
        }
        if ((m = p.match(/^\/([^/]+\/[^/]+)\/resolve\/([0-9a-f]{40})\/(.+)$/))) {
            const repo = this.repos.get(m[1]);
            if (refuse(repo) || repo === undefined) return;
            const data = repo.sha === m[2] ? repo.files[m[3]] : undefined;
            if (data === undefined) return void res.writeHead(404, { "X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found" }).end();
            // Like the Hub: LFS files redirect to a CDN host.
            if (repo.lfs.includes(m[3])) return void res.writeHead(302, { Location: `${cdn}/cdn/${sha256(data)}` }).end();
            return this.body(req, res, p, data, fault);
        }
        if ((m = p.match(/^\/cdn\/([0-9a-f]{64})$/))) {
            const data = this.blobByDigest(m[1]);
            // A signed CDN URL: a request that also carries a token is refused, as S3 does.
            if (this.signedCdn && req.headers.authorization !== undefined) return void res.writeHead(400).end("Only one auth mechanism allowed");
            return data === undefined ? void res.writeHead(404).end() : this.body(req, res, p, data, fault);
        }
        if ((m = p.match(/^\/v2\/(.+)\/manifests\/([^/]+)$/))) {
            const tag = this.tags.get(`${m[1]}:${m[2]}`);
            if (tag === undefined) return void res.writeHead(404).end();
            res.writeHead(200, { "Content-Type": "application/vnd.docker.distribution.manifest.v2+json", "Content-Length": tag.manifest.length }).end(tag.manifest);
            return;
        }
        if ((m = p.match(/^\/v2\/(.+)\/blobs\/sha256:([0-9a-f]{64})$/))) {
            // Like registry.ollama.ai: blobs redirect to storage.
            return void res.writeHead(307, { Location: `${cdn}/cdn/${m[2]}` }).end();
        }
        if ((m = p.match(/^\/files\/(.+)$/))) {
            const data = this.urls.get(m[1]);
            return data === undefined ? void res.writeHead(404).end() : this.body(req, res, p, data, fault);
        }
        res.writeHead(404).end();
    }

    private body(req: http.IncomingMessage, res: http.ServerResponse, p: string, whole: Buffer, fault: Fault | undefined): void {
        const range = this.ranges ? /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "") : null;
        let data = whole;
        if (range !== null) {
            const start = Number(range[1]);
            const end = Math.min(Number(range[2]), whole.length - 1);
            data = whole.subarray(start, end + 1);
            res.on("finish", () => this.rangesDone.push(`${p}#${start}`));
            this.rangesOpenPeak = Math.max(this.rangesOpenPeak, ++this.rangesOpen);
            res.on("close", () => this.rangesOpen--);
            res.writeHead(206, { "Content-Type": "application/octet-stream", ...(this.chunkedRanges ? {} : { "Content-Length": data.length }), "Content-Range": `bytes ${start}-${end}/${whole.length}`, "Accept-Ranges": "bytes" });
        } else if (this.compress && req.headers["accept-encoding"] !== "identity") {
            const gz = gzipSync(whole);
            this.modelBytes += gz.length;
            res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Encoding": "gzip", "Content-Length": gz.length }).end(gz);
            return;
        } else {
            res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": data.length, ...(this.ranges ? { "Accept-Ranges": "bytes" } : {}) });
        }
        const send = (chunk: Buffer) => {
            this.modelBytes += chunk.length;
            res.write(chunk);
        };
        if (fault === undefined) {
            this.modelBytes += data.length;
            res.end(data);
        } else if (fault.kind === "corrupt") {
            const bad = Buffer.from(data);
            bad[bad.length - 1] ^= 0xff;
            this.modelBytes += bad.length;
            res.end(bad);
        } else if (fault.kind === "reset") {
            send(data.subarray(0, fault.afterBytes));
            setImmediate(() => res.socket?.destroy());
        } else if (fault.kind === "truncate") {
            send(data.subarray(0, fault.afterBytes));
            // End the exchange early: fewer bytes than Content-Length promised.
            setImmediate(() => res.socket?.end());
        } else if (fault.kind === "stall") {
            send(data.subarray(0, fault.afterBytes));
            const t = setTimeout(() => {
                this.timers.delete(t);
                send(data.subarray(fault.afterBytes));
                res.end();
            }, fault.ms);
            this.timers.add(t);
        }
    }
}
