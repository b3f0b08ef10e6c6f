import { spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
// The module object itself (not a namespace copy), so a test can wrap its Worker.
import workerThreads from "worker_threads";
import { expect } from "chai";
import { download, DownloadOptions } from "../src/download";
import { createLogger } from "../src/log";
import type { ModelSpec } from "../src/models";
import { sync, SyncOptions } from "../src/sync";
import { FakeUpstream, randomCommit, sha256 } from "./fakeUpstream";
import { Lines } from "./logLines";
import { spy } from "./spy";
import { selfSignedCert } from "./tlsCert";

const logger = createLogger(fs.createWriteStream("/dev/null"));
const KiB = 1024;

/**
 * Until the returned restore is called, every message that hands the worker a run of a part to hash
 * and write (those with a `slot`) goes through `deliver(post)` instead of straight to the worker.
 */
function interceptWorkerRuns(deliver: (post: () => void) => void): () => void {
    return spy(workerThreads as unknown as Record<string, unknown>, "Worker", (Worker) => function (this: unknown, ...args: unknown[]) {
        const w = new (Worker as unknown as new (...a: unknown[]) => { postMessage: (m: unknown) => void })(...args);
        const post = w.postMessage.bind(w);
        w.postMessage = (m: unknown) => ((m as { slot?: number }).slot === undefined ? post(m) : deliver(() => post(m)));
        return w;
    } as unknown as (...a: unknown[]) => unknown);
}

describe("downloads from the Hub", function () {
    this.timeout(30000);
    let hub: FakeUpstream;
    let cdn: FakeUpstream;
    let dest: string;
    const repo = "acme/gated-model";
    const weights = randomBytes(300 * KiB);
    const config = Buffer.from('{"hidden_size": 8}');

    const run = (extra: Partial<SyncOptions> = {}, name = repo) => {
        const models: ModelSpec[] = [{ name: "gated", source: "huggingface", repo: name, revision: hub.repos.get(repo)!.sha }];
        return sync({
            models, dest, hfEndpoint: hub.endpoint, ollamaRegistry: hub.endpoint, concurrency: 2, timeoutSeconds: 5, attempts: 2, backoffMs: 5,
            retentionDays: 7, lock: { heartbeatSeconds: 1, staleSeconds: 3600 }, logger, ...extra,
        });
    };

    beforeEach(async () => {
        hub = new FakeUpstream();
        cdn = new FakeUpstream();
        await hub.start();
        await cdn.start();
        const r = { sha: randomCommit(), files: { "config.json": config, "model.safetensors": weights }, lfs: ["model.safetensors"], token: "hf_secret" };
        hub.repos.set(repo, r);
        // The CDN is another origin that serves the same blobs through signed URLs.
        cdn.repos.set(repo, r);
        cdn.signedCdn = true;
        hub.cdn = cdn.endpoint;
        dest = fs.mkdtempSync(path.join(os.tmpdir(), "hub-"));
    });

    afterEach(async () => {
        await hub.stop();
        await cdn.stop();
        fs.rmSync(dest, { recursive: true, force: true });
    });

    it("sends HF_TOKEN on file downloads of a gated repo, and not to the CDN another origin redirects to", async () => {
        const result = await run({ hfToken: "hf_secret" });
        expect(result.failed).to.deep.equal([]);
        const snap = path.join(dest, `huggingface/hub/models--acme--gated-model/snapshots/${hub.repos.get(repo)!.sha}`);
        expect(fs.readFileSync(path.join(snap, "model.safetensors")).equals(weights)).to.equal(true);
        expect(fs.readFileSync(path.join(snap, "config.json")).equals(config)).to.equal(true);
        const resolves = hub.headers.filter((h) => h.path.includes("/resolve/"));
        expect(resolves.length).to.equal(2);
        for (const h of resolves) expect(h.headers.authorization, h.path).to.equal("Bearer hf_secret");
        // huggingface_hub file_download.py: a redirect to another domain is a signed URL, "don't send auth".
        const fromCdn = cdn.headers.filter((h) => h.path.startsWith("/cdn/"));
        expect(fromCdn.length).to.equal(1);
        expect(fromCdn[0].headers.authorization).to.equal(undefined);
    });

    it("names the Hub's reason (X-Error-Code/X-Error-Message) and HF_TOKEN when access is refused", async () => {
        const anonymous = await run();
        expect(anonymous.failed[0].error).to.match(/HTTP 401 .*: GatedRepo: Access to this model is restricted.* \(HF_TOKEN is not set/);
        const wrong = await run({ hfToken: "hf_other" });
        expect(wrong.failed[0].error).to.match(/HTTP 401 .*: GatedRepo: .*\(HF_TOKEN was sent: check that its token can read this repo and that its account accepted/);
        const missing = await run({ hfToken: "hf_secret" }, "acme/no-such-model");
        expect(missing.failed[0].error).to.match(/HTTP 401 .*: RepoNotFound: Repository not found \(HF_TOKEN was sent/);
    });
});

describe("download engine against a loopback server", function () {
    this.timeout(30000);
    let up: FakeUpstream;
    let dir: string;
    let writes: [number, number][];
    const big = randomBytes(1024 * KiB + 123);
    const parts = Math.ceil(big.length / (64 * KiB));

    const opts = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
        timeoutSeconds: 5, attempts: 3, backoffMs: 5, logger, label: "m",
        parallel: { minSize: 1, partSize: 64 * KiB, connections: 4 },
        onWrite: (offset, length) => writes.push([offset, length]),
        ...extra,
    });
    const file = () => path.join(dir, "out.bin");
    const rangeRequests = () => up.headers.filter((h) => h.path === "/files/big.bin").map((h) => h.headers.range);

    beforeEach(async () => {
        up = new FakeUpstream();
        await up.start();
        up.urls.set("big.bin", big);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "dl-"));
        writes = [];
    });

    afterEach(async () => {
        await up.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("hashes and writes parts in file order, however they arrive", async () => {
        // The first part is held back, so the following parts finish before it.
        up.fault("/files/big.bin#0", { kind: "stall", afterBytes: 0, ms: 300 });
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts());
        expect(got).to.deep.equal({ size: big.length, sha256: sha256(big) });
        expect(fs.readFileSync(file()).equals(big)).to.equal(true);
        expect(up.rangesDone.indexOf("/files/big.bin#0"), "part 0 arrived after later parts").to.be.greaterThan(0);
        // One writer, sequential: gcsfuse keeps streaming writes only for in-order writes (docs/semantics.md).
        expect(writes.map(([o]) => o)).to.deep.equal(Array.from({ length: parts }, (_, i) => i * 64 * KiB));
        expect(rangeRequests().length).to.equal(parts);
    });

    it("never refills a part's buffer before the worker has hashed and written it", async () => {
        // A worker that lags (a busy machine): each run reaches it 30 ms late. A part read into a
        // buffer it has not yet finished would change what is hashed and written.
        const restore = interceptWorkerRuns((post) => void setTimeout(post, 30));
        try {
            const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts());
            expect(got.sha256).to.equal(sha256(big));
            expect(fs.readFileSync(file()).equals(big)).to.equal(true);
        } finally {
            restore();
        }
    });

    it("gives up a ranged download on a full disk at once, with the system's error code", async function () {
        const mnt = fs.mkdtempSync(path.join(os.tmpdir(), "small-disk-"));
        if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt]).status !== 0) {
            fs.rmSync(mnt, { recursive: true, force: true });
            this.skip(); // no permission to mount a small tmpfs on this machine
        }
        try {
            const err = await download(`${up.endpoint}/files/big.bin`, path.join(mnt, "out.bin"), { sha256: sha256(big) }, opts()).then(() => undefined, (e: unknown) => e as NodeJS.ErrnoException);
            expect(err?.code, String(err)).to.equal("ENOSPC");
            // Not retried (a full disk stays full): no part was asked for twice.
            const ranges = rangeRequests();
            expect(new Set(ranges).size, ranges.join(" ")).to.equal(ranges.length);
        } finally {
            spawnSync("umount", [mnt]);
            fs.rmSync(mnt, { recursive: true, force: true });
        }
    });

    it("retries only the part whose connection was reset, from the byte it stopped at", async () => {
        up.fault(`/files/big.bin#${3 * 64 * KiB}`, { kind: "reset", afterBytes: 1000 });
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts());
        expect(got.sha256).to.equal(sha256(big));
        expect(fs.readFileSync(file()).equals(big)).to.equal(true);
        const ranges = rangeRequests();
        expect(ranges.length).to.equal(parts + 1);
        // The 1000 bytes that came are kept (they may already be hashed and written): only the rest is asked for.
        expect(ranges.filter((r) => r === `bytes=${3 * 64 * KiB}-${4 * 64 * KiB - 1}`).length).to.equal(1);
        expect(ranges.filter((r) => r === `bytes=${3 * 64 * KiB + 1000}-${4 * 64 * KiB - 1}`).length).to.equal(1);
    });

    it("hashes and writes a part's bytes as they arrive, before the whole part is in", async () => {
        // One 4 MiB part stops for 300 ms after 2.5 MiB: the bytes before the stop must not wait for the rest.
        const MiB = 1024 * KiB;
        const data = randomBytes(9 * MiB);
        up.urls.set("large.bin", data);
        up.fault("/files/large.bin#0", { kind: "stall", afterBytes: 2.5 * MiB, ms: 300 });
        let received = 0;
        const hashedBefore: number[] = [];
        const restore = interceptWorkerRuns((post) => {
            hashedBefore.push(received);
            post();
        });
        const writtenBefore: number[] = [];
        try {
            const got = await download(`${up.endpoint}/files/large.bin`, file(), { sha256: sha256(data) }, opts({
                parallel: { minSize: 1, partSize: 4 * MiB, connections: 1 },
                onBytes: (n) => (received += n),
                onWrite: (offset, length) => {
                    writes.push([offset, length]);
                    writtenBefore.push(received);
                },
            }));
            expect(got.sha256).to.equal(sha256(data));
        } finally {
            restore();
        }
        expect(fs.readFileSync(file()).equals(data)).to.equal(true);
        // The first write and the first hash run were issued while the first part was still short of its 4 MiB.
        expect(writes[0][0]).to.equal(0);
        expect(writes[0][1]).to.be.within(1 * MiB, 2.5 * MiB);
        expect(writtenBefore[0]).to.be.below(4 * MiB);
        expect(hashedBefore[0]).to.be.below(4 * MiB);
        // Still one sequential writer: each write starts where the last one ended.
        for (let k = 1; k < writes.length; k++) expect(writes[k][0]).to.equal(writes[k - 1][0] + writes[k - 1][1]);
        expect(writes.at(-1)![0] + writes.at(-1)![1]).to.equal(data.length);
    });

    it("closes the connections of the parts still in flight once another part fails for good", async () => {
        // Part 1 goes quiet for 10 s; part 2 is refused (404, not retried). The failure must not wait for part 1.
        up.fault(`/files/big.bin#${64 * KiB}`, { kind: "stall", afterBytes: 1000, ms: 10_000 });
        up.fault(`/files/big.bin#${2 * 64 * KiB}`, { kind: "status", code: 404 });
        const err = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts()).then(() => undefined, (e: Error) => e);
        expect(err?.message).to.match(/404/);
        const deadline = Date.now() + 1000;
        while (up.rangesOpen > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(up.rangesOpen, "ranges the server is still sending").to.equal(0);
    });

    // Another file of the model failed: the download is abandoned at whatever point it has reached,
    // and must end in an error, not an uncaught one from a body nobody listens to, and not a hang.
    for (const [how, parallel] of [["one stream", { minSize: 1e9 }], ["parallel parts", { minSize: 1, partSize: 64 * KiB, connections: 4 }]] as const) {
        for (const when of ["while its file opens", "while it writes"] as const) {
            it(`stops with an error when abandoned ${when} (${how})`, async () => {
                const abandon = new AbortController();
                const restore = spy(fs.promises as unknown as Record<string, unknown>, "open", (open) => async (...args) => {
                    if (when === "while its file opens") {
                        abandon.abort();
                        // A slow open (a busy disk, a FUSE mount): the body's error comes first.
                        await new Promise((r) => setTimeout(r, 30));
                    }
                    const fh = (await open(...args)) as fs.promises.FileHandle;
                    const writev = fh.writev.bind(fh);
                    fh.writev = ((...a: Parameters<typeof writev>) => {
                        abandon.abort();
                        return writev(...a);
                    }) as typeof fh.writev;
                    return fh;
                });
                try {
                    const err = await download(`${up.endpoint}/files/big.bin`, file(), { size: big.length, sha256: sha256(big) }, opts({ signal: abandon.signal, parallel })).then(() => undefined, (e: Error) => e);
                    // Abandoned before a byte was read, it fails; abandoned while writing, it may
                    // already hold its last byte and finish.
                    if (err === undefined && when === "while it writes") expect(fs.readFileSync(file()).equals(big)).to.equal(true);
                    else expect(err?.message).to.match(/abandoned, another file of m failed/);
                    // An 'error' event without a listener surfaces a moment later.
                    await new Promise((r) => setTimeout(r, 50));
                } finally {
                    restore();
                }
            });
        }
    }

    it("reads the parts over as many kept-alive connections as it runs at once", async () => {
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts());
        expect(got.sha256).to.equal(sha256(big));
        expect(rangeRequests().length).to.equal(parts);
        // The probe's connection, and one per part in flight: not one per part (a TLS handshake each).
        expect(up.connectionsAccepted).to.be.within(2, 1 + 4);
    });

    it("gives up on a silent part after the timeout and asks for it again", async () => {
        up.fault(`/files/big.bin#${5 * 64 * KiB}`, { kind: "stall", afterBytes: 1000, ms: 3000 });
        const started = Date.now();
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts({ timeoutSeconds: 0.3 }));
        expect(got.sha256).to.equal(sha256(big));
        // Asked again for what it lacked: the 1000 bytes before the silence are kept.
        expect(rangeRequests().filter((r) => r === `bytes=${5 * 64 * KiB}-${6 * 64 * KiB - 1}`).length).to.equal(1);
        expect(rangeRequests().filter((r) => r === `bytes=${5 * 64 * KiB + 1000}-${6 * 64 * KiB - 1}`).length).to.equal(1);
        expect(Date.now() - started).to.be.below(2500);
    });

    it("reads the remaining parts through node:http when a server frames them chunked", async () => {
        up.chunkedRanges = true;
        const lines = new Lines();
        // One attempt: falling back is not a retry.
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts({ logger: createLogger(lines), attempts: 1 }));
        expect(got.sha256).to.equal(sha256(big));
        expect(fs.readFileSync(file()).equals(big)).to.equal(true);
        const reasons = lines.lines.filter((l) => l.message === "reading the remaining parts through node:http").map((l) => String(l.reason));
        expect(reasons).to.have.length.within(1, 4);
        for (const r of reasons) expect(r).to.match(/framed a 206 for 65536 bytes with Transfer-Encoding: chunked/);
    });

    it("falls back to one stream when the server does not honour Range", async () => {
        up.ranges = false;
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { sha256: sha256(big) }, opts());
        expect(got.sha256).to.equal(sha256(big));
        expect(fs.readFileSync(file()).equals(big)).to.equal(true);
        expect(up.count("/files/big.bin")).to.equal(1);
    });

    it("fails a sha256 mismatch of a parallel download without retrying it", async () => {
        const wrong = sha256(Buffer.from("something else"));
        let err: Error | undefined;
        await download(`${up.endpoint}/files/big.bin`, file(), { sha256: wrong }, opts()).catch((e: Error) => (err = e));
        expect(err?.message).to.match(new RegExp(`checksum mismatch .*got sha256 ${sha256(big)}, expected ${wrong}`));
        expect(up.count("/files/big.bin")).to.equal(parts);
    });

    it("verifies a git blob id, on one stream and on parallel parts", async () => {
        fs.writeFileSync(path.join(dir, "ref"), big);
        // git's own answer, not a formula of ours.
        const blob = spawnSync("git", ["hash-object", path.join(dir, "ref")], { encoding: "utf8" }).stdout.trim();
        expect(blob).to.match(/^[0-9a-f]{40}$/);
        const url = `${up.endpoint}/files/big.bin`;
        expect((await download(url, file(), { size: big.length, gitSha1: blob }, opts({ parallel: { minSize: 1e9 } }))).size).to.equal(big.length);
        expect((await download(url, file(), { size: big.length, gitSha1: blob }, opts())).size).to.equal(big.length);
        const bad = blob.replace(/^./, (c) => (c === "0" ? "1" : "0"));
        let err: Error | undefined;
        await download(url, file(), { size: big.length, gitSha1: bad }, opts()).catch((e: Error) => (err = e));
        expect(err?.message).to.match(new RegExp(`got git blob ${blob}, expected ${bad}`));
    });

    it("asks for identity: a gzip answer would not match the file's size or hash", async () => {
        up.compress = true;
        const got = await download(`${up.endpoint}/files/big.bin`, file(), { size: big.length, sha256: sha256(big) }, opts({ parallel: { minSize: 1e9 } }));
        expect(got.sha256).to.equal(sha256(big));
        expect(up.headers.find((h) => h.path === "/files/big.bin")!.headers["accept-encoding"]).to.equal("identity");
        expect(up.count("/files/big.bin")).to.equal(1);
    });
});

describe("a large file over https, as the job runs it", function () {
    this.timeout(60000);

    it("verifies the server's certificate and reads every part over TLS", async () => {
        const cert = selfSignedCert();
        const up = new FakeUpstream();
        await up.start(cert);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dl-tls-"));
        try {
            // Above DEFAULT_PARALLEL.minSize (64 MiB): 9 parts of 8 MiB.
            const large = randomBytes(64 * 1024 * KiB + 4097);
            up.urls.set("large.bin", large);
            const models = JSON.stringify([{ name: "large", source: "url", url: `${up.endpoint}/files/large.bin`, sha256: sha256(large), path: "large.bin" }]);
            const cli = (extraCa: string | undefined) => new Promise<{ code: number | null; out: string }>((resolve) => {
                const env: NodeJS.ProcessEnv = { ...process.env, MODELS_JSON: models, SYNC_ATTEMPTS: "1" };
                if (extraCa === undefined) delete env.NODE_EXTRA_CA_CERTS;
                else env.NODE_EXTRA_CA_CERTS = extraCa;
                const child = spawn(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.resolve(__dirname, "../src/cli.ts"), "--dest", path.join(dir, "cache")], { env, stdio: ["ignore", "pipe", "inherit"] });
                let out = "";
                child.stdout.on("data", (b: Buffer) => (out += b.toString()));
                child.on("close", (code) => resolve({ code, out }));
            });

            const untrusted = await cli(undefined);
            expect(untrusted.code, untrusted.out).to.equal(1);
            expect(untrusted.out).to.match(/self[- ]signed certificate/);
            expect(up.modelBytes).to.equal(0);

            const trusted = await cli(cert.certFile);
            expect(trusted.code, trusted.out).to.equal(0);
            const manifest = JSON.parse(fs.readFileSync(path.join(dir, "cache/manifest.json"), "utf8")) as { models: { files: { sha256: string }[] }[] };
            expect(manifest.models[0].files[0].sha256).to.equal(sha256(large));
            expect(up.rangesDone.filter((r) => r.startsWith("/files/large.bin#"))).to.have.length(9);
            // The probe's connection and the two the parts share (DEFAULT_PARALLEL.connections).
            expect(up.connectionsAccepted).to.be.within(2, 3);
        } finally {
            await up.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
