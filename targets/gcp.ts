// The GCP target: Artifact Registry as the registry cache; a GCS bucket, Cloud Run services and
// a Cloud Run job with Cloud Scheduler as the workloads.
import * as pulumi from "@pulumi/pulumi";
import { fixedSettingProblems, ModelCache, modelCacheBucketUrn } from "../components/gcp/modelCache";
import { ModelService } from "../components/gcp/modelService";
import { ModelSyncJob } from "../components/gcp/modelSyncJob";
import { Monitoring } from "../components/gcp/monitoring";
import { bucketName, cloudRunName, SCHEDULER_ACCOUNT, serviceAccountId, SYNC_ACCOUNT, SYNC_NAME } from "../components/shared/naming";
import { RegistryCache } from "../components/gcp/registryCache";
import { StackConfigError } from "../stacks/load";
import { readPreviousOutputs } from "../stacks/previous";
import type { StackConfig } from "../stacks/schema";
import { platformOutput } from "../components/gcp/platformReference";
import type { Target, TargetRegistry, WorkloadInputs, WorkloadOutputs } from "./target";

function projectOf(cfg: StackConfig): string {
    // The schema requires it for this target; this guards a caller that skipped the schema.
    if (cfg.project === undefined) throw new Error("gcp:project is not set: run `pulumi config set gcp:project <id>`");
    return cfg.project;
}

/** Outputs the next deploy reads back: the bucket and the settings it was created with. */
export const BUCKET_OUTPUTS = { bucketName: "modelCacheBucket", hierarchicalNamespace: "modelCacheHierarchicalNamespace", location: "modelCacheLocation" } as const;

/** The model cache component's name. */
const MODEL_CACHE = "model-cache";

/** Where the bucket is: `modelCache.location`, or the stack's region when no location pins it. */
function bucketLocation(cfg: StackConfig): { location: string; key: string } {
    return cfg.modelCache.location !== undefined
        ? { location: cfg.modelCache.location, key: "warmstart:modelCache.location" }
        : { location: cfg.region, key: "warmstart:region" };
}

/**
 * Refuses, before anything is registered, a config change GCP can only make by replacing a
 * resource that holds data: the bucket's hierarchical namespace or location. Reads this stack's
 * last outputs; a first deploy has none and passes.
 */
async function checkAgainstPreviousDeploy(cfg: StackConfig, stack: string): Promise<void> {
    // A platform stack holds no bucket.
    if (cfg.layer === "platform") return;
    const previous = await readPreviousOutputs(Object.values(BUCKET_OUTPUTS));
    const { location, key } = bucketLocation(cfg);
    const problems = fixedSettingProblems(
        { bucketName: previous[BUCKET_OUTPUTS.bucketName], hierarchicalNamespace: previous[BUCKET_OUTPUTS.hierarchicalNamespace], location: previous[BUCKET_OUTPUTS.location] },
        {
            bucketName: bucketName(cfg.modelCache.bucketPrefix, projectOf(cfg), stack), hierarchicalNamespace: cfg.modelCache.hierarchicalNamespace,
            location, locationKey: key, protect: cfg.deletionProtection,
            urn: modelCacheBucketUrn(pulumi.getProject(), stack, MODEL_CACHE),
        },
    );
    if (problems.length > 0) throw new StackConfigError(problems);
}

function gcpRegistry(cfg: StackConfig, prefix: string): TargetRegistry {
    const cache = new RegistryCache("registry", {
        project: projectOf(cfg), region: cfg.region, idPrefix: prefix, upstreams: cfg.registry.upstreams, readers: cfg.registry.readers,
        writers: cfg.registry.writers, cacheRetentionDays: cfg.registry.cacheRetentionDays, keepRecentCaches: cfg.registry.keepRecentCaches,
        untaggedRetentionDays: cfg.registry.untaggedRetentionDays, keepRecentVersions: cfg.registry.keepRecentVersions,
        retainOnDelete: cfg.deletionProtection,
    });
    return {
        registry: cache,
        builder: cfg.builder,
        exportPlatform: (bases) => platformOutput({
            host: cache.host, imageRepository: cache.imageRepository, cacheRepository: cache.cacheRepository, mirrors: cache.mirrors, bases: bases.exported(),
        }),
    };
}

function deployToGcp({ cfg, stack, prefix, images }: WorkloadInputs): WorkloadOutputs {
    const project = projectOf(cfg);
    const modelCache = new ModelCache(MODEL_CACHE, {
        project, bucketName: bucketName(cfg.modelCache.bucketPrefix, project, stack),
        location: bucketLocation(cfg).location, hierarchicalNamespace: cfg.modelCache.hierarchicalNamespace,
        revisionRetentionDays: cfg.modelCache.revisionRetentionDays, stagingRetentionDays: cfg.modelCache.stagingRetentionDays,
        softDeleteRetentionDays: cfg.modelCache.softDeleteRetentionDays, protect: cfg.deletionProtection,
    });

    const sync = new ModelSyncJob(SYNC_NAME, {
        project, region: cfg.region, image: images.sync, modelCache, models: cfg.models,
        schedule: cfg.sync.schedule, timeZone: cfg.sync.timeZone, timeoutSeconds: cfg.sync.timeoutSeconds, maxRetries: cfg.sync.maxRetries,
        cpu: cfg.sync.cpu, memory: cfg.sync.memory, seedOnCreate: cfg.sync.seedOnCreate, hfTokenSecret: cfg.sync.hfTokenSecret,
        jobName: cloudRunName(prefix, SYNC_NAME), revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
        accountId: serviceAccountId(cfg.namePrefix, stack, SYNC_ACCOUNT), schedulerAccountId: serviceAccountId(cfg.namePrefix, stack, SCHEDULER_ACCOUNT),
        deletionProtection: cfg.deletionProtection,
    });

    const services = cfg.services.map((svc) => new ModelService(svc.name, {
        project, region: cfg.region, image: images.services[svc.name], modelCache,
        cpu: svc.cpu, memory: svc.memory, gpu: svc.gpu, minInstances: svc.minInstances, maxInstances: svc.maxInstances,
        concurrency: svc.concurrency, port: svc.port, healthPath: svc.healthPath, env: svc.env, invokers: svc.invokers,
        public: svc.public, sharedModelVolume: svc.sharedModelVolume,
        serviceName: cloudRunName(prefix, svc.name),
        accountId: serviceAccountId(cfg.namePrefix, stack, svc.name), deletionProtection: cfg.deletionProtection,
        startAfter: sync.seed !== undefined ? [sync.seed] : [],
    }));

    if (cfg.monitoring.enabled) {
        new Monitoring("monitoring", {
            project, metricPrefix: `warmstart/${prefix}`, emails: cfg.monitoring.notificationEmails,
            cacheHitRateThreshold: cfg.monitoring.cacheHitRateThreshold, consecutiveFailedSyncs: cfg.monitoring.consecutiveFailedSyncs,
            bucketQuotaGiB: cfg.monitoring.bucketQuotaGiB, bucketUsageThreshold: cfg.monitoring.bucketUsageThreshold, runbookUrl: cfg.monitoring.runbookUrl,
            serviceNames: services.map((s) => s.service.name), syncJobName: sync.jobName, bucketName: modelCache.bucketName,
            syncSchedule: cfg.sync.schedule, syncTimeZone: cfg.sync.timeZone,
            syncMaxRunSeconds: cfg.sync.timeoutSeconds * (cfg.sync.maxRetries + 1),
        });
    }

    return {
        serviceUrls: Object.fromEntries(services.map((s, i) => [cfg.services[i].name, s.url])),
        [BUCKET_OUTPUTS.bucketName]: modelCache.bucketName,
        [BUCKET_OUTPUTS.hierarchicalNamespace]: cfg.modelCache.hierarchicalNamespace,
        [BUCKET_OUTPUTS.location]: bucketLocation(cfg).location,
        modelCacheManifest: pulumi.interpolate`gs://${modelCache.bucketName}/manifest.json`,
        syncJobName: sync.jobName,
        runSyncCommand: pulumi.interpolate`gcloud run jobs execute ${sync.jobName} --region ${cfg.region} --project ${project} --wait`,
    };
}

/** Artifact Registry, Cloud Storage, Cloud Run and Cloud Scheduler. */
export const gcpTarget: Target = {
    preflight: checkAgainstPreviousDeploy,
    registry: gcpRegistry,
    deploy: deployToGcp,
};
