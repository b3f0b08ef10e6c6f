import type { HttpOptions } from "../http";
import type { ModelSpec } from "../models";

/** One file of a model: where it comes from, where it goes, what it must hash to. */
export interface PlannedFile {
    /** Destination, relative to the cache root. */
    path: string;
    url: string;
    size?: number;
    sha256?: string;
    /** A non-LFS Hub file's git blob sha1: sha1("blob <size>\0" + content). */
    gitSha1?: string;
    /** Content-addressed (an Ollama blob): an existing file of the right size is already right. */
    shared?: boolean;
}

/** A small mutable file that points at a published revision (a Hub ref, an Ollama tag). */
export interface PointerFile {
    path: string;
    content: Buffer;
}

/** What a source resolved a model to, before any body byte is downloaded. */
export interface ModelPlan {
    name: string;
    source: ModelSpec["source"];
    /** The upstream's immutable identity of this content: commit, manifest digest or sha256. */
    revision: string;
    /** Directory the manifest names for this model, relative to the cache root. */
    root: string;
    /** A new revision gets a directory of its own (Hub snapshot, URL digest); Ollama shares blobs/. */
    immutableRoot: boolean;
    files: PlannedFile[];
    pointers: PointerFile[];
    /** Directories readers expect even when empty (relative to the cache root). */
    directories?: string[];
}

export interface SourceContext {
    http: HttpOptions;
    hfEndpoint: string;
    ollamaRegistry: string;
}

/** Joins URL path segments, encoding each. */
export function urlPath(...segments: string[]): string {
    return segments.flatMap((s) => s.split("/")).map(encodeURIComponent).join("/");
}
