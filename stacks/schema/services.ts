// services: the Cloud Run services (or local containers), each on a base, with the CPU and
// memory Cloud Run takes together and no variable the model-cache contract sets.
import { z } from "zod";
import { RESERVED_ENV } from "../../contract/modelCache";
import { serviceNameCollision } from "../../contract/resourceNames";
import { cpuCount, memoryMiB } from "../../policy/units";
import { GPU_TYPES, memoryProblem } from "../cloudRun";
import { cpu, memory, relativePath, resourceName, uniqueNames } from "./common";

export { RESERVED_ENV };

export const gpuSchema = z.strictObject({
    /** Cloud Run GPU type (stacks/cloudRun.ts); the stack's region must offer it. */
    type: z.enum(GPU_TYPES).default("nvidia-l4"),
    /** Cloud Run attaches one GPU per instance (cloud.google.com/run/docs/configuring/services/gpu). */
    count: z.literal(1, { error: "must be 1: Cloud Run attaches one GPU per instance" }).default(1),
    /** Zonal redundancy costs more GPU quota; off by default for inference services. */
    zonalRedundancy: z.boolean().default(false),
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

export const serviceSchema = z.strictObject({
    name: resourceName,
    /** Build context, relative to the repository root. */
    context: relativePath,
    /** Dockerfile, relative to the repository root; defaults to `<context>/Dockerfile`. */
    dockerfile: relativePath.optional(),
    /** The base variant the final stage starts from (`BASE_IMAGE`). */
    base: resourceName,
    /** A base variant for a builder stage (`BUILDER_IMAGE`), usually a devel base. */
    builder: resourceName.optional(),
    /** Dockerfile target stage to build. */
    target: z.string().regex(/^[A-Za-z0-9_.-]+$/, "must be a Dockerfile stage name").optional(),
    cpu: cpu.default("1"),
    memory: memory.default("2Gi"),
    gpu: gpuSchema.optional(),
    minInstances: z.number().int().min(0).max(1000).default(0),
    maxInstances: z.number().int().min(1).max(1000).default(3),
    port: z.number().int().min(1).max(65535).default(8080),
    /** HTTP path the startup and liveness probes call. */
    healthPath: z.string().regex(/^\/[A-Za-z0-9._~/-]*$/, "must be an absolute URL path such as /healthz").default("/healthz"),
    /** `false` makes services skip the shared cache and load models locally (the fallback switch). */
    sharedModelVolume: z.boolean().default(true),
    /** Requests one instance handles at once. */
    concurrency: z.number().int().min(1).max(1000).default(8),
    env: z.record(envName, z.string()).default({}),
    /** Members granted roles/run.invoker on this service, e.g. `group:ml@example.com`. */
    invokers: z.array(z.string().regex(/^(user|group|serviceAccount|domain|principal|principalSet):.+$/, "must be an IAM member such as group:ml@example.com (allUsers is set with public: true)")).default([]),
    /** Let anyone on the internet call the service (grants allUsers the invoker role). */
    public: z.boolean().default(false),
}).superRefine((svc, ctx) => {
    const collision = serviceNameCollision(svc.name);
    if (collision !== undefined) ctx.addIssue({ code: "custom", path: ["name"], message: `${collision}: choose another name`, input: svc.name });
    // The GPU's minimums first: a CPU under them is the cause of any memory problem that follows.
    if (svc.gpu !== undefined) {
        // Cloud Run GPU instances need at least 4 vCPU and 16 GiB, and always-allocated CPU.
        if (cpuCount(svc.cpu) < 4) ctx.addIssue({ code: "custom", path: ["cpu"], message: "must be at least 4 with a GPU (Cloud Run's minimum)", input: svc.cpu });
        if (memoryMiB(svc.memory) < 16 * 1024) ctx.addIssue({ code: "custom", path: ["memory"], message: "must be at least 16Gi with a GPU (Cloud Run's minimum)", input: svc.memory });
    }
    const memory = memoryProblem(svc.memory, svc.cpu);
    if (memory !== undefined) ctx.addIssue({ code: "custom", path: ["memory"], message: memory, input: svc.memory });
    if (svc.minInstances > svc.maxInstances) {
        ctx.addIssue({ code: "custom", path: ["minInstances"], message: `must not exceed maxInstances (${svc.maxInstances})`, input: svc.minInstances });
    }
    for (const name of Object.keys(svc.env)) {
        if (RESERVED_ENV.includes(name)) {
            ctx.addIssue({ code: "custom", path: ["env", name], message: `is set by warmstart itself (reserved: ${RESERVED_ENV.join(", ")})`, input: name });
        }
    }
});

export const serviceListSchema = uniqueNames(serviceSchema).default([]);
