import { expect } from "chai";
import { flatToRaw, parseStackConfig, StackConfigError } from "../stacks/load";
import { listStacks, stackFileConfig } from "../scripts/evaluate";
import { devConfigWith, expectRejected } from "./support/plan";

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
        it("fills every default from a config that names only the project", () => {
            const cfg = parseStackConfig({ project: "my-project" });
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
            ["a bucket prefix with symbols", { "warmstart:modelCache": { bucketPrefix: "Models!" } }, "warmstart:modelCache.bucketPrefix"],
            ["a misspelt top-level key", { "warmstart:servics": [] }, "warmstart:servics"],
        ];

        it("covers at least 25 distinct malformed configs", () => {
            expect(cases.length).to.be.at.least(25);
        });

        for (const [what, overrides, key] of cases) {
            it(`${what}: names ${key}`, async () => {
                const message = await expectRejected(overrides);
                expect(message).to.include(`${key}:`);
            });
        }

        it("quotes the offending value in the message", async () => {
            const message = await expectRejected({ "warmstart:services": serviceWith(1, { memory: "16GB" }) });
            expect(message).to.include('(value "16GB")');
        });

        it("reports every problem at once", () => {
            try {
                parseStackConfig({ project: "my-project", region: "nowhere", sync: { timeZone: "Nowhere/City" } });
                expect.fail("accepted");
            } catch (err) {
                expect(err).to.be.instanceOf(StackConfigError);
                const problems = (err as StackConfigError).problems;
                expect(problems.some((p) => p.startsWith("warmstart:region:"))).to.equal(true);
                expect(problems.some((p) => p.startsWith("warmstart:sync.timeZone:"))).to.equal(true);
            }
        });
    });
});
