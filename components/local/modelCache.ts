import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { MODEL_MOUNT_PATH } from "../../contract/modelCache";

export interface LocalModelCacheArgs {
    /** Docker volume name. */
    volumeName: string;
    /** A host directory instead of a volume, e.g. to share the cache with tools on the host. */
    hostPath?: string;
}

/**
 * The local target's model cache: a Docker volume (or a host directory), mounted read-write by
 * the sync container and read-only by services, the same contract as the GCS bucket.
 */
export class LocalModelCache extends pulumi.ComponentResource {
    readonly volume?: docker.Volume;
    private readonly source: pulumi.Input<string>;
    private readonly type: "volume" | "bind";

    constructor(name: string, args: LocalModelCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:storage:LocalModelCache", name, {}, opts);
        if (args.hostPath !== undefined) {
            this.type = "bind";
            this.source = args.hostPath;
        } else {
            this.type = "volume";
            this.volume = new docker.Volume(`${name}-volume`, { name: args.volumeName, labels: [{ label: "warmstart-role", value: "model-cache" }] }, { parent: this });
            this.source = this.volume.name;
        }
        this.registerOutputs({ source: this.source });
    }

    /** The mount of a service: read-only, so a service can never corrupt the cache. */
    readVolume(): docker.types.input.ContainerMount {
        return { type: this.type, source: this.source, target: MODEL_MOUNT_PATH, readOnly: true };
    }

    /** The mount of the sync container, the only writer. */
    writeVolume(): docker.types.input.ContainerMount {
        return { type: this.type, source: this.source, target: MODEL_MOUNT_PATH, readOnly: false };
    }
}
