// Every GCP stack file previewed by the real engine: the CLI, the Node.js language host, the gcp,
// docker-build and time providers built from source (npm run tools), and the policy pack under
// CrossGuard. No GCP credentials: `npm run engine` gives the provider a token that can never work,
// which is enough for Check (every input against the provider's schema and validators) and for
// the plan. Each preview must register exactly what the offline plan records, all as creates, with
// no diagnostic this file does not name.
import { expect } from "chai";
import { makeBaseline } from "../../scripts/engine/baseline";
import { PreviewJson, resourceKey } from "../../scripts/engine/run";
import { evaluateStack } from "../../scripts/evaluate";
import { EngineProject } from "./engineProject";
import { GCP_STACKS, policyArgs, requirePolicyPack, unexpectedDiagnostics } from "./previewChecks";

/** URNs of what the program registers, without the engine's own (the stack, default providers). */
const programUrns = (preview: PreviewJson) => (preview.steps ?? [])
    .filter((s) => !s.urn.includes("::pulumi:providers:") && !s.urn.includes("::pulumi:pulumi:Stack::"))
    .map((s) => s.urn).sort();

describe("the GCP stacks under the real engine", function () {
    this.timeout(900000);
    let project: EngineProject;

    before(() => {
        requirePolicyPack();
        project = new EngineProject("gcp-previews");
        for (const stack of [...GCP_STACKS, "project-example"]) project.initStack(stack);
    });

    after(() => project?.dispose());

    for (const stack of GCP_STACKS) {
        it(`previews ${stack} with the policy pack: what the offline plan records, all created, nothing unnamed reported`, async () => {
            const { run, json } = project.preview(stack, policyArgs(project, stack));
            expect(run.status, `${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`).to.equal(0);
            expect(unexpectedDiagnostics(json)).to.deep.equal([]);
            const offline = (await evaluateStack(stack)).resources.map((r) => r.urn).sort();
            expect(programUrns(json)).to.deep.equal(offline);
            // A first preview creates everything; only stack references are read.
            const other = (json.steps ?? []).filter((s) => s.op !== "create" && !(s.op === "read" && s.urn.includes("::pulumi:pulumi:StackReference::")));
            expect(other.map((s) => `${s.op} ${resourceKey(s.urn)}`)).to.deep.equal([]);
            console.log(`      ${stack}: ${json.changeSummary?.create ?? 0} to create, ${run.seconds.toFixed(1)} s`);
        });
    }

    for (const [what, key, value, named] of [
        ["a key in a namespace nothing reads", "warmstrat:models", "[]", /warmstrat:models: is in the namespace 'warmstrat'.*did you mean warmstart:models\?/],
        ["a service named like the program's own sync", "warmstart:services", JSON.stringify([{ name: "sync", context: "images/services/embeddings", base: "runtime" }]), /warmstart:services\[0\]\.name/],
        ["a service named as the model sync", "warmstart:services", JSON.stringify([{ name: "model-sync", context: "images/services/embeddings", base: "runtime" }]), /warmstart:services\[0\]\.name.*model sync/],
    ] as const) {
        it(`refuses ${what} before any resource, naming the key`, () => {
            project.editStack("dev", (config) => (config[key] = JSON.parse(value)));
            try {
                const { run, json } = project.preview("dev");
                expect(run.status).to.not.equal(0);
                expect((json.diagnostics ?? []).map((d) => d.message).join("\n")).to.match(named);
                expect(programUrns(json)).to.deep.equal([]);
            } finally {
                project.resetStack("dev");
            }
        });
    }

    describe("project-example on the platform stack of the same backend", () => {
        before(async function () {
            // The platform's outputs (mirrors, repositories, each base by digest) from a state
            // the suite makes: the platform stack's baseline.
            const baseline = await makeBaseline("platform", project.opts);
            expect(baseline.perpetual, "platform's baseline").to.deep.equal([]);
        });

        it("as the stack file names it (acme/warmstart/platform) is refused before any resource, naming the key and the form to use", () => {
            const { run, json } = project.preview("project-example", policyArgs(project, "project-example"));
            expect(run.status).to.not.equal(0);
            const messages = (json.diagnostics ?? []).map((d) => d.message).join("\n");
            expect(messages).to.include("warmstart:platformStack: names the organization 'acme', but this stack is on a self-managed backend");
            expect(messages).to.include("set organization/warmstart/platform");
            expect(programUrns(json)).to.deep.equal([]);
        });

        it("with organization/warmstart/platform previews against the platform's outputs, as the offline plan does", async () => {
            project.editStack("project-example", (config) => (config["warmstart:platformStack"] = "organization/warmstart/platform"));
            try {
                const { run, json } = project.preview("project-example", policyArgs(project, "project-example"));
                expect(run.status, `${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`).to.equal(0);
                expect(unexpectedDiagnostics(json)).to.deep.equal([]);
                const offline = (await evaluateStack("project-example")).resources.map((r) => r.urn).sort();
                expect(programUrns(json)).to.deep.equal(offline);
                console.log(`      project-example: ${json.changeSummary?.create ?? 0} to create, ${run.seconds.toFixed(1)} s`);
            } finally {
                project.resetStack("project-example");
            }
        });
    });
});
