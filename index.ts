// warmstart: build once, start warm. One graph from the registry cache to the model cache:
//   registry cache -> CUDA bases -> service images -> services  <- model cache <- model sync
// The target (targets/) decides where it runs: GCP, or a local Docker engine. The layer decides
// which part this stack owns: `all`, `platform` (registry cache and bases) or `project` (the
// rest, on a platform stack's bases). Settings live in the components; this file only wires them.
import * as pulumi from "@pulumi/pulumi";
import { BaseImages } from "./components/build/baseImages";
import type { BaseRefs, ImageRegistry } from "./components/build/buildSettings";
import { ServiceImage } from "./components/build/serviceImage";
import { PLATFORM_OUTPUT, PlatformReference } from "./components/gcp/platformReference";
import { stackPrefix, SYNC_NAME } from "./components/shared/naming";
import { loadStackConfig } from "./stacks/load";
import type { StackConfig } from "./stacks/schema";
import { TARGETS } from "./targets";

/** The registry and the bases images build on, and the outputs a platform publishes. */
interface Platform {
    registry: ImageRegistry;
    bases: BaseRefs;
    builder?: pulumi.Input<string>;
    outputs: Record<string, unknown>;
}

/** A project stack reads its platform from the platform stack's outputs. */
async function readPlatform(cfg: StackConfig): Promise<Platform> {
    const platform = await PlatformReference.read("platform", {
        stack: cfg.platformStack!, requiredVariants: cfg.services.flatMap((s) => (s.builder ? [s.base, s.builder] : [s.base])),
    });
    return { registry: platform, bases: platform, builder: cfg.builder, outputs: {} };
}

/** Any other stack builds it: the target's registry cache, and the CUDA bases on it. */
function buildPlatform(cfg: StackConfig, prefix: string): Platform {
    const { registry, builder, exportPlatform } = TARGETS[cfg.target].registry(cfg, prefix);
    const bases = new BaseImages("bases", { builder, registry, variants: cfg.bases });
    const outputs: Record<string, unknown> = {};
    // What project stacks read from this one (see PlatformReference).
    if (exportPlatform !== undefined) outputs[PLATFORM_OUTPUT] = exportPlatform(bases);
    outputs.baseImageRefs = bases.refs;
    return { registry, bases, builder, outputs };
}

export = async () => {
    const cfg = loadStackConfig();
    const stack = pulumi.getStack();
    const prefix = stackPrefix(cfg.namePrefix, stack);
    const target = TARGETS[cfg.target];
    // Settings fixed at creation (the bucket's namespace) may not change: refuse before building.
    await target.preflight?.(cfg, stack);

    const platform = cfg.layer === "project" ? await readPlatform(cfg) : buildPlatform(cfg, prefix);
    if (cfg.layer === "platform") return platform.outputs;

    // Service images on the bases, and the sync program's image.
    const build = { builder: platform.builder, registry: platform.registry, tag: stack };
    const services = Object.fromEntries(cfg.services.map((svc) => [svc.name, new ServiceImage(svc.name, {
        ...build, context: svc.context, dockerfile: svc.dockerfile, target: svc.target,
        buildArgs: { BASE_IMAGE: platform.bases.ref(svc.base), ...(svc.builder ? { BUILDER_IMAGE: platform.bases.ref(svc.builder) } : {}) },
    }).ref]));
    const sync = new ServiceImage(SYNC_NAME, { ...build, context: cfg.sync.context, buildArgs: { REGISTRY_MIRROR: platform.registry.mirror() } }).ref;

    // The model cache, the sync that fills it and the services that read it, on the target.
    return {
        ...platform.outputs,
        ...target.deploy({ cfg, stack, prefix, images: { services, sync } }),
        serviceImageRefs: services,
        syncImageRef: sync,
    };
};
