// One test's world: a Cloud Storage emulator holding the program's cache bucket, gcsfuse mounts of
// it with the job's or a service's volume, a loopback Hub/Ollama/URL upstream (the sync's own test
// server), and the compiled sync run as the job runs it. Everything lives in one temporary
// directory; stop() unmounts, ends every process and removes it, also after a failure.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ModelSpec } from "../../images/model-sync/src/models";
import { FakeUpstream } from "../../images/model-sync/test/fakeUpstream";
import { GcsfuseMount, removeTestDir } from "./gcsfuseMount";
import { envAt, programWorkloads, Workload } from "./programWorkloads";
import { JsonApiPrefixProxy, StorageEmulator } from "./storageEmulator";
import { requireCommands, requireCompiledSync, SYNC_CLI } from "./tools";
import { requireTool } from "../support/tools";

export interface Tools {
    gcsfuse: string;
    fakeGcsServer: string;
    python: string;
}

function locateTools(): Tools {
    return {
        gcsfuse: requireTool("gcsfuse"),
        fakeGcsServer: requireTool("fake-gcs-server"),
        python: requireTool("huggingface-hub", "python"),
    };
}

/**
 * What every mount test needs before its first rig, checked once: fusermount3 and the other
 * `commands` (with their Debian packages), /dev/fuse, the compiled sync, the built tools; and the
 * workloads the program declares.
 */
export async function mountTestSetup(commands: Record<string, string> = {}): Promise<{ tools: Tools; workloads: { syncJob: Workload; service: Workload } }> {
    requireCommands({ fusermount3: "fuse3", ...commands });
    if (!fs.existsSync("/dev/fuse")) throw new Error("/dev/fuse is missing: gcsfuse cannot mount here");
    requireCompiledSync();
    return { tools: locateTools(), workloads: await programWorkloads() };
}

export interface SyncRun {
    code: number | null;
    signal: NodeJS.Signals | null;
    /** The program's JSON log lines. */
    lines: Record<string, unknown>[];
    stderr: string;
}

export const messages = (run: SyncRun): string[] => run.lines.map((l) => String(l.message));

export class CacheRig {
    readonly mounts: GcsfuseMount[] = [];
    private readonly children = new Set<ChildProcess>();
    private mountsMade = 0;

    private constructor(
        readonly dir: string,
        readonly tools: Tools,
        readonly workloads: { syncJob: Workload; service: Workload },
        readonly emulator: StorageEmulator,
        readonly lockApi: JsonApiPrefixProxy,
        readonly upstream: FakeUpstream,
    ) {}

    /** The bucket the program names for the cache, created in a fresh emulator. */
    get bucket(): string {
        return this.workloads.syncJob.volume.bucket;
    }

    static async start(tools: Tools, workloads: { syncJob: Workload; service: Workload }): Promise<CacheRig> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-mount-"));
        const started: { stop(): Promise<void> }[] = [];
        try {
            const emulator = await StorageEmulator.start(tools.fakeGcsServer, dir);
            started.push(emulator);
            await emulator.createBucket(workloads.syncJob.volume.bucket);
            const lockApi = new JsonApiPrefixProxy(emulator.endpoint);
            await lockApi.start();
            started.push(lockApi);
            const upstream = new FakeUpstream();
            await upstream.start();
            return new CacheRig(dir, tools, workloads, emulator, lockApi, upstream);
        } catch (err) {
            for (const s of started.reverse()) await s.stop().catch(() => undefined);
            removeTestDir(dir);
            throw err;
        }
    }

    private async mount(workload: Workload, kind: string): Promise<string> {
        const m = await GcsfuseMount.mount(this.tools.gcsfuse, this.emulator.endpoint, workload.volume, path.join(this.dir, `${kind}-${++this.mountsMade}`));
        this.mounts.push(m);
        return m.mountPoint;
    }

    /** A new mount as the sync job has it (each execution has its own). */
    mountForJob(): Promise<string> {
        return this.mount(this.workloads.syncJob, "job");
    }

    /** A new mount as a service instance has it (each instance has its own). */
    mountForService(): Promise<string> {
        return this.mount(this.workloads.service, "service");
    }

    async unmount(mountPoint: string): Promise<void> {
        const i = this.mounts.findIndex((m) => m.mountPoint === mountPoint);
        if (i < 0) throw new Error(`${mountPoint} is not mounted here`);
        await this.mounts.splice(i, 1)[0].unmount();
    }

    /**
     * The job's environment on this machine: the program's, with its paths under this mount point
     * and the test's models, the lock's client pointed at the emulator and the sources at the
     * loopback upstream. Without a mount point: a plain directory, locked with a file, as the
     * local target runs it.
     */
    jobEnv(models: ModelSpec[], dest: string, opts: { mounted: boolean; extra?: Record<string, string> }): Record<string, string> {
        const env: Record<string, string> = {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            HOME: path.join(this.dir, "home"),
            ...envAt(this.workloads.syncJob, dest),
            MODELS_JSON: JSON.stringify(models),
            HF_ENDPOINT: this.upstream.endpoint,
            OLLAMA_REGISTRY: this.upstream.endpoint,
            ...opts.extra,
        };
        if (opts.mounted) env.STORAGE_EMULATOR_HOST = this.lockApi.endpoint;
        else delete env.MODEL_CACHE_BUCKET;
        return env;
    }

    /**
     * Starts the compiled sync, under the command `wrap` when given (a tracer); `logged` tells
     * whether it has logged a line with all of `fields`; `done` settles when it exits.
     */
    startSync(env: Record<string, string>, wrap: string[] = []): { child: ChildProcess; logged(fields: Record<string, unknown>): boolean; done: Promise<SyncRun> } {
        const [command, ...args] = [...wrap, process.execPath, SYNC_CLI];
        const child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
        this.children.add(child);
        let out = "";
        let stderr = "";
        child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
        const done = new Promise<SyncRun>((resolve) => child.once("close", (code, signal) => {
            this.children.delete(child);
            const lines = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
            resolve({ code, signal, lines, stderr });
        }));
        const logged = (fields: Record<string, unknown>) => out.split("\n").some((l) => {
            if (!l.startsWith("{") || !l.endsWith("}")) return false;
            const line = JSON.parse(l) as Record<string, unknown>;
            return Object.entries(fields).every(([k, v]) => line[k] === v);
        });
        return { child, logged, done };
    }

    runSync(env: Record<string, string>, wrap: string[] = []): Promise<SyncRun> {
        return this.startSync(env, wrap).done;
    }

    async stop(): Promise<void> {
        for (const child of this.children) child.kill("SIGKILL");
        const errors: unknown[] = [];
        for (const m of this.mounts.splice(0)) await m.unmount().catch((e: unknown) => errors.push(e));
        for (const s of [this.upstream, this.lockApi, this.emulator]) await s.stop().catch((e: unknown) => errors.push(e));
        try {
            removeTestDir(this.dir);
        } catch (e) {
            errors.push(e);
        }
        if (errors.length > 0) throw new Error(`teardown: ${errors.map(String).join("; ")}`);
    }
}
