// The local target: the distribution registry as the pull-through cache, a Docker volume as the
// model cache, the sync as a one-shot container and the services as containers. No cloud account.
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LocalModelCache } from "../components/local/modelCache";
import { LocalModelService } from "../components/local/modelService";
import { LocalModelSync } from "../components/local/modelSync";
import { buildkitdConfig, LocalRegistry } from "../components/local/registry";
import type { StackConfig } from "../stacks/schema";
import { WorkloadInputs, WorkloadOutputs } from "./workloads";

export function localRegistry(cfg: StackConfig, prefix: string): LocalRegistry {
    // The builder reads its config from a file when it is created; generated, beside the program.
    const buildkitConfigPath = path.join(".warmstart", `buildkitd-${prefix}.toml`);
    fs.mkdirSync(path.dirname(buildkitConfigPath), { recursive: true });
    fs.writeFileSync(buildkitConfigPath, buildkitdConfig([cfg.local.proxyPort, cfg.local.pushPort]));
    return new LocalRegistry("registry", {
        namePrefix: prefix, proxyPort: cfg.local.proxyPort, pushPort: cfg.local.pushPort,
        upstream: cfg.local.upstream, proxyTtl: cfg.local.proxyTtl, buildkitConfigPath,
    });
}

export function deployLocally({ cfg, prefix, serviceImages, syncImage }: WorkloadInputs): WorkloadOutputs {
    const modelCache = new LocalModelCache("model-cache", { volumeName: `${prefix}-models`, hostPath: cfg.local.modelCacheHostPath });
    const sync = new LocalModelSync("model-sync", {
        containerName: `${prefix}-model-sync`, image: syncImage, modelCache, models: cfg.models,
        revisionRetentionDays: cfg.modelCache.revisionRetentionDays,
    });
    const services = cfg.services.map((svc, i) => new LocalModelService(svc.name, {
        ...svc, containerName: `${prefix}-${svc.name}`, image: serviceImages[i], modelCache,
        hostPort: cfg.local.firstServicePort + i, gpu: svc.gpu !== undefined,
        // Like seeding on GCP: a fresh stack's services start after the first sync finished.
        startAfter: [sync.container],
        // A failed sync stops the deployment here: no service starts on a broken cache.
        startWhen: sync.succeeded.apply((code) => `model-sync exit ${code ?? "unknown"}`),
    }));
    return {
        serviceUrls: Object.fromEntries(services.map((s, i) => [cfg.services[i].name, s.url])),
        modelCacheVolume: modelCache.volume?.name ?? cfg.local.modelCacheHostPath,
        // Resolves only when the sync succeeded, so a failed sync fails `pulumi up` with no service.
        syncContainer: pulumi.all([sync.container.name, sync.succeeded]).apply(([name]) => name),
        runSyncCommand: `docker start --attach ${prefix}-model-sync`,
    };
}
