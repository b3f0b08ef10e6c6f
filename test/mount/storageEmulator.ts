// fake-gcs-server on loopback: the Cloud Storage JSON API for gcsfuse and for the sync's bucket
// lock, on a free port, with its log in the test's own directory.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as net from "net";
import * as path from "path";
import { freePort } from "../support/freePort";

export interface StoredObject {
    name: string;
    generation: number;
    size: number;
    metadata: Record<string, string>;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, gaveUp?: () => string | undefined): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const reason = gaveUp?.();
        if (reason !== undefined) throw new Error(`${what}: ${reason}`);
        if (await check().catch(() => false)) return;
        if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

export class StorageEmulator {
    private constructor(private readonly child: ChildProcess, readonly endpoint: string, private readonly logFile: string) {}

    /**
     * Starts the emulator with its log in `dir` (`extraArgs`: more of its flags). The memory backend: the filesystem one refuses a
     * versioned bucket, and stores a directory placeholder object (`refs/`, which gcsfuse writes
     * for a mkdir) as a bare directory it then answers 404 for (fake-gcs-server
     * internal/backend/fs.go, CreateObject), so an empty directory the sync made would vanish.
     */
    static async start(bin: string, dir: string, extraArgs: string[] = []): Promise<StorageEmulator> {
        const logFile = path.join(dir, "fake-gcs-server.log");
        let lastError: Error | undefined;
        // The port is free when picked; another process may take it before the emulator binds.
        for (let attempt = 0; attempt < 3; attempt++) {
            const port = await freePort();
            const endpoint = `http://127.0.0.1:${port}`;
            const log = fs.openSync(logFile, "a");
            // -public-host: gcsfuse reads object bodies as GET /<bucket>/<object> (the XML API's
            // path style), which the emulator routes only for requests to its public host.
            const child = spawn(bin, ["-scheme", "http", "-host", "127.0.0.1", "-port", String(port), "-public-host", `127.0.0.1:${port}`, "-backend", "memory", "-log-level", "warn", ...extraArgs], {
                cwd: dir, stdio: ["ignore", log, log],
            });
            fs.closeSync(log);
            let exited: string | undefined;
            child.once("exit", (code, signal) => (exited = `exited (${code ?? signal}) before it served: ${fs.readFileSync(logFile, "utf8").slice(-2000)}`));
            const emulator = new StorageEmulator(child, endpoint, logFile);
            try {
                await waitFor("fake-gcs-server", async () => (await emulator.request("GET", "/_internal/healthcheck")).status === 200, 10_000, () => exited);
                return emulator;
            } catch (err) {
                lastError = err as Error;
                child.kill("SIGKILL");
            }
        }
        throw lastError!;
    }

    async stop(): Promise<void> {
        if (this.child.exitCode !== null || this.child.signalCode !== null) return;
        const exited = new Promise((r) => this.child.once("exit", r));
        this.child.kill("SIGTERM");
        const timer = setTimeout(() => this.child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(timer);
    }

    async request(method: string, pathAndQuery: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
        return new Promise((resolve, reject) => {
            const req = http.request(`${this.endpoint}${pathAndQuery}`, { method, headers: { ...headers, ...(body === undefined ? {} : { "content-length": Buffer.byteLength(body) }) } }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
                res.on("error", reject);
            });
            req.on("error", reject);
            req.end(body);
        });
    }

    private async json(method: string, pathAndQuery: string, body?: unknown): Promise<Record<string, unknown>> {
        const res = await this.request(method, pathAndQuery, body === undefined ? undefined : JSON.stringify(body), { "content-type": "application/json" });
        if (res.status >= 300) throw new Error(`${method} ${pathAndQuery}: ${res.status} ${res.body.toString()}`);
        return res.body.length === 0 ? {} : (JSON.parse(res.body.toString()) as Record<string, unknown>);
    }

    /** A bucket, versioned like the program's flat cache bucket (components/gcp/modelCache.ts). */
    async createBucket(name: string): Promise<void> {
        await this.json("POST", "/storage/v1/b", { name, versioning: { enabled: true } });
    }

    /** Every live object of the bucket, by name. */
    async list(bucket: string): Promise<Map<string, StoredObject>> {
        const out = new Map<string, StoredObject>();
        let pageToken = "";
        do {
            const page = await this.json("GET", `/storage/v1/b/${bucket}/o?maxResults=1000${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ""}`);
            for (const item of (page.items ?? []) as Record<string, unknown>[]) {
                out.set(String(item.name), { name: String(item.name), generation: Number(item.generation), size: Number(item.size), metadata: (item.metadata ?? {}) as Record<string, string> });
            }
            pageToken = typeof page.nextPageToken === "string" ? page.nextPageToken : "";
        } while (pageToken !== "");
        return out;
    }

    async read(bucket: string, name: string): Promise<Buffer> {
        const res = await this.request("GET", `/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`);
        if (res.status !== 200) throw new Error(`gs://${bucket}/${name}: ${res.status}`);
        return res.body;
    }

    /** Writes an object as another client would, through the JSON API (not the mount). */
    async write(bucket: string, name: string, body: Buffer | string): Promise<StoredObject> {
        const res = await this.request("POST", `/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, body, { "content-type": "application/octet-stream" });
        if (res.status !== 200) throw new Error(`write gs://${bucket}/${name}: ${res.status} ${res.body.toString()}`);
        const item = JSON.parse(res.body.toString()) as Record<string, unknown>;
        return { name, generation: Number(item.generation), size: Number(item.size), metadata: {} };
    }

    tail(): string {
        return fs.readFileSync(this.logFile, "utf8").slice(-4000);
    }
}

/**
 * The Node client's emulator variable (STORAGE_EMULATOR_HOST) makes it send object calls without
 * the JSON API's /storage/v1 prefix (@google-cloud/storage storage.ts: baseUrl is the variable as
 * given), which fake-gcs-server routes only with it (fsouza/fake-gcs-server#1556); uploads keep
 * their /upload/storage/v1 path either way. This loopback proxy adds the prefix and forwards every
 * request unchanged otherwise, so the sync's unmodified client reaches the emulator. It records
 * what went through: the lock's own requests.
 */
export class JsonApiPrefixProxy {
    readonly requests: { method: string; path: string }[] = [];
    endpoint = "";
    private server?: http.Server;

    constructor(private readonly upstream: string) {}

    async start(): Promise<void> {
        const target = new URL(this.upstream);
        this.server = http.createServer((req, res) => {
            const original = req.url ?? "/";
            const forwarded = /^\/b(\/|\?|$)/.test(original) ? `/storage/v1${original}` : original;
            this.requests.push({ method: req.method ?? "", path: forwarded });
            const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: forwarded, headers: { ...req.headers, host: target.host } }, (up) => {
                res.writeHead(up.statusCode ?? 502, up.headers);
                up.pipe(res);
            });
            out.on("error", (err) => {
                if (!res.headersSent) res.writeHead(502);
                res.end(String(err));
            });
            req.pipe(out);
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        this.endpoint = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    }

    async stop(): Promise<void> {
        this.server?.closeAllConnections();
        await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    }
}
