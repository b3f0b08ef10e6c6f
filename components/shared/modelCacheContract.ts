// How the model cache bucket appears inside containers: the mount path, the environment that
// points model libraries at it, and the Cloud Storage FUSE options for each kind of mount.
// The layout is the contract in docs/model-cache-contract.md.

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

/**
 * gcsfuse flags (without the leading dashes, as Cloud Run takes them) for services that only
 * read models. Revision directories are immutable once published and a fresh instance reads the
 * manifest once at start, so metadata can be cached for the instance's lifetime: this turns the
 * many stat/list calls of a model loader into one round trip each.
 */
export function readOnlyMountOptions(): string[] {
    return [
        // Objects written through other tools (gcloud storage cp) have no directory placeholders.
        "implicit-dirs",
        // Immutable revision directories: a cached stat or type never goes stale.
        "metadata-cache-ttl-secs=-1",
        // Enough for tens of thousands of model files without unbounded memory.
        "stat-cache-max-size-mb=64",
        "type-cache-max-size-mb=16",
        // Directory listings (tokenizer and shard discovery) served from the kernel after the first.
        "kernel-list-cache-ttl-secs=-1",
    ];
}

/** gcsfuse flags for the sync job, which writes and must see the bucket as it is now. */
export function readWriteMountOptions(): string[] {
    return [
        "implicit-dirs",
        // The writer must see what the previous run published, not a cached view of it.
        "metadata-cache-ttl-secs=0",
        // Publishing renames staged files into place; on a flat bucket a directory rename is a
        // copy per object, allowed up to this many.
        "rename-dir-limit=200000",
    ];
}

/** A sorted `[{name, value}]` list from a map, so the plan and the diff are stable. */
export function envList(env: Record<string, string>): { name: string; value: string }[] {
    return Object.keys(env)
        .sort()
        .map((name) => ({ name, value: env[name] }));
}
