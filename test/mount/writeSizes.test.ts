// How the compiled sync writes a model's files, seen in its system calls (strace): to a local disk
// in writes of at most 64 KiB, where larger writes cost the page cache far more
// (images/model-sync/src/download.ts, LOCAL_WRITE_BYTES); through the job's gcsfuse mount in large
// writes, where every write is a round trip to gcsfuse. One file takes the ranged path (64 MiB or
// more, parallel Range requests), one the single stream.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import type { ModelSpec } from "../../images/model-sync/src/models";
import { STAGING } from "../../images/model-sync/src/store";
import { sha256 } from "../../images/model-sync/test/fakeUpstream";
import { CacheRig, mountTestSetup, SyncRun, Tools } from "./cacheRig";
import type { Workload } from "./programWorkloads";

const KiB = 1024;
const MiB = 1024 * KiB;
const FILES = { "ranged.bin": 72 * MiB, "single.bin": 3 * MiB + 123 };

interface TracedWrite {
    file: string;
    bytes: number;
}

/** The positional writes (what a file gets) that strace -ff logged to `<prefix>.<tid>`, to files under STAGING. */
function stagedWrites(prefix: string): TracedWrite[] {
    const writes: TracedWrite[] = [];
    const dir = path.dirname(prefix);
    // One log per thread (-ff), so no call is split across lines by another thread's. -y:
    // `pwrite64(21</path/to/file>, "..."..., 65536, 0) = 65536`; pwritev's buffers print in
    // brackets. The result is the bytes written.
    for (const log of fs.readdirSync(dir).filter((f) => f.startsWith(`${path.basename(prefix)}.`))) {
        for (const line of fs.readFileSync(path.join(dir, log), "utf8").split("\n")) {
            const m = /^pwrite(?:64|v2?)\(\d+<([^>]+)>,.*\)\s+=\s+(\d+)$/.exec(line);
            if (m !== null && m[1].includes(`/${STAGING}/`)) writes.push({ file: m[1], bytes: Number(m[2]) });
        }
    }
    return writes;
}

/** Per staged file: how many writes, their total and the largest, keyed by file size. */
function bySize(writes: TracedWrite[]): Map<number, { count: number; largest: number }> {
    const files = new Map<string, { count: number; total: number; largest: number }>();
    for (const w of writes) {
        const f = files.get(w.file) ?? { count: 0, total: 0, largest: 0 };
        files.set(w.file, { count: f.count + 1, total: f.total + w.bytes, largest: Math.max(f.largest, w.bytes) });
    }
    return new Map([...files.values()].map((f) => [f.total, { count: f.count, largest: f.largest }]));
}

describe("the sync's writes, traced: 64 KiB to a local disk, large through gcsfuse", function () {
    this.timeout(180_000);
    let tools: Tools;
    let workloads: { syncJob: Workload; service: Workload };
    let rig: CacheRig | undefined;
    let models: ModelSpec[];

    before(async function () {
        ({ tools, workloads } = await mountTestSetup({ strace: "strace" }));
    });

    beforeEach(async () => {
        rig = await CacheRig.start(tools, workloads);
        models = Object.entries(FILES).map(([name, size]) => {
            const body = randomBytes(size);
            rig!.upstream.urls.set(name, body);
            return { name: name.replace(".bin", ""), source: "url", url: `${rig!.upstream.endpoint}/files/${name}`, sha256: sha256(body), path: `files/${name}` } as ModelSpec;
        });
    });

    afterEach(async () => {
        await rig?.stop();
        rig = undefined;
    });

    /** Syncs to `dest` under strace; the staged files' writes, by file size. */
    async function tracedSync(dest: string, mounted: boolean): Promise<Map<number, { count: number; largest: number }>> {
        const log = path.join(rig!.dir, `strace-${mounted ? "mount" : "local"}.log`);
        // --seccomp-bpf: only the traced calls stop the program, so the trace barely slows it.
        const strace = ["strace", "-ff", "-qq", "--seccomp-bpf", "-y", "-e", "trace=pwrite64,pwritev,pwritev2", "-o", log];
        const run: SyncRun = await rig!.runSync(rig!.jobEnv(models, dest, { mounted }), strace);
        expect(run.code, `sync: exit ${run.code}\n${JSON.stringify(run.lines.slice(-5))}\n${run.stderr}`).to.equal(0);
        return bySize(stagedWrites(log));
    }

    it("writes each file to a local disk in writes of at most 64 KiB", async () => {
        const files = await tracedSync(path.join(rig!.dir, "local"), false);
        expect([...files.keys()].sort(), "every byte of each file traced").to.deep.equal(Object.values(FILES).sort());
        for (const [size, f] of files) {
            expect(f.largest, `largest write of the ${size}-byte file`).to.be.at.most(64 * KiB);
            expect(f.count).to.be.at.least(Math.ceil(size / (64 * KiB)));
        }
    });

    it("writes each file through the job's gcsfuse mount in writes of 1 MiB or more", async () => {
        const mnt = await rig!.mountForJob();
        const files = await tracedSync(mnt, true);
        expect([...files.keys()].sort(), "every byte of each file traced").to.deep.equal(Object.values(FILES).sort());
        // The ranged file in runs of at least 1 MiB (STREAM_BYTES) but where a run ends an 8 MiB
        // part; the single stream as its chunks were gathered (up to 1024 of them per writev).
        const ranged = FILES["ranged.bin"];
        expect(files.get(ranged)!.count).to.be.at.most(ranged / MiB + Math.ceil(ranged / (8 * MiB)));
        for (const [size, f] of files) expect(f.largest, `largest write of the ${size}-byte file`).to.be.at.least(MiB);
    });
});
