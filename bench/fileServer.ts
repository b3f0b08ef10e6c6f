// A static file server on loopback for `npm run bench:sync`, run as its own process so the bench's
// timers and the server do not share an event loop. Serves DIR with Range support (what a CDN
// does) and counts the body bytes it sent, readable at /__bytes.
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";

const dir = process.argv[2];
let bytes = 0;

const server = http.createServer((req, res) => {
    const name = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).slice(1);
    if (name === "__bytes") return void res.end(String(bytes));
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
    const body = fs.createReadStream(file, { start, end, highWaterMark: 1 << 20 });
    body.on("data", (c) => (bytes += c.length));
    body.pipe(res);
});
server.keepAliveTimeout = 30_000;
server.listen(0, "127.0.0.1", () => {
    process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
