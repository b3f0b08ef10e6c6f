import * as dockerBuild from "@pulumi/docker-build";
import * as pulumi from "@pulumi/pulumi";
import { BuildTarget, commonImageArgs, pinnedRef } from "./buildSettings";
import { dockerfileOf } from "../../stacks/buildPaths";

export interface ServiceImageArgs extends BuildTarget {
    /** Build context, relative to the program's working directory. */
    context: string;
    /** Dockerfile; `<context>/Dockerfile` when absent. */
    dockerfile?: string;
    /** Dockerfile stage to build. */
    target?: string;
    /**
     * Build args, typically `BASE_IMAGE` (and `BUILDER_IMAGE`) as digest-pinned refs: a new
     * base digest is a changed input, so the service rebuilds when its base does.
     */
    buildArgs: Record<string, pulumi.Input<string>>;
    /** Tag pushed beside the digest, e.g. the stack name. */
    tag: string;
}

/** One image we build (a service, or the sync program), with its own registry cache. */
export class ServiceImage extends pulumi.ComponentResource {
    readonly image: dockerBuild.Image;
    /** `<repo>/<name>:<tag>@sha256:…`, what Cloud Run deploys. */
    readonly ref: pulumi.Output<string>;

    constructor(name: string, args: ServiceImageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:images:ServiceImage", name, {}, opts);
        const tag = args.registry.imageRef(name, args.tag);
        this.image = new dockerBuild.Image(`${name}-image`, {
            ...commonImageArgs(args, name),
            context: { location: args.context },
            dockerfile: { location: dockerfileOf(args.context, args.dockerfile) },
            target: args.target,
            buildArgs: args.buildArgs,
            tags: [tag],
        }, { parent: this });
        this.ref = pinnedRef(tag, this.image.digest);
        this.registerOutputs({ ref: this.ref });
    }
}
