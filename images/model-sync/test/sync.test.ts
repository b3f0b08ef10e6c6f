import { ChildProcess, spawn, spawnSync } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import fsModule from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { backoffDelay } from "../src/http";
import { createLogger } from "../src/log";
import type { ModelSpec } from "../src/models";
import { acquireRunLock, LockHeldError } from "../src/lock";
import { Manifest, sha256 as sha } from "../src/store";
import { sync, SyncOptions, SyncResult } from "../src/sync";
import { Lines } from "./logLines";
import { spy } from "./spy";
import { FakeUpstream, ollamaTag, randomCommit, sha256 } from "./fakeUpstream";

const PKG = path.resolve(__dirname, "..");
const HUB_REPO = "acme/tiny-embed";
const LFS = "model.safetensors";

/** Every file under dir (relative path -> sha256), leaving out the lock and staging. */
function snapshot(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const full = path.join(d, e.name);
            const rel = path.relative(dir, full);
            if (rel === ".staging" || rel === ".sync.lock" || rel === ".sync-state.json") continue;
            if (e.isDirectory()) walk(full);
            else out[rel] = sha256(fs.readFileSync(full));
        }
    };
    walk(dir);
    return out;
}

/** What readers trust: the manifest, the marker and every file the manifest names. */
function published(dir: string): Record<string, string> {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8")) as Manifest;
    const all = snapshot(dir);
    const named = ["manifest.json", ".done", ...manifest.models.flatMap((m) => m.files.map((f) => path.join(m.path, f.path)))];
    return Object.fromEntries(named.map((n) => [n, all[n]]));
}

describe("model sync against a loopback Hub and Ollama registry", function () {
    this.timeout(60000);
    let up: FakeUpstream;
    let dest: string;
    let logs: Lines;
    let models: ModelSpec[];
    let bigFile: Buffer;
    let urlFile: Buffer;

    const options = (extra: Partial<SyncOptions> = {}): SyncOptions => ({
        models, dest, hfEndpoint: up.endpoint, ollamaRegistry: up.endpoint, concurrency: 3, timeoutSeconds: 5, attempts: 4, backoffMs: 5,
        retentionDays: 7, lock: { heartbeatSeconds: 1, staleSeconds: 3600 }, logger: createLogger(logs), ...extra,
    });
    const run = (extra: Partial<SyncOptions> = {}): Promise<SyncResult> => sync(options(extra));

    /** Moves the Hub repo to a new commit whose LFS file differs. */
    function newHubRevision(): void {
        const repo = up.repos.get(HUB_REPO)!;
        bigFile = randomBytes(2_000_000);
        up.repos.set(HUB_REPO, { ...repo, sha: randomCommit(), files: { ...repo.files, [LFS]: bigFile } });
    }

    beforeEach(async () => {
        up = new FakeUpstream();
        await up.start();
        bigFile = randomBytes(3_000_000);
        urlFile = randomBytes(50_000);
        up.repos.set(HUB_REPO, {
            sha: randomCommit(),
            files: { "config.json": Buffer.from('{"hidden_size": 8}'), "tokenizer.json": Buffer.from('{"v": 1}'), [LFS]: bigFile, "README.md": Buffer.from("# tiny") },
            lfs: [LFS],
        });
        up.tags.set("library/tinyllama:1b", ollamaTag([1_000_000, 200]));
        up.urls.set("weights.bin", urlFile);
        models = [
            { name: "tiny-embed", source: "huggingface", repo: HUB_REPO, revision: up.repos.get(HUB_REPO)!.sha, include: ["*.json", "*.safetensors"] },
            { name: "tinyllama", source: "ollama", model: "tinyllama", tag: "1b" },
            { name: "weights", source: "url", url: `${up.endpoint}/files/weights.bin`, sha256: sha256(urlFile), path: "weights.bin" },
        ];
        dest = fs.mkdtempSync(path.join(os.tmpdir(), "model-cache-"));
        logs = new Lines();
    });

    afterEach(async () => {
        await up.stop();
        fs.rmSync(dest, { recursive: true, force: true });
    });

    it("publishes every model in the cache layout, then the manifest, then a marker that vouches for it", async () => {
        const result = await run();
        expect(result.failed).to.deep.equal([]);
        expect(result.synced).to.deep.equal(["tiny-embed", "tinyllama", "weights"]);
        const commit = up.repos.get(HUB_REPO)!.sha;
        const snap = `huggingface/hub/models--acme--tiny-embed/snapshots/${commit}`;
        expect(fs.readFileSync(path.join(dest, snap, LFS)).equals(bigFile)).to.equal(true);
        expect(fs.existsSync(path.join(dest, snap, "README.md")), "include filter").to.equal(false);
        // A pinned commit: no ref at all, as snapshot_download (huggingface_hub _snapshot_download.py
        // `if revision != commit_hash`); refs/ exists, empty, for @huggingface/hub's scanCacheDir.
        expect(fs.readdirSync(path.join(dest, "huggingface/hub/models--acme--tiny-embed/refs"))).to.deep.equal([]);

        const tag = up.tags.get("library/tinyllama:1b")!;
        expect(fs.readFileSync(path.join(dest, "ollama/manifests/registry.ollama.ai/library/tinyllama/1b")).equals(tag.manifest)).to.equal(true);
        for (const blob of tag.blobs) expect(fs.readFileSync(path.join(dest, `ollama/blobs/sha256-${sha256(blob)}`)).equals(blob)).to.equal(true);
        expect(fs.readFileSync(path.join(dest, `url/weights/${sha256(urlFile)}/weights.bin`)).equals(urlFile)).to.equal(true);

        const text = fs.readFileSync(path.join(dest, "manifest.json"), "utf8");
        const manifest = JSON.parse(text) as Manifest;
        expect(fs.readFileSync(path.join(dest, ".done"), "utf8").trim()).to.equal(sha(text));
        expect(text).to.match(/^\{\n {2}"schemaVersion": 1,\n {2}"revision": "\d{8}T\d{6}Z-[0-9a-f]{8}",/);
        expect(manifest.models.map((m) => [m.name, m.revision])).to.deep.equal([
            ["tiny-embed", commit],
            ["tinyllama", `sha256:${sha256(tag.manifest)}`],
            ["weights", sha256(urlFile)],
        ]);
        const hub = manifest.models[0];
        expect(hub.path).to.equal(snap);
        expect(hub.files.find((f) => f.path === LFS)).to.deep.equal({ path: LFS, size: bigFile.length, sha256: sha256(bigFile) });
        for (const m of manifest.models) for (const f of m.files) expect(sha256(fs.readFileSync(path.join(dest, m.path, f.path))), f.path).to.equal(f.sha256);
        expect(fs.existsSync(path.join(dest, ".staging"))).to.equal(false);
        expect(fs.existsSync(path.join(dest, ".sync.lock"))).to.equal(false);
    });

    it("writes .done after manifest.json, and manifest.json after its files: a reader between any two writes never finds a marker ahead", async () => {
        const read = (rel: string) => {
            try {
                return fs.readFileSync(path.join(dest, rel));
            } catch {
                return undefined;
            }
        };
        const written = new Set<string>(); // the sha256 of every manifest.json a reader could have read so far
        const problems: string[] = [];
        let looks = 0;
        // What a reader finds at this moment, as the contract tells it to check.
        const look = () => {
            looks++;
            const manifest = read("manifest.json");
            if (manifest !== undefined) written.add(sha(manifest));
            const marker = read(".done")?.toString("utf8").trim();
            if (marker !== undefined && !written.has(marker)) problems.push(`.done names a manifest not written yet (${marker.slice(0, 12)})`);
            if (manifest === undefined || marker !== sha(manifest)) return;
            for (const m of (JSON.parse(manifest.toString("utf8")) as Manifest).models) {
                for (const f of m.files) if (read(path.join(m.path, f.path))?.length !== f.size) problems.push(`the manifest vouched for names ${m.path}/${f.path}, not in place`);
            }
        };
        const nodeFs = fsModule as unknown as Record<string, unknown>;
        const after = (orig: (...a: unknown[]) => unknown) => (...args: unknown[]) => {
            const result = orig(...args);
            look();
            return result;
        };
        const restore = [spy(nodeFs, "renameSync", after), spy(nodeFs, "writeFileSync", after)];
        try {
            await run(); // the first publish
            newHubRevision();
            models[0] = { ...models[0], revision: up.repos.get(HUB_REPO)!.sha } as ModelSpec;
            await run(); // a publish over a previous one
        } finally {
            for (const r of restore) r();
        }
        expect(problems).to.deep.equal([]);
        expect(written.size, "both manifests seen in place").to.equal(2);
        expect(looks).to.be.greaterThan(10);
    });

    it("logs one JSON line per event for Cloud Logging, and a summary", async () => {
        await run();
        for (const l of logs.lines) expect(l).to.have.property("severity").that.is.a("string");
        const synced = logs.lines.filter((l) => l.message === "model synced");
        expect(synced.map((l) => l.model).sort()).to.deep.equal(["tiny-embed", "tinyllama", "weights"]);
        expect(synced.every((l) => typeof l.bytes === "number" && typeof l.seconds === "number")).to.equal(true);
        const summary = logs.lines.find((l) => l.message === "sync finished")!;
        expect(summary).to.include({ severity: "INFO", outcome: "succeeded", models_synced: 3, models_failed: 0 });
        expect(summary.bytes).to.be.greaterThan(bigFile.length);
    });

    it("downloads 0 model bytes and rewrites nothing when upstream is unchanged", async () => {
        await run();
        const before = snapshot(dest);
        const served = up.modelBytes;
        const result = await run();
        expect(up.modelBytes - served).to.equal(0);
        expect(result.bytes).to.equal(0);
        expect(result.unchanged).to.deep.equal(["tiny-embed", "tinyllama", "weights"]);
        expect(result.published).to.equal(false);
        expect(snapshot(dest)).to.deep.equal(before);
    });

    it("fetches only the model whose upstream revision changed", async () => {
        await run();
        newHubRevision();
        models[0] = { ...models[0], revision: up.repos.get(HUB_REPO)!.sha } as ModelSpec;
        const served = up.modelBytes;
        const result = await run();
        expect(result.synced).to.deep.equal(["tiny-embed"]);
        expect(result.unchanged).to.deep.equal(["tinyllama", "weights"]);
        // The new snapshot's files, nothing of the Ollama model or the URL file.
        const hubBytes = Object.entries(up.repos.get(HUB_REPO)!.files).filter(([n]) => n.endsWith(".json") || n === LFS).reduce((a, [, d]) => a + d.length, 0);
        expect(up.modelBytes - served).to.equal(hubBytes);
        const manifest = JSON.parse(fs.readFileSync(path.join(dest, "manifest.json"), "utf8")) as Manifest;
        expect(manifest.models[0].revision).to.equal(up.repos.get(HUB_REPO)!.sha);
    });

    it("fetches a large file over as many Range connections as the job asks for, and no more", async () => {
        // Above DEFAULT_PARALLEL.minSize (64 MiB): 9 parts of 8 MiB.
        const large = randomBytes(72 * 1024 * 1024);
        up.urls.set("large.bin", large);
        models = [{ name: "large", source: "url", url: `${up.endpoint}/files/large.bin`, sha256: sha256(large), path: "large.bin" }];
        const result = await run({ connectionsPerFile: 4 });
        expect(result.synced).to.deep.equal(["large"]);
        expect(up.rangesDone.filter((r) => r.startsWith("/files/large.bin#"))).to.have.length(9);
        expect(up.rangesOpenPeak).to.be.within(3, 4);
    });

    it("retries 5xx answers with backoff", async () => {
        const lfsPath = `/cdn/${sha256(bigFile)}`;
        up.fault(lfsPath, { kind: "status", code: 503 }, { kind: "status", code: 502 });
        up.fault("/v2/library/tinyllama/manifests/1b", { kind: "status", code: 500 });
        const result = await run();
        expect(result.failed).to.deep.equal([]);
        expect(up.count(lfsPath)).to.equal(3);
        expect(logs.lines.filter((l) => l.message === "retrying after a transient failure").length).to.be.at.least(3);
    });

    it("recovers from a connection reset mid-body", async () => {
        up.fault(`/cdn/${sha256(bigFile)}`, { kind: "reset", afterBytes: 100_000 });
        const result = await run();
        expect(result.failed).to.deep.equal([]);
        expect(sha256(fs.readFileSync(path.join(dest, `huggingface/hub/models--acme--tiny-embed/snapshots/${up.repos.get(HUB_REPO)!.sha}/${LFS}`)))).to.equal(sha256(bigFile));
    });

    it("recovers from a truncated body", async () => {
        up.fault("/files/weights.bin", { kind: "truncate", afterBytes: 1000 });
        const result = await run();
        expect(result.failed).to.deep.equal([]);
        expect(up.count("/files/weights.bin")).to.equal(2);
    });

    it("rejects a checksum mismatch, keeps the previous publish, and still publishes the other models", async () => {
        await run();
        const before = published(dest);
        newHubRevision();
        models[0] = { ...models[0], revision: up.repos.get(HUB_REPO)!.sha } as ModelSpec;
        const changedUrl = randomBytes(1000);
        up.urls.set("weights.bin", changedUrl);
        models[2] = { ...models[2], sha256: sha256(changedUrl) } as ModelSpec;
        up.fault(`/cdn/${sha256(bigFile)}`, { kind: "corrupt" });
        const result = await run();
        expect(result.failed.map((f) => f.name)).to.deep.equal(["tiny-embed"]);
        expect(result.failed[0].error).to.include("checksum mismatch");
        const manifest = JSON.parse(fs.readFileSync(path.join(dest, "manifest.json"), "utf8")) as Manifest;
        // The failed model keeps its previous revision; the URL model moved on.
        const prev = JSON.parse(before["manifest.json"] ? fs.readFileSync(path.join(dest, "manifest.json"), "utf8") : "{}") as Manifest;
        expect(manifest.models[0]).to.deep.equal(prev.models[0]);
        expect(manifest.models[2].revision).to.equal(sha256(changedUrl));
        for (const [file, digest] of Object.entries(before)) if (file.includes("snapshots")) expect(snapshot(dest)[file], file).to.equal(digest);
        const summary = logs.lines.find((l) => l.message === "sync finished with failures")!;
        expect(summary).to.include({ severity: "ERROR", outcome: "failed", models_failed: 1 });
    });

    it("gives up on a slow upstream after the timeout, keeping the previous publish; a rerun converges", async () => {
        await run();
        const before = published(dest);
        newHubRevision();
        models[0] = { ...models[0], revision: up.repos.get(HUB_REPO)!.sha } as ModelSpec;
        const lfsPath = `/cdn/${sha256(bigFile)}`;
        up.fault(lfsPath, { kind: "stall", afterBytes: 1000, ms: 5000 }, { kind: "stall", afterBytes: 1000, ms: 5000 });
        const result = await run({ timeoutSeconds: 0.5, attempts: 2 });
        expect(result.failed.map((f) => f.name)).to.deep.equal(["tiny-embed"]);
        expect(result.failed[0].error).to.match(/no data .* for 0.5s|aborted/);
        expect(published(dest)).to.deep.equal(before);
        const again = await run();
        expect(again.failed).to.deep.equal([]);
        expect(again.synced).to.deep.equal(["tiny-embed"]);
    });

    it("lets only one run at a time hold the cache", async () => {
        up.fault(`/cdn/${sha256(bigFile)}`, { kind: "stall", afterBytes: 1000, ms: 1500 });
        const first = run();
        await new Promise((r) => setTimeout(r, 300));
        let err: unknown;
        try {
            await run();
        } catch (e) {
            err = e;
        }
        expect(err).to.be.instanceOf(LockHeldError);
        expect((err as Error).message).to.match(/another sync holds .*\.sync\.lock \(.+\/\d+\/[0-9a-f]+, last heartbeat/);
        const result = await first;
        expect(result.failed).to.deep.equal([]);
        expect(fs.existsSync(path.join(dest, ".sync.lock"))).to.equal(false);
    });

    it("takes over a file lock whose heartbeat stopped, and keeps one that beats", async () => {
        const file = path.join(dest, ".sync.lock");
        const lockOpts = { heartbeatSeconds: 1, staleSeconds: 3 };
        fs.writeFileSync(file, JSON.stringify({ owner: "elsewhere/1/dead" }));
        fs.utimesSync(file, new Date(Date.now() - 5000), new Date(Date.now() - 5000));
        await (await acquireRunLock(dest, lockOpts)).release();
        expect(fs.existsSync(file)).to.equal(false);
        fs.writeFileSync(file, JSON.stringify({ owner: "elsewhere/1/alive" }));
        let err: unknown;
        await acquireRunLock(dest, lockOpts).catch((e) => (err = e));
        expect(err).to.be.instanceOf(LockHeldError);
        fs.rmSync(file);
        // A held lock stays fresh past the stale limit because its holder touches it.
        const held = await acquireRunLock(dest, lockOpts);
        await new Promise((r) => setTimeout(r, 3500));
        err = undefined;
        await acquireRunLock(dest, lockOpts).catch((e) => (err = e));
        expect(err, "taken over while its holder was alive").to.be.instanceOf(LockHeldError);
        await held.verify();
        await held.release();
    });

    it("removes revisions no longer in the manifest after the retention", async () => {
        const t0 = new Date("2026-11-01T03:00:00Z");
        await run({ now: () => t0 });
        const oldSnap = `huggingface/hub/models--acme--tiny-embed/snapshots/${up.repos.get(HUB_REPO)!.sha}`;
        newHubRevision();
        models[0] = { ...models[0], revision: up.repos.get(HUB_REPO)!.sha } as ModelSpec;
        await run({ now: () => new Date(t0.getTime() + 86_400_000) });
        expect(fs.existsSync(path.join(dest, oldSnap)), "kept within the retention, for rollback").to.equal(true);
        const later = await run({ now: () => new Date(t0.getTime() + 9 * 86_400_000) });
        expect(later.removed).to.deep.equal([oldSnap]);
        expect(fs.existsSync(path.join(dest, oldSnap))).to.equal(false);
    });

    it("keeps the previous publish when the disk fills up, and converges after", async function () {
        const mnt = fs.mkdtempSync(path.join(os.tmpdir(), "small-disk-"));
        const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]).status === 0;
        if (!mounted) {
            fs.rmSync(mnt, { recursive: true, force: true });
            this.skip(); // no permission to mount a small tmpfs on this machine
        }
        try {
            dest = path.join(mnt, "cache");
            const all = models;
            models = [all[2]]; // the small URL file fits
            await run();
            const before = published(dest);
            models = all; // the 3 MB Hub file does not
            const result = await run();
            expect(result.failed.map((f) => f.name)).to.include("tiny-embed");
            expect(result.failed.find((f) => f.name === "tiny-embed")!.error).to.match(/ENOSPC|no space/i);
            const manifest = JSON.parse(fs.readFileSync(path.join(dest, "manifest.json"), "utf8")) as Manifest;
            expect(manifest.models.map((m) => m.name)).not.to.include("tiny-embed");
            for (const [file, digest] of Object.entries(before)) if (file !== "manifest.json" && file !== ".done") expect(snapshot(dest)[file], file).to.equal(digest);
            expect(fs.readFileSync(path.join(dest, ".done"), "utf8").trim()).to.equal(sha(fs.readFileSync(path.join(dest, "manifest.json"))));
            expect(fs.existsSync(path.join(dest, ".staging"))).to.equal(false);
        } finally {
            spawnSync("umount", [mnt]);
            fs.rmSync(mnt, { recursive: true, force: true });
            dest = fs.mkdtempSync(path.join(os.tmpdir(), "model-cache-"));
        }
    });

    describe("killed mid-run (SIGKILL, a real child process)", () => {
        let child: ChildProcess | undefined;
        afterEach(() => child?.kill("SIGKILL"));

        it("leaves the previous publish intact, and the next run cleans up and converges", async () => {
            await run();
            const before = published(dest);
            newHubRevision();
            models[0] = { ...models[0], revision: up.repos.get(HUB_REPO)!.sha } as ModelSpec;
            const lfsPath = `/cdn/${sha256(bigFile)}`;
            up.fault(lfsPath, { kind: "stall", afterBytes: 500_000, ms: 30_000 });
            const modelsFile = path.join(os.tmpdir(), `models-${process.pid}.json`);
            fs.writeFileSync(modelsFile, JSON.stringify(models));
            child = spawn(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", path.join(PKG, "src/cli.ts"), "--models", modelsFile, "--dest", dest], {
                env: { ...process.env, HF_ENDPOINT: up.endpoint, OLLAMA_REGISTRY: up.endpoint, SYNC_BACKOFF_MS: "5" },
                stdio: "ignore",
            });
            // Kill it while the big file is half downloaded into staging.
            const deadline = Date.now() + 30000;
            while (up.count(lfsPath) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
            await new Promise((r) => setTimeout(r, 300));
            child.kill("SIGKILL");
            await new Promise((r) => child!.once("exit", r));
            fs.rmSync(modelsFile, { force: true });

            expect(published(dest), "manifest, marker and the files they name").to.deep.equal(before);
            expect(fs.existsSync(path.join(dest, ".staging")), "a half download in staging").to.equal(true);
            expect(fs.existsSync(path.join(dest, ".sync.lock")), "a lock left behind").to.equal(true);

            up.faults.clear();
            // Its process has exited: the lock is taken over at once, an hour before it would go stale.
            const result = await run();
            expect(logs.lines.find((l) => l.message === "took over the lock of a run that stopped")?.previous).to.match(/has exited$/);
            expect(result.failed).to.deep.equal([]);
            expect(result.synced).to.deep.equal(["tiny-embed"]);
            expect(fs.existsSync(path.join(dest, ".staging"))).to.equal(false);
            expect(fs.existsSync(path.join(dest, ".sync.lock"))).to.equal(false);
            const manifest = JSON.parse(fs.readFileSync(path.join(dest, "manifest.json"), "utf8")) as Manifest;
            expect(manifest.models[0].revision).to.equal(up.repos.get(HUB_REPO)!.sha);
        });
    });
});

describe("backoff", () => {
    it("doubles per attempt with up to 50 % jitter", () => {
        expect(backoffDelay(0, 1000, () => 0)).to.equal(1000);
        expect(backoffDelay(3, 1000, () => 0)).to.equal(8000);
        expect(backoffDelay(3, 1000, () => 1)).to.equal(12000);
    });
});
