// The BuildKit settings every image of the graph shares: where it pushes, which registry cache
// it reads and writes, and which builder runs it.
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import type { RegistryCache } from "./registryCache";

/** What BaseImages and ServiceImage need to build and push. */
export interface BuildTarget {
    registry: RegistryCache;
    /** A BuildKit builder (remote BuildKit or a cloud builder); the local default when absent. */
    builder?: string;
}

/**
 * Registry cache in max mode: every intermediate layer is exported, so a builder on a fresh
 * machine (CI, a colleague's laptop) reuses the expensive apt, pip and CUDA-extension layers.
 * Image-manifest OCI caches are what Artifact Registry stores and cleans up like images.
 */
export function registryCache(cacheRef: pulumi.Input<string>): Pick<dockerBuild.ImageArgs, "cacheFrom" | "cacheTo"> {
    return {
        cacheFrom: [{ registry: { ref: cacheRef } }],
        cacheTo: [{ registry: { ref: cacheRef, mode: dockerBuild.CacheMode.Max, imageManifest: true, ociMediaTypes: true } }],
    };
}

/** The arguments common to every image: push to Artifact Registry, amd64 (Cloud Run's platform). */
export function commonImageArgs(target: BuildTarget, image: string): Omit<dockerBuild.ImageArgs, "context" | "tags"> {
    return {
        push: true,
        platforms: [dockerBuild.Platform.Linux_amd64],
        registries: target.registry.credentials(),
        builder: target.builder !== undefined ? { name: target.builder } : undefined,
        ...registryCache(target.registry.cacheRef(image)),
    };
}

/** `<tag>@<digest>`: deploying by digest makes a rebuilt image a visible diff downstream. */
export function pinnedRef(tag: pulumi.Input<string>, digest: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.interpolate`${tag}@${digest}`;
}
