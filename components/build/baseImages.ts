import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { BaseRefs, BuildTarget, commonImageArgs, pinnedRef } from "./buildSettings";
import { baseImageName, baseImageTag, torchIndexUrl } from "../shared/naming";
import type { BaseVariant, BaseVersions } from "../../stacks/schema";

/** A base as a platform stack exports it to project stacks: its pinned ref and versions. */
export type ExportedBase = BaseVersions & { ref: string };

export interface BaseImagesArgs extends BuildTarget {
    variants: BaseVariant[];
}

/** The build args the CUDA base Dockerfile declares; the versions come from stack config. */
export function baseBuildArgs(variant: BaseVariant, mirror: pulumi.Input<string>): Record<string, pulumi.Input<string>> {
    return {
        REGISTRY_MIRROR: mirror,
        // The NVIDIA image flavour matches the target: devel brings nvcc and the CUDA headers.
        CUDA_FLAVOR: variant.kind,
        CUDA_VERSION: variant.cudaVersion,
        UBUNTU_VERSION: variant.ubuntuVersion,
        PYTHON_VERSION: variant.pythonVersion,
        TORCH_VERSION: variant.torchVersion,
        TORCH_INDEX_URL: torchIndexUrl(variant.cudaVersion),
    };
}

/**
 * The shared CUDA bases, built once per variant. Each pulls `nvidia/cuda` through the registry
 * cache and exposes a digest-pinned ref, so a version change in stack config rebuilds the base
 * and, through the digest, every service image built on it.
 */
export class BaseImages extends pulumi.ComponentResource implements BaseRefs {
    /** The image of each variant, by variant name. */
    readonly images: Record<string, dockerBuild.Image> = {};
    /** `<repo>/cuda-<variant>:<versions>@sha256:…` by variant name. */
    readonly refs: Record<string, pulumi.Output<string>> = {};
    private readonly variants: BaseVariant[];

    constructor(name: string, args: BaseImagesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:images:BaseImages", name, {}, opts);
        this.variants = args.variants;
        const mirror = args.registry.mirror();
        for (const variant of args.variants) {
            const imageName = baseImageName(variant.name);
            const tag = args.registry.imageRef(imageName, baseImageTag(variant));
            const image = new dockerBuild.Image(`${name}-${variant.name}`, {
                ...commonImageArgs(args, imageName),
                context: { location: variant.context },
                dockerfile: { location: variant.dockerfile },
                target: variant.kind,
                buildArgs: baseBuildArgs(variant, mirror),
                tags: [tag],
                labels: {
                    "org.opencontainers.image.title": imageName,
                    "dev.warmstart.cuda": variant.cudaVersion,
                    "dev.warmstart.torch": variant.torchVersion,
                },
            }, { parent: this });
            this.images[variant.name] = image;
            this.refs[variant.name] = pinnedRef(tag, image.digest);
        }
        this.registerOutputs({ refs: this.refs });
    }

    /** What a platform stack exports of each variant: the pinned ref and the versions in it. */
    exported(): Record<string, pulumi.Output<ExportedBase>> {
        return Object.fromEntries(this.variants.map(({ name, context: _context, dockerfile: _dockerfile, ...versions }) => [name, this.refs[name].apply((ref) => ({ ref, ...versions }))]));
    }

    /** The digest-pinned ref of a variant; names the known variants when it is not one. */
    ref(variant: string): pulumi.Output<string> {
        const ref = this.refs[variant];
        if (ref === undefined) {
            throw new Error(`no base variant '${variant}' (built here: ${Object.keys(this.refs).join(", ")})`);
        }
        return ref;
    }
}
