import * as fs from "fs";
import * as path from "path";
import { unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { unknownCheckingProxy, UnknownValueError } from "@pulumi/policy";
import { expect } from "chai";
import { warmstartPolicies } from "../policy/policies";
import { evaluatePolicies, PolicyConfig, ResourceLike, resourceRules, stackRules } from "../policy/rules";
import { evaluateStack, listStacks, REPO_ROOT } from "../scripts/evaluate";
import { policyConfigFor } from "../scripts/policyConfig";
import { cpuCount, memoryMiB } from "../policy/units";
import * as schemaUnits from "../stacks/schema";
import { devConfigWith, evaluateWith, Plan } from "./support/plan";

const asResources = (plan: Plan): ResourceLike[] => plan.resources.map((r) => ({ type: r.type, name: r.name, props: r.inputs }));
const none: PolicyConfig = { publicServices: [] };
const digest = `sha256:${"a".repeat(64)}`;

const goodService = {
    template: {
        serviceAccount: "ws-dev-api@p.iam.gserviceaccount.com",
        executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2",
        nodeSelector: { accelerator: "nvidia-l4" },
        volumes: [{ name: "model-cache", gcs: { bucket: "b", readOnly: true } }],
        containers: [{ image: `r/api:dev@${digest}`, resources: { limits: { cpu: "4", memory: "16Gi", "nvidia.com/gpu": "1" }, cpuIdle: false } }],
    },
};

/** One failing fixture per rule, each breaking just that rule. */
const failing: Record<string, ResourceLike[]> = {
    "bucket-uniform-access": [{ type: "gcp:storage/bucket:Bucket", name: "b", props: { uniformBucketLevelAccess: false, publicAccessPrevention: "enforced" } }],
    "bucket-public-access-prevention": [{ type: "gcp:storage/bucket:Bucket", name: "b", props: { uniformBucketLevelAccess: true, publicAccessPrevention: "inherited" } }],
    "no-public-members": [{ type: "gcp:storage/bucketIAMMember:BucketIAMMember", name: "leak", props: { bucket: "b", role: "roles/storage.objectViewer", member: "allUsers" } }],
    "no-project-level-broad-roles": [{ type: "gcp:projects/iAMMember:IAMMember", name: "admin", props: { project: "p", role: "roles/storage.admin", member: "serviceAccount:x@p.iam.gserviceaccount.com" } }],
    "dedicated-service-account": [{ type: "gcp:cloudrunv2/job:Job", name: "job", props: { template: { template: { serviceAccount: "123-compute@developer.gserviceaccount.com", executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2", containers: [{ image: `r/j@${digest}` }] } } } }],
    "gcs-volumes-need-gen2": [{ type: "gcp:cloudrunv2/service:Service", name: "svc", props: { template: { ...goodService.template, executionEnvironment: "EXECUTION_ENVIRONMENT_GEN1" } } }],
    "service-cache-mounts-read-only": [{ type: "gcp:cloudrunv2/service:Service", name: "svc", props: { template: { ...goodService.template, volumes: [{ name: "model-cache", gcs: { bucket: "b", readOnly: false } }] } } }],
    "deploy-by-digest": [{ type: "gcp:cloudrunv2/service:Service", name: "svc", props: { template: { ...goodService.template, containers: [{ ...goodService.template.containers[0], image: "r/api:latest" }] } } }],
    "buildkit-registry-cache": [{ type: "docker-build:index:Image", name: "img", props: { cacheFrom: [{ registry: { ref: "r/c:buildcache" } }], cacheTo: [{ registry: { ref: "r/c:buildcache", mode: "min" } }] } }],
    "gpu-minimums": [{ type: "gcp:cloudrunv2/service:Service", name: "svc", props: { template: { ...goodService.template, containers: [{ image: `r/api@${digest}`, resources: { limits: { cpu: "2", memory: "8Gi", "nvidia.com/gpu": "1" }, cpuIdle: true } }] } } }],
    "bucket-grants-are-object-roles": [{ type: "gcp:storage/bucketIAMMember:BucketIAMMember", name: "admin", props: { bucket: "b", role: "roles/storage.admin", member: "serviceAccount:x@p.iam.gserviceaccount.com" } }],
    "scheduler-is-not-the-writer": [
        { type: "gcp:cloudrunv2/job:Job", name: "job", props: { template: { template: { serviceAccount: "sync@p.iam.gserviceaccount.com" } } } },
        { type: "gcp:cloudscheduler/job:Job", name: "schedule", props: { httpTarget: { oauthToken: { serviceAccountEmail: "sync@p.iam.gserviceaccount.com" } } } },
    ],
};

describe("policy pack", () => {
    it("has at least 10 mandatory rules, each with a violating fixture", () => {
        const names = [...resourceRules, ...stackRules].map((r) => r.name);
        expect(names.length).to.be.at.least(10);
        expect(Object.keys(failing).sort()).to.deep.equal([...names].sort());
        expect(warmstartPolicies().every((p) => p.enforcementLevel === "mandatory")).to.equal(true);
    });

    for (const stack of listStacks()) {
        it(`finds no violation in the ${stack} stack`, async () => {
            const plan = await evaluateStack(stack);
            const config = { publicServices: policyConfigFor(stack)["no-public-members"].publicServices };
            expect(evaluatePolicies(asResources(plan), config)).to.deep.equal([]);
        });
    }

    for (const [rule, resources] of Object.entries(failing)) {
        it(`${rule}: flags its violating fixture, saying what to change`, () => {
            const violations = evaluatePolicies(resources, none);
            expect(violations.map((v) => v.rule)).to.include(rule);
            expect(violations.filter((v) => v.rule === rule).every((v) => /set|use|add|grant|give|remove|deploy|needs/i.test(v.message))).to.equal(true);
            // Each fixture breaks its own rule only.
            expect([...new Set(violations.map((v) => v.rule))]).to.deep.equal([rule]);
        });
    }

    it("accepts allUsers on a service the stack marks public, and only then", async () => {
        const services = JSON.parse(devConfigWith({})["warmstart:services"]) as Record<string, unknown>[];
        const plan = await evaluateWith({ "warmstart:services": [services[0], { ...services[1], public: true }] });
        const violations = evaluatePolicies(asResources(plan), none);
        expect(violations.map((v) => v.rule)).to.deep.equal(["no-public-members"]);
        expect(violations[0].message).to.include("services[].public: true");
        expect(evaluatePolicies(asResources(plan), { publicServices: ["ws-dev-custom-ops"] })).to.deep.equal([]);
    });

    // @pulumi/policy server.js wraps props in unknownCheckingProxy: reading a value unknown at preview
    // throws UnknownValueError, which CrossGuard reports as an advisory "can't run policy during preview".
    it("leaves an image unknown at preview to CrossGuard: reading it throws UnknownValueError, and nothing is reported", async () => {
        const policies = new Map(warmstartPolicies().map((p) => [p.name, p]));
        const byDigest = policies.get("deploy-by-digest") as { validateResource: (a: unknown, r: (m: string) => void) => void | Promise<void> };
        const run = async (image: string) => {
            const props = unknownCheckingProxy({ template: { ...goodService.template, containers: [{ ...goodService.template.containers[0], image }] } });
            const reported: string[] = [];
            try {
                await byDigest.validateResource({ type: "gcp:cloudrunv2/service:Service", name: "svc", urn: "urn:svc", props, getConfig: () => ({}) }, (m) => reported.push(m));
                return { reported };
            } catch (err) {
                return { reported, thrown: err };
            }
        };
        // The engine sends an unknown string as this sentinel; the policy server passes it through.
        const atPreview = await run(unknownValue);
        expect(atPreview.thrown).to.be.instanceOf(UnknownValueError);
        expect((atPreview.thrown as Error).message).to.include("template.containers.0.image");
        expect(atPreview.reported).to.deep.equal([]);
        // Once known, the same rule decides: a digest passes, a tag is a violation.
        expect(await run(`r/api:dev@${digest}`)).to.deep.equal({ reported: [] });
        expect((await run("r/api:dev")).reported).to.have.length(1);
    });

    it("reports through CrossGuard's validateResource and validateStack", async () => {
        const policies = warmstartPolicies();
        const byName = new Map(policies.map((p) => [p.name, p]));
        const reported: string[] = [];
        const bucket = failing["bucket-public-access-prevention"][0];
        const args = { type: bucket.type, name: bucket.name, props: bucket.props, urn: "urn:x", getConfig: () => ({}) };
        const resourcePolicy = byName.get("bucket-public-access-prevention") as { validateResource: (a: unknown, r: (m: string) => void) => void };
        await resourcePolicy.validateResource(args, (m) => reported.push(m));
        expect(reported).to.have.length(1);
        expect(reported[0]).to.include('publicAccessPrevention: "enforced"');

        const stackPolicy = byName.get("scheduler-is-not-the-writer") as { validateStack: (a: unknown, r: (m: string) => void) => void };
        const stackReported: string[] = [];
        await stackPolicy.validateStack({ resources: failing["scheduler-is-not-the-writer"].map((r) => ({ ...r, urn: `urn:${r.name}` })), getConfig: () => ({}) }, (m) => stackReported.push(m));
        expect(stackReported).to.have.length(1);

        const publicPolicy = byName.get("no-public-members") as { validateResource: (a: unknown, r: (m: string) => void) => void };
        const grant = { type: "gcp:cloudrunv2/serviceIamMember:ServiceIamMember", name: "api-public", props: { name: "ws-dev-api", role: "roles/run.invoker", member: "allUsers" }, urn: "urn:g" };
        const fromConfig: string[] = [];
        await publicPolicy.validateResource({ ...grant, getConfig: () => ({ publicServices: ["ws-dev-api"] }) }, (m) => fromConfig.push(m));
        expect(fromConfig).to.deep.equal([]);
    });

    // The pack is installed on its own (`npm ci --prefix policy`); without its own typescript the
    // Pulumi Node runtime compiles it with the old compiler it bundles.
    it("pins its own typescript, the same range as the program", () => {
        const root = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
        const pack = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "policy", "package.json"), "utf8")) as { dependencies: Record<string, string> };
        expect(pack.dependencies.typescript).to.equal(root.devDependencies.typescript);
        const lock = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "policy", "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
        expect(lock.packages["node_modules/typescript"]?.version).to.match(/^5\.9\./);
    });

    it("reads CPU and memory with the same parser as the stack schema", () => {
        expect(schemaUnits.cpuCount).to.equal(cpuCount);
        expect(schemaUnits.memoryMiB).to.equal(memoryMiB);
        expect([cpuCount("500m"), cpuCount("4"), cpuCount("four")]).to.deep.equal([0.5, 4, NaN]);
        expect([memoryMiB("16Gi"), memoryMiB("512Mi"), memoryMiB("16GB")]).to.deep.equal([16384, 512, NaN]);
        expect(memoryMiB("1G")).to.be.closeTo(953.67, 0.01);
    });
});
