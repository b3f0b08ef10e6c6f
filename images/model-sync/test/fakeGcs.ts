// A real HTTP server on loopback that speaks the part of the Cloud Storage JSON API the run lock
// uses: objects insert (uploadType=media and multipart), get (metadata and alt=media) and delete,
// each honouring ifGenerationMatch with 412 Precondition Failed, and 404 for a missing object.
// GCS semantics: https://cloud.google.com/storage/docs/request-preconditions (ifGenerationMatch=0
// means "only if no live object"; a failed precondition is 412; a missing object on get/delete 404).
import * as http from "http";
import type { AddressInfo } from "net";

export interface StoredObject {
    generation: number;
    metageneration: number;
    contentType: string;
    metadata: Record<string, string>;
    body: Buffer;
    updated: string;
}

export class FakeGcs {
    readonly objects = new Map<string, StoredObject>();
    /** Every request: method, path and query, for asserting what the client sent. */
    readonly requests: { method: string; path: string; query: URLSearchParams }[] = [];
    /** Inserts replacing a given generation wait until this many have arrived (forces a race). */
    takeoverBarrier = 0;
    private waiting: (() => void)[] = [];
    private lastGeneration = 0;
    private server?: http.Server;
    endpoint = "";

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on("data", (c: Buffer) => chunks.push(c));
            req.on("end", () => {
                this.handle(req, Buffer.concat(chunks), res).catch((err: Error) => this.error(res, 500, err.message));
            });
        });
        await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
        this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    }

    async stop(): Promise<void> {
        this.server?.closeAllConnections();
        await new Promise((r) => this.server?.close(r));
    }

    /** Writes an object directly (another party's write), with a new generation. */
    put(bucket: string, name: string, body: string, metadata: Record<string, string> = {}): StoredObject {
        const obj: StoredObject = { generation: this.nextGeneration(), metageneration: 1, contentType: "application/json", metadata, body: Buffer.from(body), updated: new Date().toISOString() };
        this.objects.set(`${bucket}/${name}`, obj);
        return obj;
    }

    private nextGeneration(): number {
        // Generations are microsecond timestamps in GCS: increasing, never reused.
        this.lastGeneration = Math.max(this.lastGeneration + 1, Date.now() * 1000);
        return this.lastGeneration;
    }

    private resource(bucket: string, name: string, o: StoredObject): Record<string, unknown> {
        return {
            kind: "storage#object", id: `${bucket}/${name}/${o.generation}`, bucket, name,
            generation: String(o.generation), metageneration: String(o.metageneration),
            contentType: o.contentType, size: String(o.body.length), updated: o.updated, metadata: o.metadata,
        };
    }

    private error(res: http.ServerResponse, code: number, message: string): void {
        if (res.headersSent) {
            res.destroy();
            return;
        }
        res.writeHead(code, { "content-type": "application/json" });
        res.end(JSON.stringify({ error: { code, message, errors: [{ reason: code === 412 ? "conditionNotMet" : "notFound", message }] } }));
    }

    /** A precondition failure message, or undefined when the request may proceed. */
    private precondition(query: URLSearchParams, current: StoredObject | undefined): string | undefined {
        const want = query.get("ifGenerationMatch");
        if (want === null) return undefined;
        const have = current?.generation ?? 0;
        return Number(want) === have ? undefined : `At least one of the pre-conditions you specified did not hold. (ifGenerationMatch=${want}, generation ${have})`;
    }

    private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? "/", "http://x");
        this.requests.push({ method: req.method ?? "", path: url.pathname, query: url.searchParams });
        const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
        // With STORAGE_EMULATOR_HOST set, the client sends object calls without the /storage/v1 prefix.
        const object = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
        if (req.method === "POST" && upload) {
            const bucket = decodeURIComponent(upload[1]);
            let meta: { name?: string; contentType?: string; metadata?: Record<string, string> } = {};
            let media = body;
            let contentType = req.headers["content-type"] ?? "application/octet-stream";
            if (url.searchParams.get("uploadType") === "multipart") {
                const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
                if (boundary === undefined) return this.error(res, 400, "multipart upload without a boundary");
                const parts = body.toString("latin1").split(`--${boundary}`).slice(1, -1).map((p) => {
                    const sep = p.indexOf("\r\n\r\n");
                    return { headers: p.slice(0, sep), content: Buffer.from(p.slice(sep + 4, p.length - 2), "latin1") };
                });
                if (parts.length !== 2) return this.error(res, 400, `multipart upload with ${parts.length} parts`);
                meta = JSON.parse(parts[0].content.toString("utf8")) as typeof meta;
                media = parts[1].content;
                contentType = meta.contentType ?? /content-type:\s*(\S+)/i.exec(parts[1].headers)?.[1] ?? "application/octet-stream";
            } else if (url.searchParams.get("uploadType") !== "media") {
                return this.error(res, 400, `uploadType ${url.searchParams.get("uploadType")} is not served here`);
            }
            const name = url.searchParams.get("name") ?? meta.name;
            if (!name) return this.error(res, 400, "an upload without an object name");
            const want = Number(url.searchParams.get("ifGenerationMatch") ?? 0);
            if (want > 0 && this.takeoverBarrier > 0) {
                // Hold every takeover until all contenders have read the same generation.
                await new Promise<void>((r) => {
                    this.waiting.push(r);
                    if (this.waiting.length >= this.takeoverBarrier) this.waiting.splice(0).forEach((w) => w());
                });
            }
            const key = `${bucket}/${name}`;
            const failed = this.precondition(url.searchParams, this.objects.get(key));
            if (failed) return this.error(res, 412, failed);
            const obj: StoredObject = { generation: this.nextGeneration(), metageneration: 1, contentType, metadata: meta.metadata ?? {}, body: media, updated: new Date().toISOString() };
            this.objects.set(key, obj);
            res.writeHead(200, { "content-type": "application/json" });
            return void res.end(JSON.stringify(this.resource(bucket, name, obj)));
        }
        if (object) {
            const bucket = decodeURIComponent(object[1]);
            const name = decodeURIComponent(object[2]);
            const key = `${bucket}/${name}`;
            const current = this.objects.get(key);
            if (req.method === "GET" || req.method === "DELETE") {
                if (current === undefined) return this.error(res, 404, `No such object: ${key}`);
                const failed = this.precondition(url.searchParams, current);
                if (failed) return this.error(res, 412, failed);
                if (req.method === "DELETE") {
                    this.objects.delete(key);
                    res.writeHead(204);
                    return void res.end();
                }
                if (url.searchParams.get("alt") === "media") {
                    res.writeHead(200, { "content-type": current.contentType, "x-goog-generation": String(current.generation) });
                    return void res.end(current.body);
                }
                res.writeHead(200, { "content-type": "application/json" });
                return void res.end(JSON.stringify(this.resource(bucket, name, current)));
            }
        }
        this.error(res, 404, `${req.method} ${url.pathname} is not served here`);
    }
}
