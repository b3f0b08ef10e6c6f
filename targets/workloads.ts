// What a target deploys from the images the graph built: the part of the picture below the
// service images, on GCP (targets/gcp.ts) or on a local Docker engine (targets/local.ts).
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stacks/schema";

/** The built images a target deploys. */
export interface WorkloadInputs {
    cfg: StackConfig;
    stack: string;
    /** `<namePrefix>-<stack>`, shortened. */
    prefix: string;
    /** Digest-pinned service image refs, in the order of `cfg.services`. */
    serviceImages: pulumi.Output<string>[];
    /** Digest-pinned image of the sync program. */
    syncImage: pulumi.Output<string>;
}

/** Stack outputs a target adds. */
export type WorkloadOutputs = Record<string, unknown>;
