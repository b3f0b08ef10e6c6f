// The Range reader that parallel downloads use for their parts, against real servers on loopback:
// the fake upstream (node's HTTP server) where the answer is ordinary, and a TCP server writing
// exact bytes where the test is about framing the reader must refuse or hand back.
import { randomBytes } from "crypto";
import * as net from "net";
import type { AddressInfo } from "net";
import { expect } from "chai";
import { RangeConnection, RangeRequest, ResponseHead, UnsupportedResponse } from "../src/rangeConnection";
import { FakeUpstream } from "./fakeUpstream";
import { selfSignedCert } from "./tlsCert";

const data = randomBytes(256 * 1024);

/** A Range request for bytes start..end of `data` that accepts any 206. */
function rangeOf(start: number, end: number, extra: Partial<RangeRequest> = {}): RangeRequest & { heads: ResponseHead[]; reads: number } {
    const req = {
        headers: { "Accept-Encoding": "identity" }, start, end, into: Buffer.alloc(end - start + 1), heads: [] as ResponseHead[], reads: 0,
        check: (head: ResponseHead) => {
            req.heads.push(head);
            return head.status === 206 ? undefined : new Error(`status ${head.status}`);
        },
        onRead: (n: number) => {
            req.reads += n;
        },
        ...extra,
    };
    return req;
}

type Answer = Buffer | string | "close";

/** A TCP server that answers the n-th request on a connection with `script(n, request)`: bytes to write, "close", or a list of both. */
async function scriptedServer(script: (n: number, request: string) => Answer | Answer[]): Promise<{ url: string; connections: () => number; requests: string[]; close: () => Promise<void> }> {
    const requests: string[] = [];
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
        socket.on("error", () => {});
        let pending = "";
        let n = 0;
        socket.on("data", (chunk) => {
            pending += chunk.toString("latin1");
            let end;
            while ((end = pending.indexOf("\r\n\r\n")) >= 0) {
                const request = pending.slice(0, end);
                pending = pending.slice(end + 4);
                requests.push(request);
                const answer = script(n++, request);
                for (const a of Array.isArray(answer) ? answer : [answer]) {
                    if (a === "close") socket.end();
                    else socket.write(a);
                }
            }
        });
    });
    let connections = 0;
    server.on("connection", () => connections++);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/model.bin`,
        connections: () => connections,
        requests,
        close: () => new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
        }),
    };
}

const partial = (start: number, end: number, headers = "") =>
    Buffer.concat([Buffer.from(`HTTP/1.1 206 Partial Content\r\nContent-Length: ${end - start + 1}\r\nContent-Range: bytes ${start}-${end}/${data.length}\r\n${headers}\r\n`), data.subarray(start, end + 1)]);

const rangeAsked = (request: string) => {
    const m = /\r\nRange: bytes=(\d+)-(\d+)/.exec(request)!;
    return [Number(m[1]), Number(m[2])] as const;
};

describe("Range reader", function () {
    this.timeout(20000);
    // Closed after each test, passed or failed: a failed assertion must not leave a server running.
    const open: { close: () => unknown }[] = [];
    const track = <T extends { close: () => unknown }>(x: T): T => (open.push(x), x);
    const connect = (url: string) => {
        const conn = new RangeConnection(new URL(url));
        open.push({ close: () => conn.destroy() });
        return conn;
    };
    afterEach(async () => {
        for (const x of open.splice(0).reverse()) await x.close();
    });
    /** The fake upstream serving `data` as /files/model.bin, over https with `cert`. */
    const upstream = async (cert?: { key: string; cert: string }) => {
        const up = new FakeUpstream();
        await up.start(cert);
        track({ close: () => up.stop() });
        up.urls.set("model.bin", data);
        return { up, url: `${up.endpoint}/files/model.bin` };
    };

    it("reads each range straight into its buffer, over one kept-alive connection", async () => {
        const { up, url } = await upstream();
        const conn = connect(url);
        for (let start = 0; start < data.length; start += 64 * 1024) {
            const req = rangeOf(start, start + 64 * 1024 - 1);
            await conn.get(req);
            expect(req.into.equals(data.subarray(start, start + 64 * 1024))).to.equal(true);
            expect(req.reads).to.equal(64 * 1024);
            expect(req.heads[0].headers["content-range"]).to.equal(`bytes ${start}-${start + 64 * 1024 - 1}/${data.length}`);
        }
        expect(up.connectionsAccepted).to.equal(1);
    });

    it("asks again on a new connection when the server closed the kept one just as it was reused", async () => {
        // The race every keep-alive client meets: the server drops an idle connection while the
        // next request is on its way. Nothing was answered, so asking again is safe.
        const server = track(await scriptedServer((n, request) => (n === 0 ? partial(...rangeAsked(request)) : "close")));
        const conn = connect(server.url);
        await conn.get(rangeOf(0, 999));
        const second = rangeOf(1000, 2999);
        await conn.get(second);
        expect(second.into.equals(data.subarray(1000, 3000))).to.equal(true);
        expect(server.connections()).to.equal(2);
        expect(server.requests.map(rangeAsked)).to.deep.equal([[0, 999], [1000, 2999], [1000, 2999]]);
    });

    it("fails a request its reused connection dropped after answering part of it, without asking again", async () => {
        const server = track(await scriptedServer((n, request) => (n === 0 ? partial(...rangeAsked(request)) : [partial(...rangeAsked(request)).subarray(0, 200), "close"])));
        const conn = connect(server.url);
        await conn.get(rangeOf(0, 999));
        const req = rangeOf(1000, 9999);
        const err = await conn.get(req).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/connection closed early by http:\/\/127\.0\.0\.1:\d+/);
        expect(server.requests.length).to.equal(2);
    });

    it("fails the request in flight with the error it is destroyed with (the watchdog's, an abandon's)", async () => {
        const server = track(await scriptedServer((_, request) => partial(...rangeAsked(request)).subarray(0, 200)));
        const conn = connect(server.url);
        const req = rangeOf(0, 9999);
        const pending = conn.get(req);
        await new Promise((r) => setTimeout(r, 50));
        conn.destroy(new Error("no data for 5s"));
        const err = await pending.then(() => undefined, (e: Error) => e);
        expect(err?.message).to.equal("no data for 5s");
        expect(req.reads).to.be.greaterThan(0);
        const after = await conn.get(rangeOf(0, 99)).then(() => undefined, (e: Error) => e);
        expect(after?.message, "a destroyed connection sends nothing more").to.equal("no data for 5s");
        expect(server.requests.length).to.equal(1);
    });

    it("opens a new connection after a response that says Connection: close", async () => {
        const server = track(await scriptedServer((_, request) => partial(...rangeAsked(request), "Connection: close\r\n")));
        const conn = connect(server.url);
        for (const [start, end] of [[0, 99], [100, 199], [200, 299]]) await conn.get(rangeOf(start, end));
        expect(server.connections()).to.equal(3);
    });

    it("skips interim 1xx responses and takes the 206 after them", async () => {
        const server = track(await scriptedServer((_, request) => Buffer.concat([Buffer.from("HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n"), partial(...rangeAsked(request))])));
        const conn = connect(server.url);
        const req = rangeOf(10, 4000);
        await conn.get(req);
        expect(req.into.equals(data.subarray(10, 4001))).to.equal(true);
        expect(req.heads.map((h) => h.status)).to.deep.equal([206]);
    });

    for (const [framing, head] of [
        ["chunked", "HTTP/1.1 206 Partial Content\r\nTransfer-Encoding: chunked\r\n\r\n"],
        ["without a Content-Length", "HTTP/1.1 206 Partial Content\r\nConnection: close\r\n\r\n"],
        ["with another length", "HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\n\r\n"],
        ["in HTTP/2 words", "HTTP/2 206\r\ncontent-length: 100\r\n\r\n"],
    ] as const) {
        it(`hands a 206 ${framing} back as unsupported, for the caller to read another way`, async () => {
            const server = track(await scriptedServer(() => head));
            const conn = connect(server.url);
            const err = await conn.get(rangeOf(0, 99)).then(() => undefined, (e: Error) => e);
            expect(err).to.be.instanceOf(UnsupportedResponse);
            });
    }

    it("refuses bytes past the end of the range it asked for", async () => {
        const server = track(await scriptedServer((_, request) => Buffer.concat([partial(...rangeAsked(request)), Buffer.from("HTTP/1.1 200 OK\r\n")])));
        const conn = connect(server.url);
        const err = await conn.get(rangeOf(0, 99)).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/sent 17 bytes past the end of bytes 0-99/);
    });

    it("refuses a response head that never ends, once it passes 64 KiB, without waiting for more", async () => {
        // Header lines arriving in many reads, with no blank line to end them.
        const lines = Array.from({ length: 80 }, (_, k) => `X-Filler-${k}: ${"a".repeat(1000)}\r\n`);
        const server = track(await scriptedServer(() => ["HTTP/1.1 206 Partial Content\r\n", ...lines]));
        const conn = connect(server.url);
        const req = rangeOf(0, 99);
        const err = await conn.get(req).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/a response head larger than 65536 bytes/);
        expect(req.heads).to.deep.equal([]);
    });

    it("gives the head to the caller's check before reading the body, and fails with its error", async () => {
        const server = track(await scriptedServer(() => "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nX-Error-Code: Busy\r\n\r\nbusy"));
        const conn = connect(server.url);
        const req = rangeOf(0, 99);
        const err = await conn.get(req).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.equal("status 503");
        expect(req.heads[0].headers["x-error-code"]).to.equal("Busy");
        expect(req.reads).to.equal(0);
    });

    it("refuses a header value that would end the request line, before connecting", async () => {
        const server = track(await scriptedServer(() => "close"));
        const conn = connect(server.url);
        const err = await conn.get(rangeOf(0, 99, { headers: { Authorization: "Bearer x\r\nX-Injected: 1" } })).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/request header "Authorization" is not a valid HTTP header/);
        expect(err?.message).not.to.include("Bearer");
        expect(server.connections()).to.equal(0);
    });

    it("checks the server's certificate on https", async () => {
        const { up, url } = await upstream(selfSignedCert());
        const conn = connect(url);
        const err = await conn.get(rangeOf(0, 99)).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/self[- ]signed certificate/);
        expect(up.requests).to.deep.equal([]);
    });

    it("hands a redirect back as unsupported: only http.ts follows redirects, and drops Authorization across origins", async () => {
        const server = track(await scriptedServer(() => "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/model.bin\r\nContent-Length: 0\r\n\r\n"));
        const conn = connect(server.url);
        const req = rangeOf(0, 99);
        const err = await conn.get(req).then(() => undefined, (e: Error) => e);
        expect(err).to.be.instanceOf(UnsupportedResponse);
        expect(err?.message).to.match(/redirected bytes 0-99/);
        expect(req.heads, "the caller's check never sees a redirect").to.deep.equal([]);
    });
});
