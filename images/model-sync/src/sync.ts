// One sync run: resolve every model upstream, download what changed into staging, verify, move
// it into place, then publish manifest.json and .done. Whatever happens, the previous manifest,
// marker and the files they name stay intact until the new ones are complete.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import pLimit from "p-limit";
import { download } from "./download";
import type { HttpOptions } from "./http";
import { acquireRunLock, LockOptions } from "./lock";
import type { Logger } from "./log";
import type { ModelSpec } from "./models";
import { sourceOf } from "./sources";
import type { ModelPlan, PlannedFile, SourceContext } from "./sources/types";
import {
    listRevisions, Manifest, ManifestModel, publishManifest, readPublished, readState, sha256, STAGING, writeAtomic, writeState,
} from "./store";

export interface SyncOptions {
    models: ModelSpec[];
    dest: string;
    hfEndpoint: string;
    hfToken?: string;
    ollamaRegistry: string;
    /** Parallel file downloads. */
    concurrency: number;
    timeoutSeconds: number;
    attempts: number;
    backoffMs: number;
    /** Range requests in flight per large file (default: DEFAULT_PARALLEL.connections). */
    connectionsPerFile?: number;
    /** Days an unreferenced revision is kept before removal. */
    retentionDays: number;
    lock: LockOptions;
    logger: Logger;
    now?: () => Date;
}

export interface SyncResult {
    revision?: string;
    published: boolean;
    synced: string[];
    unchanged: string[];
    failed: { name: string; error: string }[];
    removed: string[];
    bytes: number;
    seconds: number;
}

function sizeOf(file: string): number | undefined {
    try {
        return fs.statSync(file).size;
    } catch {
        return undefined;
    }
}

/** Files of an unchanged model whose size is checked on each run. */
export const NOOP_SAMPLE = 16;

/**
 * The published entry still matches upstream: nothing to fetch. Its files were verified before the
 * manifest named them, so it is trusted; a small random sample, stat'ed in parallel, still notices
 * a cache emptied behind the job's back. On gcsfuse every stat is a GCS metadata call.
 */
async function unchanged(prev: ManifestModel | undefined, p: ModelPlan, dest: string): Promise<boolean> {
    if (prev === undefined || prev.source !== p.source || prev.revision !== p.revision || prev.path !== p.root) return false;
    const planned = new Set(p.files.map((f) => path.posix.relative(p.root, f.path)));
    if (prev.files.length !== planned.size || !prev.files.every((f) => planned.has(f.path))) return false;
    const sample = [...prev.files].sort(() => Math.random() - 0.5).slice(0, NOOP_SAMPLE);
    const sizes = await Promise.all(sample.map((f) => fs.promises.stat(path.join(dest, prev.path, f.path)).then((st) => st.size, () => undefined)));
    return sample.every((f, i) => sizes[i] === f.size);
}

async function missing(file: string): Promise<boolean> {
    return fs.promises.access(file).then(() => false, () => true);
}

function manifestRevision(now: Date, models: ManifestModel[]): string {
    const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    return `${stamp}-${sha256(JSON.stringify(models)).slice(0, 8)}`;
}

export async function sync(opts: SyncOptions): Promise<SyncResult> {
    const started = Date.now();
    const now = opts.now ?? (() => new Date());
    const log = opts.logger;
    let bytes = 0;
    const http: HttpOptions = {
        timeoutSeconds: opts.timeoutSeconds, attempts: opts.attempts, backoffMs: opts.backoffMs, logger: log,
        onBytes: (n) => (bytes += n),
        parallel: opts.connectionsPerFile === undefined ? undefined : { connections: opts.connectionsPerFile },
    };
    const hfHttp: HttpOptions = { ...http, headers: opts.hfToken ? { Authorization: `Bearer ${opts.hfToken}` } : undefined, tokenEnv: "HF_TOKEN" };

    fs.mkdirSync(opts.dest, { recursive: true });
    const lock = await acquireRunLock(opts.dest, opts.lock);
    if (lock.tookOver !== undefined) log.warn({ previous: lock.tookOver }, "took over the lock of a run that stopped");
    // Flat, and created only when something is written: on gcsfuse each directory level is
    // objects to create, list and delete.
    const staging = path.join(opts.dest, STAGING);
    const stage: Stage = { dir: staging, prefix: `${now().getTime()}-${randomBytes(4).toString("hex")}`, next: 0, made: false };
    try {
        // Leftovers of a killed run: nobody reads staging, and we hold the lock.
        clearStaging(staging);
        sweepStrayTemps(opts.dest, log);

        const previous = readPublished(opts.dest);
        const prevByName = new Map((previous?.models ?? []).map((m) => [m.name, m]));
        const limit = pLimit(opts.concurrency);
        const synced: string[] = [];
        const same: string[] = [];
        const failed: { name: string; error: string }[] = [];
        const entries = new Map<string, ManifestModel>();
        const fetched: ModelPlan[] = [];

        await Promise.all(opts.models.map(async (spec) => {
            const t0 = Date.now();
            try {
                const source = sourceOf(spec.source);
                const ctx: SourceContext = { http: source.sendsHubToken ? hfHttp : http, hfEndpoint: opts.hfEndpoint, ollamaRegistry: opts.ollamaRegistry };
                const p = await source.plan(spec, ctx);
                const prev = prevByName.get(spec.name);
                if (prev !== undefined && (await unchanged(prev, p, opts.dest))) {
                    // Pointers are cheap and may have been lost to a crash between file and pointer.
                    const lost = await Promise.all([...p.pointers.map((ptr) => ptr.path), ...(p.directories ?? [])].map((rel) => missing(path.join(opts.dest, rel))));
                    if (lost.some(Boolean)) placePointers(p, opts.dest, staging);
                    entries.set(spec.name, prev);
                    same.push(spec.name);
                    log.info({ model: spec.name, revision: p.revision, bytes: 0 }, "model unchanged");
                    return;
                }
                // The Hub wants the token on file downloads too (gated and private repos).
                const entry = await fetchModel(p, opts.dest, stage, limit, ctx.http, log);
                entries.set(spec.name, entry);
                fetched.push(p);
                synced.push(spec.name);
                log.info({ model: spec.name, revision: p.revision, files: entry.files.length, bytes: entry.files.reduce((a, f) => a + f.size, 0), seconds: (Date.now() - t0) / 1000 }, "model synced");
            } catch (err) {
                failed.push({ name: spec.name, error: (err as Error).message });
                log.error({ model: spec.name, error: (err as Error).message, seconds: (Date.now() - t0) / 1000 }, "model failed");
                // The model's previous publish stays in the manifest.
                const prev = prevByName.get(spec.name);
                if (prev !== undefined) entries.set(spec.name, prev);
            }
        }));

        // The manifest lists models in config order.
        const models = opts.models.map((m) => entries.get(m.name)).filter((m): m is ManifestModel => m !== undefined);
        // Nothing new to say: an unchanged list, or a first run where every model failed.
        const changed = previous === undefined ? models.length > 0 || failed.length === 0 : JSON.stringify(previous.models) !== JSON.stringify(models);
        let revision = previous?.revision;
        // Lost the lock (a stalled heartbeat): another run may be writing; publish nothing.
        await lock.verify();
        // Refs and tags move only now that every model is done: a run killed while another model
        // still downloads leaves them naming what the published manifest names.
        for (const p of fetched) placePointers(p, opts.dest, staging);
        if (changed) {
            const at = now();
            const manifest: Manifest = { schemaVersion: 1, revision: manifestRevision(at, models), generatedAt: at.toISOString(), models };
            publishManifest(opts.dest, manifest);
            revision = manifest.revision;
            log.info({ revision, models: models.length }, "manifest published");
        }

        await lock.verify();
        const removed = applyRetention(opts.dest, models, opts.retentionDays, now(), log);
        const result: SyncResult = {
            revision, published: changed, synced: synced.sort(), unchanged: same.sort(), failed, removed, bytes, seconds: (Date.now() - started) / 1000,
        };
        const summary = {
            outcome: failed.length === 0 ? "succeeded" : "failed",
            revision, models_synced: synced.length, models_unchanged: same.length, models_failed: failed.length,
            failed_models: failed.map((f) => f.name), bytes, seconds: result.seconds,
        };
        if (failed.length === 0) log.info(summary, "sync finished");
        else log.error(summary, "sync finished with failures");
        return result;
    } finally {
        // Ours alone while we hold the lock.
        if (await lock.verify().then(() => true, () => false)) clearStaging(staging);
        await lock.release();
    }
}

interface Stage {
    dir: string;
    prefix: string;
    next: number;
    made: boolean;
}

/** Temp files of atomic writes that earlier versions staged beside their targets. */
const STRAY_TEMP = /\.tmp-\d+-[0-9a-f]{8}$/;

/**
 * Removes such temp files where readers list pointers: a `refs/main.tmp-…` is a ref to
 * huggingface_hub (naming a commit it cannot find, it drops the repo), a `<tag>.tmp-…` a tag to
 * `ollama list`. A few listings, no stat per file.
 */
function sweepStrayTemps(dest: string, log: Logger): void {
    const list = (rel: string): fs.Dirent[] => {
        try {
            return fs.readdirSync(path.join(dest, rel), { withFileTypes: true });
        } catch {
            return [];
        }
    };
    const walk = (rel: string, depth: number): string[] => list(rel).flatMap((e) => {
        const child = path.posix.join(rel, e.name);
        return e.isDirectory() ? (depth > 0 ? walk(child, depth - 1) : []) : [child];
    });
    const files = [
        ...list("huggingface/hub").filter((e) => e.isDirectory()).flatMap((e) => walk(`huggingface/hub/${e.name}/refs`, 2)),
        ...walk("ollama/manifests", 3),
    ];
    for (const rel of files.filter((f) => STRAY_TEMP.test(f))) {
        fs.rmSync(path.join(dest, rel), { force: true });
        log.info({ path: rel }, "stray temporary file removed");
    }
}

/** Removes what a run left in staging, and the directory itself; one listing when it is absent. */
function clearStaging(staging: string): void {
    let entries: string[];
    try {
        entries = fs.readdirSync(staging);
    } catch {
        return;
    }
    // Older runs staged a tree: remove whatever is there.
    for (const e of entries) fs.rmSync(path.join(staging, e), { recursive: true, force: true });
    fs.rmSync(staging, { recursive: true, force: true });
}

/** Writes a model's pointers (staged where readers never look) and the directories readers expect. */
function placePointers(p: ModelPlan, dest: string, staging: string): void {
    for (const dir of p.directories ?? []) fs.mkdirSync(path.join(dest, dir), { recursive: true });
    for (const ptr of p.pointers) writeAtomic(path.join(dest, ptr.path), ptr.content, staging);
}

/** Downloads a model's files into staging, verifies them and moves them into place; its pointers wait for the publish. */
async function fetchModel(p: ModelPlan, dest: string, stage: Stage, limit: pLimit.Limit, http: HttpOptions, log: Logger): Promise<ManifestModel> {
    const stagedFiles: string[] = [];
    // A failed file abandons its siblings, and every download has stopped before the caller
    // moves on: staging is cleared, and the lock released, only once nothing writes there.
    const abandon = new AbortController();
    let firstError: unknown;
    const settled = await Promise.allSettled(p.files.map((f) => limit(async () => {
        const final = path.join(dest, f.path);
        // Content-addressed and already there: the name is the hash.
        if (f.shared && f.size !== undefined && sizeOf(final) === f.size) return { f, size: f.size, sha256: f.sha256!, staged: undefined };
        if (!stage.made) fs.mkdirSync(stage.dir, { recursive: true });
        stage.made = true;
        const staged = path.join(stage.dir, `${stage.prefix}-${stage.next++}`);
        stagedFiles.push(staged);
        try {
            if (abandon.signal.aborted) throw new Error("abandoned");
            // The download checks size, sha256 and, for non-LFS Hub files, the git blob sha1.
            const got = await download(f.url, staged, { size: f.size, sha256: f.sha256, gitSha1: f.gitSha1 }, { ...http, label: p.name, signal: abandon.signal });
            return { f, size: got.size, sha256: got.sha256, staged };
        } catch (err) {
            firstError ??= err;
            abandon.abort();
            throw err;
        }
    })));
    if (firstError !== undefined) {
        // Give the space back to the models that can still finish.
        for (const f of stagedFiles) fs.rmSync(f, { force: true });
        throw firstError;
    }
    const results = settled.map((r) => (r as PromiseFulfilledResult<{ f: PlannedFile; size: number; sha256: string; staged: string | undefined }>).value);

    // Every file verified: move them in. A new revision directory is named by no manifest yet,
    // so clearing a leftover of a killed run there touches nothing a reader trusts.
    if (p.immutableRoot) fs.rmSync(path.join(dest, p.root), { recursive: true, force: true });
    for (const r of results) {
        if (r.staged === undefined) continue;
        const final = path.join(dest, r.f.path);
        fs.mkdirSync(path.dirname(final), { recursive: true });
        fs.renameSync(r.staged, final);
    }
    log.debug({ model: p.name, root: p.root }, "model files in place");
    return {
        name: p.name,
        source: p.source,
        revision: p.revision,
        path: p.root,
        files: results.map((r) => ({ path: path.posix.relative(p.root, r.f.path), size: r.size, sha256: r.sha256 })),
        pointers: p.pointers.length > 0 ? p.pointers.map((ptr) => ptr.path) : undefined,
    };
}

/**
 * Removes revisions, blobs and tag manifests no longer named by the manifest once they are older
 * than the retention, and with them whatever points at them: readers treat a dangling pointer as
 * damage (huggingface_hub's scan_cache_dir and @huggingface/hub's scanCacheDir drop the whole repo
 * when a ref names a missing snapshot), and an Ollama tag without its blobs is a broken model.
 */
function applyRetention(dest: string, models: ManifestModel[], retentionDays: number, now: Date, log: Logger): string[] {
    const referenced = new Set<string>();
    for (const m of models) {
        if (sourceOf(m.source).sharedFiles) for (const f of m.files) referenced.add(`${m.path}/${f.path}`);
        else referenced.add(m.path);
        for (const ptr of m.pointers ?? []) referenced.add(ptr);
    }
    const state = readState(dest);
    const next: Record<string, string> = {};
    const removed: string[] = [];
    const remove = (rel: string, since: string | undefined, why: string) => {
        fs.rmSync(path.join(dest, rel), { recursive: true, force: true });
        removed.push(rel);
        log.info({ path: rel, unreferenced_since: since }, why);
    };
    const candidates = listRevisions(dest);
    const isTag = (rel: string) => rel.startsWith("ollama/manifests/");
    // Tags before blobs, so no tag outlives a blob it names.
    for (const rel of [...candidates.filter(isTag), ...candidates.filter((r) => !isTag(r))]) {
        if (referenced.has(rel) || removed.includes(rel)) continue;
        const since = state.unreferencedSince[rel] ?? now.toISOString();
        if (now.getTime() - Date.parse(since) < retentionDays * 86_400_000) {
            next[rel] = since;
            continue;
        }
        remove(rel, since, "old revision removed");
        if (rel.startsWith("ollama/blobs/")) {
            // A tag kept within its retention but naming this blob would be a broken model.
            const digest = path.posix.basename(rel).replace("-", ":");
            for (const tag of candidates.filter(isTag)) {
                if (referenced.has(tag) || removed.includes(tag)) continue;
                if (readText(path.join(dest, tag))?.includes(`"${digest}"`)) remove(tag, state.unreferencedSince[tag], "tag of a removed blob removed");
            }
        }
    }
    for (const repo of new Set(removed.filter((r) => r.includes("/snapshots/")).map((r) => r.slice(0, r.indexOf("/snapshots/"))))) {
        pruneHubRepo(dest, repo, log);
    }
    if (JSON.stringify(next) !== JSON.stringify(state.unreferencedSince)) writeState(dest, { unreferencedSince: next });
    return removed;
}

function readText(file: string): string | undefined {
    try {
        return fs.readFileSync(file, "utf8");
    } catch {
        return undefined;
    }
}

/** After snapshots were removed: drop refs naming a missing snapshot, and a repo left without any. */
function pruneHubRepo(dest: string, repo: string, log: Logger): void {
    const dir = path.join(dest, repo);
    let snapshots: string[];
    try {
        snapshots = fs.readdirSync(path.join(dir, "snapshots"));
    } catch {
        snapshots = [];
    }
    if (snapshots.length === 0) {
        fs.rmSync(dir, { recursive: true, force: true });
        log.info({ path: repo }, "repository without snapshots removed");
        return;
    }
    const have = new Set(snapshots);
    const walk = (rel: string): void => {
        let entries: fs.Dirent[];
        try {
            entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
        } catch {
            return;
        }
        for (const e of entries) {
            const ref = path.posix.join(rel, e.name);
            if (e.isDirectory()) walk(ref);
            else if (!have.has((readText(path.join(dir, ref)) ?? "").trim())) {
                fs.rmSync(path.join(dir, ref), { force: true });
                log.info({ path: `${repo}/${ref}` }, "ref to a removed snapshot removed");
            }
        }
    };
    walk("refs");
}
