// The BuildKit settings every image of the graph shares: where it pushes, which registry cache
// it reads and writes, and which builder runs it.
import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";

/** The upstream every registry cache mirrors: Docker Hub, by the name of its mirror. */
export const DOCKER_HUB = "dockerhub";

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

/**
 * The arguments common to every image: push to the registry, amd64 (Cloud Run's platform).
 *
 * No `registries`: pushes and pulls authenticate through the host's Docker credentials (for
 * Artifact Registry, the credential helper `gcloud auth configure-docker <region>-docker.pkg.dev`
 * installs), which the provider reads each time it starts. A token passed here would be read
 * once, stored in state and reused by later deletes long after it expired.
 */
export function commonImageArgs(target: BuildTarget, image: string): Omit<dockerBuild.ImageArgs, "context" | "tags"> {
    return {
        push: true,
        // Previews never build: a pull request's preview must not build CUDA images. The provider
        // defaults this to true and skips only because a push makes the image unbuildable offline.
        buildOnPreview: false,
        platforms: [dockerBuild.Platform.Linux_amd64],
        builder: target.builder !== undefined ? { name: target.builder } : undefined,
        ...registryCache(target.registry.cacheRef(image)),
    };
}

/** `<tag>@<digest>`: deploying by digest makes a rebuilt image a visible diff downstream. */
export function pinnedRef(tag: pulumi.Input<string>, digest: pulumi.Input<string>): pulumi.Output<string> {
    // The build provider answers an image it will rebuild with a known empty digest at preview
    // (pulumi-docker-build): `<tag>@` would reach Cloud Run and the policy as if it were the image.
    // It is unknown until the build: say so.
    return pulumi.all([tag, digest]).apply(([t, d]) => (d === "" && pulumi.runtime.isDryRun() ? pulumi.unknown as unknown as string : `${t}@${d}`));
}
