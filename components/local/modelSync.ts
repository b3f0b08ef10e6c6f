import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { ModelSpec } from "../../images/model-sync/src/models";
import type { LocalModelCache } from "./modelCache";
import { syncJobEnv } from "../shared/modelCacheContract";

/**
 * The user the sync runs as: `node` (1000:1000) of the official Node images the sync image is
 * built on (images/model-sync/Dockerfile, `USER node`). A host directory for the cache must be
 * writable by it.
 */
export const SYNC_USER = { uid: 1000, gid: 1000 } as const;

export interface LocalModelSyncArgs {
    containerName: string;
    /** The sync program's image, pinned by digest. */
    image: pulumi.Input<string>;
    modelCache: LocalModelCache;
    models: ModelSpec[];
    revisionRetentionDays: number;
}

/**
 * The sync's exit code, or an error naming the container and the code. The Docker provider
 * records a one-shot container's exit code and reports success whatever it is
 * (kreuzwerker/terraform-provider-docker, resource_docker_container_funcs.go: `exit_code` is only
 * set), so the program turns a failed sync into a failed deployment itself. Unknown (preview) passes.
 */
export function requireSyncSuccess(containerName: string, exitCode: number | undefined): number | undefined {
    if (exitCode !== undefined && exitCode !== 0) {
        throw new Error(`the model sync container ${containerName} exited with code ${exitCode}: read its output with \`docker logs ${containerName}\`, fix the cause, then run pulumi up again`);
    }
    return exitCode;
}

/**
 * The local target's sync: the same program as the Cloud Run job, run once as a container that
 * `pulumi up` waits for, so the services start on a filled cache. Run it again with
 * `docker start -a <container>`.
 */
export class LocalModelSync extends pulumi.ComponentResource {
    readonly container: docker.Container;
    /**
     * The sync's exit code once it succeeded; fails (and so fails every resource taking it as an
     * input) when the sync exited non-zero.
     */
    readonly succeeded: pulumi.Output<number | undefined>;

    constructor(name: string, args: LocalModelSyncArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:run:LocalModelSync", name, {}, opts);
        this.container = new docker.Container(`${name}-container`, {
            name: args.containerName,
            image: args.image,
            envs: Object.entries(syncJobEnv(args)).map(([k, v]) => `${k}=${v}`).sort(),
            mounts: [args.modelCache.writeVolume()],
            // One-shot: wait for the exit, keep the container (and its log, for `docker logs`) for
            // the next run. No `logs`: the provider would copy the whole log into the state.
            attach: true,
            mustRun: false,
            restart: "no",
        }, { parent: this });
        this.succeeded = this.container.exitCode.apply((code) => requireSyncSuccess(args.containerName, code));
        this.registerOutputs({ container: this.container.name, exitCode: this.succeeded });
    }
}
