// Every setting the program reads and every exit code it gives, in one place: the option reading
// takes its names and defaults from here, `--help` prints them, and a test holds the README's
// settings table to them.
import { DEFAULT_PARALLEL } from "./download";

export interface Setting {
    /** The flag and its argument, when there is one (a flag wins over its variable). */
    flag?: string;
    /** The environment variable(s). */
    env: string;
    /** The default, as the README shows it; none when unset means "not used". */
    default?: number | string;
    /** Who sets it, for a variable the program is given rather than configured with. */
    setBy?: string;
    meaning: string;
}

export const SETTINGS = {
    models: { flag: "--models FILE", env: "MODELS_JSON", meaning: "the models list (a file, or the JSON itself)" },
    dest: { flag: "--dest DIR", env: "MODEL_CACHE_PATH", meaning: "the cache root" },
    retentionDays: { flag: "--retention-days N", env: "REVISION_RETENTION_DAYS", default: 7, meaning: "days a revision no longer in the manifest is kept (the rollback window)" },
    concurrency: { flag: "--concurrency N", env: "SYNC_CONCURRENCY", default: 4, meaning: "parallel file downloads" },
    timeoutSeconds: { env: "SYNC_REQUEST_TIMEOUT_SECONDS", default: 60, meaning: "seconds without a byte before a request is abandoned" },
    attempts: { env: "SYNC_ATTEMPTS", default: 5, meaning: "attempts per request (5xx, 429, resets, timeouts, truncated bodies)" },
    backoffMs: { env: "SYNC_BACKOFF_MS", default: 1000, meaning: "first backoff; doubles per retry, plus up to 50 % jitter" },
    connectionsPerFile: { env: "SYNC_CONNECTIONS_PER_FILE", default: DEFAULT_PARALLEL.connections, meaning: "parallel Range requests per file of 64 MiB or more; raise it over a slow link with idle CPU" },
    bucket: { env: "MODEL_CACHE_BUCKET", meaning: "the cache bucket: take the run lock there through the JSON API (the Cloud Run job sets it); unset, lock with a file in --dest" },
    heartbeatSeconds: { env: "SYNC_LOCK_HEARTBEAT_SECONDS", default: 30, meaning: "seconds between renewals of the lock" },
    staleSeconds: { env: "SYNC_LOCK_STALE_SECONDS", default: "4 × heartbeat", meaning: "a lock not renewed for this long is stale (a crashed run) and taken over (at once when its holder provably ended); at least 2 × heartbeat" },
    cloudRunTask: { env: "CLOUD_RUN_EXECUTION, CLOUD_RUN_TASK_INDEX, CLOUD_RUN_TASK_ATTEMPT", setBy: "Cloud Run", meaning: "the task attempt, recorded in the lock: the next attempt of the same task takes over its predecessor's lock at once" },
    hfEndpoint: { env: "HF_ENDPOINT", default: "https://huggingface.co", meaning: "the Hub (the huggingface_hub convention)" },
    hfToken: { env: "HF_TOKEN", meaning: "Bearer token for gated repositories" },
    ollamaRegistry: { env: "OLLAMA_REGISTRY", default: "https://registry.ollama.ai", meaning: "the Ollama registry" },
} as const satisfies Record<string, Setting>;

export const EXIT = {
    ok: { code: 0, meaning: "every model published or unchanged" },
    modelFailed: { code: 1, meaning: "a model failed (the others are still published)" },
    badInput: { code: 2, meaning: "bad input (named in the log line), before any byte is written" },
    lockHeld: { code: 75, meaning: "another run holds the lock, or this run lost it and published nothing" },
} as const;

/** What `--help` prints. */
export function usage(): string {
    const settings = Object.values(SETTINGS as Record<string, Setting>).map((s) => {
        const names = [s.flag, s.env].filter(Boolean).join(", ");
        const fallback = s.setBy !== undefined ? ` (set by ${s.setBy})` : s.default !== undefined ? ` (default: ${s.default})` : "";
        return `  ${names}${fallback}\n      ${s.meaning}`;
    });
    const codes = Object.values(EXIT).map((e) => `  ${String(e.code).padEnd(4)}${e.meaning}`);
    return [
        "Usage: model-sync --models FILE --dest DIR [--retention-days N] [--concurrency N]",
        "       model-sync              (MODELS_JSON and MODEL_CACHE_PATH in the environment, as the Cloud Run job runs it)",
        "",
        "Fills the model cache: downloads the pinned models, verifies them, then publishes manifest.json and .done.",
        "",
        "Flags and environment variables (a flag wins over its variable):",
        ...settings,
        "  --help, -h",
        "      print this and exit",
        "",
        "Exit codes:",
        ...codes,
        "",
    ].join("\n");
}
