// The local target: the distribution registry as the pull-through cache, a Docker volume as the
// model cache, the sync as a one-shot container and the services as containers. No cloud account.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalModelCache } from "../components/local/modelCache";
import { LocalModelService } from "../components/local/modelService";
import { LocalModelSync } from "../components/local/modelSync";
import { buildkitdConfig, LocalRegistry } from "../components/local/registry";
import { SYNC_NAME } from "../components/shared/naming";
import type { StackConfig } from "../stacks/schema";
import type { Target, TargetRegistry, WorkloadInputs, WorkloadOutputs } from "./target";

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
    const syncContainer = `${prefix}-${SYNC_NAME}`;
    const sync = new LocalModelSync(SYNC_NAME, {
        containerName: syncContainer, image: images.sync, modelCache, models: cfg.models,
        revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
    });
    const services = cfg.services.map((svc, i) => new LocalModelService(svc.name, {
        containerName: `${prefix}-${svc.name}`, image: images.services[svc.name], modelCache,
        port: svc.port, public: svc.public, memory: svc.memory, cpu: svc.cpu, healthPath: svc.healthPath, env: svc.env,
        sharedModelVolume: svc.sharedModelVolume,
        hostPort: cfg.local.firstServicePort + i, gpu: svc.gpu !== undefined,
        // Like seeding on GCP: a fresh stack's services start after the first sync finished.
        startAfter: [sync.container],
        // A failed sync stops the deployment here: no service starts on a broken cache.
        startWhen: sync.succeeded.apply((code) => `${SYNC_NAME} exit ${code ?? "unknown"}`),
    }));
    return {
        serviceUrls: Object.fromEntries(services.map((s, i) => [cfg.services[i].name, s.url])),
        modelCacheVolume: modelCache.volume?.name ?? cfg.local.modelCacheHostPath,
        // Resolves only when the sync succeeded, so a failed sync fails `pulumi up` with no service.
        syncContainer: pulumi.all([sync.container.name, sync.succeeded]).apply(([name]) => name),
        runSyncCommand: `docker start --attach ${syncContainer}`,
    };
}

/** A local Docker engine: no cloud account. */
export const localTarget: Target = {
    registry: localRegistry,
    deploy: deployLocally,
};
