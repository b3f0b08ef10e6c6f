import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { ModelCache } from "./modelCache";
import { envList, MODEL_MOUNT_PATH, modelCacheEnv } from "../../contract/modelCache";

export interface GpuArgs {
    /** Accelerator type for the node selector. */
    type: "nvidia-l4";
    count: number;
    /** Zonal redundancy reserves extra GPU quota; off keeps the quota need at the instance count. */
    zonalRedundancy: boolean;
}

export interface ModelServiceArgs {
    project: pulumi.Input<string>;
    region: string;
    /** Cloud Run service name. */
    serviceName: string;
    /** Id of the service's own service account. */
    accountId: string;
    /** Image to deploy, pinned by digest. */
    image: pulumi.Input<string>;
    modelCache: ModelCache;
    cpu: string;
    memory: string;
    gpu?: GpuArgs;
    minInstances: number;
    maxInstances: number;
    /** Requests one instance serves at once. */
    concurrency: number;
    port: number;
    /** Path of the HTTP health endpoint, used by the startup and liveness probes. */
    healthPath: string;
    /** Extra environment; the model-cache variables are set by the component. */
    env: Record<string, string>;
    /** Members granted roles/run.invoker on this service only. */
    invokers: string[];
    /** Grant allUsers the invoker role: only when the stack says so explicitly. */
    public: boolean;
    /** `false` makes the entrypoint skip the cache and use a local directory (the fallback switch). */
    sharedModelVolume: boolean;
    deletionProtection: boolean;
    /** Resources the first revision must wait for, e.g. the sync job's seeding run. */
    startAfter?: pulumi.Resource[];
}

/** The Cloud Run container resources: a GPU needs CPU always allocated. */
export function containerResources(args: Pick<ModelServiceArgs, "cpu" | "memory" | "gpu">): gcp.types.input.cloudrunv2.ServiceTemplateContainerResources {
    const limits: Record<string, string> = { cpu: args.cpu, memory: args.memory };
    if (args.gpu !== undefined) limits["nvidia.com/gpu"] = String(args.gpu.count);
    return {
        limits,
        // GPU instances must keep CPU allocated outside requests; CPU-only ones save by idling.
        cpuIdle: args.gpu === undefined,
        // Model loading at start is CPU-bound (deserialising weights): double the CPU for it.
        startupCpuBoost: true,
    };
}

/**
 * The longest a startup probe may keep failing (failureThreshold × periodSeconds) that Cloud Run
 * accepts: 240 s for a service without GPU, 1800 s with one (Cloud Run docs, "Configure container
 * health checks"); a longer probe is refused at deploy.
 */
export const STARTUP_PROBE_LIMIT_SECONDS = { cpu: 240, gpu: 1800 } as const;

/**
 * The startup probe: every 10 s until the health endpoint answers. A GPU service may be loading
 * a multi-gigabyte model on a cold cache miss, so it gets 10 minutes; a CPU service gets the
 * most Cloud Run allows it.
 */
export function startupProbe(path: string, port: number, gpu: boolean): gcp.types.input.cloudrunv2.ServiceTemplateContainerStartupProbe {
    const periodSeconds = 10;
    const windowSeconds = gpu ? 600 : STARTUP_PROBE_LIMIT_SECONDS.cpu;
    return { httpGet: { path, port }, periodSeconds, timeoutSeconds: 5, failureThreshold: windowSeconds / periodSeconds };
}

/**
 * A Cloud Run service that serves models from the shared cache: its own service account that
 * can read the cache bucket and nothing else, gen2 with the bucket mounted read-only at /models,
 * the image deployed by digest, and invokers from config (never the public unless asked).
 */
export class ModelService extends pulumi.ComponentResource {
    readonly account: gcp.serviceaccount.Account;
    readonly service: gcp.cloudrunv2.Service;
    readonly url: pulumi.Output<string>;

    constructor(name: string, args: ModelServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:run:ModelService", name, {}, opts);

        this.account = new gcp.serviceaccount.Account(`${name}-sa`, {
            project: args.project,
            accountId: args.accountId,
            displayName: `warmstart service ${args.serviceName}`,
            description: "Runs one Cloud Run service; reads the model cache bucket only.",
        }, { parent: this });
        const member = pulumi.interpolate`serviceAccount:${this.account.email}`;
        const readGrant = args.modelCache.grantRead(`${name}-models-read`, member, { parent: this });
        const models = args.modelCache.readVolume();

        const probePort = args.port;
        this.service = new gcp.cloudrunv2.Service(`${name}-service`, {
            project: args.project,
            location: args.region,
            name: args.serviceName,
            ingress: "INGRESS_TRAFFIC_ALL",
            deletionProtection: args.deletionProtection,
            template: {
                serviceAccount: this.account.email,
                // Cloud Storage volumes exist only in the second-generation environment.
                executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2",
                maxInstanceRequestConcurrency: args.concurrency,
                scaling: { minInstanceCount: args.minInstances, maxInstanceCount: args.maxInstances },
                nodeSelector: args.gpu !== undefined ? { accelerator: args.gpu.type } : undefined,
                gpuZonalRedundancyDisabled: args.gpu !== undefined ? !args.gpu.zonalRedundancy : undefined,
                volumes: [models.volume],
                containers: [{
                    image: args.image,
                    ports: { containerPort: args.port },
                    resources: containerResources(args),
                    envs: envList({ ...args.env, ...modelCacheEnv(MODEL_MOUNT_PATH, args.sharedModelVolume) }),
                    volumeMounts: [models.mount],
                    startupProbe: startupProbe(args.healthPath, probePort, args.gpu !== undefined),
                    livenessProbe: { httpGet: { path: args.healthPath, port: probePort }, periodSeconds: 30, timeoutSeconds: 5, failureThreshold: 3 },
                }],
            },
        }, {
            parent: this,
            // The first revision must not start before its account can read the bucket, or the
            // mount fails and the revision never becomes ready.
            dependsOn: [readGrant, ...(args.startAfter ?? [])],
        });
        this.url = this.service.uri;

        args.invokers.forEach((invoker, i) => this.grantInvoke(`${name}-invoker-${i}`, invoker));
        if (args.public) this.grantInvoke(`${name}-public`, "allUsers");

        this.registerOutputs({ url: this.url, account: this.account.email });
    }

    /** roles/run.invoker on this service only. */
    grantInvoke(name: string, member: pulumi.Input<string>): gcp.cloudrunv2.ServiceIamMember {
        return new gcp.cloudrunv2.ServiceIamMember(name, {
            project: this.service.project,
            location: this.service.location,
            name: this.service.name,
            role: "roles/run.invoker",
            member,
        }, { parent: this });
    }
}
