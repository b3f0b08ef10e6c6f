// The local target: the distribution registry as the pull-through cache, a Docker volume as the
// model cache, the sync as a one-shot container and the services as containers. No cloud account.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { newestContainer } from "../components/local/dockerEngine";
import { LocalModelCache } from "../components/local/modelCache";
import { LocalModelService } from "../components/local/modelService";
import { isSyncContainerName, LocalModelSync, SYNC_USER, syncContainerNameFilter } from "../components/local/modelSync";
import { buildkitdConfig, LocalRegistry } from "../components/local/registry";
import { SYNC_NAME } from "../components/shared/naming";
import { configKeyOf, StackConfigError } from "../stacks/load";
import { localServicePorts, type StackConfig } from "../stacks/schema";
import type { Target, TargetRegistry, WorkloadInputs, WorkloadOutputs } from "./target";

/** What hostPathProblem reads of a directory: fs.Stats has it. */
export type DirectoryStat = Pick<fs.Stats, "uid" | "gid" | "mode" | "isDirectory">;

/**
 * Why the sync could not write the cache in `hostPath` (undefined: it can). Docker bind-mounts a
 * host directory as it is, with its owner and mode; on Linux the kernel then checks the sync's
 * uid and gid against them. Docker Desktop (macOS, Windows) maps ownership for its VM's
 * containers, so only the directory's existence is checked there.
 */
export function hostPathProblem(hostPath: string, stat: DirectoryStat | undefined, platform: NodeJS.Platform): string | undefined {
    const { uid, gid } = SYNC_USER;
    if (stat === undefined) return `does not exist: create it for the sync's user, \`sudo install -d -o ${uid} -g ${gid} ${hostPath}\``;
    if (!stat.isDirectory()) return "is not a directory";
    if (platform !== "linux") return undefined;
    // The owner's bits apply to the owner, else the group's to the group, else the others'.
    const bits = stat.uid === uid ? stat.mode >> 6 : stat.gid === gid ? stat.mode >> 3 : stat.mode;
    // Creating entries in a directory takes write and search (x) permission.
    if ((bits & 0o3) === 0o3) return undefined;
    const mode = (stat.mode & 0o7777).toString(8).padStart(4, "0");
    return `is owned by ${stat.uid}:${stat.gid} with mode ${mode}, which the sync (uid ${uid}, gid ${gid}) cannot write: run \`sudo chown -R ${uid}:${gid} ${hostPath}\``;
}

/** Refuses, before anything is registered, a host directory for the cache the sync could not write. */
async function checkLocalHost(cfg: StackConfig): Promise<void> {
    const hostPath = cfg.local.modelCacheHostPath;
    if (hostPath === undefined) return;
    const stat = await fs.promises.stat(hostPath).catch(() => undefined);
    const problem = hostPathProblem(hostPath, stat, process.platform);
    if (problem !== undefined) throw new StackConfigError([`${configKeyOf(["local", "modelCacheHostPath"])}: ${problem} (value ${JSON.stringify(hostPath)})`]);
}

function localRegistry(cfg: StackConfig, prefix: string): TargetRegistry {
    // The builder reads its config from a file when it is created; generated, beside the program.
    const buildkitConfigPath = path.join(".warmstart", `buildkitd-${prefix}.toml`);
    fs.mkdirSync(path.dirname(buildkitConfigPath), { recursive: true });
    fs.writeFileSync(buildkitConfigPath, buildkitdConfig([cfg.local.proxyPort, cfg.local.pushPort]));
    const registry = new LocalRegistry("registry", {
        namePrefix: prefix, proxyPort: cfg.local.proxyPort, pushPort: cfg.local.pushPort,
        upstream: cfg.local.upstream, proxyTtl: cfg.local.proxyTtl, buildkitConfigPath,
    });
    // The local builder trusts the plain-http registries; a configured builder replaces it.
    return { registry, builder: cfg.builder ?? registry.builderName };
}

function deployLocally({ cfg, prefix, images }: WorkloadInputs): WorkloadOutputs {
    const modelCache = new LocalModelCache("model-cache", { volumeName: `${prefix}-models`, hostPath: cfg.local.modelCacheHostPath });
    const syncContainerName = `${prefix}-${SYNC_NAME}`;
    const sync = new LocalModelSync(SYNC_NAME, {
        containerName: syncContainerName, image: images.sync, modelCache, models: cfg.models,
        revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
        // Asked of the engine the provider drives: its `docker:host`, else DOCKER_HOST.
        lastRun: newestContainer(syncContainerNameFilter(syncContainerName), (name) => isSyncContainerName(syncContainerName, name), new pulumi.Config("docker").get("host")),
    });
    const hostPorts = localServicePorts(cfg.local, cfg.services.length);
    const services = cfg.services.map((svc, i) => new LocalModelService(svc.name, {
        containerName: `${prefix}-${svc.name}`, image: images.services[svc.name], modelCache,
        port: svc.port, public: svc.public, memory: svc.memory, cpu: svc.cpu, healthPath: svc.healthPath, env: svc.env,
        sharedModelVolume: svc.sharedModelVolume,
        hostPort: hostPorts[i], gpu: svc.gpu !== undefined,
        // Like seeding on GCP: a fresh stack's services start after the first sync finished.
        startAfter: [sync.container],
        // A failed sync stops the deployment here: no service starts on a broken cache. A new
        // model list published restarts the services on it (they load their models at start).
        startWhen: sync.published,
    }));
    return {
        serviceUrls: Object.fromEntries(services.map((s, i) => [cfg.services[i].name, s.url])),
        modelCacheVolume: modelCache.volume?.name ?? cfg.local.modelCacheHostPath,
        // Resolves only when the sync succeeded, so a failed sync fails `pulumi up` with no service.
        syncContainer: pulumi.all([sync.container.name, sync.succeeded]).apply(([name]) => name),
        runSyncCommand: pulumi.interpolate`docker start --attach ${sync.containerName}`,
    };
}

/** A local Docker engine: no cloud account. */
export const localTarget: Target = {
    preflight: checkLocalHost,
    registry: localRegistry,
    deploy: deployLocally,
};
