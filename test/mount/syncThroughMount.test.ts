// The model cache through real gcsfuse mounts of a Cloud Storage emulator: the compiled sync
// writes with the job's volume and environment as the program declares them, services read with
// theirs through the real entrypoint. `npm run test:mount` (tools: npm run tools).
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { LOCK } from "../../images/model-sync/src/lock";
import type { ModelSpec } from "../../images/model-sync/src/models";
import { Manifest, MANIFEST, MARKER, STAGING } from "../../images/model-sync/src/store";
import { sha256 } from "../../images/model-sync/test/fakeUpstream";
import { CacheRig, mountTestSetup, messages, SyncRun, Tools } from "./cacheRig";
import { BRANCH_REPO, LFS_FILE, newCommit, PINNED_REPO, runEntrypoint, serveModels } from "./fixtures";
import { envAt, Workload } from "./programWorkloads";
import type { StoredObject } from "./storageEmulator";

/** The files a publish vouches for: manifest, marker and every file the manifest names. */
function publishedNames(manifest: Manifest): string[] {
    return [MANIFEST, MARKER, ...manifest.models.flatMap((m) => [...m.files.map((f) => `${m.path}/${f.path}`), ...(m.pointers ?? [])])];
}

const expectOk = (run: SyncRun, what: string) => expect(run.code, `${what}: exit ${run.code} ${run.signal ?? ""}\n${JSON.stringify(run.lines.slice(-5))}\n${run.stderr}`).to.equal(0);

describe("model cache through gcsfuse and a Cloud Storage emulator", function () {
    this.timeout(120_000);
    let tools: Tools;
    let workloads: { syncJob: Workload; service: Workload };
    let rig: CacheRig | undefined;
    let models: ModelSpec[];
    let bodies: Map<string, Buffer>;

    before(async function () {
        this.timeout(180_000);
        ({ tools, workloads } = await mountTestSetup({ sha256sum: "coreutils" }));
    });

    beforeEach(async () => {
        rig = await CacheRig.start(tools, workloads);
        ({ models, bodies } = serveModels(rig.upstream));
    });

    afterEach(async function () {
        if (this.currentTest?.state === "failed" && rig !== undefined) {
            for (const m of rig.mounts) if (fs.existsSync(m.logFile)) console.log(`--- ${m.logFile}\n${fs.readFileSync(m.logFile, "utf8").slice(-3000)}`);
            console.log(`--- fake-gcs-server\n${rig.emulator.tail()}`);
        }
        await rig?.stop();
        rig = undefined;
    });

    const bucketObjects = () => rig!.emulator.list(rig!.bucket);
    const generations = (objects: Map<string, StoredObject>, names: string[]) => Object.fromEntries(names.map((n) => [n, objects.get(n)?.generation]));
    const manifestIn = async () => JSON.parse((await rig!.emulator.read(rig!.bucket, MANIFEST)).toString()) as Manifest;

    /** Syncs through a new job mount, as one job execution does. */
    async function syncOnce(extra: Record<string, string> = {}): Promise<SyncRun> {
        const mnt = await rig!.mountForJob();
        try {
            return await rig!.runSync(rig!.jobEnv(models, mnt, { mounted: true, extra }));
        } finally {
            await rig!.unmount(mnt);
        }
    }

    it("mounts the volumes the program declares: the job's read-write with its bucket as the lock's, the services' read-only", () => {
        const { syncJob, service } = workloads;
        expect(syncJob.volume.readOnly).to.equal(false);
        expect(service.volume.readOnly).to.equal(true);
        expect(syncJob.env.MODEL_CACHE_BUCKET, "the lock's bucket is the mounted one").to.equal(syncJob.volume.bucket);
        expect(syncJob.env.MODEL_CACHE_PATH, "the sync writes where the volume is mounted").to.equal(syncJob.mountPath);
        expect(service.env.MODEL_CACHE_PATH).to.equal(service.mountPath);
        expect(envAt(service, "/mnt/x").HF_HUB_CACHE).to.equal("/mnt/x/huggingface/hub");
    });

    it("with its options the job's mount sees another writer's change at once; a service's keeps the view it started with", async () => {
        await rig!.emulator.write(rig!.bucket, MANIFEST, "first");
        const job = await rig!.mountForJob();
        const service = await rig!.mountForService();
        for (const mnt of [job, service]) {
            expect(fs.readFileSync(path.join(mnt, MANIFEST), "utf8")).to.equal("first");
            expect(fs.readdirSync(mnt)).to.deep.equal([MANIFEST]);
        }
        // Another writer (the previous run, seen by a new execution; a publish, seen by a running instance).
        await rig!.emulator.write(rig!.bucket, MANIFEST, "second, longer");
        await rig!.emulator.write(rig!.bucket, MARKER, "x");
        expect(fs.readFileSync(path.join(job, MANIFEST), "utf8"), "the job reads the bucket as it is").to.equal("second, longer");
        expect(fs.readdirSync(job).sort()).to.deep.equal([MARKER, MANIFEST]);
        // Cached for the instance's life (metadata-cache-ttl-secs=-1, kernel-list-cache-ttl-secs=-1):
        // the generation it stat'ed, which the versioned bucket still serves.
        expect(fs.readFileSync(path.join(service, MANIFEST), "utf8"), "the instance reads what it started with").to.equal("first");
        expect(fs.readdirSync(service)).to.deep.equal([MANIFEST]);
    });

    it("the job publishes through its mount, locking on the bucket; at the bucket the files come before the manifest, the marker last", async () => {
        const run = await syncOnce();
        expectOk(run, "sync");
        expect(messages(run)).to.include("manifest published");
        const objects = await bucketObjects();
        const manifestBytes = await rig!.emulator.read(rig!.bucket, MANIFEST);
        const manifest = JSON.parse(manifestBytes.toString()) as Manifest;
        expect((await rig!.emulator.read(rig!.bucket, MARKER)).toString().trim()).to.equal(sha256(manifestBytes));
        expect(manifest.models.map((m) => m.name)).to.deep.equal(models.map((m) => m.name));
        // Every named file is an object with the upstream's bytes.
        for (const m of manifest.models) {
            for (const f of m.files) {
                const body = await rig!.emulator.read(rig!.bucket, `${m.path}/${f.path}`);
                expect(sha256(body), `${m.path}/${f.path}`).to.equal(f.sha256);
                expect(bodies.get(f.sha256)?.equals(body), `${m.path}/${f.path} is an upstream file`).to.equal(true);
            }
        }
        expect(objects.has(`huggingface/hub/models--acme--tiny-embed/snapshots/${rig!.upstream.repos.get(PINNED_REPO)!.sha}/${LFS_FILE}`)).to.equal(true);
        expect((await rig!.emulator.read(rig!.bucket, "huggingface/hub/models--acme--tiny-chat/refs/main")).toString()).to.equal(rig!.upstream.repos.get(BRANCH_REPO)!.sha);

        // Generations are the bucket's own write times: the order a reader could observe.
        const files = publishedNames(manifest).filter((n) => n !== MANIFEST && n !== MARKER);
        const latestFile = Math.max(...files.map((n) => objects.get(n)!.generation));
        expect(latestFile, "every model file before the manifest").to.be.lessThan(objects.get(MANIFEST)!.generation);
        expect(objects.get(MANIFEST)!.generation, "the manifest before the marker").to.be.lessThan(objects.get(MARKER)!.generation);

        // The lock went to the emulator through the JSON API (taken with ifGenerationMatch=0, then
        // released), never through the mount; nothing of the run is left.
        const lockCalls = rig!.lockApi.requests.filter((r) => r.path.includes(LOCK));
        expect(lockCalls.some((r) => r.method === "POST" && r.path.includes("ifGenerationMatch=0")), JSON.stringify(rig!.lockApi.requests)).to.equal(true);
        expect(lockCalls.some((r) => r.method === "DELETE"), "released").to.equal(true);
        expect([...objects.keys()].filter((n) => n === LOCK || n.startsWith(`${STAGING}/`))).to.deep.equal([]);
    });

    it("a rerun with nothing changed upstream downloads no byte and rewrites no object", async () => {
        expectOk(await syncOnce(), "first sync");
        const before = await bucketObjects();
        const served = rig!.upstream.modelBytes;
        const again = await syncOnce();
        expectOk(again, "rerun");
        expect(messages(again)).to.not.include("manifest published");
        expect(again.lines.filter((l) => l.message === "model unchanged").map((l) => l.model)).to.have.members(models.map((m) => m.name));
        expect(rig!.upstream.modelBytes - served, "model bytes served").to.equal(0);
        const after = await bucketObjects();
        expect(generations(after, [...after.keys()])).to.deep.equal(generations(before, [...before.keys()]));
    });

    it("a branch that moved upstream publishes a new revision of that model only", async () => {
        expectOk(await syncOnce(), "first sync");
        const previous = await manifestIn();
        const commit = newCommit(rig!.upstream, BRANCH_REPO, 600_000);
        const served = rig!.upstream.modelBytes;
        const run = await syncOnce();
        expectOk(run, "sync after the move");
        expect(messages(run)).to.include("manifest published");
        expect(run.lines.filter((l) => l.message === "model synced").map((l) => l.model)).to.deep.equal(["tiny-chat"]);
        const files = Object.values(rig!.upstream.repos.get(BRANCH_REPO)!.files);
        expect(rig!.upstream.modelBytes - served, "only the moved repo's files").to.equal(files.reduce((a, f) => a + f.length, 0));
        const manifest = await manifestIn();
        expect(manifest.revision).to.not.equal(previous.revision);
        expect(manifest.models.find((m) => m.name === "tiny-chat")!.revision).to.equal(commit);
        expect(manifest.models.filter((m) => m.name !== "tiny-chat")).to.deep.equal(previous.models.filter((m) => m.name !== "tiny-chat"));
        expect((await rig!.emulator.read(rig!.bucket, "huggingface/hub/models--acme--tiny-chat/refs/main")).toString()).to.equal(commit);
        const objects = await bucketObjects();
        const old = previous.models.find((m) => m.name === "tiny-chat")!.path;
        expect(objects.has(`${old}/${LFS_FILE}`), "the previous revision stays for the retention").to.equal(true);
    });

    it("SIGKILL mid-download, after another model finished, leaves the previous publish intact, refs included; once the dead run's lock is stale, a rerun converges", async () => {
        expectOk(await syncOnce(), "first sync");
        const previous = await manifestIn();
        const published = generations(await bucketObjects(), publishedNames(previous));
        // The pinned model moves to a new commit, and the branch of the other moves too.
        const commit = newCommit(rig!.upstream, PINNED_REPO, 3_000_000);
        const branchCommit = newCommit(rig!.upstream, BRANCH_REPO, 100_000);
        models[0] = { ...models[0], revision: commit } as ModelSpec;
        const big = rig!.upstream.repos.get(PINNED_REPO)!.files[LFS_FILE];
        const cdnPath = `/cdn/${sha256(big)}`;
        // A slow upstream: half a megabyte, then nothing for longer than the test waits.
        rig!.upstream.fault(cdnPath, { kind: "stall", afterBytes: 500_000, ms: 60_000 });
        // Beats every second, so its lock is stale 4 s after its last beat (4 × heartbeat).
        const lockTiming = { SYNC_LOCK_HEARTBEAT_SECONDS: "1" };
        const mnt = await rig!.mountForJob();
        const { child, logged, done } = rig!.startSync(rig!.jobEnv(models, mnt, { mounted: true, extra: lockTiming }));
        const branchDone = () => logged({ message: "model synced", model: "tiny-chat", revision: branchCommit });
        const deadline = Date.now() + 30_000;
        while (!(rig!.upstream.count(cdnPath) > 0 && branchDone()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        expect(rig!.upstream.count(cdnPath), "the download started").to.equal(1);
        expect(branchDone(), "the moved branch is downloaded").to.equal(true);
        await new Promise((r) => setTimeout(r, 300));
        child.kill("SIGKILL");
        expect((await done).signal).to.equal("SIGKILL");
        await rig!.unmount(mnt);

        const afterKill = await bucketObjects();
        expect(generations(afterKill, publishedNames(previous)), "manifest, marker and every file they name, untouched").to.deep.equal(published);
        expect((await rig!.emulator.read(rig!.bucket, MARKER)).toString().trim()).to.equal(sha256(await rig!.emulator.read(rig!.bucket, MANIFEST)));
        expect(afterKill.has(LOCK), "the dead run's lock").to.equal(true);
        expect([...afterKill.keys()].filter((n) => n.startsWith(`${STAGING}/`) && n !== `${STAGING}/`), "what it was downloading, in staging").to.have.length.greaterThan(0);

        rig!.upstream.faults.clear();
        const expiresAt = Date.parse(afterKill.get(LOCK)!.metadata.expiresAt);
        expect(expiresAt, "the lock records its expiry").to.be.greaterThan(0);
        await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 200));
        const rerun = await syncOnce(lockTiming);
        expectOk(rerun, "rerun");
        expect(messages(rerun)).to.include("manifest published");
        const manifest = await manifestIn();
        expect(manifest.models[0].revision).to.equal(commit);
        expect((await rig!.emulator.read(rig!.bucket, "huggingface/hub/models--acme--tiny-chat/refs/main")).toString(), "the branch's ref, with the publish").to.equal(branchCommit);
        const objects = await bucketObjects();
        expect(sha256(await rig!.emulator.read(rig!.bucket, `${manifest.models[0].path}/${LFS_FILE}`))).to.equal(sha256(big));
        expect([...objects.keys()].filter((n) => n === LOCK || n.startsWith(`${STAGING}/`)), "staging cleared, lock released").to.deep.equal([]);
    });

    it("two syncs at once, each on its own mount: exactly one publishes, the other exits 75 before fetching anything", async () => {
        rig!.upstream.fault("/files/weights.bin", { kind: "stall", afterBytes: 1000, ms: 1500 });
        const [a, b] = [await rig!.mountForJob(), await rig!.mountForJob()];
        const runs = await Promise.all([a, b].map((mnt) => rig!.runSync(rig!.jobEnv(models, mnt, { mounted: true }))));
        expect(runs.map((r) => r.code).sort()).to.deep.equal([0, 75]);
        expect(runs.filter((r) => messages(r).includes("manifest published"))).to.have.length(1);
        const loser = runs.find((r) => r.code === 75)!;
        expect(JSON.stringify(loser.lines)).to.include(`another sync holds gs://${rig!.bucket}/${LOCK}`);
        expect(messages(loser)).to.not.include("model synced");
        expect(rig!.upstream.count("/files/weights.bin"), "one download").to.equal(1);
        expect((await bucketObjects()).has(LOCK), "released").to.equal(false);
    });

    it("the emulator does not enforce ifGenerationMatch on delete (the lock's release is pinned against the loopback JSON API server instead)", async () => {
        // fake-gcs-server fakestorage/object.go deleteObject reads `generation`, never
        // `ifGenerationMatch`; images/model-sync/test/bucketLock.test.ts ("does not delete a
        // successor's lock on release") covers the release against test/fakeGcs.ts, which does.
        const held = await rig!.emulator.write(rig!.bucket, LOCK, "{}");
        const res = await rig!.emulator.request("DELETE", `/storage/v1/b/${rig!.bucket}/o/${encodeURIComponent(LOCK)}?ifGenerationMatch=${held.generation + 1}`);
        expect(res.status, "deleted (GCS answers 412 Precondition Failed)").to.equal(200);
        expect((await bucketObjects()).has(LOCK)).to.equal(false);
    });

    describe("a service instance: the read-only mount and the real entrypoint", () => {
        /** Runs the entrypoint in a fresh service mount (a new instance), then `script`. */
        async function serviceStart(script: string, args: string[] = []) {
            const mnt = await rig!.mountForService();
            const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", ...envAt(workloads.service, mnt), LOCAL_MODEL_CACHE: path.join(rig!.dir, "local") };
            return { mnt, run: await runEntrypoint(env, ["sh", "-c", script, "sh", ...args]) };
        }

        it("on a published cache: a hit with the manifest's revision; the files read back byte-exact; writes are refused", async () => {
            expectOk(await syncOnce(), "sync");
            const manifest = await manifestIn();
            const files = manifest.models.flatMap((m) => m.files.map((f) => ({ rel: `${m.path}/${f.path}`, sha256: f.sha256 })));
            const { mnt, run: hit } = await serviceStart('echo "HF_HUB_CACHE=$HF_HUB_CACHE HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-}"; cd "$MODEL_CACHE_PATH" && sha256sum "$@"', files.map((f) => f.rel));
            expect(hit.code, hit.stderr).to.equal(0);
            expect(hit.decision).to.include({ cache_hit: true, revision: manifest.revision, cache_path: mnt });
            const [first, ...sums] = hit.output.trim().split("\n");
            expect(first).to.equal(`HF_HUB_CACHE=${mnt}/huggingface/hub HF_HUB_OFFLINE=1`);
            expect(sums).to.deep.equal(files.map((f) => `${f.sha256}  ${f.rel}`));
            for (const f of files) expect(fs.readFileSync(path.join(mnt, f.rel)).equals(bodies.get(f.sha256)!), f.rel).to.equal(true);
            let err: NodeJS.ErrnoException | undefined;
            try {
                fs.writeFileSync(path.join(mnt, MARKER), "0".repeat(64));
            } catch (e) {
                err = e as NodeJS.ErrnoException;
            }
            expect(err?.code, "the service's volume is read-only").to.equal("EROFS");
        });

        it("on an empty bucket: a miss (no marker) that falls back to a local directory", async () => {
            const { run } = await serviceStart('echo "HF_HUB_CACHE=$HF_HUB_CACHE"');
            expect(run.code, run.stderr).to.equal(0);
            expect(run.decision).to.include({ cache_hit: false, reason: "no_marker", severity: "WARNING" });
            expect(run.output.trim()).to.equal(`HF_HUB_CACHE=${path.join(rig!.dir, "local")}/huggingface/hub`);
        });

        it("between a manifest and its marker: a miss (stale marker)", async () => {
            expectOk(await syncOnce(), "sync");
            // Another publish has replaced the manifest; its marker is not written yet.
            await rig!.emulator.write(rig!.bucket, MANIFEST, (await rig!.emulator.read(rig!.bucket, MANIFEST)).toString().replace(/"revision": "[^"]*"/, '"revision": "next"'));
            const { run } = await serviceStart("true");
            expect(run.decision).to.include({ cache_hit: false, reason: "stale_marker" });
        });
    });
});
