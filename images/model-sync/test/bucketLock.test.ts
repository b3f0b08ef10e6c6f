// The run lock on the bucket, driven by the real @google-cloud/storage client against a loopback
// server speaking the JSON API with generation preconditions.
import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Storage } from "@google-cloud/storage";
import { expect } from "chai";
import { acquireRunLock, HeldLock, LOCK, LockHeldError, LockLostError, LockOptions } from "../src/lock";
import { createLogger } from "../src/log";
import type { ModelSpec } from "../src/models";
import { sync, SyncResult } from "../src/sync";
import { FakeGcs } from "./fakeGcs";
import { Lines } from "./logLines";
import { FakeUpstream, sha256 } from "./fakeUpstream";

const BUCKET = "warmstart-models-test";

describe("run lock on the bucket (real client, loopback JSON API)", function () {
    this.timeout(30000);
    let gcs: FakeGcs;
    // A client per contender, as two job executions would have; no credentials on a custom endpoint.
    const client = () => new Storage({ apiEndpoint: gcs.endpoint, projectId: "test", retryOptions: { maxRetries: 1 } });
    const options = (extra: Partial<LockOptions> = {}): LockOptions => ({ bucket: BUCKET, heartbeatSeconds: 10, staleSeconds: 30, storage: client(), ...extra });
    const lockObject = () => gcs.objects.get(`${BUCKET}/${LOCK}`);
    const settle = async (ps: Promise<HeldLock>[]) => {
        const results = await Promise.allSettled(ps);
        return {
            won: results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : [])),
            lost: results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : [])),
        };
    };

    beforeEach(async () => {
        gcs = new FakeGcs();
        await gcs.start();
    });
    afterEach(() => gcs.stop());

    it("takes the lock with ifGenerationMatch=0: of contenders at once, exactly one holds it", async () => {
        const { won, lost } = await settle([1, 2, 3].map(() => acquireRunLock("/unused", options())));
        expect(won).to.have.length(1);
        expect(lost).to.have.length(2);
        for (const e of lost) expect(e).to.be.instanceOf(LockHeldError).and.not.to.be.instanceOf(LockLostError);
        expect(lost[0].message).to.match(/another sync holds gs:\/\/warmstart-models-test\/\.sync\.lock \(.+\/\d+\/[0-9a-f]+, alive until/);
        const inserts = gcs.requests.filter((r) => r.method === "POST");
        expect(inserts.map((r) => r.query.get("ifGenerationMatch"))).to.deep.equal(["0", "0", "0"]);
        await won[0].release();
        expect(lockObject(), "released").to.equal(undefined);
    });

    it("takes over a stale lock with the generation it read: of two racing contenders, exactly one wins", async () => {
        const stale = gcs.put(BUCKET, LOCK, "{}", { owner: "crashed/1/x", expiresAt: new Date(Date.now() - 1000).toISOString() });
        gcs.takeoverBarrier = 2; // both have read the stale generation before either replaces it
        const { won, lost } = await settle([acquireRunLock("/unused", options()), acquireRunLock("/unused", options())]);
        expect(won).to.have.length(1);
        expect(lost).to.have.length(1);
        expect(lost[0].message).to.match(/took over the stale .* first/);
        const takeovers = gcs.requests.filter((r) => r.method === "POST" && r.query.get("ifGenerationMatch") !== "0");
        expect(takeovers.map((r) => r.query.get("ifGenerationMatch"))).to.deep.equal([String(stale.generation), String(stale.generation)]);
        await won[0].verify();
        await won[0].release();
    });

    it("keeps a lock whose holder beats, each beat a new generation conditioned on the last", async () => {
        const held = await acquireRunLock("/unused", options({ heartbeatSeconds: 0.2, staleSeconds: 0.6 }));
        const first = lockObject()!.generation;
        await new Promise((r) => setTimeout(r, 1000));
        expect(lockObject()!.generation).to.be.greaterThan(first);
        let err: unknown;
        await acquireRunLock("/unused", options()).catch((e) => (err = e));
        expect(err, "taken over while its holder beats").to.be.instanceOf(LockHeldError);
        await held.verify();
        await held.release();
        expect(lockObject()).to.equal(undefined);
    });

    it("does not delete a successor's lock on release with the generation it held", async () => {
        const old = await acquireRunLock("/unused", options({ heartbeatSeconds: 60, staleSeconds: 0.3 }));
        await new Promise((r) => setTimeout(r, 400)); // its heartbeat never came: stale
        const successor = await acquireRunLock("/unused", options());
        const theirs = lockObject()!.generation;
        await old.release();
        expect(lockObject()?.generation, "the successor's lock").to.equal(theirs);
        let err: unknown;
        await old.verify().catch((e) => (err = e));
        expect(err).to.be.instanceOf(LockLostError);
        await successor.release();
        expect(lockObject()).to.equal(undefined);
    });

    describe("two sync runs on one bucket", () => {
        let up: FakeUpstream;
        let dest: string;
        let models: ModelSpec[];

        beforeEach(async () => {
            up = new FakeUpstream();
            await up.start();
            const file = Buffer.alloc(200_000, 7);
            up.urls.set("weights.bin", file);
            models = [{ name: "weights", source: "url", url: `${up.endpoint}/files/weights.bin`, sha256: sha256(file), path: "weights.bin" }];
            dest = fs.mkdtempSync(path.join(os.tmpdir(), "bucket-lock-"));
        });
        afterEach(async () => {
            await up.stop();
            fs.rmSync(dest, { recursive: true, force: true });
        });

        const run = (logs: Lines, lock: Partial<LockOptions> = {}): Promise<SyncResult> => sync({
            models, dest, hfEndpoint: up.endpoint, ollamaRegistry: up.endpoint, concurrency: 2, timeoutSeconds: 5, attempts: 2, backoffMs: 5,
            retentionDays: 7, lock: options(lock), logger: createLogger(logs),
        });

        it("started together: exactly one publishes, the other stops with the lock held", async () => {
            const logs = [new Lines(), new Lines()];
            const results = await Promise.allSettled(logs.map((l) => run(l)));
            const ok = results.filter((r) => r.status === "fulfilled");
            const refused = results.flatMap((r) => (r.status === "rejected" ? [r.reason as Error] : []));
            expect(ok).to.have.length(1);
            expect(refused).to.have.length(1);
            expect(refused[0]).to.be.instanceOf(LockHeldError);
            expect(logs.flatMap((l) => l.lines).filter((l) => l.message === "manifest published")).to.have.length(1);
            expect(up.count(`/files/weights.bin`), "one download").to.equal(1);
            expect(fs.existsSync(path.join(dest, ".done"))).to.equal(true);
            expect(lockObject(), "released").to.equal(undefined);
        });

        it("as two processes of the real program: one exits 0 and publishes, the other exits 75", async () => {
            const cli = path.resolve(__dirname, "../src/cli.ts");
            const env = {
                ...process.env, MODELS_JSON: JSON.stringify(models), MODEL_CACHE_PATH: dest, MODEL_CACHE_BUCKET: BUCKET,
                // How the client is pointed at an emulator without credentials (storage.ts, STORAGE_EMULATOR_HOST).
                STORAGE_EMULATOR_HOST: gcs.endpoint, SYNC_BACKOFF_MS: "5",
            };
            up.fault("/files/weights.bin", { kind: "stall", afterBytes: 1000, ms: 1500 });
            const runCli = () => new Promise<{ code: number | null; out: string }>((resolve) => {
                const child = spawn(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", cli], { env, stdio: ["ignore", "pipe", "inherit"] });
                let out = "";
                child.stdout.on("data", (d: Buffer) => (out += d.toString()));
                child.on("exit", (code) => resolve({ code, out }));
            });
            const runs = await Promise.all([runCli(), runCli()]);
            expect(runs.map((r) => r.code).sort()).to.deep.equal([0, 75]);
            expect(runs.filter((r) => r.out.includes('"manifest published"'))).to.have.length(1);
            expect(runs.find((r) => r.code === 75)!.out).to.include("another sync holds gs://warmstart-models-test/.sync.lock");
            expect(fs.existsSync(path.join(dest, ".done"))).to.equal(true);
            expect(lockObject(), "released").to.equal(undefined);
        });

        it("stops before publishing when its lock was taken over mid-run", async () => {
            up.fault("/files/weights.bin", { kind: "stall", afterBytes: 1000, ms: 1500 });
            const logs = new Lines();
            const running = run(logs, { heartbeatSeconds: 0.2, staleSeconds: 0.6 });
            await new Promise((r) => setTimeout(r, 500));
            // Another execution judged it stale (its beats had stalled) and took over.
            const other = gcs.put(BUCKET, LOCK, "{}", { owner: "other/2/y", expiresAt: new Date(Date.now() + 60_000).toISOString() });
            let err: unknown;
            await running.catch((e) => (err = e));
            expect(err).to.be.instanceOf(LockLostError);
            expect(fs.existsSync(path.join(dest, "manifest.json")), "manifest").to.equal(false);
            expect(fs.existsSync(path.join(dest, ".done")), "marker").to.equal(false);
            expect(lockObject()?.generation, "the other run's lock stays").to.equal(other.generation);
            expect(logs.lines.some((l) => l.message === "manifest published")).to.equal(false);
        });
    });
});
