// warmstart: build once, start warm. One graph from the registry cache to the model cache:
//   RegistryCache -> BaseImages -> ServiceImage x N -> ModelService x N  <- ModelCache -> ModelSyncJob
// Settings live in the components; this file only wires them from the stack configuration.
import * as pulumi from "@pulumi/pulumi";
import { BaseImages } from "./components/baseImages";
import { ModelCache } from "./components/modelCache";
import { ModelService } from "./components/modelService";
import { ModelSyncJob } from "./components/modelSyncJob";
import { bucketName, MAX_LENGTH, resourceId, serviceAccountId } from "./components/naming";
import { RegistryCache } from "./components/registryCache";
import { ServiceImage } from "./components/serviceImage";
import { loadStackConfig } from "./stacks/load";

const cfg = loadStackConfig();
const stack = pulumi.getStack();
const prefix = resourceId([cfg.namePrefix, stack], 20);
const build = { builder: cfg.builder };

const registry = new RegistryCache("registry", {
    project: cfg.project, region: cfg.region, idPrefix: prefix, upstreams: cfg.registry.upstreams,
    cacheRetentionDays: cfg.registry.cacheRetentionDays, keepRecentCaches: cfg.registry.keepRecentCaches,
});

const bases = new BaseImages("bases", { ...build, registry, variants: cfg.bases });

const modelCache = new ModelCache("model-cache", {
    project: cfg.project, bucketName: bucketName(cfg.modelCache.bucketPrefix, cfg.project, stack),
    location: cfg.modelCache.location ?? cfg.region, hierarchicalNamespace: cfg.modelCache.hierarchicalNamespace,
    revisionRetentionDays: cfg.modelCache.revisionRetentionDays, stagingRetentionDays: cfg.modelCache.stagingRetentionDays,
    forceDestroy: !cfg.deletionProtection,
});

const services = cfg.services.map((svc) => {
    const image = new ServiceImage(svc.name, {
        ...build, registry, context: svc.context, dockerfile: svc.dockerfile, target: svc.target, tag: stack,
        buildArgs: { BASE_IMAGE: bases.ref(svc.base), ...(svc.builder ? { BUILDER_IMAGE: bases.ref(svc.builder) } : {}) },
    });
    const service = new ModelService(svc.name, {
        ...svc, project: cfg.project, region: cfg.region, image: image.ref, modelCache,
        serviceName: resourceId([prefix, svc.name], MAX_LENGTH.cloudRun),
        accountId: serviceAccountId(cfg.namePrefix, stack, svc.name), deletionProtection: cfg.deletionProtection,
    });
    return { name: svc.name, image, service };
});

const syncImage = new ServiceImage("model-sync", {
    ...build, registry, context: cfg.sync.context, tag: stack, buildArgs: { REGISTRY_MIRROR: registry.mirror() },
});
const sync = new ModelSyncJob("model-sync", {
    ...cfg.sync, project: cfg.project, region: cfg.region, image: syncImage.ref, modelCache, models: cfg.models,
    jobName: resourceId([prefix, "model-sync"], MAX_LENGTH.cloudRun), revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
    accountId: serviceAccountId(cfg.namePrefix, stack, "sync"), schedulerAccountId: serviceAccountId(cfg.namePrefix, stack, "sched"),
    deletionProtection: cfg.deletionProtection,
});

export const serviceUrls = Object.fromEntries(services.map((s) => [s.name, s.service.url]));
export const baseImageRefs = bases.refs;
export const serviceImageRefs = Object.fromEntries(services.map((s) => [s.name, s.image.ref]));
export const syncImageRef = syncImage.ref;
export const modelCacheBucket = modelCache.bucketName;
export const syncJobName = sync.jobName;
export const runSyncCommand = pulumi.interpolate`gcloud run jobs execute ${sync.jobName} --region ${cfg.region} --project ${cfg.project} --wait`;
