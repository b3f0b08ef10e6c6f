#!/usr/bin/env node
// model-sync: fills the model cache. `--models FILE --dest DIR`, or MODELS_JSON and
// MODEL_CACHE_PATH in the environment (how the Cloud Run job passes them).
// Exit codes: 0 all models published, 1 a model failed, 2 bad input, 75 another run holds the lock
// (or this run lost it and published nothing).
import * as fs from "fs";
import { parseArgs } from "util";
import { DEFAULT_PARALLEL } from "./download";
import { createLogger, Logger } from "./log";
import { parseModels } from "./models";
import { LockHeldError, readLockOptions } from "./lock";
import { sync, SyncOptions } from "./sync";

export class UsageError extends Error {}

function positiveNumber(name: string, value: string | undefined, fallback: number, integer = true): number {
    if (value === undefined || value === "") return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${name} must be a positive ${integer ? "integer" : "number"} (got ${JSON.stringify(value)})`);
    return n;
}

/** Options from flags, then the environment; every bad value is named. */
export function readOptions(argv: string[], env: NodeJS.ProcessEnv, logger: Logger): SyncOptions {
    const { values } = parseArgs({
        args: argv,
        options: {
            models: { type: "string" },
            dest: { type: "string" },
            "retention-days": { type: "string" },
            concurrency: { type: "string" },
        },
        strict: true,
    });
    let modelsJson: string;
    let origin: string;
    if (values.models !== undefined) {
        try {
            modelsJson = fs.readFileSync(values.models, "utf8");
        } catch (err) {
            throw new UsageError(`--models ${values.models}: ${(err as Error).message}`);
        }
        origin = values.models;
    } else if (env.MODELS_JSON !== undefined) {
        modelsJson = env.MODELS_JSON;
        origin = "MODELS_JSON";
    } else {
        throw new UsageError("no models: pass --models FILE or set MODELS_JSON");
    }
    const dest = values.dest ?? env.MODEL_CACHE_PATH;
    if (dest === undefined || dest === "") throw new UsageError("no destination: pass --dest DIR or set MODEL_CACHE_PATH");
    let models;
    try {
        models = parseModels(modelsJson, origin);
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
    const timeoutSeconds = positiveNumber("SYNC_REQUEST_TIMEOUT_SECONDS", env.SYNC_REQUEST_TIMEOUT_SECONDS, 60, false);
    return {
        models,
        dest,
        hfEndpoint: (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, ""),
        hfToken: env.HF_TOKEN || undefined,
        ollamaRegistry: (env.OLLAMA_REGISTRY ?? "https://registry.ollama.ai").replace(/\/+$/, ""),
        concurrency: positiveNumber("--concurrency", values.concurrency ?? env.SYNC_CONCURRENCY, 4),
        timeoutSeconds,
        attempts: positiveNumber("SYNC_ATTEMPTS", env.SYNC_ATTEMPTS, 5),
        backoffMs: positiveNumber("SYNC_BACKOFF_MS", env.SYNC_BACKOFF_MS, 1000),
        connectionsPerFile: positiveNumber("SYNC_CONNECTIONS_PER_FILE", env.SYNC_CONNECTIONS_PER_FILE, DEFAULT_PARALLEL.connections),
        retentionDays: positiveNumber("--retention-days", values["retention-days"] ?? env.REVISION_RETENTION_DAYS, 7, false),
        lock: lockOptions(env),
        logger,
    };
}

function lockOptions(env: NodeJS.ProcessEnv) {
    try {
        return readLockOptions(env);
    } catch (err) {
        throw new UsageError((err as Error).message);
    }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
    const logger = createLogger();
    let options: SyncOptions;
    try {
        options = readOptions(argv, env, logger);
    } catch (err) {
        logger.error({ error: (err as Error).message }, "invalid input");
        return 2;
    }
    try {
        const result = await sync(options);
        return result.failed.length === 0 ? 0 : 1;
    } catch (err) {
        if (err instanceof LockHeldError) {
            logger.error({ error: err.message }, "another sync is running");
            return 75;
        }
        logger.error({ error: (err as Error).message }, "sync failed");
        return 1;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), process.env).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            console.error(err);
            process.exitCode = 1;
        },
    );
}
