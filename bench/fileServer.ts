// A static file server on loopback for `npm run bench:sync`, run as its own process so the bench's
// timers and the server do not share an event loop. Serves DIR with Range support (what a CDN
// does), counts the body bytes it sent (GET /__bytes) and reports its own CPU seconds
// (GET /__cpu), so the bench can show what serving each case cost the cores the clients share.
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";

const dir = process.argv[2];
const CHUNK = 1024 * 1024;
let bytes = 0;

// Each response reads the file into two buffers taken from a pool, one filling while the other is
// written, and gives them back when it ends. A read stream allocates a new 1 MiB buffer per read
// instead: 2 GiB of them per 2 GiB served, and V8 answered with major garbage collections that
// took half of this server's CPU time (perf), time taken from the two cores the client under
// test runs on.
const pool: [Buffer, Buffer][] = [];

/** Sends bytes start..end (inclusive) of `file` as the body of `res`. */
async function send(res: http.ServerResponse, file: string, start: number, end: number): Promise<void> {
    const pair = pool.pop() ?? [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    // A buffer is read into again only once the write that took it has been handed to the kernel
    // (or the client went away).
    const flushed: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
    const waiting = new Set<() => void>();
    let closed = false;
    res.on("close", () => {
        closed = true;
        for (const done of waiting) done();
    });
    const fh = await fs.promises.open(file, "r");
    try {
        for (let pos = start, k = 0; pos <= end && !closed; k ^= 1) {
            await flushed[k];
            const { bytesRead } = await fh.read(pair[k], 0, Math.min(CHUNK, end - pos + 1), pos);
            if (bytesRead === 0) throw new Error(`${file} ended at ${pos}, before byte ${end}`);
            if (closed) break;
            pos += bytesRead;
            bytes += bytesRead;
            flushed[k] = new Promise<void>((resolve) => {
                waiting.add(resolve);
                res.write(pair[k].subarray(0, bytesRead), () => {
                    waiting.delete(resolve);
                    resolve();
                });
            });
        }
        await Promise.all(flushed);
        if (!closed) res.end();
    } finally {
        await fh.close();
        // Only once both writes are done with them (a write still waiting holds a buffer).
        Promise.all(flushed).then(() => pool.push(pair), () => {});
    }
}

const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).slice(1);
    if (name === "__bytes") return void res.end(String(bytes));
    if (name === "__cpu") {
        const { user, system } = process.cpuUsage();
        return void res.end(String((user + system) / 1e6));
    }
    const file = path.join(dir, path.basename(name));
    let size: number;
    try {
        size = fs.statSync(file).size;
    } catch {
        return void res.writeHead(404).end();
    }
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? "");
    if (range !== null) {
        start = Number(range[1]);
        end = range[2] === "" ? end : Math.min(end, Number(range[2]));
        if (start > end) return void res.writeHead(416, { "Content-Range": `bytes */${size}` }).end();
        res.writeHead(206, { "Content-Length": end - start + 1, "Content-Range": `bytes ${start}-${end}/${size}`, "Accept-Ranges": "bytes" });
    } else {
        res.writeHead(200, { "Content-Length": size, "Accept-Ranges": "bytes" });
    }
    if (size === 0 || req.method === "HEAD") return void res.end();
    send(res, file, start, end).catch((err: Error) => res.destroy(err));
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
