// The cache directory's files: atomic writes, the manifest and the retention state.
// On the gcsfuse mount every file is a GCS object: a rename onto a path replaces that object in
// one step, so readers see the old file or the new one, never half of either.
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { ModelSpec } from "./models";
import { SOURCES } from "./sources";

export const MANIFEST = "manifest.json";
export const MARKER = ".done";
export const STAGING = ".staging";
export const STATE = ".sync-state.json";

export interface ManifestFile {
    path: string;
    size: number;
    sha256: string;
}

export interface ManifestModel {
    name: string;
    source: ModelSpec["source"];
    revision: string;
    /** The model's directory, relative to the cache root; file paths are relative to it. */
    path: string;
    files: ManifestFile[];
    /** Mutable pointer files (Hub refs, Ollama tag manifest), relative to the cache root. */
    pointers?: string[];
}

export interface Manifest {
    schemaVersion: 1;
    revision: string;
    generatedAt: string;
    models: ManifestModel[];
}

/**
 * Writes a file in `tmpDir`, then renames it into place. Pass a directory readers never list (the
 * cache's staging): a temp file left by a kill beside a tag or a ref would read as one.
 */
export function writeAtomic(file: string, content: Buffer | string, tmpDir = path.dirname(file)): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (tmpDir !== path.dirname(file)) fs.mkdirSync(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
    try {
        fs.writeFileSync(tmp, content);
        fs.renameSync(tmp, file);
    } catch (err) {
        fs.rmSync(tmp, { force: true });
        throw err;
    }
}

/** The manifest text: two-space indent keeps the top-level revision on a line of its own. */
export function manifestText(manifest: Manifest): string {
    return `${JSON.stringify(manifest, null, 2)}\n`;
}

export function sha256(data: Buffer | string): string {
    return createHash("sha256").update(data).digest("hex");
}

/** The published manifest, if `.done` vouches for it; undefined for a new or unfinished cache. */
export function readPublished(dest: string): Manifest | undefined {
    try {
        const text = fs.readFileSync(path.join(dest, MANIFEST));
        const marker = fs.readFileSync(path.join(dest, MARKER), "utf8").trim();
        if (marker !== sha256(text)) return undefined;
        const manifest = JSON.parse(text.toString("utf8")) as Manifest;
        return manifest.schemaVersion === 1 && Array.isArray(manifest.models) ? manifest : undefined;
    } catch {
        return undefined;
    }
}

/** Publishes: manifest first, marker last, each replaced in one step. */
export function publishManifest(dest: string, manifest: Manifest): void {
    const text = manifestText(manifest);
    const tmp = path.join(dest, STAGING);
    writeAtomic(path.join(dest, MANIFEST), text, tmp);
    writeAtomic(path.join(dest, MARKER), `${sha256(text)}\n`, tmp);
}

/** When each unreferenced revision or blob was first seen unreferenced (for retention). */
export interface RetentionState {
    unreferencedSince: Record<string, string>;
}

export function readState(dest: string): RetentionState {
    try {
        const state = JSON.parse(fs.readFileSync(path.join(dest, STATE), "utf8")) as RetentionState;
        return { unreferencedSince: state.unreferencedSince ?? {} };
    } catch {
        return { unreferencedSince: {} };
    }
}

export function writeState(dest: string, state: RetentionState): void {
    writeAtomic(path.join(dest, STATE), `${JSON.stringify(state, null, 2)}\n`, path.join(dest, STAGING));
}

/**
 * Revision directories, blobs and tag manifests that could be unreferenced: Hub snapshots, URL
 * digests, Ollama blobs and `ollama/manifests/<host>/<namespace>/<model>/<tag>`.
 */
export function listRevisions(dest: string): string[] {
    const list = (rel: string) => {
        try {
            return fs.readdirSync(path.join(dest, rel)).map((e) => `${rel}/${e}`);
        } catch {
            return [];
        }
    };
    return Object.values(SOURCES).flatMap((source) => source.revisions(list)).sort();
}
