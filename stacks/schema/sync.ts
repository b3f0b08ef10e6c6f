// sync: the nightly model-sync job's schedule, limits and first run.
import { z } from "zod";
import { memoryProblem } from "../cloudRun";
import { cpu, cron, memory, relativePath, timeZone } from "./common";

export const syncSchema = z.strictObject({
    /** Cloud Scheduler cron, five fields. */
    schedule: cron.default("0 3 * * *"),
    timeZone: timeZone.default("Etc/UTC"),
    /** Seconds one execution may run before Cloud Run stops it. */
    timeoutSeconds: z.number().int().min(60).max(86400).default(3600),
    /** Retries of a failed task within one execution. */
    maxRetries: z.number().int().min(0).max(10).default(2),
    cpu: cpu.default("2"),
    /**
     * Cloud Run's filesystem is memory, and gcsfuse stages a whole file in its temp dir there
     * whenever it cannot stream the write. Worst case, the 4 files downloaded at once
     * (SYNC_CONCURRENCY) are all staged: for the dev models bge-m3's model.safetensors (2.27 GB)
     * and llama3.2:1b's weights (1.32 GB), 3.4 GiB, plus ~1 GiB for Node and gcsfuse's buffers and
     * caches — over 4Gi. 8Gi leaves ~3.5 GiB of margin and is the most 2 vCPU may have.
     */
    memory: memory.default("8Gi"),
    /** Build context of the sync program's image. */
    context: relativePath.default("images/model-sync"),
    /**
     * Run the sync once when the stack is created and deploy the services after it completed,
     * so the first revision finds a filled cache.
     */
    seedOnCreate: z.boolean().default(true),
    /** Secret Manager secret id holding a Hugging Face token, for gated models. */
    hfTokenSecret: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, "must be a Secret Manager secret id").optional(),
}).superRefine((sync, ctx) => {
    const memory = memoryProblem(sync.memory, sync.cpu);
    if (memory !== undefined) ctx.addIssue({ code: "custom", path: ["memory"], message: memory, input: sync.memory });
});
