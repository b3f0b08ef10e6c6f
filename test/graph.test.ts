import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { evaluate, EvaluationError, evaluateStack, REPO_ROOT } from "../scripts/evaluate";
import { STARTUP_PROBE_LIMIT_SECONDS } from "../components/gcp/modelService";
import { memoryMiB } from "../policy/units";
import { byType, dependsOn, devConfigWith, evaluateWith, expectRejected, get, one, Plan, PlannedResource } from "./support/plan";

const IMAGE = "docker-build:index:Image";
const REPO = "gcp:artifactregistry/repository:Repository";
const SERVICE = "gcp:cloudrunv2/service:Service";
const JOB = "gcp:cloudrunv2/job:Job";
const SCHEDULER = "gcp:cloudscheduler/job:Job";
const BUCKET = "gcp:storage/bucket:Bucket";
const BUCKET_MEMBER = "gcp:storage/bucketIAMMember:BucketIAMMember";
const ACCOUNT = "gcp:serviceaccount/account:Account";

describe("the graph (dev stack under mocks)", function () {
    let plan: Plan;
    before(async () => {
        plan = await evaluateStack("dev");
    });

    describe("RegistryCache", () => {
        it("mirrors Docker Hub through a remote repository", () => {
            const remote = one(plan, REPO, "registry-dockerhub");
            expect(remote.inputs).to.include({ format: "DOCKER", mode: "REMOTE_REPOSITORY", location: "europe-west1" });
            expect(get(remote.inputs, "remoteRepositoryConfig.dockerRepository.publicRepository")).to.equal("DOCKER_HUB");
        });

        it("keeps build caches in a repository that deletes stale ones and keeps the newest", () => {
            const caches = one(plan, REPO, "registry-buildcache");
            const policies = caches.inputs.cleanupPolicies as Record<string, unknown>[];
            expect(caches.inputs.cleanupPolicyDryRun).to.equal(false);
            expect(policies).to.deep.include({ id: "delete-stale-caches", action: "DELETE", condition: { tagState: "ANY", olderThan: `${14 * 86400}s` } });
            expect(policies).to.deep.include({ id: "keep-newest-caches", action: "KEEP", mostRecentVersions: { keepCount: 3 } });
        });

        it("deletes old untagged versions of our images and of mirrored ones, keeping the newest", () => {
            // A rebuilt CUDA base leaves the previous multi-GB version untagged: without a policy it stays forever.
            for (const name of ["registry-images", "registry-dockerhub"]) {
                const repo = one(plan, REPO, name);
                expect(repo.inputs.cleanupPolicyDryRun, name).to.equal(false);
                expect(repo.inputs.cleanupPolicies, name).to.deep.equal([
                    { id: "delete-old-untagged", action: "DELETE", condition: { tagState: "UNTAGGED", olderThan: `${7 * 86400}s` } },
                    { id: "keep-newest-versions", action: "KEEP", mostRecentVersions: { keepCount: 3 } },
                ]);
            }
        });

        it("creates a remote repository per extra upstream", async () => {
            const p = await evaluateWith({ "warmstart:registry": { upstreams: [{ name: "nvcr", uri: "https://nvcr.io" }] } });
            const nvcr = one(p, REPO, "registry-nvcr");
            expect(get(nvcr.inputs, "remoteRepositoryConfig.dockerRepository.customRepository.uri")).to.equal("https://nvcr.io");
            expect(nvcr.inputs.repositoryId).to.equal("ws-dev-nvcr");
            expect(get(nvcr.inputs, "cleanupPolicies.0.condition.tagState")).to.equal("UNTAGGED");
        });
    });

    describe("BaseImages", () => {
        it("builds one image per variant, pulling FROM through the mirror", () => {
            const images = byType(plan, IMAGE).filter((i) => i.name.startsWith("bases-"));
            expect(images.map((i) => i.name).sort()).to.deep.equal(["bases-devel", "bases-runtime"]);
            const runtime = one(plan, IMAGE, "bases-runtime");
            expect(runtime.inputs.target).to.equal("runtime");
            expect(get(runtime.inputs, "buildArgs.REGISTRY_MIRROR")).to.equal("europe-west1-docker.pkg.dev/warmstart-dev/ws-dev-dockerhub");
            expect(runtime.inputs.buildArgs).to.include({ CUDA_FLAVOR: "runtime", CUDA_VERSION: "12.8.1", UBUNTU_VERSION: "24.04", PYTHON_VERSION: "3.12", TORCH_VERSION: "2.7.1", TORCH_INDEX_URL: "https://download.pytorch.org/whl/cu128" });
        });

        it("pushes linux/amd64 with a tag naming the versions", () => {
            const runtime = one(plan, IMAGE, "bases-runtime");
            expect(runtime.inputs.push).to.equal(true);
            expect(runtime.inputs.platforms).to.deep.equal(["linux/amd64"]);
            expect(runtime.inputs.tags).to.deep.equal(["europe-west1-docker.pkg.dev/warmstart-dev/ws-dev-images/cuda-runtime:cuda12.8.1-ubuntu24.04-py3.12-torch2.7.1-runtime"]);
        });

        it("never builds on preview, in every stack", async () => {
            // pulumi-docker-build provider/internal/image.go: buildOnPreview defaults to true; only an
            // explicit false keeps a pull request's preview from building CUDA images.
            for (const p of [plan, await evaluateStack("project-example")]) {
                for (const image of byType(p, IMAGE)) expect(image.inputs.buildOnPreview, `${p.stack} ${image.name}`).to.equal(false);
            }
        });

        it("passes no registry token: pushes authenticate through the host's credential helper", async () => {
            // pulumi-docker-build provider/internal/image.go Delete: a deleted image's registries come from
            // state, so a stored token is reused long after it expired (and the delete error is dropped).
            for (const p of [plan, await evaluateStack("project-example")]) {
                for (const image of byType(p, IMAGE)) expect(image.inputs.registries, `${p.stack} ${image.name}`).to.equal(undefined);
            }
        });

        it("reads and writes a registry cache in max mode", () => {
            for (const name of ["bases-runtime", "bases-devel"]) {
                const image = one(plan, IMAGE, name);
                const ref = `europe-west1-docker.pkg.dev/warmstart-dev/ws-dev-buildcache/cuda-${name.slice("bases-".length)}:buildcache`;
                expect(image.inputs.cacheFrom).to.deep.equal([{ registry: { ref } }]);
                expect(image.inputs.cacheTo).to.deep.equal([{ registry: { ref, mode: "max", imageManifest: true, ociMediaTypes: true } }]);
            }
        });

        it("pulls through the cache: each base depends on the Docker Hub remote repository", () => {
            const remote = one(plan, REPO, "registry-dockerhub");
            for (const name of ["bases-runtime", "bases-devel"]) expect(dependsOn(one(plan, IMAGE, name), remote), name).to.equal(true);
        });

        it("builds on a named builder when the stack sets one", async () => {
            const p = await evaluateWith({ "warmstart:builder": "cloud-acme-gpu" });
            expect(get(one(p, IMAGE, "bases-runtime").inputs, "builder.name")).to.equal("cloud-acme-gpu");
            expect(get(one(plan, IMAGE, "bases-runtime").inputs, "builder")).to.equal(undefined);
        });
    });

    describe("ServiceImage", () => {
        it("builds each service FROM its base's digest-pinned ref", () => {
            const base = one(plan, IMAGE, "bases-runtime");
            const svc = one(plan, IMAGE, "embeddings-image");
            expect(get(svc.inputs, "buildArgs.BASE_IMAGE")).to.equal(`${(base.inputs.tags as string[])[0]}@${String(base.state.digest)}`);
            expect(dependsOn(svc, base)).to.equal(true);
        });

        it("gives a builder-stage service both its builder and its base", () => {
            const ops = one(plan, IMAGE, "custom-ops-image");
            expect(String(get(ops.inputs, "buildArgs.BUILDER_IMAGE"))).to.match(/cuda-devel:.*@sha256:[0-9a-f]{64}$/);
            expect(String(get(ops.inputs, "buildArgs.BASE_IMAGE"))).to.match(/cuda-runtime:.*@sha256:[0-9a-f]{64}$/);
            expect(dependsOn(ops, one(plan, IMAGE, "bases-devel"))).to.equal(true);
            expect(dependsOn(ops, one(plan, IMAGE, "bases-runtime"))).to.equal(true);
            expect(get(one(plan, IMAGE, "embeddings-image").inputs, "buildArgs.BUILDER_IMAGE")).to.equal(undefined);
        });

        it("has its own registry cache in max mode", () => {
            const svc = one(plan, IMAGE, "embeddings-image");
            expect(get(svc.inputs, "cacheTo.0.registry.ref")).to.equal("europe-west1-docker.pkg.dev/warmstart-dev/ws-dev-buildcache/embeddings:buildcache");
            expect(get(svc.inputs, "cacheTo.0.registry.mode")).to.equal("max");
        });

        it("builds only contexts and Dockerfiles that exist in the repository", () => {
            for (const image of byType(plan, IMAGE)) {
                const context = String(get(image.inputs, "context.location"));
                const dockerfile = String(get(image.inputs, "dockerfile.location"));
                expect(fs.existsSync(path.join(REPO_ROOT, context)), `${image.name} context ${context}`).to.equal(true);
                expect(fs.existsSync(path.join(REPO_ROOT, dockerfile)), `${image.name} Dockerfile ${dockerfile}`).to.equal(true);
            }
        });
    });

    describe("a base change flows through the graph", () => {
        it("a new CUDA version rebuilds the bases, the services on them, and redeploys the services", async () => {
            const bases = JSON.parse(devConfigWith({})["warmstart:bases"]) as Record<string, unknown>[];
            const changed = await evaluateWith({ "warmstart:bases": bases.map((b) => ({ ...b, cudaVersion: "12.9.1", torchVersion: "2.8.0" })) });
            const digest = (p: Plan, name: string) => String(one(p, IMAGE, name).state.digest);
            const deployed = (p: Plan, name: string) => String(get(one(p, SERVICE, name).inputs, "template.containers.0.image"));

            expect(get(one(changed, IMAGE, "bases-runtime").inputs, "buildArgs.TORCH_INDEX_URL")).to.equal("https://download.pytorch.org/whl/cu129");
            for (const name of ["bases-runtime", "bases-devel", "embeddings-image", "custom-ops-image"]) {
                expect(digest(changed, name), name).not.to.equal(digest(plan, name));
            }
            for (const name of ["embeddings-service", "custom-ops-service"]) {
                expect(deployed(changed, name), name).not.to.equal(deployed(plan, name));
            }
            // The sync image does not use the CUDA bases: it must not rebuild.
            expect(digest(changed, "model-sync-image")).to.equal(digest(plan, "model-sync-image"));
        });
    });

    describe("ModelCache", () => {
        it("is a private bucket: uniform access, public access prevention enforced", () => {
            const bucket = one(plan, BUCKET, "model-cache-bucket");
            expect(bucket.inputs).to.include({ uniformBucketLevelAccess: true, publicAccessPrevention: "enforced", location: "europe-west1", name: "warmstart-models-warmstart-dev-dev" });
        });

        it("expires staging leftovers, keeps superseded manifests for the rollback window and superseded model files a day", () => {
            const rules = one(plan, BUCKET, "model-cache-bucket").inputs.lifecycleRules as { action: unknown; condition: Record<string, unknown> }[];
            expect(rules).to.deep.include({ action: { type: "Delete" }, condition: { age: 1, matchesPrefixes: [".staging/"] } });
            expect(rules).to.deep.include({ action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: 3, withState: "ARCHIVED", matchesPrefixes: ["manifest.json", ".done"] } });
            expect(rules).to.deep.include({ action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: 1, withState: "ARCHIVED", matchesPrefixes: ["huggingface/", "ollama/", "url/", "sentence-transformers/", ".staging/", ".sync"] } });
            // A noncurrent rule over every object would keep each replaced multi-GB revision for the whole window.
            expect(rules.filter((r) => r.condition.withState === "ARCHIVED" && r.condition.matchesPrefixes === undefined)).to.deep.equal([]);
            expect(get(one(plan, BUCKET, "model-cache-bucket").inputs, "versioning.enabled")).to.equal(true);
        });

        it("turns soft delete off unless the stack asks for it", async () => {
            // Cloud Storage soft-deletes for 7 days unless the policy says 0 (terraform-provider-google
            // google_storage_bucket soft_delete_policy: "To disable the soft delete policy ... set to 0").
            expect(get(one(plan, BUCKET, "model-cache-bucket").inputs, "softDeletePolicy")).to.deep.equal({ retentionDurationSeconds: 0 });
            const p = await evaluateWith({ "warmstart:modelCache": { softDeleteRetentionDays: 7 } });
            expect(get(one(p, BUCKET, "model-cache-bucket").inputs, "softDeletePolicy.retentionDurationSeconds")).to.equal(7 * 86400);
            // 1-6 days is refused by the API; say so before anything is created.
            expect(await expectRejected({ "warmstart:modelCache": { softDeleteRetentionDays: 3 } })).to.include("warmstart:modelCache.softDeleteRetentionDays: must be 0 (off) or 7 to 90 days");
        });

        it("turns on the hierarchical namespace, without versioning, when asked", async () => {
            const p = await evaluateWith({ "warmstart:modelCache": { hierarchicalNamespace: true } });
            const bucket = one(p, BUCKET, "model-cache-bucket");
            expect(get(bucket.inputs, "hierarchicalNamespace.enabled")).to.equal(true);
            expect(get(bucket.inputs, "versioning.enabled")).to.equal(false);
        });

        describe("a hierarchical namespace switch on an existing bucket", () => {
            // terraform-provider-google google_storage_bucket: hierarchical_namespace is ForceNew (set
            // at creation only): a switch would replace the bucket, refused when protected and failing on the taken name otherwise.
            const deployed = (hierarchicalNamespace: unknown, bucket = "warmstart-models-warmstart-dev-dev") => ({ modelCacheBucket: bucket, modelCacheHierarchicalNamespace: hierarchicalNamespace });
            const withHns = (previousOutputs: Record<string, unknown>) => evaluate("dev", devConfigWith({ "warmstart:modelCache": { hierarchicalNamespace: true } }), { previousOutputs });

            it("records the setting in the stack's outputs and reads it back from its own previous deploy", () => {
                expect(plan.outputs.modelCacheHierarchicalNamespace).to.equal(false);
                expect(one(plan, "pulumi:pulumi:StackReference", "previous-deploy").inputs.name).to.equal("organization/warmstart/dev");
            });

            it("is refused, naming the key, before anything but that read is registered", async () => {
                const err = await withHns(deployed(false)).then(() => undefined, (e: unknown) => e as EvaluationError);
                expect(err?.message).to.include("warmstart:modelCache.hierarchicalNamespace: cannot change from false to true (value true) on the existing bucket warmstart-models-warmstart-dev-dev");
                expect(err?.message).to.include("warmstart:modelCache.bucketPrefix");
                expect(err?.registered).to.equal(1);
            });

            it("is allowed on a first deploy, on a new bucket name, when unchanged, and when the previous deploy did not record it", async () => {
                for (const previous of [{}, deployed(false, "warmstart-models-old-name"), deployed(true), { modelCacheBucket: "warmstart-models-warmstart-dev-dev" }]) {
                    const p = await withHns(previous);
                    expect(get(one(p, BUCKET, "model-cache-bucket").inputs, "hierarchicalNamespace.enabled"), JSON.stringify(previous)).to.equal(true);
                }
            });
        });

        describe("leaving an existing bucket whose fixed settings must change (prod)", () => {
            const prodWith = (overrides: Record<string, unknown>, previousOutputs: Record<string, unknown>) =>
                evaluate("prod", devConfigWith(overrides, "prod"), { previousOutputs });
            const prodCache = (fields: Record<string, unknown>) => ({ "warmstart:modelCache": { ...JSON.parse(devConfigWith({}, "prod")["warmstart:modelCache"]), ...fields } });
            const deployed = { modelCacheBucket: "warmstart-models-warmstart-prod-prod", modelCacheHierarchicalNamespace: false, modelCacheLocation: "europe-west1" };

            it("is refused with the way out: unprotect the bucket by its URN, then a new bucketPrefix", async () => {
                const prod = await evaluateStack("prod");
                const urn = one(prod, BUCKET, "model-cache-bucket").urn;
                const err = await prodWith(prodCache({ hierarchicalNamespace: true }), deployed).then(() => undefined, (e: unknown) => e as EvaluationError);
                expect(err?.registered).to.equal(1);
                expect(err?.message).to.include("warmstart:modelCache.hierarchicalNamespace: cannot change from false to true");
                expect(err?.message).to.include(`\`pulumi state unprotect '${urn}'\`, then set warmstart:modelCache.bucketPrefix to a new prefix`);
                expect(err?.message).to.include("gcloud storage rm -r gs://warmstart-models-warmstart-prod-prod");
                // The runbook (docs/operations.md) shows the same command for prod.
                expect(fs.readFileSync(path.join(REPO_ROOT, "docs", "operations.md"), "utf8")).to.include(`pulumi state unprotect '${urn}'`);
            });

            // pulumi pkg/resource/deploy/step_generator.go: a replacement is refused ("unable to replace
            // resource ... marked for protection") only while both the old state and the program protect
            // it, so after `pulumi state unprotect` it goes ahead; pkg/resource/deploy/step.go (DeleteStep):
            // an old state with retainOnDelete is not deleted from the provider, in a replacement too.
            it("then takes the new bucket, protected and retained again, and the old one is retained", async () => {
                const p = await prodWith(prodCache({ hierarchicalNamespace: true, bucketPrefix: "warmstart-hns" }), deployed);
                const bucket = one(p, BUCKET, "model-cache-bucket");
                expect(bucket.inputs.name).to.equal("warmstart-hns-warmstart-prod-prod");
                expect(get(bucket.inputs, "hierarchicalNamespace.enabled")).to.equal(true);
                expect([bucket.options.protect, bucket.options.retainOnDelete, bucket.inputs.forceDestroy]).to.deep.equal([true, true, false]);
                expect(p.outputs.modelCacheBucket).to.equal("warmstart-hns-warmstart-prod-prod");
            });

            it("in dev needs no unprotect: the new bucketPrefix alone, and the old bucket goes with its models", async () => {
                const err = await evaluate("dev", devConfigWith({ "warmstart:modelCache": { hierarchicalNamespace: true } }), {
                    previousOutputs: { modelCacheBucket: "warmstart-models-warmstart-dev-dev", modelCacheHierarchicalNamespace: false },
                }).then(() => undefined, (e: unknown) => e as EvaluationError);
                expect(err?.message).to.include("set warmstart:modelCache.bucketPrefix to a new prefix, and `pulumi up` creates the new bucket, fills it and deletes the old one with its models");
                expect(err?.message).not.to.include("pulumi state unprotect");
            });
        });

        describe("a change that moves the existing bucket", () => {
            // terraform-provider-google google_storage_bucket: `location` is ForceNew (compared upper-case,
            // its StateFunc); pulumi-terraform-bridge pkg/tfbridge/schema.go nameRequiresDeleteBeforeReplace:
            // with an explicit name the old bucket is deleted first, in dev with forceDestroy, models and all.
            const devBucket = "warmstart-models-warmstart-dev-dev";
            const devWith = (overrides: Record<string, unknown>, previousOutputs: Record<string, unknown>) =>
                evaluate("dev", devConfigWith(overrides), { previousOutputs });
            const devCache = (fields: Record<string, unknown>) => ({ "warmstart:modelCache": { ...JSON.parse(devConfigWith({})["warmstart:modelCache"]), ...fields } });
            const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as EvaluationError);

            it("records the bucket's location in the stack's outputs", async () => {
                expect(plan.outputs.modelCacheLocation).to.equal("europe-west1");
                expect((await evaluateWith(devCache({ location: "EU" }))).outputs.modelCacheLocation).to.equal("EU");
            });

            it("is refused before any resource, naming warmstart:region when the region decides the location", async () => {
                const err = await refusal(devWith({ "warmstart:region": "europe-west4" }, { modelCacheBucket: devBucket, modelCacheLocation: "europe-west1" }));
                expect(err?.registered).to.equal(1);
                expect(err?.message).to.include(`warmstart:region: would move the existing bucket ${devBucket} from EUROPE-WEST1 to EUROPE-WEST4 (value "europe-west4")`);
                expect(err?.message).to.include("deleting every cached model");
                expect(err?.message).to.include("pin the bucket with warmstart:modelCache.location: EUROPE-WEST1");
            });

            it("is refused naming warmstart:modelCache.location when the location is pinned", async () => {
                const err = await refusal(devWith(devCache({ location: "US" }), { modelCacheBucket: devBucket, modelCacheLocation: "EU" }));
                expect(err?.message).to.include(`warmstart:modelCache.location: would move the existing bucket ${devBucket} from EU to US (value "US")`);
                expect(err?.message).to.include("set it back to EU");
            });

            it("is not refused for a region change with the location pinned, a case change, a new bucket or a first deploy", async () => {
                const pinned = await devWith({ "warmstart:region": "europe-west4", ...devCache({ location: "europe-west1" }) }, { modelCacheBucket: devBucket, modelCacheLocation: "europe-west1" });
                expect(one(pinned, BUCKET, "model-cache-bucket").inputs.location).to.equal("europe-west1");
                expect(one(pinned, SERVICE, "embeddings-service").inputs.location).to.equal("europe-west4");
                for (const previous of [{ modelCacheBucket: devBucket, modelCacheLocation: "EUROPE-WEST1" }, { modelCacheBucket: "warmstart-models-old", modelCacheLocation: "US" }, {}, { modelCacheBucket: devBucket }]) {
                    const p = await devWith({}, previous);
                    expect(one(p, BUCKET, "model-cache-bucket").inputs.location, JSON.stringify(previous)).to.equal("europe-west1");
                }
            });
        });

        it("is destroyable in dev and kept in prod", async () => {
            expect(one(plan, BUCKET, "model-cache-bucket").inputs.forceDestroy).to.equal(true);
            const prod = await evaluateStack("prod");
            expect(one(prod, BUCKET, "model-cache-bucket").inputs.forceDestroy).to.equal(false);
            expect(one(prod, SERVICE, "embeddings-service").inputs.deletionProtection).to.equal(true);
        });
    });

    describe("ModelService", () => {
        let svc: PlannedResource;
        before(() => {
            svc = one(plan, SERVICE, "embeddings-service");
        });

        it("runs gen2 as its own account, mounting the bucket read-only at /models", () => {
            expect(get(svc.inputs, "template.executionEnvironment")).to.equal("EXECUTION_ENVIRONMENT_GEN2");
            expect(get(svc.inputs, "template.serviceAccount")).to.equal("ws-dev-embeddings@warmstart-dev.iam.gserviceaccount.com");
            const volume = get(svc.inputs, "template.volumes.0") as Record<string, unknown>;
            expect(volume.gcs).to.deep.include({ bucket: "warmstart-models-warmstart-dev-dev", readOnly: true });
            expect((get(volume, "gcs.mountOptions") as string[]).every((o) => !o.startsWith("-"))).to.equal(true);
            expect(get(volume, "gcs.mountOptions")).to.include("metadata-cache-ttl-secs=-1");
            expect(get(svc.inputs, "template.containers.0.volumeMounts")).to.deep.equal([{ name: volume.name, mountPath: "/models" }]);
        });

        it("points the model libraries at the cache", () => {
            const envs = get(svc.inputs, "template.containers.0.envs") as { name: string; value: string }[];
            const env = Object.fromEntries(envs.map((e) => [e.name, e.value]));
            expect(env).to.include({
                SHARED_MODEL_VOLUME_ENABLED: "true",
                MODEL_CACHE_PATH: "/models",
                OLLAMA_MODELS: "/models/ollama",
                SENTENCE_TRANSFORMERS_HOME: "/models/sentence-transformers",
                HF_HUB_CACHE: "/models/huggingface/hub",
                EMBEDDING_MODEL: "BAAI/bge-m3",
            });
        });

        it("deploys its image by digest", () => {
            const image = String(get(svc.inputs, "template.containers.0.image"));
            expect(image).to.equal(`${(one(plan, IMAGE, "embeddings-image").inputs.tags as string[])[0]}@${String(one(plan, IMAGE, "embeddings-image").state.digest)}`);
        });

        it("probes the health endpoint", () => {
            expect(get(svc.inputs, "template.containers.0.startupProbe.httpGet.path")).to.equal("/healthz");
            expect(get(svc.inputs, "template.containers.0.livenessProbe.httpGet.path")).to.equal("/healthz");
        });

        it("keeps each startup probe within what Cloud Run accepts for its kind of service", () => {
            // Cloud Run docs, "Configure container health checks": failureThreshold × periodSeconds may not
            // exceed 240 s without a GPU; the deploy is refused otherwise.
            const window = (s: PlannedResource) => {
                const probe = get(s.inputs, "template.containers.0.startupProbe") as { periodSeconds: number; failureThreshold: number; timeoutSeconds: number };
                expect(probe.timeoutSeconds).to.be.at.most(probe.periodSeconds);
                return probe.periodSeconds * probe.failureThreshold;
            };
            const cpuOnly = one(plan, SERVICE, "custom-ops-service");
            expect(get(cpuOnly.inputs, "template.nodeSelector")).to.equal(undefined);
            expect(window(cpuOnly)).to.be.within(60, STARTUP_PROBE_LIMIT_SECONDS.cpu);
            // The GPU service keeps a longer window for a cold load of its model.
            expect(window(svc)).to.be.above(STARTUP_PROBE_LIMIT_SECONDS.cpu).and.at.most(STARTUP_PROBE_LIMIT_SECONDS.gpu);
        });

        it("requests an L4 GPU with always-on CPU and no zonal redundancy", () => {
            expect(get(svc.inputs, "template.nodeSelector.accelerator")).to.equal("nvidia-l4");
            expect(get(svc.inputs, "template.gpuZonalRedundancyDisabled")).to.equal(true);
            expect(get(svc.inputs, "template.containers.0.resources.limits")).to.deep.equal({ cpu: "4", memory: "16Gi", "nvidia.com/gpu": "1" });
            expect(get(svc.inputs, "template.containers.0.resources.cpuIdle")).to.equal(false);
            const cpuOnly = one(plan, SERVICE, "custom-ops-service");
            expect(get(cpuOnly.inputs, "template.nodeSelector")).to.equal(undefined);
            expect(get(cpuOnly.inputs, "template.containers.0.resources.cpuIdle")).to.equal(true);
        });

        it("does not start its first revision before its account can read the bucket", () => {
            const grant = one(plan, BUCKET_MEMBER, "embeddings-models-read");
            expect(grant.inputs).to.include({ role: "roles/storage.objectViewer", member: "serviceAccount:ws-dev-embeddings@warmstart-dev.iam.gserviceaccount.com" });
            expect(dependsOn(svc, grant)).to.equal(true);
        });

        it("switches the shared volume off through config (the fallback)", async () => {
            const services = JSON.parse(devConfigWith({})["warmstart:services"]) as Record<string, unknown>[];
            const p = await evaluateWith({ "warmstart:services": [{ ...services[0], sharedModelVolume: false }, services[1]] });
            const envs = get(one(p, SERVICE, "embeddings-service").inputs, "template.containers.0.envs") as { name: string; value: string }[];
            expect(envs.find((e) => e.name === "SHARED_MODEL_VOLUME_ENABLED")?.value).to.equal("false");
        });
    });

    describe("ModelSyncJob", () => {
        it("mounts the bucket read-write and passes the models list", () => {
            const job = one(plan, JOB, "model-sync-job");
            const tmpl = get(job.inputs, "template.template") as Record<string, unknown>;
            expect(tmpl.executionEnvironment).to.equal("EXECUTION_ENVIRONMENT_GEN2");
            expect(get(tmpl, "volumes.0.gcs.readOnly")).to.equal(false);
            expect(get(tmpl, "containers.0.volumeMounts.0.mountPath")).to.equal("/models");
            const envs = get(tmpl, "containers.0.envs") as { name: string; value: string }[];
            const models = JSON.parse(envs.find((e) => e.name === "MODELS_JSON")!.value) as { name: string }[];
            expect(models.map((m) => m.name)).to.deep.equal(["bge-m3", "llama3-2-1b"]);
            expect(envs.find((e) => e.name === "MODEL_CACHE_PATH")?.value).to.equal("/models");
            expect(envs.find((e) => e.name === "MODEL_CACHE_BUCKET")?.value, "the lock's bucket is the mounted one").to.equal(get(tmpl, "volumes.0.gcs.bucket"));
            expect(tmpl.timeout).to.equal("3600s");
            expect(tmpl.maxRetries).to.equal(1);
        });

        it("has the memory to stage every file in flight, should gcsfuse fall back from streaming writes", () => {
            // gcsfuse docs/semantics.md: a write it cannot stream is staged whole in its temp dir,
            // which on Cloud Run is memory. Largest files of the dev models, as the Hub and the Ollama library list them.
            const largestFiles = [2.27e9 /* bge-m3 model.safetensors */, 1.32e9 /* llama3.2:1b weights */];
            const tmpl = get(one(plan, JOB, "model-sync-job").inputs, "template.template") as Record<string, unknown>;
            const envs = get(tmpl, "containers.0.envs") as { name: string; value: string }[];
            const concurrency = Number(envs.find((e) => e.name === "SYNC_CONCURRENCY")?.value);
            expect(concurrency).to.equal(4);
            const stagedMiB = largestFiles.slice(0, concurrency).reduce((a, b) => a + b, 0) / 2 ** 20;
            const runtimeMiB = 1024; // Node, download buffers, gcsfuse's buffers and caches
            expect(memoryMiB(String(get(tmpl, "containers.0.resources.limits.memory")))).to.be.at.least(1.5 * (stagedMiB + runtimeMiB));
        });

        it("writes with its own account, granted objectUser on the bucket only", () => {
            const job = one(plan, JOB, "model-sync-job");
            const grant = one(plan, BUCKET_MEMBER, "model-sync-models-write");
            expect(grant.inputs).to.include({ role: "roles/storage.objectUser", member: "serviceAccount:ws-dev-sync@warmstart-dev.iam.gserviceaccount.com", bucket: "warmstart-models-warmstart-dev-dev" });
            expect(get(job.inputs, "template.template.serviceAccount")).to.equal("ws-dev-sync@warmstart-dev.iam.gserviceaccount.com");
            expect(dependsOn(job, grant)).to.equal(true);
        });

        it("is started nightly by Cloud Scheduler through the Run API, as an account allowed to run this job only", () => {
            const schedule = one(plan, SCHEDULER, "model-sync-schedule");
            const binding = one(plan, "gcp:cloudrunv2/jobIamMember:JobIamMember", "model-sync-scheduler-invoker");
            expect(schedule.inputs).to.include({ schedule: "0 3 * * *", timeZone: "Europe/Brussels", region: "europe-west1" });
            expect(get(schedule.inputs, "httpTarget.httpMethod")).to.equal("POST");
            expect(get(schedule.inputs, "httpTarget.uri")).to.equal("https://run.googleapis.com/v2/projects/warmstart-dev/locations/europe-west1/jobs/ws-dev-model-sync:run");
            expect(get(schedule.inputs, "httpTarget.oauthToken.serviceAccountEmail")).to.equal("ws-dev-sched@warmstart-dev.iam.gserviceaccount.com");
            expect(binding.inputs).to.include({ role: "roles/run.invoker", name: "ws-dev-model-sync", member: "serviceAccount:ws-dev-sched@warmstart-dev.iam.gserviceaccount.com" });
            expect(dependsOn(schedule, binding)).to.equal(true);
        });

        it("reads a Hugging Face token from one secret, granted on that secret only", async () => {
            const p = await evaluateWith({ "warmstart:sync": { hfTokenSecret: "hf-token" } });
            const access = one(p, "gcp:secretmanager/secretIamMember:SecretIamMember", "model-sync-hf-token-access");
            expect(access.inputs).to.include({ secretId: "hf-token", role: "roles/secretmanager.secretAccessor", member: "serviceAccount:ws-dev-sync@warmstart-dev.iam.gserviceaccount.com" });
            const envs = get(one(p, JOB, "model-sync-job").inputs, "template.template.containers.0.envs") as { name: string; valueSource?: unknown }[];
            expect(envs.find((e) => e.name === "HF_TOKEN")?.valueSource).to.deep.equal({ secretKeyRef: { secret: "hf-token", version: "latest" } });
        });
    });

    describe("IAM", () => {
        const projectLevel = /^gcp:(projects|organizations|folders)\/iam/i;

        it("grants nothing at project level, in any stack", async () => {
            for (const p of [plan, await evaluateStack("prod")]) {
                expect(p.resources.filter((r) => projectLevel.test(r.type)).map((r) => r.type)).to.deep.equal([]);
            }
        });

        it("has no public member unless a service says public: true", async () => {
            const members = (p: Plan) => p.resources.flatMap((r) => (typeof r.inputs.member === "string" ? [{ name: r.name, member: r.inputs.member }] : []));
            expect(members(plan).filter((m) => /allUsers|allAuthenticatedUsers/.test(m.member))).to.deep.equal([]);

            const services = JSON.parse(devConfigWith({})["warmstart:services"]) as Record<string, unknown>[];
            const p = await evaluateWith({ "warmstart:services": [services[0], { ...services[1], public: true }] });
            const publicGrants = members(p).filter((m) => m.member === "allUsers");
            expect(publicGrants.map((m) => m.name)).to.deep.equal(["custom-ops-public"]);
            expect(get(one(p, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", "custom-ops-public").inputs, "name")).to.equal("ws-dev-custom-ops");
        });

        it("gives each account only its own grants", () => {
            const grantsOf = (email: string) => plan.resources.filter((r) => r.inputs.member === `serviceAccount:${email}`).map((r) => `${r.type.split(":").pop()} ${String(r.inputs.role)}`).sort();
            expect(grantsOf("ws-dev-embeddings@warmstart-dev.iam.gserviceaccount.com")).to.deep.equal(["BucketIAMMember roles/storage.objectViewer"]);
            expect(grantsOf("ws-dev-custom-ops@warmstart-dev.iam.gserviceaccount.com")).to.deep.equal(["BucketIAMMember roles/storage.objectViewer"]);
            expect(grantsOf("ws-dev-sync@warmstart-dev.iam.gserviceaccount.com")).to.deep.equal(["BucketIAMMember roles/storage.objectUser"]);
            expect(grantsOf("ws-dev-sched@warmstart-dev.iam.gserviceaccount.com")).to.deep.equal(["JobIamMember roles/run.invoker"]);
            // Four accounts, each dedicated: two services, the sync job, the scheduler.
            expect(byType(plan, ACCOUNT).map((a) => a.inputs.accountId).sort()).to.deep.equal(["ws-dev-custom-ops", "ws-dev-embeddings", "ws-dev-sched", "ws-dev-sync"]);
        });

        it("grants invokers from config on their service only", async () => {
            const prod = await evaluateStack("prod");
            const invokers = byType(prod, "gcp:cloudrunv2/serviceIamMember:ServiceIamMember");
            expect(invokers.map((i) => [i.name, i.inputs.name, i.inputs.role, i.inputs.member])).to.deep.equal([
                ["custom-ops-invoker-0", "ws-prod-custom-ops", "roles/run.invoker", "group:ml-platform@example.com"],
                ["embeddings-invoker-0", "ws-prod-embeddings", "roles/run.invoker", "group:ml-platform@example.com"],
            ]);
        });
    });

    describe("components", () => {
        it("registers each component type with its children parented to it", () => {
            const components = plan.resources.filter((r) => !r.custom);
            expect([...new Set(components.map((c) => c.type))].sort()).to.deep.equal([
                "warmstart:images:BaseImages",
                "warmstart:images:ServiceImage",
                "warmstart:registry:RegistryCache",
                "warmstart:run:ModelService",
                "warmstart:run:ModelSyncJob",
                "warmstart:storage:ModelCache",
            ]);
            const urns = new Set(components.map((c) => c.urn));
            // Reads (this stack's own previous outputs) are not resources the stack owns.
            for (const r of plan.resources.filter((x) => x.custom && x.type !== "pulumi:pulumi:StackReference")) {
                expect(r.parent !== undefined && urns.has(r.parent), `${r.type} ${r.name} has a component parent`).to.equal(true);
            }
        });

        it("exports the URLs, image refs by digest, bucket, job and the sync command", () => {
            expect(Object.keys(plan.outputs).sort()).to.deep.equal(["baseImageRefs", "modelCacheBucket", "modelCacheHierarchicalNamespace", "modelCacheLocation", "modelCacheManifest", "platform", "runSyncCommand", "serviceImageRefs", "serviceUrls", "syncImageRef", "syncJobName"]);
            expect(plan.outputs.runSyncCommand).to.equal("gcloud run jobs execute ws-dev-model-sync --region europe-west1 --project warmstart-dev --wait");
            for (const ref of Object.values(plan.outputs.serviceImageRefs as Record<string, string>)) expect(ref).to.match(/@sha256:[0-9a-f]{64}$/);
        });
    });
});
