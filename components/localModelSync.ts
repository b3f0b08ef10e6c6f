import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { LocalModelCache } from "./localModelCache";
import { syncJobEnv } from "./modelSyncJob";

export interface LocalModelSyncArgs {
    containerName: string;
    /** The sync program's image, pinned by digest. */
    image: pulumi.Input<string>;
    modelCache: LocalModelCache;
    models: unknown[];
    revisionRetentionDays: number;
}

/**
 * The local target's sync: the same program as the Cloud Run job, run once as a container that
 * `pulumi up` waits for, so the services start on a filled cache. Run it again with
 * `docker start -a <container>`.
 */
export class LocalModelSync extends pulumi.ComponentResource {
    readonly container: docker.Container;

    constructor(name: string, args: LocalModelSyncArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:run:LocalModelSync", name, {}, opts);
        this.container = new docker.Container(`${name}-container`, {
            name: args.containerName,
            image: args.image,
            envs: Object.entries(syncJobEnv(args)).map(([k, v]) => `${k}=${v}`).sort(),
            mounts: [args.modelCache.writeMount()],
            // One-shot: wait for the exit, keep the container (and its logs) for the next run.
            attach: true,
            logs: true,
            mustRun: false,
            restart: "no",
        }, { parent: this });
        this.registerOutputs({ container: this.container.name });
    }
}
