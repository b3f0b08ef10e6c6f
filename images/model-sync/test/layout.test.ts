// The cache as the real readers see it: @huggingface/hub's scanCacheDir, Ollama's name rules and
// manifest layout, snapshot_download's include patterns; and what a run costs on gcsfuse, where
// every stat, mkdir and listing is a GCS call.
import { randomBytes } from "crypto";
import * as fs from "fs";
import fsModule from "fs";
import * as os from "os";
import * as path from "path";
import { scanCacheDir } from "@huggingface/hub";
import { expect } from "chai";
import { createLogger } from "../src/log";
import { ModelSpec, parseModels } from "../src/models";
import { includeFilter } from "../src/sources/huggingface";
import { ollamaRepository } from "../src/sources/ollama";
import { Manifest } from "../src/store";
import { NOOP_SAMPLE, sync, SyncOptions, SyncResult } from "../src/sync";
import { FakeUpstream, ollamaTag, randomCommit, sha256 } from "./fakeUpstream";
import { spy } from "./spy";

// The module object itself (not the `import *` copy, whose properties are getters), so a spy set
// here is what src/ calls.
const nodeFs = fsModule as unknown as Record<string, unknown> & { promises: Record<string, unknown> };

const REPO = "acme/tiny-embed";
const HUB = "huggingface/hub/models--acme--tiny-embed";
const DAY = 86_400_000;

describe("cache layout as the real clients read it", function () {
    this.timeout(60000);
    let up: FakeUpstream;
    let dest: string;
    let models: ModelSpec[];

    const options = (extra: Partial<SyncOptions> = {}): SyncOptions => ({
        models, dest, hfEndpoint: up.endpoint, ollamaRegistry: up.endpoint, concurrency: 3, timeoutSeconds: 5, attempts: 2, backoffMs: 5,
        retentionDays: 7, lock: { heartbeatSeconds: 1, staleSeconds: 3600 }, logger: createLogger(fs.createWriteStream("/dev/null")), ...extra,
    });
    const run = (extra: Partial<SyncOptions> = {}): Promise<SyncResult> => sync(options(extra));
    const commit = () => up.repos.get(REPO)!.sha;
    function moveUpstream(): void {
        const repo = up.repos.get(REPO)!;
        up.repos.set(REPO, { ...repo, sha: randomCommit(), files: { ...repo.files, "model.safetensors": randomBytes(1000) } });
    }
    /** Every file and directory under the cache whose name marks it as a temporary. */
    const temps = () => (fs.readdirSync(dest, { recursive: true }) as string[]).filter((f) => /\.tmp-/.test(f));

    beforeEach(async () => {
        up = new FakeUpstream();
        await up.start();
        up.repos.set(REPO, {
            sha: randomCommit(),
            files: {
                "config.json": Buffer.from('{"hidden_size": 8}'),
                "1_Pooling/config.json": Buffer.from('{"pooling_mode_mean_tokens": true}'),
                "model.safetensors": randomBytes(20_000),
                "README.md": Buffer.from("# tiny"),
            },
            lfs: ["model.safetensors"],
        });
        up.tags.set("library/tinyllama:1b", ollamaTag([5000, 100]));
        models = [
            { name: "tiny-embed", source: "huggingface", repo: REPO, revision: "main", include: ["*.json", "*.safetensors"] },
            { name: "tinyllama", source: "ollama", model: "tinyllama", tag: "1b" },
        ];
        dest = fs.mkdtempSync(path.join(os.tmpdir(), "model-layout-"));
    });

    afterEach(async () => {
        await up.stop();
        fs.rmSync(dest, { recursive: true, force: true });
    });

    it("is recognised by @huggingface/hub's scanCacheDir: every repo, revision and ref, also after retention", async () => {
        models[0] = { ...models[0], revision: "v1" } as ModelSpec;
        await run({ now: () => new Date("2026-11-01T03:00:00Z") });
        const first = commit();
        moveUpstream();
        models[0] = { ...models[0], revision: "main" } as ModelSpec;
        await run({ now: () => new Date("2026-11-02T03:00:00Z") });
        let scan = await scanCacheDir(path.join(dest, "huggingface/hub"));
        expect(scan.warnings.map(String)).to.deep.equal([]);
        expect(scan.repos.map((r) => r.id.name)).to.deep.equal([REPO]);
        const refs = (s: typeof scan) => Object.fromEntries(s.repos[0].revisions.map((r) => [r.commitOid, [...r.refs].sort()]));
        expect(refs(scan)).to.deep.equal({ [first]: ["v1"], [commit()]: ["main"] });

        // Retention removes the old snapshot: refs/v1 names it, and goes with it. Left behind, both
        // scanners would drop the whole repo (huggingface_hub utils/_cache_manager.py,
        // huggingface.js cache-management.ts: "Reference(s) refer to missing commit hashes").
        const later = await run({ now: () => new Date("2026-11-10T03:00:00Z") });
        expect(later.removed).to.include(`${HUB}/snapshots/${first}`);
        scan = await scanCacheDir(path.join(dest, "huggingface/hub"));
        expect(scan.warnings.map(String)).to.deep.equal([]);
        expect(refs(scan)).to.deep.equal({ [commit()]: ["main"] });
        const files = scan.repos[0].revisions[0].files.map((f) => path.basename(f.path)).sort();
        expect(files).to.deep.equal(["config.json", "model.safetensors"]); // the scanner does not descend into 1_Pooling/
    });

    it("writes no ref for a pinned commit, and never refs/main for one", async () => {
        // huggingface_hub _snapshot_download.py: a ref only `if revision != commit_hash`.
        models[0] = { ...models[0], revision: commit() } as ModelSpec;
        await run();
        const scan = await scanCacheDir(path.join(dest, "huggingface/hub"));
        expect(scan.warnings.map(String)).to.deep.equal([]);
        expect(fs.readdirSync(path.join(dest, HUB, "refs"))).to.deep.equal([]);
        expect(scan.repos[0].revisions.map((r) => [r.commitOid, r.refs])).to.deep.equal([[commit(), []]]);
    });

    it("drops the Ollama tag of a model no longer configured together with its blobs", async () => {
        const t0 = new Date("2026-11-01T03:00:00Z");
        await run({ now: () => t0 });
        const tag = "ollama/manifests/registry.ollama.ai/library/tinyllama/1b";
        expect(fs.existsSync(path.join(dest, tag))).to.equal(true);
        models = [models[0]];
        await run({ now: () => new Date(t0.getTime() + DAY) });
        expect(fs.existsSync(path.join(dest, tag)), "kept within the retention, with its blobs").to.equal(true);
        const later = await run({ now: () => new Date(t0.getTime() + 9 * DAY) });
        expect(later.removed).to.include(tag);
        expect(fs.existsSync(path.join(dest, tag))).to.equal(false);
        expect(fs.readdirSync(path.join(dest, "ollama/blobs"))).to.deep.equal([]);
    });

    it("never leaves a tag naming a removed blob, whatever the retention clock says", async () => {
        const t0 = new Date("2026-11-01T03:00:00Z");
        await run({ now: () => t0 });
        const tag = "ollama/manifests/registry.ollama.ai/library/tinyllama/1b";
        models = [models[0]];
        await run({ now: () => new Date(t0.getTime() + DAY) });
        // The tag's clock restarted (a state file lost or edited), its blobs' did not.
        const state = JSON.parse(fs.readFileSync(path.join(dest, ".sync-state.json"), "utf8")) as { unreferencedSince: Record<string, string> };
        state.unreferencedSince[tag] = new Date(t0.getTime() + 8 * DAY).toISOString();
        fs.writeFileSync(path.join(dest, ".sync-state.json"), JSON.stringify(state));
        await run({ now: () => new Date(t0.getTime() + 9 * DAY) });
        expect(fs.readdirSync(path.join(dest, "ollama/blobs"))).to.deep.equal([]);
        expect(fs.existsSync(path.join(dest, tag))).to.equal(false);
    });

    it("matches include patterns as fnmatch does: `*` crosses `/`", async () => {
        // snapshot_download(allow_patterns=…) filters with fnmatch (huggingface_hub utils/_paths.py).
        expect(includeFilter(["*.json"])("1_Pooling/config.json")).to.equal(true);
        expect(includeFilter(["1_Pooling/"])("1_Pooling/config.json")).to.equal(true);
        expect(includeFilter(["*.json"])("model.safetensors")).to.equal(false);
        expect(includeFilter(["{a,b}.json"])("a.json"), "fnmatch knows no braces").to.equal(false);
        await run();
        const manifest = JSON.parse(fs.readFileSync(path.join(dest, "manifest.json"), "utf8")) as Manifest;
        expect(manifest.models[0].files.map((f) => f.path).sort()).to.deep.equal(["1_Pooling/config.json", "config.json", "model.safetensors"]);
        expect(fs.existsSync(path.join(dest, HUB, "snapshots", commit(), "1_Pooling/config.json"))).to.equal(true);
    });

    it("lists files from the paginated tree API, not from a truncated siblings list", async () => {
        up.siblingsLimit = 1;
        up.treePageSize = 2;
        const result = await run();
        expect(result.failed).to.deep.equal([]);
        const treePath = `/api/models/${REPO}/tree/${commit()}`;
        expect(up.count(treePath), "pages followed through the Link header").to.equal(3); // 1 folder + 4 files
        const manifest = JSON.parse(fs.readFileSync(path.join(dest, "manifest.json"), "utf8")) as Manifest;
        expect(manifest.models[0].files.length).to.equal(3);
    });

    it("rejects a small file whose bytes differ from its git blob id even when the size matches", async () => {
        // A non-LFS file has no sha256 in the Hub's listing: its git oid is the only digest.
        up.fault(`/${REPO}/resolve/${commit()}/1_Pooling/config.json`, { kind: "corrupt" });
        const result = await run();
        expect(result.failed.map((f) => f.name)).to.deep.equal(["tiny-embed"]);
        expect(result.failed[0].error).to.match(/checksum mismatch for .*1_Pooling\/config\.json: got git blob [0-9a-f]{40}, expected [0-9a-f]{40}/);
        const again = await run();
        expect(again.failed).to.deep.equal([]);
    });

    it("stages every temporary file where no reader looks: never beside a tag or a ref", async () => {
        const created: string[] = [];
        const record = (orig: (...a: unknown[]) => unknown) => (file: unknown, ...rest: unknown[]) => {
            created.push(String(file));
            return orig(file, ...rest);
        };
        const restore = [spy(nodeFs, "writeFileSync", record), spy(nodeFs, "createWriteStream", record)];
        try {
            await run();
            moveUpstream(); // a second publish rewrites refs/main and the manifest
            await run();
        } finally {
            for (const r of restore) r();
        }
        const outside = created.map((f) => path.relative(dest, f)).filter((f) => !f.startsWith("..") && f !== ".sync.lock" && path.dirname(f) !== ".staging");
        expect(outside, "files written in place instead of renamed from staging").to.deep.equal([]);
        expect(created.some((f) => f.includes(`${path.sep}.staging${path.sep}main.tmp-`)), "refs/main staged").to.equal(true);
        expect(temps()).to.deep.equal([]);
    });

    it("sweeps temp files an older version left beside a ref or a tag, which readers take for pointers", async () => {
        await run();
        const strayRef = path.join(dest, HUB, "refs/main.tmp-4242-0badf00d");
        const strayTag = path.join(dest, "ollama/manifests/registry.ollama.ai/library/tinyllama/1b.tmp-4242-0badf00d");
        fs.writeFileSync(strayRef, commit().slice(0, 10)); // half written when the process died
        fs.writeFileSync(strayTag, "{");
        expect((await scanCacheDir(path.join(dest, "huggingface/hub"))).warnings, "the scanner drops the repo").to.have.length(1);
        const result = await run();
        expect(result.unchanged).to.deep.equal(["tiny-embed", "tinyllama"]);
        expect(fs.existsSync(strayRef)).to.equal(false);
        expect(fs.existsSync(strayTag)).to.equal(false);
        expect((await scanCacheDir(path.join(dest, "huggingface/hub"))).warnings).to.deep.equal([]);
    });

    it("a no-op rerun neither stats every file one after another nor builds a staging tree", async () => {
        const many: Record<string, Buffer> = {};
        for (let i = 0; i < 60; i++) many[`shard-${String(i).padStart(2, "0")}.json`] = Buffer.from(`{"i": ${i}}`);
        const repo = up.repos.get(REPO)!;
        up.repos.set(REPO, { ...repo, files: { ...repo.files, ...many } });
        await run();
        const snap = path.join(dest, HUB, "snapshots", commit());

        const calls = { sync: 0, async: 0, inFlight: 0, maxInFlight: 0, staging: 0 };
        const onModelFile = (p: unknown) => String(p).startsWith(snap);
        const countSync = (orig: (...a: unknown[]) => unknown) => (p: unknown, ...rest: unknown[]) => {
            if (onModelFile(p)) calls.sync++;
            return orig(p, ...rest);
        };
        const restore = [
            spy(nodeFs, "statSync", countSync),
            spy(nodeFs, "lstatSync", countSync),
            spy(nodeFs, "existsSync", countSync),
            spy(nodeFs, "accessSync", countSync),
            spy(nodeFs.promises, "stat", (orig) => async (p: unknown, ...rest: unknown[]) => {
                if (!onModelFile(p)) return orig(p, ...rest);
                calls.async++;
                calls.maxInFlight = Math.max(calls.maxInFlight, ++calls.inFlight);
                try {
                    return await orig(p, ...rest);
                } finally {
                    calls.inFlight--;
                }
            }),
            spy(nodeFs, "mkdirSync", (orig) => (p: unknown, ...rest: unknown[]) => {
                if (String(p).includes(".staging")) calls.staging++;
                return orig(p, ...rest);
            }),
        ];
        let result: SyncResult;
        try {
            result = await run();
        } finally {
            for (const r of restore) r();
        }
        expect(result.unchanged).to.deep.equal(["tiny-embed", "tinyllama"]);
        expect(calls.sync, "synchronous stats of model files").to.equal(0);
        expect(calls.async, "model files checked").to.be.within(1, NOOP_SAMPLE);
        expect(calls.maxInFlight, "checks in parallel").to.be.greaterThan(1);
        expect(calls.staging, "staging directories created").to.equal(0);
        expect(fs.existsSync(path.join(dest, ".staging"))).to.equal(false);
    });

    it("notices a file deleted behind the job's back within the sample", async () => {
        await run();
        fs.rmSync(path.join(dest, HUB, "snapshots", commit(), "config.json"));
        const result = await run();
        expect(result.synced).to.deep.equal(["tiny-embed"]);
        expect(fs.existsSync(path.join(dest, HUB, "snapshots", commit(), "config.json"))).to.equal(true);
    });
});

describe("Ollama names", () => {
    it("puts namespace/model where Ollama looks, and the default host is the same name", () => {
        // ollama types/model/name.go: [host/][namespace/]model, namespace `library` by default.
        expect(ollamaRepository("llama3.2")).to.equal("library/llama3.2");
        expect(ollamaRepository("acme/embed")).to.equal("acme/embed");
        expect(ollamaRepository("registry.ollama.ai/acme/embed")).to.equal("acme/embed");
        expect(ollamaRepository("registry.ollama.ai/llama3.2")).to.equal("library/llama3.2");
    });

    it("rejects names Ollama would parse differently from where the sync puts them", () => {
        const parse = (model: string) => () => parseModels(JSON.stringify([{ name: "m", source: "ollama", model, tag: "1b" }]), "test");
        for (const bad of ["a/b/c/d", "example.com/acme/embed", "a.b/embed", "acme/em..bed", `${"x".repeat(81)}`]) {
            expect(parse(bad), bad).to.throw(`models[0].model: must be an Ollama model name [registry.ollama.ai/][namespace/]model such as llama3.2 or acme/embed (value ${JSON.stringify(bad)})`);
        }
        for (const good of ["llama3.2", "acme/embed", "registry.ollama.ai/library/llama3.2", "hf_user/model-v1.5"]) expect(parse(good), good).not.to.throw();
    });

    it("syncs a namespaced model to manifests/registry.ollama.ai/<namespace>/<model>/<tag>", async () => {
        const up = new FakeUpstream();
        await up.start();
        const dest = fs.mkdtempSync(path.join(os.tmpdir(), "model-ollama-"));
        try {
            const tag = ollamaTag([300]);
            up.tags.set("acme/embed:v1", tag);
            const result = await sync({
                models: [{ name: "embed", source: "ollama", model: "registry.ollama.ai/acme/embed", tag: "v1" }], dest, hfEndpoint: up.endpoint, ollamaRegistry: up.endpoint,
                concurrency: 2, timeoutSeconds: 5, attempts: 1, backoffMs: 5, retentionDays: 7, lock: { heartbeatSeconds: 1, staleSeconds: 60 }, logger: createLogger(fs.createWriteStream("/dev/null")),
            });
            expect(result.failed).to.deep.equal([]);
            expect(fs.readFileSync(path.join(dest, "ollama/manifests/registry.ollama.ai/acme/embed/v1")).equals(tag.manifest)).to.equal(true);
            expect(sha256(fs.readFileSync(path.join(dest, `ollama/blobs/sha256-${sha256(tag.blobs[1])}`)))).to.equal(sha256(tag.blobs[1]));
        } finally {
            await up.stop();
            fs.rmSync(dest, { recursive: true, force: true });
        }
    });
});
