// warmstart: build once, start warm. One graph from the registry cache to the model cache:
//   RegistryCache -> BaseImages -> ServiceImage x N -> ModelService x N  <- ModelCache -> ModelSyncJob
// The stack's layer decides which part is created here: `all` (everything), `platform` (registry
// cache and bases) or `project` (the rest, built on a platform stack's bases). Settings live in
// the components; this file only wires them from the stack configuration.
import * as pulumi from "@pulumi/pulumi";
import { BaseImages } from "./components/baseImages";
import { BaseRefs, ImageRegistry } from "./components/buildSettings";
import { ModelCache } from "./components/modelCache";
import { Monitoring } from "./components/monitoring";
import { ModelService } from "./components/modelService";
import { ModelSyncJob } from "./components/modelSyncJob";
import { bucketName, MAX_LENGTH, resourceId, serviceAccountId } from "./components/naming";
import { PLATFORM_OUTPUT, PlatformReference } from "./components/platformReference";
import { RegistryCache } from "./components/registryCache";
import { ServiceImage } from "./components/serviceImage";
import { loadStackConfig } from "./stacks/load";

export = async () => {
    const cfg = loadStackConfig();
    const stack = pulumi.getStack();
    const prefix = resourceId([cfg.namePrefix, stack], 20);
    const outputs: Record<string, unknown> = {};

    // The platform part: created here, or read from the platform stack.
    let registry: ImageRegistry;
    let bases: BaseRefs;
    if (cfg.layer === "project") {
        const platform = await PlatformReference.read("platform", {
            stack: cfg.platformStack!, requiredVariants: cfg.services.flatMap((s) => (s.builder ? [s.base, s.builder] : [s.base])),
        });
        registry = platform;
        bases = platform;
    } else {
        const cache = new RegistryCache("registry", {
            project: cfg.project, region: cfg.region, idPrefix: prefix, upstreams: cfg.registry.upstreams, readers: cfg.registry.readers,
            writers: cfg.registry.writers, cacheRetentionDays: cfg.registry.cacheRetentionDays, keepRecentCaches: cfg.registry.keepRecentCaches,
            retainOnDelete: cfg.deletionProtection,
        });
        const baseImages = new BaseImages("bases", { builder: cfg.builder, registry: cache, variants: cfg.bases });
        registry = cache;
        bases = baseImages;
        outputs.baseImageRefs = baseImages.refs;
        outputs[PLATFORM_OUTPUT] = { host: cache.host, imageRepository: cache.imageRepository, cacheRepository: cache.cacheRepository, mirrors: cache.mirrors, bases: baseImages.exported() };
    }
    if (cfg.layer === "platform") return outputs;

    // The project part: model cache, services on the bases, the nightly sync.
    const build = { builder: cfg.builder, registry, tag: stack };
    const modelCache = new ModelCache("model-cache", {
        project: cfg.project, bucketName: bucketName(cfg.modelCache.bucketPrefix, cfg.project, stack),
        location: cfg.modelCache.location ?? cfg.region, hierarchicalNamespace: cfg.modelCache.hierarchicalNamespace,
        revisionRetentionDays: cfg.modelCache.revisionRetentionDays, stagingRetentionDays: cfg.modelCache.stagingRetentionDays,
        protect: cfg.deletionProtection,
    });

    const syncImage = new ServiceImage("model-sync", { ...build, context: cfg.sync.context, buildArgs: { REGISTRY_MIRROR: registry.mirror() } });
    const sync = new ModelSyncJob("model-sync", {
        ...cfg.sync, project: cfg.project, region: cfg.region, image: syncImage.ref, modelCache, models: cfg.models,
        jobName: resourceId([prefix, "model-sync"], MAX_LENGTH.cloudRun), revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
        accountId: serviceAccountId(cfg.namePrefix, stack, "sync"), schedulerAccountId: serviceAccountId(cfg.namePrefix, stack, "sched"),
        deletionProtection: cfg.deletionProtection,
    });

    const services = cfg.services.map((svc) => {
        const image = new ServiceImage(svc.name, {
            ...build, context: svc.context, dockerfile: svc.dockerfile, target: svc.target,
            buildArgs: { BASE_IMAGE: bases.ref(svc.base), ...(svc.builder ? { BUILDER_IMAGE: bases.ref(svc.builder) } : {}) },
        });
        const service = new ModelService(svc.name, {
            ...svc, project: cfg.project, region: cfg.region, image: image.ref, modelCache,
            serviceName: resourceId([prefix, svc.name], MAX_LENGTH.cloudRun),
            accountId: serviceAccountId(cfg.namePrefix, stack, svc.name), deletionProtection: cfg.deletionProtection,
            startAfter: cfg.sync.seedOnCreate ? [sync.job] : [],
        });
        return { name: svc.name, image, service };
    });

    if (cfg.monitoring.enabled) {
        new Monitoring("monitoring", {
            ...cfg.monitoring, project: cfg.project, metricPrefix: `warmstart/${prefix}`, emails: cfg.monitoring.notificationEmails,
            serviceNames: services.map((s) => s.service.service.name), syncJobName: sync.jobName, bucketName: modelCache.bucketName,
            syncSchedule: cfg.sync.schedule, syncTimeZone: cfg.sync.timeZone,
        });
    }

    return {
        ...outputs,
        serviceUrls: Object.fromEntries(services.map((s) => [s.name, s.service.url])),
        serviceImageRefs: Object.fromEntries(services.map((s) => [s.name, s.image.ref])),
        syncImageRef: syncImage.ref,
        modelCacheBucket: modelCache.bucketName,
        modelCacheManifest: pulumi.interpolate`gs://${modelCache.bucketName}/manifest.json`,
        syncJobName: sync.jobName,
        runSyncCommand: pulumi.interpolate`gcloud run jobs execute ${sync.jobName} --region ${cfg.region} --project ${cfg.project} --wait`,
    };
};
