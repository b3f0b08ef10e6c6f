// Day-two plans under the real provider's Diff: dev and prod get the state their config would
// leave after an `up` (npm run engine:baseline, scripts/engine/baseline.ts), then each config
// change is previewed and the engine's step for every resource asserted, from `preview --json`.
// Such a state proves the update/replace decisions of the provider and the engine; it does not
// prove what the API would return (a value GCP normalises could still be a perpetual diff that
// only a refresh against GCP shows).
import { expect } from "chai";
import { Baseline, inputChanges, makeBaseline } from "../../scripts/engine/baseline";
import { PreviewJson, resourceKey } from "../../scripts/engine/run";
import { EngineProject } from "./engineProject";
import { policyArgs, requirePolicyPack, unexpectedDiagnostics } from "./previewChecks";

const BUCKET = "gcp:storage/bucket:Bucket";

/** Every step that changes an input (or creates, deletes) as `{key, type, op}`: updates of provider-computed outputs alone, which the built state cannot hold (Baseline.outputsOnly), are left out. */
function stepsOf(preview: PreviewJson): { key: string; type: string; op: string }[] {
    return inputChanges(preview).map((s) => ({ key: resourceKey(s.urn), type: s.urn.split("::")[2].split("$").pop()!, op: s.op }));
}

/** `key: op,op` of each resource whose inputs change. */
function changed(preview: PreviewJson): Record<string, string> {
    const ops: Record<string, string[]> = {};
    for (const s of stepsOf(preview)) (ops[s.key] ??= []).push(s.op);
    return Object.fromEntries(Object.entries(ops).map(([k, v]) => [k, [...new Set(v)].sort().join(",")]));
}

/** The ops of resources of a type whose inputs change: `key -> op,op`. */
function opsOfType(preview: PreviewJson, type: string): Record<string, string> {
    return Object.fromEntries(Object.entries(changed(preview)).filter(([k]) => k.startsWith(`${type.split(":").pop()}::`)));
}


describe("day-two plans under the real provider", function () {
    this.timeout(900000);
    let project: EngineProject;
    const baselines: Record<string, Baseline> = {};

    /** Previews `stack` with its stack file edited; the file is restored afterwards. */
    function previewWith(stack: string, edit: (config: Record<string, unknown>) => void, extra: string[] = policyArgs(project, stack)) {
        project.editStack(stack, edit);
        try {
            return project.preview(stack, extra);
        } finally {
            project.resetStack(stack);
        }
    }

    const ok = (p: { run: { status: number | null; stdout: string; stderr: string }; json: PreviewJson }) => {
        expect(p.run.status, `${(p.json.diagnostics ?? []).map((d) => d.message).join("\n")}\n${p.run.stderr.slice(-2000)}`).to.equal(0);
        expect(unexpectedDiagnostics(p.json)).to.deep.equal([]);
        return p.json;
    };

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
        it(`${stack}: the unchanged program previews against its baseline, the policy pack passing while the rebuilt images' digests are unknown`, () => {
            // The baseline cannot hold the build context's hash, so every image is planned as a
            // rebuild: the build provider then answers a known empty digest, which must not reach
            // Cloud Run (or the policy) as an image `<tag>@`.
            const { run, json } = project.preview(stack, policyArgs(project, stack));
            expect(run.status, `${(json.diagnostics ?? []).map((d) => d.message).join("\n")}\n${run.stdout.slice(-3000)}`).to.equal(0);
            expect(unexpectedDiagnostics(json)).to.deep.equal([]);
            const images = (json.steps ?? []).filter((st) => st.urn.includes("docker-build:index:Image::")).map((st) => st.op);
            expect(images.length, "images planned as rebuilds").to.be.greaterThan(0);
            console.log(`      ${stack}: baseline in ${baselines[stack].rounds} round(s), ${baselines[stack].seconds.toFixed(0)} s`);
        });
    }

    it("dev, a change that moves the bucket is refused before any resource, naming the key", () => {
        const { run, json } = previewWith("dev", (c) => {
            (c["warmstart:modelCache"] as Record<string, unknown>).location = "EU";
        });
        expect(run.status).to.not.equal(0);
        expect((json.diagnostics ?? []).map((d) => d.message).join("\n")).to.match(/warmstart:modelCache\.location/);
        expect(stepsOf(json).filter((s) => s.op !== "same" && s.op !== "read")).to.deep.equal([]);
    });

    it("dev, hierarchicalNamespace changed: refused before any resource, with a way out that works when the bucket is protected", () => {
        const { run, json } = previewWith("dev", (c) => {
            (c["warmstart:modelCache"] as Record<string, unknown>).hierarchicalNamespace = true;
        });
        expect(run.status).to.not.equal(0);
        const messages = (json.diagnostics ?? []).map((d) => d.message).join("\n");
        expect(messages).to.match(/warmstart:modelCache\.hierarchicalNamespace/);
        expect(stepsOf(json).filter((s) => s.op !== "same" && s.op !== "read")).to.deep.equal([]);
    });

    it("dev, a region change with the bucket's location pinned is not refused, and the bucket stays", () => {
        const json = ok(previewWith("dev", (c) => {
            (c["warmstart:modelCache"] as Record<string, unknown>).location = "europe-west1";
            c["warmstart:region"] = "europe-west4";
        }));
        expect(opsOfType(json, BUCKET)).to.deep.equal({});
    });

});
