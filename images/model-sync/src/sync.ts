// One sync run: resolve every model upstream, download what changed into staging, verify, move
// it into place, then publish manifest.json and .done. Whatever happens, the previous manifest,
// marker and the files they name stay intact until the new ones are complete.
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import pLimit from "p-limit";
import { download, HttpOptions } from "./http";
import { acquireRunLock, LockOptions } from "./lock";
import type { Logger } from "./log";
import type { ModelSpec } from "./models";
import { planHuggingFace } from "./sources/huggingface";
import { planOllama } from "./sources/ollama";
import type { ModelPlan, SourceContext } from "./sources/types";
import { planUrl } from "./sources/url";
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

function plan(spec: ModelSpec, ctx: SourceContext): Promise<ModelPlan> {
    switch (spec.source) {
        case "huggingface":
            return planHuggingFace(spec, ctx);
        case "ollama":
            return planOllama(spec, ctx);
        case "url":
            return Promise.resolve(planUrl(spec));
    }
}

function sizeOf(file: string): number | undefined {
    try {
        return fs.statSync(file).size;
    } catch {
        return undefined;
    }
}

/** The published entry still matches upstream and its files are all there: nothing to fetch. */
function unchanged(prev: ManifestModel | undefined, p: ModelPlan, dest: string): prev is ManifestModel {
    if (prev === undefined || prev.source !== p.source || prev.revision !== p.revision || prev.path !== p.root) return false;
    const planned = new Set(p.files.map((f) => path.posix.relative(p.root, f.path)));
    if (prev.files.length !== planned.size || !prev.files.every((f) => planned.has(f.path))) return false;
    return prev.files.every((f) => sizeOf(path.join(dest, prev.path, f.path)) === f.size);
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
    };
    const hfHttp: HttpOptions = { ...http, headers: opts.hfToken ? { Authorization: `Bearer ${opts.hfToken}` } : undefined };

    fs.mkdirSync(opts.dest, { recursive: true });
    const lock = await acquireRunLock(opts.dest, opts.lock);
    const staging = path.join(opts.dest, STAGING);
    const runDir = path.join(staging, `${now().getTime()}-${randomBytes(4).toString("hex")}`);
    try {
        // Leftovers of a killed run: nobody reads staging, and we hold the lock.
        fs.rmSync(staging, { recursive: true, force: true });
        fs.mkdirSync(runDir, { recursive: true });

        const previous = readPublished(opts.dest);
        const prevByName = new Map((previous?.models ?? []).map((m) => [m.name, m]));
        const limit = pLimit(opts.concurrency);
        const synced: string[] = [];
        const same: string[] = [];
        const failed: { name: string; error: string }[] = [];
        const entries = new Map<string, ManifestModel>();

        await Promise.all(opts.models.map(async (spec) => {
            const t0 = Date.now();
            try {
                const ctx: SourceContext = { http: spec.source === "huggingface" ? hfHttp : http, hfEndpoint: opts.hfEndpoint, ollamaRegistry: opts.ollamaRegistry };
                const p = await plan(spec, ctx);
                const prev = prevByName.get(spec.name);
                if (unchanged(prev, p, opts.dest)) {
                    // Pointers are cheap and may have been lost to a crash between file and pointer.
                    for (const ptr of p.pointers) if (!fs.existsSync(path.join(opts.dest, ptr.path))) writeAtomic(path.join(opts.dest, ptr.path), ptr.content);
                    entries.set(spec.name, prev);
                    same.push(spec.name);
                    log.info({ model: spec.name, revision: p.revision, bytes: 0 }, "model unchanged");
                    return;
                }
                const entry = await fetchModel(p, opts.dest, runDir, limit, http, log);
                entries.set(spec.name, entry);
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
        if (await lock.verify().then(() => true, () => false)) fs.rmSync(staging, { recursive: true, force: true });
        await lock.release();
    }
}

/** Downloads a model's files into staging, verifies them, moves them into place, writes pointers. */
async function fetchModel(p: ModelPlan, dest: string, runDir: string, limit: pLimit.Limit, http: HttpOptions, log: Logger): Promise<ManifestModel> {
    const stageDir = path.join(runDir, p.name);
    const results = await Promise.all(p.files.map((f) => limit(async () => {
        const final = path.join(dest, f.path);
        // Content-addressed and already there: the name is the hash.
        if (f.shared && f.size !== undefined && sizeOf(final) === f.size) return { f, size: f.size, sha256: f.sha256!, staged: undefined };
        const staged = path.join(stageDir, f.path);
        fs.mkdirSync(path.dirname(staged), { recursive: true });
        const got = await download(f.url, staged, { size: f.size, sha256: f.sha256 }, { ...http, label: p.name });
        return { f, size: got.size, sha256: got.sha256, staged };
    })));

    // Every file verified: move them in. A new revision directory is named by no manifest yet,
    // so clearing a leftover of a killed run there touches nothing a reader trusts.
    if (p.immutableRoot) fs.rmSync(path.join(dest, p.root), { recursive: true, force: true });
    for (const r of results) {
        if (r.staged === undefined) continue;
        const final = path.join(dest, r.f.path);
        fs.mkdirSync(path.dirname(final), { recursive: true });
        fs.renameSync(r.staged, final);
    }
    for (const ptr of p.pointers) writeAtomic(path.join(dest, ptr.path), ptr.content);
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

/** Removes revisions and blobs no longer named by the manifest once they are older than the retention. */
function applyRetention(dest: string, models: ManifestModel[], retentionDays: number, now: Date, log: Logger): string[] {
    const referenced = new Set<string>();
    for (const m of models) {
        if (m.source === "ollama") for (const f of m.files) referenced.add(`${m.path}/${f.path}`);
        else referenced.add(m.path);
    }
    const state = readState(dest);
    const next: Record<string, string> = {};
    const removed: string[] = [];
    for (const rev of listRevisions(dest)) {
        if (referenced.has(rev)) continue;
        const since = state.unreferencedSince[rev] ?? now.toISOString();
        if (now.getTime() - Date.parse(since) >= retentionDays * 86_400_000) {
            fs.rmSync(path.join(dest, rev), { recursive: true, force: true });
            removed.push(rev);
            log.info({ path: rev, unreferenced_since: since }, "old revision removed");
        } else {
            next[rev] = since;
        }
    }
    if (JSON.stringify(next) !== JSON.stringify(state.unreferencedSince)) writeState(dest, { unreferencedSince: next });
    return removed;
}
