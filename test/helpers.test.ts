import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { modelCacheLifecycle, readOnlyMountOptions, readWriteMountOptions } from "../components/gcp/modelCache";
import { envList, modelCacheEnv, syncJobEnv } from "../contract/modelCache";
import { containerResources } from "../components/gcp/modelService";
import { jobRunUri } from "../components/gcp/modelSyncJob";
import { baseImageTag, bucketName, MAX_LENGTH, resourceId, serviceAccountId, torchIndexUrl } from "../components/shared/naming";
import { cacheCleanupPolicies, daysToDuration } from "../components/gcp/registryCache";
import { configKeyOf } from "../stacks/load";
import { REPO_ROOT } from "../scripts/evaluate";

describe("pure helpers", () => {
    describe("naming", () => {
        it("joins short names as they are", () => {
            expect(resourceId(["ws", "dev", "embeddings"], 30)).to.equal("ws-dev-embeddings");
        });

        it("shortens long names within the limit, keeping different names apart", () => {
            const a = resourceId(["ws", "production-eu", "a-very-long-service-name-one"], MAX_LENGTH.serviceAccount);
            const b = resourceId(["ws", "production-eu", "a-very-long-service-name-two"], MAX_LENGTH.serviceAccount);
            expect(a.length).to.be.at.most(30);
            expect(b.length).to.be.at.most(30);
            expect(a).not.to.equal(b);
            expect(a).to.match(/^[a-z][a-z0-9-]*[a-z0-9]$/);
        });

        it("makes service account ids GCP accepts (6-30, letter first)", () => {
            for (const id of [serviceAccountId("ws", "dev", "sync"), serviceAccountId("ws", "d", "a"), serviceAccountId("platform", "project-example-long", "embeddings-gpu")]) {
                expect(id, id).to.match(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/);
            }
        });

        it("makes bucket names of at most 63 characters", () => {
            const name = bucketName("warmstart-models", "a-rather-long-project-id-123", "a-rather-long-stack-name");
            expect(name.length).to.be.at.most(63);
            expect(name).to.match(/^[a-z0-9][a-z0-9-]*[a-z0-9]$/);
        });

        it("tags a base with every version that went into it", () => {
            expect(baseImageTag({ kind: "devel", cudaVersion: "12.8.1", ubuntuVersion: "24.04", pythonVersion: "3.12", torchVersion: "2.7.1" })).to.equal("cuda12.8.1-ubuntu24.04-py3.12-torch2.7.1-devel");
        });

        it("picks the PyTorch wheel index of the CUDA major.minor", () => {
            expect(torchIndexUrl("12.8.1")).to.equal("https://download.pytorch.org/whl/cu128");
            expect(torchIndexUrl("12.6")).to.equal("https://download.pytorch.org/whl/cu126");
        });
    });

    describe("registry cleanup", () => {
        it("expresses days in seconds", () => {
            expect(daysToDuration(14)).to.equal("1209600s");
        });

        it("deletes stale caches but keeps the newest", () => {
            const [del, keep] = cacheCleanupPolicies(7, 4);
            expect(del).to.deep.equal({ id: "delete-stale-caches", action: "DELETE", condition: { tagState: "ANY", olderThan: "604800s" } });
            expect(keep).to.deep.equal({ id: "keep-newest-caches", action: "KEEP", mostRecentVersions: { keepCount: 4 } });
        });
    });

    describe("model cache mounts", () => {
        it("sets the cache variables under the mount path", () => {
            expect(modelCacheEnv("/cache")).to.deep.equal({
                SHARED_MODEL_VOLUME_ENABLED: "true",
                MODEL_CACHE_PATH: "/cache",
                HF_HUB_CACHE: "/cache/huggingface/hub",
                SENTENCE_TRANSFORMERS_HOME: "/cache/sentence-transformers",
                OLLAMA_MODELS: "/cache/ollama",
            });
            expect(modelCacheEnv("/models", false).SHARED_MODEL_VOLUME_ENABLED).to.equal("false");
        });

        it("caches metadata forever for readers and never for the writer", () => {
            expect(readOnlyMountOptions()).to.include("metadata-cache-ttl-secs=-1");
            expect(readWriteMountOptions()).to.include("metadata-cache-ttl-secs=0");
            for (const option of [...readOnlyMountOptions(), ...readWriteMountOptions()]) {
                expect(option, "Cloud Run takes gcsfuse flags without dashes").to.match(/^[a-z]/);
            }
        });

        it("lists env sorted by name", () => {
            expect(envList({ B: "2", A: "1" })).to.deep.equal([{ name: "A", value: "1" }, { name: "B", value: "2" }]);
        });

        it("keeps versioning-based cleanup off hierarchical buckets", () => {
            const flat = modelCacheLifecycle({ hierarchicalNamespace: false, revisionRetentionDays: 5, stagingRetentionDays: 2 });
            const hns = modelCacheLifecycle({ hierarchicalNamespace: true, revisionRetentionDays: 5, stagingRetentionDays: 2 });
            expect(flat.some((r) => JSON.stringify(r).includes("daysSinceNoncurrentTime"))).to.equal(true);
            expect(hns.some((r) => JSON.stringify(r).includes("daysSinceNoncurrentTime"))).to.equal(false);
            expect(hns[0]).to.deep.equal({ action: { type: "Delete" }, condition: { age: 2, matchesPrefixes: [".staging/"] } });
        });
    });

    describe("Cloud Run settings", () => {
        it("keeps CPU allocated for GPU instances only", () => {
            expect(containerResources({ cpu: "4", memory: "16Gi", gpu: { type: "nvidia-l4", count: 1, zonalRedundancy: false } })).to.deep.equal({
                limits: { cpu: "4", memory: "16Gi", "nvidia.com/gpu": "1" },
                cpuIdle: false,
                startupCpuBoost: true,
            });
            expect(containerResources({ cpu: "1", memory: "2Gi" }).cpuIdle).to.equal(true);
        });

        it("runs a job through the v2 Admin API", () => {
            expect(jobRunUri("p", "europe-west1", "j")).to.equal("https://run.googleapis.com/v2/projects/p/locations/europe-west1/jobs/j:run");
        });

        it("hands the sync program its contract's environment", () => {
            const env = syncJobEnv({ models: [{ name: "m", source: "ollama", model: "llama3.2", tag: "1b" }], revisionRetentionDays: 4 });
            expect(JSON.parse(env.MODELS_JSON)).to.deep.equal([{ name: "m", source: "ollama", model: "llama3.2", tag: "1b" }]);
            expect(env).to.include({ MODEL_CACHE_PATH: "/models", REVISION_RETENTION_DAYS: "4" });
        });
    });

    describe("config keys in messages", () => {
        it("names nested keys the way `pulumi config set --path` does", () => {
            expect(configKeyOf(["services", 1, "gpu", "type"])).to.equal("warmstart:services[1].gpu.type");
            expect(configKeyOf(["project"])).to.equal("gcp:project");
        });
    });
});

describe("npm run plan", function () {
    this.timeout(120000);
    const badStack = path.join(REPO_ROOT, "Pulumi.test-bad-config.yaml");
    after(() => fs.rmSync(badStack, { force: true }));

    const plan = (...args: string[]) => spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/plan.ts", ...args], { cwd: REPO_ROOT, encoding: "utf8" });

    it("prints the dev graph as a tree with dependencies", () => {
        const run = plan("dev");
        expect(run.status, run.stderr).to.equal(0);
        expect(run.stdout).to.match(/^stack dev: \d+ resources/);
        expect(run.stdout).to.include("docker-build:index:Image  embeddings-image");
        expect(run.stdout).to.match(/embeddings-image\n.*depends on: .*docker-build:index:Image::bases-runtime/);
        expect(run.stdout).to.include("runSyncCommand: gcloud run jobs execute ws-dev-model-sync");
    });

    it("exits non-zero with the message on a bad config", () => {
        fs.writeFileSync(badStack, "config:\n  gcp:project: my-project\n  warmstart:sync:\n    timeZone: Mars/Olympus_Mons\n");
        const run = plan("test-bad-config");
        expect(run.status).to.equal(1);
        expect(run.stderr).to.include("warmstart:sync.timeZone:");
        expect(run.stderr).to.include('"Mars/Olympus_Mons"');
    });

    it("names the stacks it knows when asked for one that does not exist", () => {
        const run = plan("nope");
        expect(run.status).to.equal(1);
        expect(run.stderr).to.include("no stack file Pulumi.nope.yaml");
        expect(run.stderr).to.include("dev");
    });
});
