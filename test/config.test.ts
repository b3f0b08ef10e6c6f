import * as fs from "fs";
import { expect } from "chai";
import * as os from "os";
import { flatToRaw, parseStackConfig, providerNamespaces, StackConfigError } from "../stacks/load";
import { evaluateStack, listStacks, stackFileConfig } from "../scripts/evaluate";
import * as path from "path";
import { stackConfigSchema } from "../stacks/schema";
import { REPO_ROOT } from "../scripts/evaluate";
import { devConfigWith, evaluateWith, expectRejected, ONE_SERVICE } from "./support/plan";
import { instrument } from "./support/schemaCoverage";

/** The raw value a config key names: `warmstart:services[0].env.PORT` -> raw.services[0].env.PORT. */
function valueAtKey(raw: Record<string, unknown>, key: string): unknown {
    const parts = key.replace(/^gcp:project$/, "project").replace(/^warmstart:/, "").split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== "");
    return parts.reduce<unknown>((acc, part) => (acc === null || typeof acc !== "object" ? undefined : (acc as Record<string, unknown>)[part]), raw);
}

const devServices = () => JSON.parse(devConfigWith({})["warmstart:services"]) as Record<string, unknown>[];
const devModels = () => JSON.parse(devConfigWith({})["warmstart:models"]) as Record<string, unknown>[];
const devBases = () => JSON.parse(devConfigWith({})["warmstart:bases"]) as Record<string, unknown>[];

/** The dev services with fields of service `index` replaced. */
function serviceWith(index: number, fields: Record<string, unknown>): Record<string, unknown>[] {
    const services = devServices();
    services[index] = { ...services[index], ...fields };
    return services;
}

function modelWith(index: number, fields: Record<string, unknown>): Record<string, unknown>[] {
    const models = devModels();
    models[index] = { ...models[index], ...fields };
    return models;
}

describe("stack configuration", () => {
    describe("defaults", () => {
        it("fills every default from a config that names only the project and a service", () => {
            const cfg = parseStackConfig({ project: "my-project", services: ONE_SERVICE });
            expect(cfg.region).to.equal("europe-west1");
            expect(cfg.bases.map((b) => [b.name, b.kind, b.cudaVersion, b.torchVersion])).to.deep.equal([
                ["runtime", "runtime", "12.8.1", "2.7.1"],
                ["devel", "devel", "12.8.1", "2.7.1"],
            ]);
            expect(cfg.sync.schedule).to.equal("0 3 * * *");
            expect(cfg.modelCache.hierarchicalNamespace).to.equal(false);
            expect(cfg.deletionProtection).to.equal(false);
        });

        it("gives a service safe defaults: private, scaled to zero, shared volume on", () => {
            const cfg = parseStackConfig({ project: "my-project", services: [{ name: "api", context: "images/services/api", base: "runtime" }] });
            const svc = cfg.services[0];
            expect(svc.public).to.equal(false);
            expect(svc.invokers).to.deep.equal([]);
            expect(svc.minInstances).to.equal(0);
            expect(svc.sharedModelVolume).to.equal(true);
            expect(svc.gpu).to.equal(undefined);
        });

        it("reads every stack file as valid", () => {
            for (const stack of listStacks()) {
                expect(() => parseStackConfig(flatToRaw(stackFileConfig(stack))), stack).not.to.throw();
            }
        });

        it("keeps prod protected and dev disposable", () => {
            expect(stackFileConfig("prod")["warmstart:deletionProtection"]).to.equal("true");
            expect(stackFileConfig("dev")["warmstart:deletionProtection"]).to.equal("false");
        });
    });

    describe("rejects malformed configs before registering any resource", () => {
        // Each case: the overriding keys, and the config key the message must name.
        const cases: [string, Record<string, unknown>, string][] = [
            ["a missing project", { "gcp:project": undefined }, "gcp:project"],
            ["a project id with capitals", { "gcp:project": "My_Project" }, "gcp:project"],
            ["a region with a space", { "warmstart:region": "europe west1" }, "warmstart:region"],
            ["an uppercase name prefix", { "warmstart:namePrefix": "WS" }, "warmstart:namePrefix"],
            ["a name prefix too long for account ids", { "warmstart:namePrefix": "averylongprefix" }, "warmstart:namePrefix"],
            ["deletion protection that is not a boolean", { "warmstart:deletionProtection": "yes" }, "warmstart:deletionProtection"],
            ["a zero cache retention", { "warmstart:registry": { cacheRetentionDays: 0 } }, "warmstart:registry.cacheRetentionDays"],
            ["an http upstream", { "warmstart:registry": { upstreams: [{ name: "nvcr", uri: "http://nvcr.io" }] } }, "warmstart:registry.upstreams[0].uri"],
            ["an upstream named like a built-in repository", { "warmstart:registry": { upstreams: [{ name: "images", uri: "https://nvcr.io" }] } }, "warmstart:registry.upstreams[0].name"],
            ["an unknown registry key", { "warmstart:registry": { dockerhub: false } }, "warmstart:registry.dockerhub"],
            ["no base variants", { "warmstart:bases": [] }, "warmstart:bases"],
            ["a base of unknown kind", { "warmstart:bases": [{ name: "runtime", kind: "slim" }] }, "warmstart:bases[0].kind"],
            ["a CUDA version that is not a version", { "warmstart:bases": [{ ...devBases()[0], cudaVersion: "twelve" }, devBases()[1]] }, "warmstart:bases[0].cudaVersion"],
            ["a Python the Ubuntu release does not ship", { "warmstart:bases": [{ ...devBases()[0], pythonVersion: "3.11" }, devBases()[1]] }, "warmstart:bases[0].pythonVersion"],
            ["two bases with one name", { "warmstart:bases": [devBases()[0], { ...devBases()[1], name: "runtime" }] }, "warmstart:bases[1].name"],
            ["a Dockerfile outside the repository", { "warmstart:bases": [{ ...devBases()[0], dockerfile: "../Dockerfile" }, devBases()[1]] }, "warmstart:bases[0].dockerfile"],
            ["a service on an unknown base", { "warmstart:services": serviceWith(0, { base: "cuda" }) }, "warmstart:services[0].base"],
            ["a service with an unknown builder", { "warmstart:services": serviceWith(1, { builder: "gcc" }) }, "warmstart:services[1].builder"],
            ["a service name with capitals", { "warmstart:services": serviceWith(0, { name: "Embeddings" }) }, "warmstart:services[0].name"],
            ["two services with one name", { "warmstart:services": serviceWith(1, { name: "embeddings" }) }, "warmstart:services[1].name"],
            ["memory in GB", { "warmstart:services": serviceWith(1, { memory: "16GB" }) }, "warmstart:services[1].memory"],
            ["CPU as a word", { "warmstart:services": serviceWith(1, { cpu: "four" }) }, "warmstart:services[1].cpu"],
            ["a GPU service with 2 vCPU", { "warmstart:services": serviceWith(0, { cpu: "2" }) }, "warmstart:services[0].cpu"],
            ["a GPU service with 8Gi", { "warmstart:services": serviceWith(0, { memory: "8Gi" }) }, "warmstart:services[0].memory"],
            ["an unsupported GPU type", { "warmstart:services": serviceWith(0, { gpu: { type: "nvidia-a100" } }) }, "warmstart:services[0].gpu.type"],
            ["more minimum than maximum instances", { "warmstart:services": serviceWith(0, { minInstances: 5, maxInstances: 2 }) }, "warmstart:services[0].minInstances"],
            ["a port out of range", { "warmstart:services": serviceWith(1, { port: 70000 }) }, "warmstart:services[1].port"],
            ["an env variable the graph sets", { "warmstart:services": serviceWith(0, { env: { MODEL_CACHE_PATH: "/tmp" } }) }, "warmstart:services[0].env.MODEL_CACHE_PATH"],
            // The entrypoint sets it on a cache hit only; set for good it would stop the fallback from downloading.
            ["HF_HUB_OFFLINE, the entrypoint's to set", { "warmstart:services": serviceWith(0, { env: { HF_HUB_OFFLINE: "0" } }) }, "warmstart:services[0].env.HF_HUB_OFFLINE"],
            ["OLLAMA_NOPRUNE, the entrypoint's to set", { "warmstart:services": serviceWith(0, { env: { OLLAMA_NOPRUNE: "1" } }) }, "warmstart:services[0].env.OLLAMA_NOPRUNE"],
            ["allUsers as an invoker", { "warmstart:services": serviceWith(0, { invokers: ["allUsers"] }) }, "warmstart:services[0].invokers[0]"],
            ["a public flag that is a string", { "warmstart:services": serviceWith(0, { public: "yes" }) }, "warmstart:services[0].public"],
            ["an unknown service key", { "warmstart:services": serviceWith(0, { replicas: 3 }) }, "warmstart:services[0].replicas"],
            ["a model from an unknown source", { "warmstart:models": modelWith(0, { source: "s3" }) }, "warmstart:models[0].source"],
            ["a Hub repo without an owner", { "warmstart:models": modelWith(0, { repo: "bge-m3" }) }, "warmstart:models[0].repo"],
            ["an Ollama model without a tag", { "warmstart:models": [devModels()[0], { name: "llama", source: "ollama", model: "llama3.2" }] }, "warmstart:models[1].tag"],
            ["a URL model with a short sha256", { "warmstart:models": [...devModels(), { name: "weights", source: "url", url: "https://example.com/w.bin", sha256: "abc", path: "w.bin" }] }, "warmstart:models[2].sha256"],
            ["two models with one name", { "warmstart:models": modelWith(1, { name: "bge-m3" }) }, "warmstart:models[1].name"],
            ["an hour 25 in the schedule", { "warmstart:sync": { schedule: "0 25 * * *" } }, "warmstart:sync.schedule"],
            ["a six-field schedule", { "warmstart:sync": { schedule: "0 0 3 * * *" } }, "warmstart:sync.schedule"],
            ["an unknown time zone", { "warmstart:sync": { timeZone: "Mars/Olympus_Mons" } }, "warmstart:sync.timeZone"],
            ["a ten-second timeout", { "warmstart:sync": { timeoutSeconds: 10 } }, "warmstart:sync.timeoutSeconds"],
            // Cloud Run locations (cloud.google.com/run/docs/locations, read 2026-11): well-formed, not offered.
            ["a region Cloud Run does not offer", { "warmstart:region": "europe-west5" }, "warmstart:region"],
            // Cloud Run CPU limits: fractions below 1, then 1, 2, 4, 6, 8 only.
            ["3 vCPU", { "warmstart:services": serviceWith(1, { cpu: "3" }) }, "warmstart:services[1].cpu"],
            ["1500 millicores", { "warmstart:sync": { cpu: "1500m", memory: "2Gi" } }, "warmstart:sync.cpu"],
            // Cloud Run memory limits: more than 8 GiB needs at least 4 vCPU.
            ["16Gi on 2 vCPU", { "warmstart:services": serviceWith(1, { cpu: "2", memory: "16Gi" }) }, "warmstart:services[1].memory"],
            ["8Gi for the sync on 1 vCPU", { "warmstart:sync": { cpu: "1", memory: "8Gi" } }, "warmstart:sync.memory"],
            ["2Gi on half a vCPU", { "warmstart:services": serviceWith(1, { cpu: "0.5", memory: "2Gi" }) }, "warmstart:services[1].memory"],
            // nvidia/cuda tags: CUDA 12.4.1 images exist for Ubuntu 20.04 and 22.04, not 24.04.
            ["an Ubuntu release with no CUDA image", { "warmstart:bases": [{ ...devBases()[0], cudaVersion: "12.4.1", ubuntuVersion: "24.04" }, devBases()[1]] }, "warmstart:bases[0].ubuntuVersion"],
            ["a CUDA version with no image", { "warmstart:bases": [{ ...devBases()[0], cudaVersion: "12.7.9" }, devBases()[1]] }, "warmstart:bases[0].cudaVersion"],
            ["a bucket prefix with symbols", { "warmstart:modelCache": { bucketPrefix: "Models!" } }, "warmstart:modelCache.bucketPrefix"],
            ["a misspelt top-level key", { "warmstart:servics": [] }, "warmstart:servics"],
            ["an unknown target", { "warmstart:target": "aws" }, "warmstart:target"],
            ["a local target with a platform layer", { "warmstart:target": "local", "warmstart:layer": "platform" }, "warmstart:layer"],
            ["monitoring on a local target", { "warmstart:target": "local", "warmstart:monitoring": { enabled: true, notificationEmails: ["oncall@example.com"] } }, "warmstart:monitoring.enabled"],
            ["one port for both local registries", { "warmstart:target": "local", "warmstart:local": { proxyPort: 5000, pushPort: 5000 } }, "warmstart:local.pushPort"],
            ["a privileged proxy port", { "warmstart:local": { proxyPort: 80 } }, "warmstart:local.proxyPort"],
            ["a push port out of range", { "warmstart:local": { pushPort: 70000 } }, "warmstart:local.pushPort"],
            ["an ftp upstream for the local proxy", { "warmstart:local": { upstream: "ftp://registry.example.com" } }, "warmstart:local.upstream"],
            ["a proxy TTL in words", { "warmstart:local": { proxyTtl: "7 days" } }, "warmstart:local.proxyTtl"],
            ["a relative model cache host path", { "warmstart:local": { modelCacheHostPath: "models" } }, "warmstart:local.modelCacheHostPath"],
            ["a fractional first service port", { "warmstart:local": { firstServicePort: 8080.5 } }, "warmstart:local.firstServicePort"],
            ["a service published on the local proxy's port", { "warmstart:target": "local", "warmstart:local": { firstServicePort: 4999 } }, "warmstart:local.firstServicePort"],
            // Build paths are read where Pulumi runs the program, the project root: a missing one failed mid-up.
            ["a service context that does not exist", { "warmstart:services": serviceWith(1, { context: "images/services/nope" }) }, "warmstart:services[1].context"],
            ["a service Dockerfile that does not exist", { "warmstart:services": serviceWith(0, { dockerfile: "images/services/embeddings/Dockerfile.gpu" }) }, "warmstart:services[0].dockerfile"],
            ["a base context that does not exist", { "warmstart:bases": [{ ...devBases()[0], context: "images/cuda" }, devBases()[1]] }, "warmstart:bases[0].context"],
            ["a base Dockerfile that does not exist", { "warmstart:bases": [devBases()[0], { ...devBases()[1], dockerfile: "images/cuda-base/Dockerfile.devel" }] }, "warmstart:bases[1].dockerfile"],
            ["a sync context that does not exist", { "warmstart:sync": { context: "images/sync" } }, "warmstart:sync.context"],
            ["an unknown layer", { "warmstart:layer": "team" }, "warmstart:layer"],
            ["a project layer without its platform stack", { "warmstart:layer": "project" }, "warmstart:platformStack"],
            ["a platform stack on an all-in-one stack", { "warmstart:platformStack": "acme/warmstart/platform" }, "warmstart:platformStack"],
            ["a platform stack that is not fully qualified", { "warmstart:layer": "project", "warmstart:platformStack": "platform" }, "warmstart:platformStack"],
            ["a platform stack with services", { "warmstart:layer": "platform", "warmstart:models": [] }, "warmstart:services"],
            ["a stack without services", { "warmstart:services": [] }, "warmstart:services"],
            ["a platform stack with models", { "warmstart:layer": "platform", "warmstart:services": [] }, "warmstart:models"],
            ["a name prefix with a double hyphen", { "warmstart:namePrefix": "w--s" }, "warmstart:namePrefix"],
            // A service's name becomes its image, its account id and (locally) its container name, beside the program's own.
            ["a service named like the sync's image and job", { "warmstart:services": serviceWith(1, { name: "model-sync" }) }, "warmstart:services[1].name"],
            ["a service named like the sync's account", { "warmstart:services": serviceWith(1, { name: "sync" }) }, "warmstart:services[1].name"],
            ["a service named like the scheduler's account", { "warmstart:services": serviceWith(0, { name: "sched" }) }, "warmstart:services[0].name"],
            ["a service named like a local registry container", { "warmstart:services": serviceWith(1, { name: "mirror" }) }, "warmstart:services[1].name"],
            ["a service named like a CUDA base image", { "warmstart:services": serviceWith(1, { name: "cuda-runtime" }) }, "warmstart:services[1].name"],
            ["a service name with a double hyphen", { "warmstart:services": serviceWith(1, { name: "custom--ops" }) }, "warmstart:services[1].name"],
            // A plain empty string means "not set" (flatToRaw); only a quoted one reaches the schema.
            ["an empty builder", { "warmstart:builder": '""' }, "warmstart:builder"],
            ["no recent caches kept", { "warmstart:registry": { keepRecentCaches: 0 } }, "warmstart:registry.keepRecentCaches"],
            ["untagged versions kept for zero days", { "warmstart:registry": { untaggedRetentionDays: 0 } }, "warmstart:registry.untaggedRetentionDays"],
            ["no recent versions kept", { "warmstart:registry": { keepRecentVersions: 0 } }, "warmstart:registry.keepRecentVersions"],
            ["a soft delete shorter than Cloud Storage allows", { "warmstart:modelCache": { softDeleteRetentionDays: 3 } }, "warmstart:modelCache.softDeleteRetentionDays"],
            ["allUsers as a registry reader", { "warmstart:registry": { readers: ["allUsers"] } }, "warmstart:registry.readers[0]"],
            ["an Ubuntu release by code name", { "warmstart:bases": [{ ...devBases()[0], ubuntuVersion: "noble" }, devBases()[1]] }, "warmstart:bases[0].ubuntuVersion"],
            ["a Python version YAML read as a number", { "warmstart:bases": [{ ...devBases()[0], pythonVersion: 3.1 }, devBases()[1]] }, "warmstart:bases[0].pythonVersion"],
            ["a Python version with its name", { "warmstart:bases": [{ ...devBases()[0], pythonVersion: "python3" }, devBases()[1]] }, "warmstart:bases[0].pythonVersion"],
            // PyTorch 2.7 was published for CUDA 11.8, 12.6 and 12.8 (stacks/torchWheels.ts): no cu129 wheel.
            ["a PyTorch release with no wheel for the CUDA version", { "warmstart:bases": [{ ...devBases()[0], cudaVersion: "12.9.1", torchVersion: "2.7.1" }, devBases()[1]] }, "warmstart:bases[0].torchVersion"],
            ["a PyTorch release the wheel table does not know", { "warmstart:bases": [{ ...devBases()[0], torchVersion: "1.0.0" }, devBases()[1]] }, "warmstart:bases[0].torchVersion"],
            ["a torch version 'latest'", { "warmstart:bases": [{ ...devBases()[0], torchVersion: "latest" }, devBases()[1]] }, "warmstart:bases[0].torchVersion"],
            ["an empty base context", { "warmstart:bases": [{ ...devBases()[0], context: "" }, devBases()[1]] }, "warmstart:bases[0].context"],
            ["a target stage with a space", { "warmstart:services": serviceWith(1, { target: "final stage" }) }, "warmstart:services[1].target"],
            ["two GPUs", { "warmstart:services": serviceWith(0, { gpu: { count: 2 } }) }, "warmstart:services[0].gpu.count"],
            ["negative minimum instances", { "warmstart:services": serviceWith(1, { minInstances: -1 }) }, "warmstart:services[1].minInstances"],
            ["zero maximum instances", { "warmstart:services": serviceWith(1, { maxInstances: 0 }) }, "warmstart:services[1].maxInstances"],
            ["a relative health path", { "warmstart:services": serviceWith(1, { healthPath: "healthz" }) }, "warmstart:services[1].healthPath"],
            ["zero concurrency", { "warmstart:services": serviceWith(1, { concurrency: 0 }) }, "warmstart:services[1].concurrency"],
            ["an env name with a hyphen", { "warmstart:services": serviceWith(1, { env: { "MY-VAR": "x" } }) }, "warmstart:services[1].env.MY-VAR"],
            ["a bucket location with a space", { "warmstart:modelCache": { location: "europe west" } }, "warmstart:modelCache.location"],
            // Cloud Storage locations (stacks/cloudStorage.ts): well-formed, not offered.
            ["a bucket location Cloud Storage does not offer", { "warmstart:modelCache": { location: "EUROPE-WEST" } }, "warmstart:modelCache.location"],
            // Cloud Run GPU regions (cloud.google.com/run/docs/configuring/services/gpu): us-east1 runs Cloud Run, not its GPUs.
            ["a GPU service in a region without Cloud Run GPUs", { "warmstart:region": "us-east1" }, "warmstart:services[0].gpu"],
            ["zero days of revision retention", { "warmstart:modelCache": { revisionRetentionDays: 0 } }, "warmstart:modelCache.revisionRetentionDays"],
            ["a staging retention over a month", { "warmstart:modelCache": { stagingRetentionDays: 31 } }, "warmstart:modelCache.stagingRetentionDays"],
            ["an empty Hub revision", { "warmstart:models": modelWith(0, { revision: "" }) }, "warmstart:models[0].revision"],
            ["an empty include list", { "warmstart:models": modelWith(0, { include: [] }) }, "warmstart:models[0].include"],
            ["an empty include pattern", { "warmstart:models": modelWith(0, { include: [""] }) }, "warmstart:models[0].include[0]"],
            ["an Ollama model name with capitals and a space", { "warmstart:models": [devModels()[0], { name: "llama", source: "ollama", model: "Llama 3", tag: "1b" }] }, "warmstart:models[1].model"],
            ["an Ollama tag starting with a hyphen", { "warmstart:models": [devModels()[0], { name: "llama", source: "ollama", model: "llama3.2", tag: "-1b" }] }, "warmstart:models[1].tag"],
            ["an http model URL", { "warmstart:models": [...devModels(), { name: "weights", source: "url", url: "http://example.com/w.bin", sha256: "a".repeat(64), path: "w.bin" }] }, "warmstart:models[2].url"],
            ["a zero model size hint", { "warmstart:models": modelWith(0, { sizeGiB: 0 }) }, "warmstart:models[0].sizeGiB"],
            ["a price override with no price id", { "warmstart:pricing": { overrides: { "Run CPU": 0.00001 } } }, "warmstart:pricing.overrides.Run CPU"],
            ["a negative price override", { "warmstart:pricing": { overrides: { scheduler: -1 } } }, "warmstart:pricing.overrides.scheduler"],
            ["a model name with capitals", { "warmstart:models": modelWith(0, { name: "BGE" }) }, "warmstart:models[0].name"],
            ["a model name with a double hyphen", { "warmstart:models": modelWith(0, { name: "bge--m3" }) }, "warmstart:models[0].name"],
            ["a model URL that is no URL", { "warmstart:models": [...devModels(), { name: "weights", source: "url", url: "weights.bin", sha256: "a".repeat(64), path: "w.bin" }] }, "warmstart:models[2].url"],
            ["a URL model with an empty path", { "warmstart:models": [...devModels(), { name: "weights", source: "url", url: "https://example.com/w.bin", sha256: "a".repeat(64), path: "" }] }, "warmstart:models[2].path"],
            ["a URL model path escaping the cache", { "warmstart:models": [...devModels(), { name: "weights", source: "url", url: "https://example.com/w.bin", sha256: "a".repeat(64), path: "../w.bin" }] }, "warmstart:models[2].path"],
            ["eleven sync retries", { "warmstart:sync": { maxRetries: 11 } }, "warmstart:sync.maxRetries"],
            ["a token secret id with a space", { "warmstart:sync": { hfTokenSecret: "hf token" } }, "warmstart:sync.hfTokenSecret"],
            ["monitoring on with nobody to tell", { "warmstart:monitoring": { enabled: true } }, "warmstart:monitoring.notificationEmails"],
            ["an alert address without a domain", { "warmstart:monitoring": { enabled: true, notificationEmails: ["oncall"] } }, "warmstart:monitoring.notificationEmails[0]"],
            ["a zero cache hit rate threshold", { "warmstart:monitoring": { cacheHitRateThreshold: 0 } }, "warmstart:monitoring.cacheHitRateThreshold"],
            ["alerting after zero failed syncs", { "warmstart:monitoring": { consecutiveFailedSyncs: 0 } }, "warmstart:monitoring.consecutiveFailedSyncs"],
            ["a negative bucket quota", { "warmstart:monitoring": { bucketQuotaGiB: -5 } }, "warmstart:monitoring.bucketQuotaGiB"],
            ["a bucket usage threshold over 100%", { "warmstart:monitoring": { bucketUsageThreshold: 1.5 } }, "warmstart:monitoring.bucketUsageThreshold"],
            ["an http runbook", { "warmstart:monitoring": { runbookUrl: "http://wiki.example.com/runbook" } }, "warmstart:monitoring.runbookUrl"],
        ];

        it("breaks every rule of the schema with some fixture", () => {
            // The rules come from the schema (its checks, enums, unions and cross-field addIssue lines), not from this list.
            const dir = path.join(REPO_ROOT, "stacks", "schema");
            const rules = instrument(stackConfigSchema, fs.readdirSync(dir).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f)));
            expect(rules.rules.size, "rules found in the schema").to.be.greaterThan(50);
            for (const [, overrides] of cases) stackConfigSchema.safeParse(flatToRaw(devConfigWith(overrides)));
            const unbroken = [...rules.rules].filter(([id]) => !rules.broken.has(id)).map(([, where]) => where);
            expect(unbroken, "schema rules no fixture breaks").to.deep.equal([]);
        });

        for (const [what, overrides, key] of cases) {
            it(`${what}: names ${key} and its value`, async () => {
                const message = await expectRejected(overrides);
                const line = message.split("\n").find((l) => l.includes(`${key}:`));
                expect(line, message).to.be.a("string");
                const value = valueAtKey(flatToRaw(devConfigWith(overrides)), key);
                expect(line).to.include(value === undefined ? "(value (not set))" : `(value ${JSON.stringify(value).slice(0, 60)}`);
            });
        }

        it("accepts every size in Cloud Run's table, and says the allowed range when memory is off", async () => {
            for (const [cpu, memory] of [["0.5", "512Mi"], ["1", "4Gi"], ["2", "8Gi"], ["4", "2Gi"], ["6", "24Gi"], ["8", "32Gi"], ["1000m", "1Gi"]]) {
                expect(() => parseStackConfig({ project: "my-project", services: ONE_SERVICE, sync: { cpu, memory } }), `${cpu}/${memory}`).not.to.throw();
            }
            const message = await expectRejected({ "warmstart:services": serviceWith(1, { cpu: "2", memory: "16Gi" }) });
            expect(message).to.include('warmstart:services[1].memory: must be between 512Mi and 8Gi with 2 vCPU');
            expect(message).to.include('(value "16Gi")');
        });

        it("refuses a stack without services, and points to layer: platform for one without", async () => {
            const message = await expectRejected({ "warmstart:services": [] });
            expect(message).to.include("warmstart:services: must list at least one service with layer: all (the model cache and its sync serve only this stack's services); for the registry cache and the CUDA bases alone, set warmstart:layer to platform (value [])");
            expect(await expectRejected({ "warmstart:target": "local", "warmstart:services": [] })).to.include("warmstart:services: must list at least one service with layer: all");
        });

        it("refuses a CUDA and PyTorch pair with no published wheel, naming both keys and the CUDA versions of that release", async () => {
            const message = await expectRejected({ "warmstart:bases": [{ ...devBases()[0], cudaVersion: "12.9.1", torchVersion: "2.7.1" }, devBases()[1]] });
            expect(message).to.include("warmstart:bases[0].torchVersion: has no wheel for cudaVersion 12.9.1: PyTorch 2.7 was published for CUDA 11.8, 12.6, 12.8 (stacks/torchWheels.ts)");
            // Each pair the table lists passes, on an image NVIDIA publishes (stacks/cudaImages.ts).
            for (const [cuda, torch] of [["12.9.1", "2.8.0"], ["12.6.3", "2.7.1"], ["12.4.1", "2.5.1"]]) {
                expect(() => parseStackConfig({ project: "my-project", services: ONE_SERVICE, bases: [{ name: "runtime", kind: "runtime", cudaVersion: cuda, ubuntuVersion: "22.04", pythonVersion: "3.10", torchVersion: torch }] }), `${cuda}/${torch}`).not.to.throw();
            }
        });

        it("names the regions that offer the service's GPU, and leaves a local target's GPU alone", async () => {
            const message = await expectRejected({ "warmstart:region": "us-east1" });
            expect(message).to.include("warmstart:services[0].gpu: Cloud Run offers nvidia-l4 GPUs in asia-south1, asia-southeast1, europe-west1, europe-west4, us-central1, us-east4 (stacks/cloudRun.ts), not in the stack's region us-east1");
            expect(() => parseStackConfig(flatToRaw(devConfigWith({ "warmstart:target": "local", "warmstart:region": "us-east1" })))).not.to.throw();
        });

                it("quotes the offending value in the message", async () => {
            const message = await expectRejected({ "warmstart:services": serviceWith(1, { memory: "16GB" }) });
            expect(message).to.include('(value "16GB")');
        });

        describe("build paths", () => {
            it("names the key, the path and the project root it is read from", async () => {
                const message = await expectRejected({ "warmstart:services": serviceWith(1, { context: "images/services/nope" }) });
                expect(message).to.include(`warmstart:services[1].context: no directory images/services/nope in the project root ${process.cwd()}`);
            });

            it("checks the Dockerfile a service or the sync gets by default, <context>/Dockerfile", async () => {
                // images/services exists, and holds no Dockerfile of its own.
                expect(await expectRejected({ "warmstart:services": serviceWith(1, { context: "images/services" }) }))
                    .to.include("warmstart:services[1].dockerfile: no file images/services/Dockerfile (the default, <context>/Dockerfile) in the project root");
                expect(await expectRejected({ "warmstart:sync": { context: "images/services" } }))
                    .to.include("warmstart:sync.context: no file images/services/Dockerfile (the sync's Dockerfile, <context>/Dockerfile) in the project root");
            });

            it("refuses a file where a context directory belongs, and a directory where a Dockerfile does", async () => {
                expect(await expectRejected({ "warmstart:services": serviceWith(1, { context: "images/services/custom-ops/app.py" }) }))
                    .to.include("warmstart:services[1].context: no directory images/services/custom-ops/app.py");
                expect(await expectRejected({ "warmstart:services": serviceWith(1, { dockerfile: "images/services/custom-ops" }) }))
                    .to.include("warmstart:services[1].dockerfile: no file images/services/custom-ops");
            });

            it("checks only what the stack builds: a project's bases are its platform's", async () => {
                const bases = [{ ...devBases()[0], context: "images/cuda" }, devBases()[1]];
                const project = { ...stackFileConfig("project-example"), "warmstart:bases": JSON.stringify(bases) };
                const plan = await evaluateStack("project-example", { config: project });
                expect(plan.resources.length).to.be.greaterThan(0);
            });
        });

        describe("says what to do, as a newcomer reads it", () => {
            it("gives the name prefix's own limit, 12, for bad characters too", async () => {
                for (const prefix of ["WS", "averylongprefix"]) {
                    const message = await expectRejected({ "warmstart:namePrefix": prefix });
                    expect(message, prefix).to.include("warmstart:namePrefix: must be 1-12 characters");
                    expect(message, prefix).not.to.include("1-30");
                }
            });

            it("asks to quote a version YAML read as a number (an unquoted 3.10 arrives as 3.1)", async () => {
                const message = await expectRejected({ "warmstart:bases": [{ ...devBases()[0], pythonVersion: 3.1 }, devBases()[1]] });
                expect(message).to.include('warmstart:bases[0].pythonVersion: must be written in quotes, e.g. "3.10"');
                expect(message).to.include("(value 3.1)");
            });

            it("says what a service's name would collide with", async () => {
                const collisions: [string, string][] = [
                    ["model-sync", "is the model sync's own image, job and container name"],
                    ["model-sync-0123456789ab", "starts with model-sync-, the names of the local sync's re-run containers"],
                    ["sync", "would give the service the service account id of the model sync's job (<namePrefix>-<stack>-sync)"],
                    ["sched", "would give the service the service account id of the model sync's scheduler (<namePrefix>-<stack>-sched)"],
                    ["push", "is the name of a local registry container"],
                    ["cuda-devel", "starts with cuda-, the names of the CUDA base images in the same repository"],
                ];
                for (const [name, why] of collisions) {
                    const message = await expectRejected({ "warmstart:services": serviceWith(1, { name }) });
                    expect(message, name).to.include(`warmstart:services[1].name: ${why}`);
                    expect(message, name).to.include(`choose another name (value "${name}")`);
                }
            });

            // Cloud Run attaches one GPU per instance (cloud.google.com/run/docs/configuring/services/gpu).
            it("says why a GPU count must be 1", async () => {
                const message = await expectRejected({ "warmstart:services": serviceWith(0, { gpu: { count: 2 } }) });
                expect(message).to.include("warmstart:services[0].gpu.count: must be 1: Cloud Run attaches one GPU per instance (value 2)");
            });
        });

        it("reports every problem at once", () => {
            try {
                parseStackConfig({ project: "my-project", services: ONE_SERVICE, region: "nowhere", sync: { timeZone: "Nowhere/City" } });
                expect.fail("accepted");
            } catch (err) {
                expect(err).to.be.instanceOf(StackConfigError);
                const problems = (err as StackConfigError).problems;
                expect(problems.some((p) => p.startsWith("warmstart:region:"))).to.equal(true);
                expect(problems.some((p) => p.startsWith("warmstart:sync.timeZone:"))).to.equal(true);
            }
        });
    });
    describe("namespaces", () => {
        it("refuses a key in a namespace nothing reads, naming it, before any resource", async () => {
            const models = devConfigWith({})["warmstart:models"];
            const message = await expectRejected({ "warmstart:models": undefined, "warmstrat:models": JSON.parse(models) });
            const line = message.split("\n").find((l) => l.includes("warmstrat:models:"));
            expect(line, message).to.include("is in the namespace 'warmstrat', which neither this program nor its providers read");
            expect(line).to.include("did you mean warmstart:models?");
            expect(line).to.include(`(value ${models.slice(0, 40)}`);
            expect(await expectRejected({ "gpc:region": "europe-west1" })).to.include("gpc:region: is in the namespace 'gpc'");
        });

        it("takes the keys of the engine and of every provider the program uses", async () => {
            const plan = await evaluateWith({
                "gcp:region": "europe-west1", "docker:host": "unix:///var/run/docker.sock", "docker-build:host": "unix:///var/run/docker.sock",
                "time:unused": "x", "pulumi:tags": { team: "ml" },
            });
            expect(plan.resources.length).to.be.greaterThan(10);
        });

        it("reads the providers' namespaces from their packages, not from a list here", () => {
            expect(providerNamespaces()).to.deep.equal(["docker", "docker-build", "gcp", "time"]);
            const root = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-ns-"));
            try {
                const write = (file: string, json: unknown) => {
                    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
                    fs.writeFileSync(path.join(root, file), JSON.stringify(json));
                };
                write("package.json", { dependencies: { "@acme/cloud": "1.0.0", "left-pad": "1.0.0", "@pulumi/pulumi": "3.0.0" } });
                write("node_modules/@acme/cloud/package.json", { pulumi: { resource: true, name: "acme" } });
                write("node_modules/left-pad/package.json", {});
                write("node_modules/@pulumi/pulumi/package.json", { pulumi: { comment: "not a provider" } });
                expect(providerNamespaces(root)).to.deep.equal(["acme"]);
            } finally {
                fs.rmSync(root, { recursive: true, force: true });
            }
        });
    });
});
