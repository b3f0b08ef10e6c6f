// Day-two plans under the real provider's Diff: dev and prod get the state their config would
// leave after an `up` (npm run engine:baseline, scripts/engine/baseline.ts), then each config
// change is previewed and the engine's step for every resource asserted, from `preview --json`.
// Such a state proves the update/replace decisions of the provider and the engine; it does not
// prove what the API would return (a value GCP normalises could still be a perpetual diff that
// only a refresh against GCP shows).
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { parse } from "yaml";
import { Baseline, makeBaseline } from "../../scripts/engine/baseline";
import { PreviewJson, PreviewStep, resourceKey, StateResource } from "../../scripts/engine/run";
import { REPO_ROOT } from "../../scripts/evaluate";
import { EngineProject } from "./engineProject";
import { policyArgs, requirePolicyPack, unexpectedDiagnostics } from "./previewChecks";

type Config = Record<string, unknown>;
type Item = Record<string, unknown>;

/** `<type's last segment>::<name>` of a URN (`Service::embeddings-service`): short, and unique in these stacks. */
function keyOf(urn: string): string {
    const [type, name] = resourceKey(urn).split("::");
    return `${type.split(":").pop()}::${name}`;
}

/** What a preview plans, by resource key (`Image::bases-runtime`): each step other than `same`, and the read of the stack's own outputs (every preview reads them). */
function planned(preview: PreviewJson): Record<string, string> {
    const ops: Record<string, string[]> = {};
    for (const s of preview.steps ?? []) if (s.op !== "same" && s.op !== "read") (ops[keyOf(s.urn)] ??= []).push(s.op);
    return Object.fromEntries(Object.entries(ops).map(([k, v]) => [k, [...new Set(v)].sort().join(",")]));
}

const REPLACING = ["replace", "create-replacement", "delete-replaced", "replaced"];

function stepOf(preview: PreviewJson, key: string): PreviewStep {
    const step = (preview.steps ?? []).find((s) => keyOf(s.urn) === key);
    if (step === undefined) throw new Error(`no step for ${key}: ${JSON.stringify(planned(preview))}`);
    return step;
}

/** The list (services, bases, models) a stack file holds under `key`. */
const list = (config: Config, key: string) => config[`warmstart:${key}`] as Item[];

describe("day-two plans under the real provider", function () {
    this.timeout(900000);
    let project: EngineProject;
    const baselines: Record<string, Baseline> = {};

    /** Previews `stack` with its stack file edited; the file is restored afterwards. */
    function previewWith(stack: string, edit: (config: Config) => void, extra: string[] = policyArgs(project, stack)) {
        project.editStack(stack, edit);
        try {
            return project.preview(stack, extra);
        } finally {
            project.resetStack(stack);
        }
    }

    /** The preview's JSON, once it exited 0 with no diagnostic the suite does not name. */
    const ok = (p: { run: { status: number | null; stdout: string; stderr: string }; json: PreviewJson }) => {
        expect(p.run.status, `${(p.json.diagnostics ?? []).map((d) => d.message).join("\n")}\n${p.run.stderr.slice(-2000)}`).to.equal(0);
        expect(unexpectedDiagnostics(p.json)).to.deep.equal([]);
        return p.json;
    };

    /** The stack file's config as the repository has it. */
    const configOf = (stack: string) => (parse(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Config }).config;

    before(async () => {
        requirePolicyPack();
        project = new EngineProject("day-two");
        for (const stack of ["dev", "prod"]) {
            project.initStack(stack);
            baselines[stack] = await makeBaseline(stack, project.opts);
        }
    });

    after(() => project?.dispose());

    for (const stack of ["dev", "prod"]) {
        it(`${stack}: the unchanged program has no changes against its baseline (--expect-no-changes, the policy pack passing)`, () => {
            const { run, json } = project.preview(stack, [...policyArgs(project, stack), "--expect-no-changes"]);
            expect(run.status, `${(json.diagnostics ?? []).map((d) => d.message).join("\n")}\n${run.stdout.slice(-3000)}`).to.equal(0);
            expect(unexpectedDiagnostics(json)).to.deep.equal([]);
            expect(planned(json)).to.deep.equal({});
            expect(baselines[stack].perpetual, "perpetual diffs").to.deep.equal([]);
            expect(baselines[stack].outputsOnly, "updates of outputs alone").to.deep.equal([]);
            console.log(`      ${stack}: baseline in ${baselines[stack].rounds} round(s), ${baselines[stack].seconds.toFixed(0)} s`);
        });
    }

    it("dev, a CUDA version change: the bases and the service images on them rebuilt, the services updated, nothing replaced", () => {
        const config = configOf("dev");
        const json = ok(previewWith("dev", (c) => {
            for (const base of list(c, "bases")) base.cudaVersion = "12.6.3";
        }));
        // Every dev service builds on a base; the sync program's image does not (images/model-sync),
        // so neither it nor the jobs that run it change.
        const expected: Record<string, string> = {};
        for (const base of list(config, "bases")) expected[`Image::bases-${String(base.name)}`] = "update";
        for (const svc of list(config, "services")) {
            expected[`Image::${String(svc.name)}-image`] = "update";
            expected[`Service::${String(svc.name)}-service`] = "update";
        }
        expect(planned(json)).to.deep.equal(expected);
        expect(stepOf(json, "Image::bases-runtime").diffReasons).to.include("buildArgs");
    });

    it("dev, a model added: the seed job replaced (its run token and template), the scheduled job updated, no service touched", () => {
        const json = ok(previewWith("dev", (c) => {
            list(c, "models").push({ name: "minilm", source: "huggingface", repo: "sentence-transformers/all-MiniLM-L6-v2", revision: "c9745ed1d9f207416be6d2e6f8de32d1f16199bf" });
        }));
        expect(planned(json)).to.deep.equal({ "Job::model-sync-seed": "replace", "Job::model-sync-job": "update" });
        // Replaced, never updated: an update would re-send a run token Cloud Run already ran
        // (components/gcp/modelSyncJob.ts SEED_REPLACEMENT); the old job goes first (fixed name).
        expect(stepOf(json, "Job::model-sync-seed").replaceReasons).to.include.members(["runExecutionToken", "template"]);
    });

    it("dev, a seed job whose run failed (its create left init errors) is replaced by the next up, nothing else", () => {
        // What a failed seed leaves in the state: the engine records the provider's error as
        // initErrors on the created job (components/gcp/modelSyncJob.ts SEED_REPLACEMENT).
        const state = JSON.parse(project.ok(["stack", "export", "-s", "dev"]).stdout) as { deployment: { resources: StateResource[] } };
        const seed = state.deployment.resources.find((r) => keyOf(r.urn) === "Job::model-sync-seed")!;
        const file = path.join(project.dir, "failed-seed.json");
        try {
            fs.writeFileSync(file, JSON.stringify({ ...state, deployment: { ...state.deployment, resources: state.deployment.resources.map((r) => (r === seed ? { ...r, initErrors: ["waiting for execution ws-dev-model-sync-seed-s0: Task failed"] } : r)) } }));
            project.ok(["stack", "import", "-s", "dev", "--file", file]);
            const json = ok(project.preview("dev", policyArgs(project, "dev")));
            expect(planned(json)).to.deep.equal({ "Job::model-sync-seed": "replace" });
            expect(stepOf(json, "Job::model-sync-seed").replaceReasons).to.deep.equal(["#initerror"]);
        } finally {
            fs.writeFileSync(file, JSON.stringify(state));
            project.ok(["stack", "import", "-s", "dev", "--file", file, "--force"]);
        }
    });

    it("dev, a change that moves the bucket is refused before any resource, naming the key", () => {
        const { run, json } = previewWith("dev", (c) => {
            (c["warmstart:modelCache"] as Item).location = "EU";
        });
        expect(run.status).to.not.equal(0);
        expect((json.diagnostics ?? []).map((d) => d.message).join("\n")).to.match(/warmstart:modelCache\.location/);
        expect(planned(json)).to.deep.equal({});
    });

    it("dev, hierarchicalNamespace changed: refused before any resource, naming the key", () => {
        const { run, json } = previewWith("dev", (c) => {
            (c["warmstart:modelCache"] as Item).hierarchicalNamespace = true;
        });
        expect(run.status).to.not.equal(0);
        expect((json.diagnostics ?? []).map((d) => d.message).join("\n")).to.match(/warmstart:modelCache\.hierarchicalNamespace/);
        expect(planned(json)).to.deep.equal({});
    });

    it("dev, a region change with the bucket's location pinned is not refused, and the bucket stays", () => {
        const json = ok(previewWith("dev", (c) => {
            (c["warmstart:modelCache"] as Item).location = "europe-west1";
            c["warmstart:region"] = "europe-west4";
        }));
        expect(Object.keys(planned(json)).filter((k) => k.startsWith("Bucket::"))).to.deep.equal([]);
        expect(Object.keys(planned(json)).length, "the regional resources move").to.be.greaterThan(0);
    });

    it("dev, a service added: its image, account, bucket grant and service created, nothing else changed", () => {
        const json = ok(previewWith("dev", (c) => {
            list(c, "services").push({ name: "rerank", context: "images/services/embeddings", base: "runtime", cpu: "2", memory: "4Gi", minInstances: 0, maxInstances: 1 });
        }));
        expect(planned(json)).to.deep.equal({
            "ServiceImage::rerank": "create", "Image::rerank-image": "create",
            "ModelService::rerank": "create", "Account::rerank-sa": "create", "BucketIAMMember::rerank-models-read": "create", "Service::rerank-service": "create",
        });
    });

    it("dev, a service removed: exactly its resources deleted", () => {
        const json = ok(previewWith("dev", (c) => {
            c["warmstart:services"] = list(c, "services").filter((s) => s.name !== "custom-ops");
        }));
        expect(planned(json)).to.deep.equal({
            "ServiceImage::custom-ops": "delete", "Image::custom-ops-image": "delete",
            "ModelService::custom-ops": "delete", "Account::custom-ops-sa": "delete", "BucketIAMMember::custom-ops-models-read": "delete", "Service::custom-ops-service": "delete",
        });
    });

    for (const [label, field, value, property] of [
        ["minInstances 0 -> 1", "minInstances", 1, "minInstanceCount"],
        ["maxInstances 1 -> 3", "maxInstances", 3, "maxInstanceCount"],
    ] as const) {
        it(`dev, ${label}: the service updated in place, nothing else`, () => {
            const json = ok(previewWith("dev", (c) => {
                list(c, "services").find((s) => s.name === "custom-ops")![field] = value;
            }));
            expect(planned(json)).to.deep.equal({ "Service::custom-ops-service": "update" });
            expect(Object.keys(stepOf(json, "Service::custom-ops-service").detailedDiff ?? {}).join(" ")).to.include(property);
        });
    }

    it("dev, an invoker added: one IAM member created on the one service", () => {
        const json = ok(previewWith("dev", (c) => {
            list(c, "services").find((s) => s.name === "custom-ops")!.invokers = ["group:ml-platform@example.com"];
        }));
        expect(planned(json)).to.deep.equal({ "ServiceIamMember::custom-ops-invoker-0": "create" });
    });

    it("prod, sync.seedOnCreate off: the seed job deleted, which its state allows (no deletion protection, policy DELETE)", () => {
        const json = ok(previewWith("prod", (c) => {
            (c["warmstart:sync"] as Item).seedOnCreate = false;
        }));
        expect(planned(json)).to.deep.equal({ "Job::model-sync-seed": "delete" });
        const seed = stepOf(json, "Job::model-sync-seed").oldState as StateResource;
        expect(seed.outputs).to.include({ deletionProtection: false, deletionPolicy: "DELETE" });
        expect(seed.protect ?? false).to.equal(false);
    });

    describe("prod teardown, as docs/operations.md says it goes", () => {
        /** `destroy --preview-only --json` of prod as its state now stands. */
        const destroyPlan = () => {
            const run = project.run(["destroy", "-s", "prod", "--preview-only", "--json"]);
            return { run, json: JSON.parse(run.stdout) as PreviewJson };
        };

        it("with deletionProtection on, a destroy is refused at the protected bucket", () => {
            const { run, json } = destroyPlan();
            expect(run.status).to.not.equal(0);
            const refusal = (json.diagnostics ?? []).find((d) => /cannot be deleted\s+because it is protected/.test(d.message));
            expect(refusal?.urn ?? "", JSON.stringify(json.diagnostics)).to.match(/Bucket::model-cache-bucket$/);
        });

        it("deletionProtection: false is updates only: Cloud Run deletion protection off, the bucket deletable with its objects", () => {
            const json = ok(previewWith("prod", (c) => {
                c["warmstart:deletionProtection"] = false;
            }));
            const ops = planned(json);
            expect(Object.values(ops).every((op) => op === "update"), JSON.stringify(ops)).to.equal(true);
            expect(ops).to.include({ "Bucket::model-cache-bucket": "update", "Job::model-sync-job": "update" });
            expect(stepOf(json, "Bucket::model-cache-bucket").diffReasons).to.deep.equal(["forceDestroy"]);
            for (const key of Object.keys(ops).filter((k) => k !== "Bucket::model-cache-bucket")) {
                expect(stepOf(json, key).diffReasons, key).to.deep.equal(["deletionProtection"]);
            }
            expect(Object.keys(ops).some((k) => REPLACING.includes(ops[k]))).to.equal(false);
        });

        it("after that up, the destroy deletes everything: the bucket with its objects and the repositories, nothing kept", async () => {
            const guide = fs.readFileSync(path.join(REPO_ROOT, "docs", "operations.md"), "utf8").replace(/\s+/g, " ");
            expect(guide).to.include("then `pulumi destroy`, which deletes everything: the bucket with every model in it, and the repositories with their images");
            project.editStack("prod", (c) => {
                c["warmstart:deletionProtection"] = false;
            });
            try {
                const after = await makeBaseline("prod", project.opts);
                expect(after.perpetual).to.deep.equal([]);
                const { run, json } = destroyPlan();
                expect(run.status, JSON.stringify(json.diagnostics)).to.equal(0);
                const steps = json.steps ?? [];
                const kept = steps.filter((s) => s.op !== "delete" && s.op !== "discard").map((s) => `${s.op} ${keyOf(s.urn)}`);
                expect(kept).to.deep.equal([]);
                const retained = steps.filter((s) => s.oldState?.retainOnDelete || s.oldState?.protect).map((s) => keyOf(s.urn));
                expect(retained, "protected or retained on delete").to.deep.equal([]);
                expect(stepOf(json, "Bucket::model-cache-bucket").oldState?.outputs).to.include({ forceDestroy: true });
                const repositories = steps.filter((s) => s.urn.includes("artifactregistry/repository:Repository::"));
                expect(repositories.length).to.equal(3);
                const cloudRun = steps.filter((s) => /\$gcp:cloudrunv2\/(service|job):/.test(s.urn));
                expect(cloudRun.length).to.equal(4);
                for (const s of cloudRun) expect(s.oldState?.outputs, keyOf(s.urn)).to.include({ deletionProtection: false });
            } finally {
                project.resetStack("prod");
            }
        });
    });
});
