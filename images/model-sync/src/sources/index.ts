// The model sources, one entry each: what a `source` in the models list means to the sync. A new
// source is a file beside these (its planner), its schema in ../models.ts, and an entry here.
import type { ModelSpec } from "../models";
import { planHuggingFace } from "./huggingface";
import { planOllama } from "./ollama";
import type { ModelPlan, SourceContext } from "./types";
import { planUrl } from "./url";

export interface Source<S extends ModelSpec> {
    /** Resolves a model to its files and pointers, before any body byte is downloaded. */
    plan(spec: S, ctx: SourceContext): Promise<ModelPlan>;
    /** Its requests carry the Hugging Face token (HF_TOKEN); no other host ever sees it. */
    sendsHubToken?: boolean;
    /** Its files are content-addressed and shared across revisions: retention keeps them one by one. */
    sharedFiles?: boolean;
    /** Directories (relative to the cache root) holding one revision each, or one shared file each. */
    revisions(list: (dir: string) => string[]): string[];
}

type Sources = { [K in ModelSpec["source"]]: Source<Extract<ModelSpec, { source: K }>> };

export const SOURCES: Sources = {
    huggingface: {
        plan: planHuggingFace,
        sendsHubToken: true,
        revisions: (list) => list("huggingface/hub").flatMap((repo) => list(`${repo}/snapshots`)),
    },
    ollama: {
        plan: planOllama,
        sharedFiles: true,
        // Blobs, and tag manifests at manifests/<host>/<namespace>/<model>/<tag>.
        revisions: (list) => [...list("ollama/blobs"), ...list("ollama/manifests").flatMap(list).flatMap(list).flatMap(list)],
    },
    url: {
        plan: (spec) => Promise.resolve(planUrl(spec)),
        revisions: (list) => list("url").flatMap((model) => list(model)),
    },
};

/** The source of a model (or of a manifest entry, by its `source`). */
export function sourceOf(source: ModelSpec["source"]): Source<ModelSpec> {
    return SOURCES[source] as Source<ModelSpec>;
}
