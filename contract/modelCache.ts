// The model cache contract, in one place: where the cache appears inside containers, the
// environment that points model libraries at it, what the sync job is told, and so which
// variables a service may not set itself. The layout is docs/model-cache-contract.md; how a
// target mounts the cache (gcsfuse flags, Docker mounts) is its ModelCache's business.
// It sits below the stack schema (which refuses the reserved names) and the components (which set
// them), so both import it and neither imports the other for it.
import type { ModelSpec } from "../images/model-sync/src/models";

/** Where the bucket is mounted, in services and in the sync job. */
export const MODEL_MOUNT_PATH = "/models";

/** The volume name both kinds of workload use. */
export const MODEL_VOLUME_NAME = "model-cache";

/** Environment that points Hugging Face, sentence-transformers and Ollama at the cache. */
export function modelCacheEnv(mountPath: string = MODEL_MOUNT_PATH, sharedVolumeEnabled = true): Record<string, string> {
    return {
        SHARED_MODEL_VOLUME_ENABLED: sharedVolumeEnabled ? "true" : "false",
        MODEL_CACHE_PATH: mountPath,
        HF_HUB_CACHE: `${mountPath}/huggingface/hub`,
        SENTENCE_TRANSFORMERS_HOME: `${mountPath}/sentence-transformers`,
        OLLAMA_MODELS: `${mountPath}/ollama`,
    };
}

/** A sorted `[{name, value}]` list from a map, so the plan and the diff are stable. */
export function envList(env: Record<string, string>): { name: string; value: string }[] {
    return Object.keys(env)
        .sort()
        .map((name) => ({ name, value: env[name] }));
}

/**
 * Files the sync downloads at once, across all models. Set here, not left to the program's
 * default, because the job's memory is sized for it (stacks/schema/sync.ts, `memory`).
 */
export const SYNC_CONCURRENCY = 4;

/** Where the sync takes its run lock through the Cloud Storage API (unset: a lock file). */
export const LOCK_BUCKET_ENV = "MODEL_CACHE_BUCKET";

/** The environment of the sync program (its contract: images/model-sync), on every target. */
export function syncJobEnv(args: { models: ModelSpec[]; revisionRetentionDays: number }): Record<string, string> {
    return {
        MODELS_JSON: JSON.stringify(args.models),
        MODEL_CACHE_PATH: MODEL_MOUNT_PATH,
        REVISION_RETENTION_DAYS: String(args.revisionRetentionDays),
        SYNC_CONCURRENCY: String(SYNC_CONCURRENCY),
    };
}

/**
 * What the CUDA bases' entrypoint exports once it found the cache warm (images/cuda-base/
 * entrypoint.sh): the model libraries must not reach upstream past a read-only cache.
 */
export const ENTRYPOINT_ON_HIT_ENV = ["HF_HUB_OFFLINE", "OLLAMA_NOPRUNE"] as const;

/** The port variable every target sets from the service's port. */
export const PORT_ENV = "PORT";

/**
 * Variables a service's own `env` may not set: everything the contract sets in service
 * containers, derived from the functions that set them, never listed by hand.
 */
export const RESERVED_ENV: readonly string[] = [PORT_ENV, ...Object.keys(modelCacheEnv()), ...ENTRYPOINT_ON_HIT_ENV];
