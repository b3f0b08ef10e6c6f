// The bench's file server (bench/fileServer.ts) reuses its read buffers across responses; a buffer
// read into again while the socket still holds it would serve another range's bytes, and every
// bench figure would time a corrupt download. The server runs as the bench runs it: a real process
// on loopback.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { FileServer, startFileServer } from "../bench/startFileServer";

const MiB = 1024 * 1024;

interface Reply {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
}

/** GET `url`, optionally with a Range, reading the body `pauseMs` late after its first chunk. */
function get(url: string, agent: http.Agent, range?: string, pauseMs = 0): Promise<Reply> {
    return new Promise((resolve, reject) => {
        const req = http.get(url, { agent, headers: range === undefined ? {} : { Range: range } }, (res) => {
            const chunks: Buffer[] = [];
            let paused = false;
            res.on("data", (c: Buffer) => {
                chunks.push(c);
                if (pauseMs > 0 && !paused) {
                    paused = true;
                    res.pause();
                    setTimeout(() => res.resume(), pauseMs);
                }
            });
            res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
            res.on("error", reject);
        });
        req.on("error", reject);
    });
}

describe("bench file server", function () {
    this.timeout(60_000);
    let dir: string;
    let data: Buffer;
    let server: FileServer | undefined;
    let base: string;

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-server-"));
        data = randomBytes(24 * MiB + 12345);
        fs.writeFileSync(path.join(dir, "model.bin"), data);
        server = await startFileServer(dir);
        base = server.base;
    });

    after(() => {
        server?.kill();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("serves every range exactly, with clients that read late and at once, on reused connections", async () => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
        try {
            const ranges: [number, number][] = [[0, 16 * MiB - 1], [16 * MiB, data.length - 1], [1, 1], [777, 5 * MiB + 3], [3 * MiB, 19 * MiB]];
            // Two rounds: the second takes the buffers the first gave back. The late readers leave
            // megabytes queued on their sockets while the server reads on.
            for (let round = 0; round < 2; round++) {
                const replies = await Promise.all(ranges.map(([start, end], k) => get(`${base}/model.bin`, agent, `bytes=${start}-${end}`, k % 2 === 0 ? 150 : 0)));
                replies.forEach((r, k) => {
                    const [start, end] = ranges[k];
                    expect(r.status, `bytes=${start}-${end}`).to.equal(206);
                    expect(r.headers["content-range"]).to.equal(`bytes ${start}-${end}/${data.length}`);
                    expect(r.body.equals(data.subarray(start, end + 1)), `bytes=${start}-${end} differ`).to.equal(true);
                });
            }
            const whole = await get(`${base}/model.bin`, agent, undefined, 100);
            expect(whole.status).to.equal(200);
            expect(whole.body.equals(data), "the whole file differs").to.equal(true);
        } finally {
            agent.destroy();
        }
    });

    it("keeps serving exactly after a client hangs up mid-body", async () => {
        await new Promise<void>((resolve, reject) => {
            const req = http.get(`${base}/model.bin`, (res) => {
                res.once("data", () => {
                    req.destroy();
                    resolve();
                });
            });
            req.on("error", (err) => (req.destroyed ? undefined : reject(err)));
        });
        const agent = new http.Agent({ keepAlive: true });
        try {
            const r = await get(`${base}/model.bin`, agent, `bytes=${MiB}-${12 * MiB}`, 100);
            expect(r.body.equals(data.subarray(MiB, 12 * MiB + 1))).to.equal(true);
        } finally {
            agent.destroy();
        }
    });

    it("answers 416 past the end, counts the body bytes it sent and its CPU seconds", async () => {
        const agent = new http.Agent();
        const number = async (p: string) => Number((await get(`${base}${p}`, agent)).body.toString());
        const bytes = await number("/__bytes");
        const cpu = await number("/__cpu");
        expect((await get(`${base}/model.bin`, agent, `bytes=${data.length}-`)).status).to.equal(416);
        await get(`${base}/model.bin`, agent, "bytes=100-199");
        expect((await number("/__bytes")) - bytes).to.equal(100);
        expect(cpu).to.be.greaterThan(0);
        expect(await number("/__cpu")).to.be.at.least(cpu);
    });
});
