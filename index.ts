// warmstart: build once, start warm. One graph from the registry cache to the model cache:
//   registry cache -> CUDA bases -> service images -> services  <- model cache <- model sync
// The target decides where it runs (GCP, or a local Docker engine); the layer decides which part
// this stack owns: `all`, `platform` (registry cache and bases) or `project` (the rest, on a
// platform stack's bases). Settings live in the components; this file only wires them.
import * as pulumi from "@pulumi/pulumi";
import { BaseImages } from "./components/build/baseImages";
import { BaseRefs, ImageRegistry } from "./components/build/buildSettings";
import { stackPrefix } from "./components/shared/naming";
import { PLATFORM_OUTPUT, PlatformReference } from "./components/gcp/platformReference";
import { ServiceImage } from "./components/build/serviceImage";
import { loadStackConfig } from "./stacks/load";
import { checkAgainstPreviousDeploy, deployToGcp, gcpRegistry } from "./targets/gcp";
import { deployLocally, localRegistry } from "./targets/local";

export = async () => {
    const cfg = loadStackConfig();
    const stack = pulumi.getStack();
    const prefix = stackPrefix(cfg.namePrefix, stack);
    const outputs: Record<string, unknown> = {};
    // Settings fixed at creation (the bucket's namespace) may not change: refuse before building.
    if (cfg.target === "gcp" && cfg.layer !== "platform") await checkAgainstPreviousDeploy(cfg, stack);

    // The platform part: created here, or read from the platform stack.
    let registry: ImageRegistry;
    let bases: BaseRefs;
    let builder: pulumi.Input<string> | undefined = cfg.builder;
    if (cfg.layer === "project") {
        const platform = await PlatformReference.read("platform", {
            stack: cfg.platformStack!, requiredVariants: cfg.services.flatMap((s) => (s.builder ? [s.base, s.builder] : [s.base])),
        });
        registry = platform;
        bases = platform;
    } else if (cfg.target === "local") {
        const local = localRegistry(cfg, prefix);
        builder = cfg.builder ?? local.builderName;
        registry = local;
        bases = new BaseImages("bases", { builder, registry, variants: cfg.bases });
    } else {
        const cache = gcpRegistry(cfg, prefix);
        const baseImages = new BaseImages("bases", { builder, registry: cache, variants: cfg.bases });
        registry = cache;
        bases = baseImages;
        // What project stacks read from this one (see PlatformReference).
        outputs[PLATFORM_OUTPUT] = { host: cache.host, imageRepository: cache.imageRepository, cacheRepository: cache.cacheRepository, mirrors: cache.mirrors, bases: baseImages.exported() };
    }
    if (bases instanceof BaseImages) outputs.baseImageRefs = bases.refs;
    if (cfg.layer === "platform") return outputs;

    // Service images on the bases, and the sync program's image.
    const build = { builder, registry, tag: stack };
    const serviceImages = cfg.services.map((svc) => new ServiceImage(svc.name, {
        ...build, context: svc.context, dockerfile: svc.dockerfile, target: svc.target,
        buildArgs: { BASE_IMAGE: bases.ref(svc.base), ...(svc.builder ? { BUILDER_IMAGE: bases.ref(svc.builder) } : {}) },
    }).ref);
    const syncImage = new ServiceImage("model-sync", { ...build, context: cfg.sync.context, buildArgs: { REGISTRY_MIRROR: registry.mirror() } }).ref;

    // The model cache, the sync that fills it and the services that read it, on the target.
    const deploy = cfg.target === "local" ? deployLocally : deployToGcp;
    return {
        ...outputs,
        ...deploy({ cfg, stack, prefix, serviceImages, syncImage }),
        serviceImageRefs: Object.fromEntries(cfg.services.map((svc, i) => [svc.name, serviceImages[i]])),
        syncImageRef: syncImage,
    };
};
