// A crashed run's retry converges: the real program in child processes, killed with SIGKILL
// mid-download, then run again at once, with the lock's stale limit (120 s) far away. A holder
// that provably ended is taken over; a live one, or one this run cannot check, still gets 75.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { LOCK } from "../src/lock";
import { holderGone, thisProcess } from "../src/lock/holder";
import { FakeGcs } from "./fakeGcs";
import { FakeUpstream, sha256 } from "./fakeUpstream";

const CLI = path.resolve(__dirname, "../src/cli.ts");
const BUCKET = "warmstart-models-test";
const FILE = "/files/weights.bin";

/** A run of the program: its exit code, its log lines, and the process to kill. */
interface Run {
    child: ChildProcess;
    lines: () => Record<string, unknown>[];
    exited: Promise<number | null>;
}

// Another host name (a UTS namespace) or a fresh pid namespace where the program is pid 1, as in
// a container: both need unshare(1) with the right to create namespaces (root, as in CI).
const canUnshare = spawnSync("unshare", ["--uts", "--pid", "--fork", "--mount-proc", "true"]).status === 0;

/** On another host: its own host name, in a UTS namespace. */
const onHost = (name: string) => ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', name];
/** As a container's main process: pid 1 of a new pid namespace, on this host's name; killed with unshare. */
const asPidOne = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"];

describe("a crashed run's retry takes over its lock at once (real processes, SIGKILL)", function () {
    this.timeout(90000);
    let up: FakeUpstream;
    let dest: string;
    let modelsJson: string;
    const runs: Run[] = [];

    function start(env: Record<string, string>, wrap: string[] = []): Run {
        const argv = [...wrap, process.execPath, require.resolve("ts-node/dist/bin.js"), "--transpile-only", CLI];
        const child = spawn(argv[0], argv.slice(1), {
            env: { ...process.env, MODELS_JSON: modelsJson, MODEL_CACHE_PATH: dest, HF_ENDPOINT: up.endpoint, OLLAMA_REGISTRY: up.endpoint, SYNC_BACKOFF_MS: "5", ...env },
            stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        const run = { child, exited, lines: () => out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
        runs.push(run);
        return run;
    }

    /** Starts a run that stalls mid-download, holding the lock, and waits until it does. */
    async function stalled(env: Record<string, string>, wrap: string[] = []): Promise<Run> {
        up.fault(FILE, { kind: "stall", afterBytes: 1000, ms: 60_000 });
        const before = up.count(FILE);
        const run = start(env, wrap);
        const deadline = Date.now() + 60_000;
        while (up.count(FILE) === before && Date.now() < deadline) {
            if (run.child.exitCode !== null) throw new Error(`the run exited ${run.child.exitCode} before downloading: ${JSON.stringify(run.lines())}`);
            await new Promise((r) => setTimeout(r, 50));
        }
        up.faults.clear();
        return run;
    }

    async function kill(run: Run): Promise<void> {
        run.child.kill("SIGKILL");
        await run.exited;
    }

    const message = (run: Run, text: string) => run.lines().find((l) => l.message === text);

    beforeEach(async () => {
        up = new FakeUpstream();
        await up.start();
        const file = Buffer.alloc(200_000, 7);
        up.urls.set("weights.bin", file);
        modelsJson = JSON.stringify([{ name: "weights", source: "url", url: `${up.endpoint}${FILE}`, sha256: sha256(file), path: "weights.bin" }]);
        dest = fs.mkdtempSync(path.join(os.tmpdir(), "lock-takeover-"));
    });

    afterEach(async () => {
        for (const run of runs.splice(0)) if (run.child.exitCode === null && run.child.signalCode === null) await kill(run);
        await up.stop();
        fs.rmSync(dest, { recursive: true, force: true });
    });

    describe("the file lock", () => {
        it("a run killed on this host: the next run takes its lock over at once and publishes", async () => {
            const killed = await stalled({});
            await kill(killed);
            const record = JSON.parse(fs.readFileSync(path.join(dest, LOCK), "utf8")) as Record<string, string>;
            expect(record).to.include({ host: os.hostname(), pid: String(killed.child.pid) });
            expect(record.processStart).to.match(/^\d+$/);
            expect(record.bootId).to.equal(fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());

            const retry = start({});
            expect(await retry.exited).to.equal(0);
            expect(message(retry, "took over the lock of a run that stopped")?.previous).to.match(new RegExp(`/${killed.child.pid}/.*: process ${killed.child.pid} on .* has exited`));
            expect(message(retry, "manifest published")).not.to.equal(undefined);
            expect(fs.existsSync(path.join(dest, LOCK)), "released").to.equal(false);
        });

        it("a live run on this host still holds it: the next run exits 75", async () => {
            const live = await stalled({});
            const second = start({});
            expect(await second.exited).to.equal(75);
            expect(message(second, "another sync is running")?.error).to.match(new RegExp(`another sync holds .*\\.sync\\.lock \\(.+/${live.child.pid}/`));
            expect(live.child.exitCode, "the holder runs on").to.equal(null);
        });

        it("pid 1 again under the same host name, as a restarted container: another life, so taken over at once", async function () {
            if (!canUnshare) this.skip(); // no right to create namespaces here
            const killed = await stalled({}, asPidOne);
            const record = JSON.parse(fs.readFileSync(path.join(dest, LOCK), "utf8")) as Record<string, string>;
            expect(record).to.include({ host: os.hostname(), pid: "1" });
            await kill(killed);
            const restarted = start({}, asPidOne);
            expect(await restarted.exited).to.equal(0);
            expect(message(restarted, "took over the lock of a run that stopped")?.previous).to.match(/: process 1 on .* is a later one than the holder \(started at tick \d+, the holder at \d+\)/);
        });
    });

    describe("the bucket lock (loopback JSON API)", () => {
        let gcs: FakeGcs;
        // How the client is pointed at an emulator without credentials (storage.ts, STORAGE_EMULATOR_HOST).
        const bucketEnv = () => ({ MODEL_CACHE_BUCKET: BUCKET, STORAGE_EMULATOR_HOST: gcs.endpoint });
        // What Cloud Run sets in a job's task (container contract: CLOUD_RUN_EXECUTION,
        // CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_ATTEMPT, from 0, one more on each retry).
        const task = (execution: string, attempt: number) => ({ CLOUD_RUN_EXECUTION: execution, CLOUD_RUN_TASK_INDEX: "0", CLOUD_RUN_TASK_ATTEMPT: String(attempt) });
        const lockMetadata = () => gcs.objects.get(`${BUCKET}/${LOCK}`)?.metadata;

        beforeEach(async () => {
            gcs = new FakeGcs();
            await gcs.start();
        });
        afterEach(() => gcs.stop());

        it("the retry of a killed Cloud Run task, on another instance, takes the lock over at once", async function () {
            if (!canUnshare) this.skip();
            const killed = await stalled({ ...bucketEnv(), ...task("model-sync-7x2kq", 0) }, onHost("instance-a"));
            expect(lockMetadata()).to.include({ host: "instance-a", execution: "model-sync-7x2kq", task: "0", attempt: "0" });
            await kill(killed);
            const retry = start({ ...bucketEnv(), ...task("model-sync-7x2kq", 1) }, onHost("instance-b"));
            expect(await retry.exited).to.equal(0);
            expect(message(retry, "took over the lock of a run that stopped")?.previous).to.match(/^instance-a\/\d+\/[0-9a-f]+: attempt 0 of task 0 of model-sync-7x2kq has ended \(this is attempt 1\)$/);
            expect(message(retry, "manifest published")).not.to.equal(undefined);
            expect(lockMetadata(), "released").to.equal(undefined);
        });

        it("another execution, on another instance, waits for a killed run's lock to go stale: exit 75", async function () {
            if (!canUnshare) this.skip();
            const killed = await stalled({ ...bucketEnv(), ...task("model-sync-7x2kq", 0) }, onHost("instance-a"));
            await kill(killed);
            // A later attempt number, but of another execution's task: not a retry of the killed one.
            const other = start({ ...bucketEnv(), ...task("model-sync-9m4tz", 1) }, onHost("instance-b"));
            expect(await other.exited).to.equal(75);
            expect(message(other, "another sync is running")?.error).to.match(/another sync holds gs:\/\/warmstart-models-test\/\.sync\.lock \(instance-a\//);
            expect(lockMetadata()).to.include({ execution: "model-sync-7x2kq" });
        });

        it("a run killed on this host: the next takes the bucket lock over at once; a live one still gets 75", async () => {
            const live = await stalled(bucketEnv());
            const second = start(bucketEnv());
            expect(await second.exited, "while the holder lives").to.equal(75);
            await kill(live);
            const third = start(bucketEnv());
            expect(await third.exited, "once it was killed").to.equal(0);
            expect(message(third, "took over the lock of a run that stopped")?.previous).to.match(new RegExp(`: process ${live.child.pid} on .* has exited$`));
            expect(lockMetadata(), "released").to.equal(undefined);
        });
    });
});

describe("what a lock holder's record proves", () => {
    const self = thisProcess({ CLOUD_RUN_EXECUTION: "model-sync-7x2kq", CLOUD_RUN_TASK_INDEX: "0", CLOUD_RUN_TASK_ATTEMPT: "1" });
    let exitedPid: string;

    before(async function () {
        if (self.bootId === undefined) this.skip(); // no /proc here: nothing is judged, only staleness
        const child = spawn(process.execPath, ["-e", ""]);
        await new Promise((r) => child.on("exit", r));
        exitedPid = String(child.pid);
    });

    it("an exited process of this host and boot has ended", () => {
        expect(holderGone({ host: self.host, bootId: self.bootId, pid: exitedPid, processStart: "1" }, self)).to.match(/has exited/);
    });

    it("proves nothing of another boot, another host or a record without a start time", () => {
        expect(holderGone({ host: self.host, bootId: "another-boot", pid: exitedPid, processStart: "1" }, self), "another boot").to.equal(undefined);
        expect(holderGone({ host: "elsewhere", bootId: self.bootId, pid: exitedPid, processStart: "1" }, self), "another host").to.equal(undefined);
        expect(holderGone({ host: self.host, bootId: self.bootId, pid: exitedPid }, self), "no start time").to.equal(undefined);
    });

    it("this very process is alive", () => {
        expect(holderGone(self, self)).to.equal(undefined);
    });

    it("of a Cloud Run task, only an earlier attempt of the same task of the same execution has ended", () => {
        const elsewhere = { host: "instance-a", pid: "1", execution: "model-sync-7x2kq", task: "0" };
        expect(holderGone({ ...elsewhere, attempt: "0" }, self)).to.match(/attempt 0 of task 0 of model-sync-7x2kq has ended/);
        expect(holderGone({ ...elsewhere, attempt: "1" }, self), "the same attempt").to.equal(undefined);
        expect(holderGone({ ...elsewhere, attempt: "0", task: "1" }, self), "another task").to.equal(undefined);
        expect(holderGone({ ...elsewhere, attempt: "0", execution: "model-sync-9m4tz" }, self), "another execution").to.equal(undefined);
    });
});
