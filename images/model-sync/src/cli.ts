#!/usr/bin/env node
// model-sync: fills the model cache. `--models FILE --dest DIR`, or MODELS_JSON and
// MODEL_CACHE_PATH in the environment (how the Cloud Run job passes them). Settings and exit
// codes: ./settings (`--help` prints them).
import * as fs from "fs";
import { parseArgs } from "util";
import { createLogger, Logger } from "./log";
import { parseModels } from "./models";
import { LockHeldError, readLockOptions } from "./lock";
import { EXIT, SETTINGS, usage } from "./settings";
import { sync, SyncOptions } from "./sync";

export class UsageError extends Error {}

type NumericSetting = { [K in keyof typeof SETTINGS]: (typeof SETTINGS)[K] extends { default: number } ? K : never }[keyof typeof SETTINGS];

/** A numeric setting from its flag's value or its variable, else its default; a bad value is named. */
function numberSetting(key: NumericSetting, flagValue: string | undefined, env: NodeJS.ProcessEnv, integer = true): number {
    const setting = SETTINGS[key];
    const flag = "flag" in setting ? setting.flag.split(" ")[0] : undefined;
    const [name, value] = flagValue !== undefined && flag !== undefined ? [flag, flagValue] : [setting.env, env[setting.env]];
    if (value === undefined || value === "") return setting.default;
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new UsageError(`${name} must be a positive ${integer ? "integer" : "number"} (got ${JSON.stringify(value)})`);
    return n;
}

/** The flags on the command line; an unknown one is a UsageError. */
export function parseFlags(argv: string[]) {
    try {
        return parseArgs({
            args: argv,
            options: {
                models: { type: "string" },
                dest: { type: "string" },
                "retention-days": { type: "string" },
                concurrency: { type: "string" },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
        }).values;
    } catch (err) {
        throw new UsageError(`${(err as Error).message} (--help lists the flags)`);
    }
}

/** Options from flags, then the environment; every bad value is named. */
export function readOptions(argv: string[], env: NodeJS.ProcessEnv, logger: Logger): SyncOptions {
    const values = parseFlags(argv);
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
    const url = (setting: { env: string; default: string }) => (env[setting.env] ?? setting.default).replace(/\/+$/, "");
    return {
        models,
        dest,
        hfEndpoint: url(SETTINGS.hfEndpoint),
        hfToken: env[SETTINGS.hfToken.env] || undefined,
        ollamaRegistry: url(SETTINGS.ollamaRegistry),
        concurrency: numberSetting("concurrency", values.concurrency, env),
        timeoutSeconds: numberSetting("timeoutSeconds", undefined, env, false),
        attempts: numberSetting("attempts", undefined, env),
        backoffMs: numberSetting("backoffMs", undefined, env),
        connectionsPerFile: numberSetting("connectionsPerFile", undefined, env),
        retentionDays: numberSetting("retentionDays", values["retention-days"], env, false),
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
        if (parseFlags(argv).help) {
            process.stdout.write(usage());
            return EXIT.ok.code;
        }
        options = readOptions(argv, env, logger);
    } catch (err) {
        logger.error({ error: (err as Error).message }, "invalid input");
        return EXIT.badInput.code;
    }
    try {
        const result = await sync(options);
        return result.failed.length === 0 ? EXIT.ok.code : EXIT.modelFailed.code;
    } catch (err) {
        if (err instanceof LockHeldError) {
            logger.error({ error: err.message }, "another sync is running");
            return EXIT.lockHeld.code;
        }
        logger.error({ error: (err as Error).message }, "sync failed");
        return EXIT.modelFailed.code;
    }
}

if (require.main === module) {
    main(process.argv.slice(2), process.env).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            console.error(err);
            process.exitCode = EXIT.modelFailed.code;
        },
    );
}
