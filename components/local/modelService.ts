import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { LocalModelCache } from "./modelCache";
import { MODEL_MOUNT_PATH, modelCacheEnv } from "../../contract/modelCache";
import { cpuCount, memoryMiB } from "../../policy/units";

export interface LocalModelServiceArgs {
    containerName: string;
    image: pulumi.Input<string>;
    modelCache: LocalModelCache;
    port: number;
    /** Host port the service is published on. */
    hostPort: number;
    /** Publish on all interfaces instead of loopback. */
    public: boolean;
    memory: string;
    cpu: string;
    gpu: boolean;
    healthPath: string;
    env: Record<string, string>;
    sharedModelVolume: boolean;
    /** Resources the container must start after, e.g. the first sync. */
    startAfter?: pulumi.Resource[];
    /**
     * A value that fails when the service must not start, e.g. the sync's checked exit code: an
     * input (a label), so a failed value stops the container's creation, which dependsOn alone would not.
     */
    startWhen?: pulumi.Input<unknown>;
}

/**
 * Docker's CPU count as the provider reads it back from the engine's NanoCPUs
 * (kreuzwerker/terraform-provider-docker helpers.go nanoInt64ToDecimalString): a whole number
 * with one decimal (`1.0`), a fraction without trailing zeros (`0.5`). `cpus` is ForceNew, so any
 * other spelling (`1`) replaces the container on every `up`.
 */
export function dockerCpus(cpu: string): string {
    const nano = Math.round(cpuCount(cpu) * 1e9);
    if (nano % 1e9 === 0) return `${nano / 1e9}.0`;
    return (nano / 1e9).toFixed(9).replace(/0+$/, "");
}

/** `KEY=value` pairs, sorted, for a container's environment. */
export function containerEnv(env: Record<string, string>): string[] {
    return Object.entries(env).map(([k, v]) => `${k}=${v}`).sort();
}

/** A service as a local container: the model cache mounted read-only at /models, loopback by default. */
export class LocalModelService extends pulumi.ComponentResource {
    readonly container: docker.Container;
    readonly url: string;

    constructor(name: string, args: LocalModelServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:run:LocalModelService", name, {}, opts);
        const healthUrl = `http://127.0.0.1:${args.port}${args.healthPath}`;
        this.container = new docker.Container(`${name}-container`, {
            name: args.containerName,
            image: args.image,
            restart: "unless-stopped",
            envs: containerEnv({ ...args.env, ...modelCacheEnv(MODEL_MOUNT_PATH, args.sharedModelVolume), PORT: String(args.port) }),
            ports: [{ internal: args.port, external: args.hostPort, ip: args.public ? "0.0.0.0" : "127.0.0.1" }],
            mounts: [args.modelCache.readVolume()],
            memory: memoryMiB(args.memory),
            // No swap beyond the limit, as on Cloud Run. Unset, Docker makes it twice the memory and
            // the provider reads that back into a ForceNew field the program never set: a new
            // container on every `up`.
            memorySwap: memoryMiB(args.memory),
            // Docker's --cpus is a decimal count: Cloud Run's millicores (`500m`) become `0.5`.
            cpus: dockerCpus(args.cpu),
            gpus: args.gpu ? "all" : undefined,
            labels: args.startWhen !== undefined ? [{ label: "warmstart.started-after", value: pulumi.output(args.startWhen).apply((v) => String(v ?? "")) }] : undefined,
            // The bases ship Python; no curl needed for the probe.
            healthcheck: {
                tests: ["CMD", "python3", "-c", `import urllib.request; urllib.request.urlopen("${healthUrl}", timeout=4)`],
                // As Go prints durations: the provider reads them back with Duration.String().
                interval: "15s", timeout: "5s", retries: 3, startPeriod: "5m0s",
            },
        }, { parent: this, dependsOn: args.startAfter });
        this.url = `http://${args.public ? "0.0.0.0" : "127.0.0.1"}:${args.hostPort}`;
        this.registerOutputs({ url: this.url });
    }
}
