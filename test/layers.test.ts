import { expect } from "chai";
import { evaluate, EvaluationError, evaluateStack, stackFileConfig } from "../scripts/evaluate";
import { parseFlatConfig } from "../stacks/load";
import { byType, evaluateWith, get, one, Plan } from "./support/plan";

const IMAGE = "docker-build:index:Image";
const PLATFORM = "acme/warmstart/platform";
const cloudRunOrStorage = /^gcp:(cloudrunv2|storage|cloudscheduler)\//;

describe("platform and project layers", () => {
    let platform: Plan;
    let project: Plan;
    before(async () => {
        platform = await evaluateStack("platform");
        project = await evaluateStack("project-example");
    });

    describe("a platform stack", () => {
        it("creates the registry cache and the bases, and no Cloud Run, bucket or scheduler", () => {
            expect(byType(platform, IMAGE).map((i) => i.name).sort()).to.deep.equal(["bases-devel", "bases-runtime"]);
            expect(byType(platform, "gcp:artifactregistry/repository:Repository")).to.have.length(3);
            expect(platform.resources.filter((r) => cloudRunOrStorage.test(r.type)).map((r) => r.type)).to.deep.equal([]);
            expect(platform.resources.filter((r) => r.type === "gcp:serviceaccount/account:Account")).to.deep.equal([]);
        });

        it("exports the mirror, repositories and each base pinned by digest with its versions", () => {
            const out = platform.outputs.platform as Record<string, Record<string, Record<string, string>>>;
            expect(out.mirrors.dockerhub).to.equal("europe-west1-docker.pkg.dev/acme-ml-platform/ws-platform-dockerhub");
            expect(out.imageRepository).to.equal("europe-west1-docker.pkg.dev/acme-ml-platform/ws-platform-images");
            expect(out.cacheRepository).to.equal("europe-west1-docker.pkg.dev/acme-ml-platform/ws-platform-buildcache");
            expect(Object.keys(out.bases).sort()).to.deep.equal(["devel", "runtime"]);
            expect(out.bases.runtime.ref).to.equal(`${(one(platform, IMAGE, "bases-runtime").inputs.tags as string[])[0]}@${String(one(platform, IMAGE, "bases-runtime").state.digest)}`);
            expect(out.bases.runtime).to.include({ kind: "runtime", cudaVersion: "12.8.1", torchVersion: "2.7.1" });
        });

        it("grants the configured readers pull on the image repository, and writers push on images and caches and pull through each mirror", () => {
            const grants = byType(platform, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember").map((g) => [g.inputs.repository, g.inputs.role, g.inputs.member]);
            const deployer = "serviceAccount:deployer@acme-search-prod.iam.gserviceaccount.com";
            expect(grants).to.deep.equal([
                ["ws-platform-images", "roles/artifactregistry.reader", "serviceAccount:service-123456789012@serverless-robot-prod.iam.gserviceaccount.com"],
                ["ws-platform-buildcache", "roles/artifactregistry.writer", deployer],
                ["ws-platform-images", "roles/artifactregistry.writer", deployer],
                // A project builds its sync image FROM <mirror>/library/node: pulling through a remote
                // repository needs reader on it (Artifact Registry docs, "Remote repositories overview").
                ["ws-platform-dockerhub", "roles/artifactregistry.reader", deployer],
            ]);
        });

        it("lets writers pull through every extra upstream too", async () => {
            const p = await evaluateWith({ "warmstart:registry": { writers: ["group:builders@example.com"], upstreams: [{ name: "nvcr", uri: "https://nvcr.io" }] } }, "platform");
            const mirrors = byType(p, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember").filter((g) => g.inputs.role === "roles/artifactregistry.reader").map((g) => g.inputs.repository);
            expect(mirrors.sort()).to.deep.equal(["ws-platform-dockerhub", "ws-platform-nvcr"]);
        });
    });

    describe("a project stack", () => {
        it("reads the platform through a StackReference named in its config", () => {
            const ref = one(project, "pulumi:pulumi:StackReference", "platform-stack");
            expect(ref.inputs.name).to.equal(PLATFORM);
        });

        it("creates no base image and no registry of its own", () => {
            expect(byType(project, IMAGE).map((i) => i.name).sort()).to.deep.equal(["embeddings-image", "model-sync-image"]);
            expect(project.resources.filter((r) => r.type.startsWith("gcp:artifactregistry/"))).to.deep.equal([]);
        });

        it("builds its services on the refs the platform exports, into the platform's repositories", () => {
            const exported = (platform.outputs.platform as { bases: Record<string, { ref: string }> }).bases;
            const image = one(project, IMAGE, "embeddings-image");
            expect(get(image.inputs, "buildArgs.BASE_IMAGE")).to.equal(exported.runtime.ref);
            expect((image.inputs.tags as string[])[0]).to.equal("europe-west1-docker.pkg.dev/acme-ml-platform/ws-platform-images/embeddings:project-example");
            expect(get(image.inputs, "cacheTo.0.registry.ref")).to.equal("europe-west1-docker.pkg.dev/acme-ml-platform/ws-platform-buildcache/embeddings:buildcache");
            expect(get(one(project, IMAGE, "model-sync-image").inputs, "buildArgs.REGISTRY_MIRROR")).to.equal("europe-west1-docker.pkg.dev/acme-ml-platform/ws-platform-dockerhub");
        });

        it("creates its own model cache, service and sync job, and grants nothing on the platform", () => {
            expect(byType(project, "gcp:storage/bucket:Bucket")).to.have.length(1);
            expect(byType(project, "gcp:cloudrunv2/service:Service")).to.have.length(1);
            expect(byType(project, "gcp:cloudrunv2/job:Job").map((j) => j.name).sort()).to.deep.equal(["model-sync-job", "model-sync-seed"]);
            const onPlatform = project.resources.filter((r) => JSON.stringify(r.inputs).includes("acme-ml-platform") && /Iam|IAM/.test(r.type));
            expect(onPlatform.map((r) => r.name)).to.deep.equal([]);
        });

        it("follows a platform base rebuild: a new base digest rebuilds the project's service", async () => {
            const out = structuredClone(platform.outputs);
            const bases = (out.platform as { bases: Record<string, { ref: string }> }).bases;
            bases.runtime.ref = bases.runtime.ref.replace(/@sha256:.*/, `@sha256:${"1".repeat(64)}`);
            const rebuilt = await evaluate("project-example", stackFileConfig("project-example"), { stackReferences: { [PLATFORM]: out } });
            expect(get(one(rebuilt, IMAGE, "embeddings-image").inputs, "buildArgs.BASE_IMAGE")).to.equal(bases.runtime.ref);
            expect(one(rebuilt, IMAGE, "embeddings-image").state.digest).not.to.equal(one(project, IMAGE, "embeddings-image").state.digest);
        });

        it("fails clearly when it asks for a variant the platform does not export", async () => {
            const out = structuredClone(platform.outputs);
            delete (out.platform as { bases: Record<string, unknown> }).bases.runtime;
            try {
                await evaluate("project-example", stackFileConfig("project-example"), { stackReferences: { [PLATFORM]: out } });
                expect.fail("accepted");
            } catch (err) {
                expect(err).to.be.instanceOf(EvaluationError);
                expect((err as Error).message).to.include("base variant 'runtime' is not exported by platform stack acme/warmstart/platform (it exports: devel)");
                // Only reads happened (this stack's previous outputs, the platform's): nothing was created.
                expect((err as EvaluationError).registered).to.equal(2);
            }
        });

        it("fails clearly when the platform stack has no platform output", async () => {
            try {
                await evaluate("project-example", stackFileConfig("project-example"), { stackReferences: { [PLATFORM]: { baseImageRefs: {} } } });
                expect.fail("accepted");
            } catch (err) {
                expect((err as Error).message).to.include("platform stack acme/warmstart/platform exports no 'platform' output");
            }
        });
    });

    describe("config", () => {
        it("requires the platform stack with layer: project", async () => {
            const config = { ...stackFileConfig("project-example"), "warmstart:platformStack": "" };
            const err = await evaluate("project-example", config).then(() => undefined, (e: unknown) => e as EvaluationError);
            expect(err?.message).to.include("warmstart:platformStack: is required with layer: project");
            expect(err?.registered).to.equal(0);
        });

        it("refuses, on a self-managed backend, a platformStack in another organization before any resource, naming the key and the form to use", async () => {
            // A file:// or gs:// backend runs every stack in the organization `organization`.
            const err = await evaluate("project-example", stackFileConfig("project-example"), { organization: "organization" }).then(() => undefined, (e: unknown) => e as EvaluationError);
            expect(err?.message).to.include("warmstart:platformStack: names the organization 'acme', but this stack is on a self-managed backend");
            expect(err?.message).to.include("set organization/warmstart/platform");
            expect(err?.registered).to.equal(0);
        });

        it("reads organization/<project>/<stack> on a self-managed backend, and <org>/<project>/<stack> on Pulumi Cloud", async () => {
            const platform = (await evaluateStack("platform")).outputs;
            const selfManaged = { ...stackFileConfig("project-example"), "warmstart:platformStack": "organization/warmstart/platform" };
            const onFile = await evaluate("project-example", selfManaged, { organization: "organization", stackReferences: { "organization/warmstart/platform": platform } });
            const inCloud = await evaluate("project-example", stackFileConfig("project-example"), { organization: "acme", stackReferences: { [PLATFORM]: platform } });
            expect(onFile.resources.length).to.equal(inCloud.resources.length);
        });

        it("names both backends' forms when platformStack is not fully qualified", () => {
            const parse = () => parseFlatConfig({ ...stackFileConfig("project-example"), "warmstart:platformStack": "warmstart/platform" });
            expect(parse).to.throw(/warmstart:platformStack: must be a fully qualified stack name, <org>\/<project>\/<stack>: on Pulumi Cloud .*acme\/warmstart\/platform.*self-managed backend .*organization\/warmstart\/platform/);
        });

        it("names the unset platformStack in the offline plan, before looking for a platform stack file", async () => {
            const config = { ...stackFileConfig("project-example"), "warmstart:platformStack": "" };
            const err = await evaluateStack("project-example", { config }).then(() => undefined, (e: unknown) => e as EvaluationError);
            expect(err?.message).to.include("warmstart:platformStack: is required with layer: project");
            expect(err?.message).not.to.include("no stack file");
        });

                it("refuses services in a platform stack", async () => {
            const config = { ...stackFileConfig("platform"), "warmstart:services": JSON.stringify([{ name: "api", context: "images/services/embeddings", base: "runtime" }]) };
            const err = await evaluate("platform", config).then(() => undefined, (e: unknown) => e as EvaluationError);
            expect(err?.message).to.include("warmstart:services: must be empty with layer: platform");
        });

        it("rejects an unknown layer", async () => {
            const err = await evaluate("dev", { ...stackFileConfig("dev"), "warmstart:layer": "edge" }).then(() => undefined, (e: unknown) => e as EvaluationError);
            expect(err?.message).to.include("warmstart:layer:");
            expect(err?.message).to.include('"edge"');
        });
    });
});
