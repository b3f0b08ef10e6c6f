// The file server a `url` model is downloaded from, on loopback (the sync container runs on the
// host's network, and plain http is allowed only to loopback). It serves fixed bytes per path, counts requests, and can be told
// to answer 500 to every request (an upstream outage during an `up`).
import * as http from "http";
import type { AddressInfo } from "net";

export interface ModelServer {
    /** `http://host:port`. */
    url: string;
    /** Serves `bytes` at `/<name>`. */
    put(name: string, bytes: Buffer): void;
    /** While true, every request gets a 500. */
    failing: boolean;
    /** Requests answered, by path. */
    requests: Map<string, number>;
    stop(): Promise<void>;
}

export async function startModelServer(host: string): Promise<ModelServer> {
    const files = new Map<string, Buffer>();
    const state: ModelServer = {
        url: "", failing: false, requests: new Map(),
        put: (name, bytes) => files.set(`/${name}`, bytes),
        stop: async () => {
            server.closeAllConnections();
            await new Promise((resolve) => server.close(resolve));
        },
    };
    const server = http.createServer((req, res) => {
        const url = new URL(req.url ?? "/", "http://x");
        state.requests.set(url.pathname, (state.requests.get(url.pathname) ?? 0) + 1);
        const body = files.get(url.pathname);
        if (state.failing) { res.writeHead(500).end("down for the test"); return; }
        if (body === undefined) { res.writeHead(404).end(); return; }
        // Ranges too: the sync resumes and splits large files with them.
        const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
        if (range !== null) {
            const start = Number(range[1]);
            const end = range[2] === "" ? body.length - 1 : Math.min(Number(range[2]), body.length - 1);
            res.writeHead(206, { "content-length": end - start + 1, "content-range": `bytes ${start}-${end}/${body.length}`, "accept-ranges": "bytes" });
            res.end(req.method === "HEAD" ? undefined : body.subarray(start, end + 1));
            return;
        }
        res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
        res.end(req.method === "HEAD" ? undefined : body);
    });
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, resolve);
    });
    state.url = `http://${host}:${(server.address() as AddressInfo).port}`;
    return state;
}
