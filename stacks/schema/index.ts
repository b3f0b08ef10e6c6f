// The typed stack configuration: every key a stack file may set, its default and its checks,
// one file per section (each with its own rules) and the rules across sections here.
// Pulumi.yaml declares the same keys and their types for the CLI; this schema is the source of
// truth for what is inside objects and lists, for what Cloud Run and NVIDIA offer, and for cross-field rules.
import { z } from "zod";
import { CLOUD_RUN_GPU_REGIONS } from "../cloudRun";
import { PLATFORM_STACK_FORMS } from "../platformStack";
import { baseListSchema } from "./bases";
import { gcpRegion, lowercaseName } from "./common";
import { localSchema, localServicePorts } from "./local";
import { modelList } from "./models";
import { modelCacheSchema } from "./modelCache";
import { monitoringSchema } from "./monitoring";
import { pricingSchema } from "./pricing";
import { registrySchema } from "./registry";
import { serviceListSchema } from "./services";
import { syncSchema } from "./sync";

export { baseVariantSchema, BaseVariant, BaseVersions, UBUNTU_PYTHON } from "./bases";
export { localSchema, localServicePorts } from "./local";
export { modelList, modelSchema } from "./models";
export { modelCacheSchema } from "./modelCache";
export { monitoringSchema } from "./monitoring";
export { pricingSchema } from "./pricing";
export { registrySchema, RESERVED_REPOSITORY_NAMES, upstreamSchema } from "./registry";
export { gpuSchema, RESERVED_ENV, serviceSchema } from "./services";
export { syncSchema } from "./sync";
// The tables the schema checks against, for whoever must walk what it accepts.
export { CLOUD_RUN_GPU_REGIONS, CLOUD_RUN_REGION_TIERS, CLOUD_RUN_REGIONS, GPU_TYPES } from "../cloudRun";
export { BUCKET_LOCATIONS } from "../cloudStorage";
// CPU and memory are read with the policy pack's parser, here and there alike.
export { cpuCount, memoryMiB } from "../../policy/units";

/** Which part of the graph a stack owns. */
export const LAYERS = ["all", "platform", "project"] as const;

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
        platformStack: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, `must be a fully qualified stack name, ${PLATFORM_STACK_FORMS}`).optional(),
        /** Prefix of every resource name; keeps two stacks in one project apart. */
        namePrefix: lowercaseName(12, " (it prefixes service account ids, which GCP limits to 30)").default("ws"),
        /** Cloud Run deletion protection (on in prod, off in dev so `pulumi destroy` works). */
        deletionProtection: z.boolean().default(false),
        /** A BuildKit builder to build on (remote BuildKit or a cloud builder); the local default otherwise. */
        builder: z.string().min(1).optional(),
        registry: registrySchema.default(registrySchema.parse({})),
        bases: baseListSchema,
        services: serviceListSchema,
        modelCache: modelCacheSchema.default(modelCacheSchema.parse({})),
        models: modelList.default([]),
        sync: syncSchema.default(syncSchema.parse({})),
        monitoring: monitoringSchema.default(monitoringSchema.parse({})),
        /** What the cost estimate (`npm run plan -- <stack> --format cost`) prices differently. */
        pricing: pricingSchema.default(pricingSchema.parse({})),
    })
    .superRefine((cfg, ctx) => {
        if (cfg.layer === "project" && cfg.platformStack === undefined) {
            ctx.addIssue({ code: "custom", path: ["platformStack"], message: `is required with layer: project (the platform stack to build on, ${PLATFORM_STACK_FORMS})`, input: undefined });
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
            // Both registries and the services publish on loopback ports of the same host.
            const ports = localServicePorts(cfg.local, cfg.services.length);
            for (const registry of ["proxyPort", "pushPort"] as const) {
                const i = ports.indexOf(cfg.local[registry]);
                if (i >= 0) ctx.addIssue({ code: "custom", path: ["local", "firstServicePort"], message: `publishes services[${i}] (${cfg.services[i].name}) on port ${ports[i]}, which local.${registry} uses: the services take ports ${ports[0]}-${ports[ports.length - 1]}, one each`, input: cfg.local.firstServicePort });
            }
        }
        if (cfg.layer === "platform") {
            // A platform stack that silently ignored services would surprise whoever forked it.
            if (cfg.services.length > 0) ctx.addIssue({ code: "custom", path: ["services"], message: "must be empty with layer: platform (projects build services on the platform's bases)", input: cfg.services });
            if (cfg.models.length > 0) ctx.addIssue({ code: "custom", path: ["models"], message: "must be empty with layer: platform (each project syncs its own models)", input: cfg.models });
        }
        // Without a service the model cache has no reader (only this stack's services are granted
        // read): a stack of the registry cache and bases alone is layer: platform.
        if (cfg.layer !== "platform" && cfg.services.length === 0) {
            ctx.addIssue({ code: "custom", path: ["services"], message: `must list at least one service with layer: ${cfg.layer} (the model cache and its sync serve only this stack's services); for the registry cache and the CUDA bases alone, set warmstart:layer to platform`, input: cfg.services });
        }
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
            // A local target runs on the machine's own GPU; Cloud Run offers each GPU in some regions only.
            const gpuRegions: readonly string[] = svc.gpu === undefined ? [] : CLOUD_RUN_GPU_REGIONS[svc.gpu.type];
            if (cfg.target === "gcp" && svc.gpu !== undefined && !gpuRegions.includes(cfg.region)) {
                ctx.addIssue({ code: "custom", path: ["services", i, "gpu"], message: `Cloud Run offers ${svc.gpu.type} GPUs in ${gpuRegions.join(", ")} (stacks/cloudRun.ts), not in the stack's region ${cfg.region}: move the stack or drop the gpu key`, input: svc.gpu });
            }
        });
    });

/** The stack configuration before defaults: what a stack file holds. */
export type StackConfigInput = z.input<typeof stackConfigSchema>;
/** The stack configuration with every default filled in. */
export type StackConfig = z.output<typeof stackConfigSchema>;
