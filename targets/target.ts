// What a target is: where the graph below the images runs. index.ts builds (or reads) the
// platform and the images the same way for every target, then hands them to the target's
// `deploy`. A new target is a file beside gcp.ts and local.ts, and one entry in targets/index.ts.
import * as pulumi from "@pulumi/pulumi";
import type { BaseImages } from "../components/build/baseImages";
import type { ImageRegistry } from "../components/build/buildSettings";
import type { PlatformOutput } from "../components/gcp/platformReference";
import type { StackConfig } from "../stacks/schema";

/** The digest-pinned images a target deploys. */
export interface BuiltImages {
    /** Service image refs, by service name. */
    services: Record<string, pulumi.Output<string>>;
    /** The sync program's image. */
    sync: pulumi.Output<string>;
}

/** What `deploy` receives. */
export interface WorkloadInputs {
    cfg: StackConfig;
    stack: string;
    /** `<namePrefix>-<stack>`, shortened. */
    prefix: string;
    images: BuiltImages;
}

/** Stack outputs a target adds. */
export type WorkloadOutputs = Record<string, unknown>;

/** The registry cache a stack creates on a target, and what it builds with. */
export interface TargetRegistry {
    registry: ImageRegistry;
    /** The BuildKit builder images build on; the host's default when absent. */
    builder?: pulumi.Input<string>;
    /** What project stacks read from a platform stack; absent where no project stack can build on it. */
    exportPlatform?(bases: BaseImages): pulumi.Output<PlatformOutput>;
}

export interface Target {
    /**
     * Refuses, before anything is registered, what the target cannot deploy: on GCP a config
     * change it could only make by replacing a resource that holds data, locally a host
     * directory the sync could not write.
     */
    preflight?(cfg: StackConfig, stack: string): Promise<void>;
    /** Creates the registry cache (a platform or an `all` stack). */
    registry(cfg: StackConfig, prefix: string): TargetRegistry;
    /** The model cache, the sync that fills it and the services that read it. */
    deploy(inputs: WorkloadInputs): WorkloadOutputs;
}
