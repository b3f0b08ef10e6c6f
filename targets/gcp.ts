// The GCP target: Artifact Registry as the registry cache; a GCS bucket, Cloud Run services and
// a Cloud Run job with Cloud Scheduler as the workloads.
import * as pulumi from "@pulumi/pulumi";
import { checkHierarchicalNamespace, ModelCache } from "../components/gcp/modelCache";
import { ModelService } from "../components/gcp/modelService";
import { ModelSyncJob } from "../components/gcp/modelSyncJob";
import { Monitoring } from "../components/gcp/monitoring";
import { bucketName, cloudRunName, serviceAccountId } from "../components/shared/naming";
import { RegistryCache } from "../components/gcp/registryCache";
import { readPreviousOutputs } from "../stacks/previous";
import type { StackConfig } from "../stacks/schema";
import { WorkloadInputs, WorkloadOutputs } from "./workloads";

function projectOf(cfg: StackConfig): string {
    // The schema requires it for this target; this guards a caller that skipped the schema.
    if (cfg.project === undefined) throw new Error("gcp:project is not set: run `pulumi config set gcp:project <id>`");
    return cfg.project;
}

/** Outputs the next deploy reads back: the bucket and the settings it was created with. */
export const BUCKET_OUTPUTS = { bucketName: "modelCacheBucket", hierarchicalNamespace: "modelCacheHierarchicalNamespace" } as const;

/**
 * Refuses, before anything is registered, a config change GCP can only make by replacing a
 * resource that holds data: today the bucket's hierarchical namespace. Reads this stack's last
 * outputs; a first deploy has none and passes.
 */
export async function checkAgainstPreviousDeploy(cfg: StackConfig, stack: string): Promise<void> {
    const previous = await readPreviousOutputs(Object.values(BUCKET_OUTPUTS));
    checkHierarchicalNamespace(
        { bucketName: previous[BUCKET_OUTPUTS.bucketName], hierarchicalNamespace: previous[BUCKET_OUTPUTS.hierarchicalNamespace] },
        bucketName(cfg.modelCache.bucketPrefix, projectOf(cfg), stack),
        cfg.modelCache.hierarchicalNamespace,
    );
}

export function gcpRegistry(cfg: StackConfig, prefix: string): RegistryCache {
    return new RegistryCache("registry", {
        project: projectOf(cfg), region: cfg.region, idPrefix: prefix, upstreams: cfg.registry.upstreams, readers: cfg.registry.readers,
        writers: cfg.registry.writers, cacheRetentionDays: cfg.registry.cacheRetentionDays, keepRecentCaches: cfg.registry.keepRecentCaches,
        untaggedRetentionDays: cfg.registry.untaggedRetentionDays, keepRecentVersions: cfg.registry.keepRecentVersions,
        retainOnDelete: cfg.deletionProtection,
    });
}

export function deployToGcp({ cfg, stack, prefix, serviceImages, syncImage }: WorkloadInputs): WorkloadOutputs {
    const project = projectOf(cfg);
    const modelCache = new ModelCache("model-cache", {
        project, bucketName: bucketName(cfg.modelCache.bucketPrefix, project, stack),
        location: cfg.modelCache.location ?? cfg.region, hierarchicalNamespace: cfg.modelCache.hierarchicalNamespace,
        revisionRetentionDays: cfg.modelCache.revisionRetentionDays, stagingRetentionDays: cfg.modelCache.stagingRetentionDays,
        softDeleteRetentionDays: cfg.modelCache.softDeleteRetentionDays, protect: cfg.deletionProtection,
    });

    const sync = new ModelSyncJob("model-sync", {
        ...cfg.sync, project, region: cfg.region, image: syncImage, modelCache, models: cfg.models,
        jobName: cloudRunName(prefix, "model-sync"), revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
        accountId: serviceAccountId(cfg.namePrefix, stack, "sync"), schedulerAccountId: serviceAccountId(cfg.namePrefix, stack, "sched"),
        deletionProtection: cfg.deletionProtection,
    });

    const services = cfg.services.map((svc, i) => new ModelService(svc.name, {
        ...svc, project, region: cfg.region, image: serviceImages[i], modelCache,
        serviceName: cloudRunName(prefix, svc.name),
        accountId: serviceAccountId(cfg.namePrefix, stack, svc.name), deletionProtection: cfg.deletionProtection,
        startAfter: sync.seed !== undefined ? [sync.seed] : [],
    }));

    if (cfg.monitoring.enabled) {
        new Monitoring("monitoring", {
            ...cfg.monitoring, project, metricPrefix: `warmstart/${prefix}`, emails: cfg.monitoring.notificationEmails,
            serviceNames: services.map((s) => s.service.name), syncJobName: sync.jobName, bucketName: modelCache.bucketName,
            syncSchedule: cfg.sync.schedule, syncTimeZone: cfg.sync.timeZone,
            syncMaxRunSeconds: cfg.sync.timeoutSeconds * (cfg.sync.maxRetries + 1),
        });
    }

    return {
        serviceUrls: Object.fromEntries(services.map((s, i) => [cfg.services[i].name, s.url])),
        [BUCKET_OUTPUTS.bucketName]: modelCache.bucketName,
        [BUCKET_OUTPUTS.hierarchicalNamespace]: cfg.modelCache.hierarchicalNamespace,
        modelCacheManifest: pulumi.interpolate`gs://${modelCache.bucketName}/manifest.json`,
        syncJobName: sync.jobName,
        runSyncCommand: pulumi.interpolate`gcloud run jobs execute ${sync.jobName} --region ${cfg.region} --project ${project} --wait`,
    };
}
