// The BuildKit settings every image of the graph shares: where it pushes, which registry cache
// it reads and writes, and which builder runs it.
import * as dockerBuild from "@pulumi/docker-build";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

/**
 * Where images are pulled from, pushed to and cached: a RegistryCache created in this stack, or
 * a PlatformReference to the one a platform stack created.
 */
export interface ImageRegistry {
    /** `<region>-docker.pkg.dev`. */
    readonly host: pulumi.Input<string>;
    /** The prefix that replaces `docker.io` (or another upstream's host) in a FROM line. */
    mirror(upstream?: string): pulumi.Output<string>;
    /** `<image repository>/<image>:<tag>`. */
    imageRef(image: string, tag: string): pulumi.Output<string>;
    /** The BuildKit registry cache of one image. */
    cacheRef(image: string): pulumi.Output<string>;
    /** Push credentials for the registry host. */
    credentials(): dockerBuild.types.input.RegistryArgs[];
}

/** Digest-pinned refs of the CUDA bases, by variant name. */
export interface BaseRefs {
    ref(variant: string): pulumi.Output<string>;
}

/** What BaseImages and ServiceImage need to build and push. */
export interface BuildTarget {
    registry: ImageRegistry;
    /** A BuildKit builder (remote BuildKit or a cloud builder); the local default when absent. */
    builder?: pulumi.Input<string>;
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
/** A short-lived token of the deploying identity, good for any Artifact Registry host. */
export function artifactRegistryCredentials(host: pulumi.Input<string>, opts?: pulumi.InvokeOutputOptions): dockerBuild.types.input.RegistryArgs[] {
    return [{ address: host, username: "oauth2accesstoken", password: gcp.organizations.getClientConfigOutput(opts).accessToken }];
}

export function pinnedRef(tag: pulumi.Input<string>, digest: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.interpolate`${tag}@${digest}`;
}
