// The typed stack configuration: every key a stack file may set, its default and its checks.
// Pulumi.yaml declares the same keys for the CLI; this schema is the source of truth for the
// shapes the CLI cannot check (objects and lists of objects) and for cross-field rules.
import { Cron } from "croner";
import { z } from "zod";

/** Names that become parts of GCP resource ids: lowercase, start with a letter, no double hyphen. */
const resourceName = z
    .string()
    .regex(/^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/, "must be 1-30 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen")
    .refine((s) => !s.includes("--"), "must not contain two hyphens in a row");

const version = (example: string) =>
    z.string().regex(/^\d+(\.\d+){1,2}$/, `must be a dotted version such as ${example}`);

const relativePath = z
    .string()
    .min(1, "must not be empty")
    .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a path inside the repository (relative, no '..')");

const gcpRegion = z.string().regex(/^[a-z]+-[a-z]+\d+$/, "must be a GCP region such as europe-west1");

/** Cloud Run accepts CPU as a count of vCPUs (fractions below 1 only as 0.x). */
const cpu = z.string().regex(/^(\d+|0\.\d+|\d+m)$/, "must be a vCPU count such as 1, 4 or 0.5 (or millicores such as 500m)");
const memory = z.string().regex(/^\d+(Mi|Gi)$/, "must be a size such as 512Mi or 16Gi");

const timeZone = z.string().refine((tz) => {
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
        return true;
    } catch {
        return false;
    }
}, "must be an IANA time zone such as Europe/Paris or Etc/UTC");

const cron = z.string().superRefine((expr, ctx) => {
    if (expr.trim().split(/\s+/).length !== 5) {
        ctx.addIssue({ code: "custom", message: "must be a five-field cron expression such as '0 3 * * *' (Cloud Scheduler has no seconds field)" });
        return;
    }
    try {
        new Cron(expr, { paused: true });
    } catch (err) {
        ctx.addIssue({ code: "custom", message: `is not a valid cron expression: ${(err as Error).message}` });
    }
});

const iamMember = z.string().regex(/^(user|group|serviceAccount|domain|principal|principalSet):.+$/, "must be an IAM member such as group:ml@example.com or serviceAccount:…");

/** Which part of the graph a stack owns. */
export const LAYERS = ["all", "platform", "project"] as const;

export const upstreamSchema = z.strictObject({
    /** Suffix of the remote repository id, e.g. `nvcr` makes `<prefix>-nvcr`. */
    name: resourceName,
    /** Registry URL the remote repository mirrors, e.g. `https://nvcr.io`. */
    uri: z.url({ protocol: /^https$/, error: "must be an https:// registry URL" }),
});

/** The Python each Ubuntu release ships: the CUDA base installs it from the release's packages. */
export const UBUNTU_PYTHON: Record<string, string> = { "20.04": "3.8", "22.04": "3.10", "24.04": "3.12" };

/** Repository-id suffixes RegistryCache uses itself. */
export const RESERVED_REPOSITORY_NAMES = ["dockerhub", "images", "buildcache"];

export const registrySchema = z.strictObject({
    /** Registries to mirror besides Docker Hub (always mirrored), one remote repository each. */
    upstreams: z.array(upstreamSchema).default([]),
    /** BuildKit cache manifests older than this are deleted. */
    cacheRetentionDays: z.number().int().min(1).max(365).default(14),
    /** The newest cache manifests kept whatever their age. */
    keepRecentCaches: z.number().int().min(1).max(100).default(5),
    /** Members that may pull our images, e.g. other projects' Cloud Run service agents (platform layer). */
    readers: z.array(iamMember).default([]),
    /** Members that may push images and caches, e.g. project stacks' deployers (platform layer). */
    writers: z.array(iamMember).default([]),
});

export const baseVariantSchema = z.strictObject({
    /** Name other keys use to refer to this base, e.g. `runtime`. */
    name: resourceName,
    /** Which target of the CUDA base Dockerfile to build. */
    kind: z.enum(["runtime", "devel"]),
    cudaVersion: version("12.8.1").default("12.8.1"),
    ubuntuVersion: z.string().regex(/^\d{2}\.\d{2}$/, "must be an Ubuntu release such as 24.04").default("24.04"),
    pythonVersion: z.string().regex(/^3\.\d+$/, "must be a Python 3 minor version such as 3.12").default("3.12"),
    torchVersion: version("2.7.1").default("2.7.1"),
    /** Build context, relative to the repository root. */
    context: relativePath.default("images/cuda-base"),
    /** Dockerfile, relative to the repository root. */
    dockerfile: relativePath.default("images/cuda-base/Dockerfile"),
});

export const gpuSchema = z.strictObject({
    /** Cloud Run GPU type; L4 is the one Cloud Run offers. */
    type: z.literal("nvidia-l4").default("nvidia-l4"),
    count: z.literal(1).default(1),
    /** Zonal redundancy costs more GPU quota; off by default for inference services. */
    zonalRedundancy: z.boolean().default(false),
});

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

/** Variables the graph sets itself; a service may not override them. */
export const RESERVED_ENV = ["PORT", "MODEL_CACHE_PATH", "SHARED_MODEL_VOLUME_ENABLED", "HF_HUB_CACHE", "OLLAMA_MODELS", "SENTENCE_TRANSFORMERS_HOME"];

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
});

export const huggingFaceModelSchema = z.strictObject({
    name: resourceName,
    source: z.literal("huggingface"),
    /** Repository id on the Hub, e.g. `BAAI/bge-m3`. */
    repo: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a Hub repository id such as BAAI/bge-m3"),
    /** Pinned commit (40 hex characters) or a branch/tag name. */
    revision: z.string().min(1, "must not be empty"),
    /** Glob patterns of the files to fetch; all files when absent. */
    include: z.array(z.string().min(1)).min(1).optional(),
    /** Approximate size in GiB, for the cost estimate's bucket storage; the sync ignores it. */
    sizeGiB: z.number().positive().optional(),
});

export const ollamaModelSchema = z.strictObject({
    name: resourceName,
    source: z.literal("ollama"),
    model: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, "must be an Ollama model name such as llama3.2"),
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "must be an Ollama tag such as 1b"),
    /** Approximate size in GiB, for the cost estimate's bucket storage; the sync ignores it. */
    sizeGiB: z.number().positive().optional(),
});

export const urlModelSchema = z.strictObject({
    name: resourceName,
    source: z.literal("url"),
    url: z.url({ protocol: /^https$/, error: "must be an https:// URL" }),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"),
    /** File name the artifact is stored under. */
    path: relativePath,
    /** Approximate size in GiB, for the cost estimate's bucket storage; the sync ignores it. */
    sizeGiB: z.number().positive().optional(),
});

export const modelSchema = z.discriminatedUnion("source", [huggingFaceModelSchema, ollamaModelSchema, urlModelSchema], {
    error: "must have source huggingface, ollama or url",
});

export const modelCacheSchema = z.strictObject({
    /** Bucket names are `<bucketPrefix>-<project>-<stack>`, shortened with a hash when too long. */
    bucketPrefix: z.string().regex(/^[a-z0-9][a-z0-9-]{1,20}$/, "must be 2-21 lowercase letters, digits or hyphens").default("warmstart-models"),
    /** Bucket location; defaults to the stack's region so reads stay in-region. */
    location: z.string().regex(/^[A-Za-z0-9-]+$/, "must be a GCS location such as EUROPE-WEST1 or EU").optional(),
    /** Hierarchical namespace gives atomic directory renames; it rules out object versioning. */
    hierarchicalNamespace: z.boolean().default(false),
    /** Days a model revision no longer in the manifest is kept before removal. */
    revisionRetentionDays: z.number().int().min(1).max(365).default(7),
    /** Days an abandoned download under `.staging/` is kept before the bucket deletes it. */
    stagingRetentionDays: z.number().int().min(1).max(30).default(1),
});

export const syncSchema = z.strictObject({
    /** Cloud Scheduler cron, five fields. */
    schedule: cron.default("0 3 * * *"),
    timeZone: timeZone.default("Etc/UTC"),
    /** Seconds one execution may run before Cloud Run stops it. */
    timeoutSeconds: z.number().int().min(60).max(86400).default(3600),
    /** Retries of a failed task within one execution. */
    maxRetries: z.number().int().min(0).max(10).default(2),
    cpu: cpu.default("2"),
    memory: memory.default("4Gi"),
    /** Build context of the sync program's image. */
    context: relativePath.default("images/model-sync"),
    /**
     * Run the sync once when the stack is created and deploy the services after it completed,
     * so the first revision finds a filled cache.
     */
    seedOnCreate: z.boolean().default(true),
    /** Secret Manager secret id holding a Hugging Face token, for gated models. */
    hfTokenSecret: z.string().regex(/^[A-Za-z0-9_-]{1,255}$/, "must be a Secret Manager secret id").optional(),
});

export const monitoringSchema = z.strictObject({
    /** Create the log-based metrics, alert policies and notification channels. */
    enabled: z.boolean().default(false),
    /** Who receives the alerts. */
    notificationEmails: z.array(z.email({ error: "must be an email address" })).default([]),
    /** Hourly share of container starts that must find a complete cache. */
    cacheHitRateThreshold: z.number().gt(0).max(1).default(0.9),
    /** Failed sync executions in a row that alert. */
    consecutiveFailedSyncs: z.number().int().min(1).max(10).default(2),
    /** The bucket's quota in GiB; no usage alert without it. */
    bucketQuotaGiB: z.number().positive().optional(),
    /** Share of the quota that alerts. */
    bucketUsageThreshold: z.number().gt(0).max(1).default(0.8),
    /** Link in every alert to the runbook. */
    runbookUrl: z.url({ protocol: /^https$/, error: "must be an https:// URL" }).optional(),
});

export const pricingSchema = z.strictObject({
    /** Prices by id of pricing/gcp.json, e.g. after a committed-use discount: `run.instance.vcpu.tier1: 0.0000149`. */
    overrides: z.record(z.string().regex(/^[a-z][A-Za-z0-9.-]*$/, "must be a price id of pricing/gcp.json such as run.instance.vcpu.tier1"), z.number().nonnegative()).default({}),
});

export const localSchema = z.strictObject({
    /** Host port of the Docker Hub pull-through cache (loopback). */
    proxyPort: z.number().int().min(1024).max(65535).default(5000),
    /** Host port of the registry images and build caches are pushed to (loopback). */
    pushPort: z.number().int().min(1024).max(65535).default(5001),
    /** Registry the proxy mirrors. */
    upstream: z.url({ protocol: /^https?$/, error: "must be an http(s):// registry URL" }).default("https://registry-1.docker.io"),
    /** How long the proxy keeps what it pulled (a Go duration). */
    proxyTtl: z.string().regex(/^\d+(h|m|s)$/, "must be a duration such as 168h").default("168h"),
    /** Host directory for the model cache instead of a Docker volume. */
    modelCacheHostPath: z.string().refine((p) => p.startsWith("/"), "must be an absolute path").optional(),
    /** Host port of the first service; the next ones count up from it. */
    firstServicePort: z.number().int().min(1024).max(65000).default(8080),
});

export const stackConfigSchema = z
    .strictObject({
        /** GCP project; read from `gcp:project`. */
        project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "must be a GCP project id (6-30 lowercase letters, digits, hyphens): set it with `pulumi config set gcp:project <id>`").optional(),
        /** Where the graph runs: GCP, or a local Docker engine (no cloud account). */
        target: z.enum(["gcp", "local"]).default("gcp"),
        local: localSchema.default(localSchema.parse({})),
        region: gcpRegion.default("europe-west1"),
        /**
         * `all`: the whole graph in one stack. `platform`: the registry cache and the CUDA bases,
         * shared by an organisation. `project`: services, model cache and sync on a platform's bases.
         */
        layer: z.enum(LAYERS).default("all"),
        /** The platform stack a project stack builds on, `<org>/<project>/<stack>`. */
        platformStack: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, "must be a fully qualified stack name such as acme/warmstart/platform").optional(),
        /** Prefix of every resource name; keeps two stacks in one project apart. */
        namePrefix: resourceName.refine((s) => s.length <= 12, "must be at most 12 characters (it prefixes account ids, which are limited to 30)").default("ws"),
        /** Cloud Run deletion protection (on in prod, off in dev so `pulumi destroy` works). */
        deletionProtection: z.boolean().default(false),
        /** A BuildKit builder to build on (remote BuildKit or a cloud builder); the local default otherwise. */
        builder: z.string().min(1).optional(),
        registry: registrySchema.default(registrySchema.parse({})),
        bases: z
            .array(baseVariantSchema)
            .min(1, "must list at least one base variant")
            .default([baseVariantSchema.parse({ name: "runtime", kind: "runtime" }), baseVariantSchema.parse({ name: "devel", kind: "devel" })]),
        services: z.array(serviceSchema).default([]),
        modelCache: modelCacheSchema.default(modelCacheSchema.parse({})),
        models: z.array(modelSchema).default([]),
        sync: syncSchema.default(syncSchema.parse({})),
        monitoring: monitoringSchema.default(monitoringSchema.parse({})),
        /** What the cost estimate (`npm run plan -- <stack> --format cost`) prices differently. */
        pricing: pricingSchema.default(pricingSchema.parse({})),
    })
    .superRefine((cfg, ctx) => {
        const unique = (key: "bases" | "services" | "models", names: string[]) => {
            const seen = new Set<string>();
            names.forEach((name, i) => {
                if (seen.has(name)) ctx.addIssue({ code: "custom", path: [key, i, "name"], message: `duplicates the name '${name}'`, input: name });
                seen.add(name);
            });
        };
        unique("bases", cfg.bases.map((b) => b.name));
        unique("services", cfg.services.map((s) => s.name));
        unique("models", cfg.models.map((m) => m.name));
        cfg.registry.upstreams.forEach((u, i) => {
            if (RESERVED_REPOSITORY_NAMES.includes(u.name)) {
                ctx.addIssue({ code: "custom", path: ["registry", "upstreams", i, "name"], message: `is taken by a repository warmstart creates (${RESERVED_REPOSITORY_NAMES.join(", ")})`, input: u.name });
            }
        });

        if (cfg.layer === "project" && cfg.platformStack === undefined) {
            ctx.addIssue({ code: "custom", path: ["platformStack"], message: "is required with layer: project (the platform stack to build on, e.g. acme/warmstart/platform)", input: undefined });
        }
        if (cfg.layer !== "project" && cfg.platformStack !== undefined) {
            ctx.addIssue({ code: "custom", path: ["platformStack"], message: `is only read with layer: project (this stack's layer is ${cfg.layer})`, input: cfg.platformStack });
        }
        if (cfg.target === "gcp" && cfg.project === undefined) {
            ctx.addIssue({ code: "custom", path: ["project"], message: "is not set: run `pulumi config set gcp:project <id>` (or set warmstart:target to local)", input: undefined });
        }
        if (cfg.target === "local") {
            if (cfg.layer !== "all") ctx.addIssue({ code: "custom", path: ["layer"], message: "must be all with target: local (one machine holds the whole graph)", input: cfg.layer });
            if (cfg.monitoring.enabled) ctx.addIssue({ code: "custom", path: ["monitoring", "enabled"], message: "is a Cloud Monitoring feature: turn it off with target: local", input: true });
            if (cfg.local.proxyPort === cfg.local.pushPort) ctx.addIssue({ code: "custom", path: ["local", "pushPort"], message: "must differ from local.proxyPort", input: cfg.local.pushPort });
        }
        if (cfg.monitoring.enabled && cfg.monitoring.notificationEmails.length === 0) {
            ctx.addIssue({ code: "custom", path: ["monitoring", "notificationEmails"], message: "must list at least one address when monitoring.enabled is true (an alert nobody receives is silent)", input: [] });
        }
        if (cfg.layer === "platform") {
            // A platform stack that silently ignored services would surprise whoever forked it.
            if (cfg.services.length > 0) ctx.addIssue({ code: "custom", path: ["services"], message: "must be empty with layer: platform (projects build services on the platform's bases)", input: cfg.services });
            if (cfg.models.length > 0) ctx.addIssue({ code: "custom", path: ["models"], message: "must be empty with layer: platform (each project syncs its own models)", input: cfg.models });
        }
        cfg.bases.forEach((b, i) => {
            const shipped = UBUNTU_PYTHON[b.ubuntuVersion];
            if (shipped !== undefined && shipped !== b.pythonVersion) {
                ctx.addIssue({ code: "custom", path: ["bases", i, "pythonVersion"], message: `must be ${shipped}, the Python of Ubuntu ${b.ubuntuVersion} (the base installs the release's python${shipped})`, input: b.pythonVersion });
            }
        });

        const baseKinds = new Map(cfg.bases.map((b) => [b.name, b.kind]));
        const knownBases = [...baseKinds.keys()].join(", ") || "none";
        cfg.services.forEach((svc, i) => {
            // A project's bases are whatever its platform exports: checked against the platform's outputs.
            const checkBases = cfg.layer !== "project";
            if (checkBases && !baseKinds.has(svc.base)) {
                ctx.addIssue({ code: "custom", path: ["services", i, "base"], message: `names no base variant (known: ${knownBases})`, input: svc.base });
            }
            if (checkBases && svc.builder !== undefined && !baseKinds.has(svc.builder)) {
                ctx.addIssue({ code: "custom", path: ["services", i, "builder"], message: `names no base variant (known: ${knownBases})`, input: svc.builder });
            }
            if (svc.minInstances > svc.maxInstances) {
                ctx.addIssue({ code: "custom", path: ["services", i, "minInstances"], message: `must not exceed maxInstances (${svc.maxInstances})`, input: svc.minInstances });
            }
            for (const name of Object.keys(svc.env)) {
                if (RESERVED_ENV.includes(name)) {
                    ctx.addIssue({ code: "custom", path: ["services", i, "env", name], message: `is set by warmstart itself (reserved: ${RESERVED_ENV.join(", ")})`, input: name });
                }
            }
            if (svc.gpu !== undefined) {
                // Cloud Run GPU instances need at least 4 vCPU and 16 GiB, and always-allocated CPU.
                if (cpuCount(svc.cpu) < 4) {
                    ctx.addIssue({ code: "custom", path: ["services", i, "cpu"], message: "must be at least 4 with a GPU (Cloud Run's minimum)", input: svc.cpu });
                }
                if (memoryMiB(svc.memory) < 16 * 1024) {
                    ctx.addIssue({ code: "custom", path: ["services", i, "memory"], message: "must be at least 16Gi with a GPU (Cloud Run's minimum)", input: svc.memory });
                }
            }
        });
    });

/** The stack configuration before defaults: what a stack file holds. */
export type StackConfigInput = z.input<typeof stackConfigSchema>;
/** The stack configuration with every default filled in. */
export type StackConfig = z.output<typeof stackConfigSchema>;
export type BaseVariant = StackConfig["bases"][number];
export type ServiceConfig = StackConfig["services"][number];
export type ModelConfig = StackConfig["models"][number];
export type ModelCacheConfig = StackConfig["modelCache"];
export type SyncConfig = StackConfig["sync"];
export type RegistryConfig = StackConfig["registry"];
export type MonitoringConfig = StackConfig["monitoring"];
export type LocalConfig = StackConfig["local"];
export type PricingConfig = StackConfig["pricing"];

export function cpuCount(cpu: string): number {
    return cpu.endsWith("m") ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
}

export function memoryMiB(memory: string): number {
    const n = Number(memory.slice(0, -2));
    return memory.endsWith("Gi") ? n * 1024 : n;
}
