import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { mocksFor } from "../scripts/offline/mocks";
import { duplicateUrnError, PlannedResource, recordMonitor } from "../scripts/offline/recorder";
import { diffPlans, JsonPlan, toJsonPlan } from "../scripts/render";

class Thing extends pulumi.CustomResource {
    constructor(name: string, props: pulumi.Inputs = {}, opts: pulumi.CustomResourceOptions = {}) {
        super("test:index:Thing", name, props, opts);
    }
}

class TestProvider extends pulumi.ProviderResource {
    constructor(name: string) {
        super("test", name, {});
    }
}

/** Registers a small graph with every resource option set and returns what the recorder saw. */
async function recordOptionsProgram(): Promise<Map<string, PlannedResource>> {
    await pulumi.runtime.setMocks(mocksFor({}), "warmstart", "recorder", false);
    const recording = recordMonitor();
    const provider = new TestProvider("explicit");
    const first = new Thing("first");
    const second = new Thing("second");
    const input = new Thing("input");
    new Thing("everything", { source: input.id }, {
        provider,
        protect: true,
        retainOnDelete: true,
        deleteBeforeReplace: true,
        // Declared second-before-first: the recorder keeps this order.
        dependsOn: [second, first, input],
        ignoreChanges: ["tags", "labels"],
        replaceOnChanges: ["zone"],
        additionalSecretOutputs: ["token"],
        customTimeouts: { create: "70m", delete: "5m" },
        aliases: [{ name: "old-everything" }],
        deletedWith: first,
        hideDiffs: ["noise"],
    });
    new Thing("plain");
    new Thing("replaced-in-place", {}, { deleteBeforeReplace: false });
    await recording.settle();
    return new Map(recording.resources.map((r) => [r.name, r]));
}

describe("recording a registration", function () {
    this.timeout(30000);
    let recorded: Map<string, PlannedResource>;
    before(async () => {
        recorded = await recordOptionsProgram();
    });

    it("records every resource option the engine receives, in a stable sorted form", () => {
        const r = recorded.get("everything")!;
        const urn = (name: string) => recorded.get(name)!.urn;
        expect(r.options).to.deep.equal({
            additionalSecretOutputs: ["token"],
            aliases: [{ name: "old-everything" }],
            customTimeouts: { create: "70m", delete: "5m" },
            deleteBeforeReplace: true,
            deletedWith: urn("first"),
            hideDiffs: ["noise"],
            ignoreChanges: ["labels", "tags"],
            protect: true,
            provider: `${urn("explicit")}::pulumi:providers:test::explicit-id`,
            replaceOnChanges: ["zone"],
            retainOnDelete: true,
        });
        expect(Object.keys(r.options)).to.deep.equal([...Object.keys(r.options)].sort());
    });

    it("keeps explicit dependsOn in declared order, without the dependencies the inputs imply", () => {
        const r = recorded.get("everything")!;
        expect(r.dependsOn).to.deep.equal([recorded.get("second")!.urn, recorded.get("first")!.urn]);
        expect(r.dependencies).to.deep.equal([recorded.get("first")!.urn, recorded.get("input")!.urn, recorded.get("second")!.urn].sort());
    });

    it("records nothing for a resource left at the defaults", () => {
        expect(recorded.get("plain")!.options).to.deep.equal({});
        expect(recorded.get("plain")!.dependsOn).to.deep.equal([]);
    });

    // pulumi step_generator.go: a deleteBeforeReplace the program sets, false included, overrides the provider's.
    it("records deleteBeforeReplace: false when it was set, since it overrides the provider", () => {
        expect(recorded.get("replaced-in-place")!.options).to.deep.equal({ deleteBeforeReplace: false });
    });

    it("shows changed options and a changed dependsOn order readably in a plan diff", () => {
        const plan = { stack: "recorder", resources: [...recorded.values()], outputs: {} };
        const before = toJsonPlan(plan);
        const after = JSON.parse(JSON.stringify(before)) as JsonPlan;
        const everything = after.resources.find((r) => r.name === "everything")!;
        everything.dependsOn = [...everything.dependsOn!].reverse();
        everything.options = { ...everything.options, customTimeouts: { create: "90m", delete: "5m" }, ignoreChanges: ["tags"] };
        delete everything.options.protect;
        expect(diffPlans(before, after)).to.deep.equal([
            "~ test:index:Thing everything  dependsOn: order [\"test:index:Thing second\", \"test:index:Thing first\"] -> [\"test:index:Thing first\", \"test:index:Thing second\"]",
            "~ test:index:Thing everything  options.customTimeouts.create: \"70m\" -> \"90m\"",
            "~ test:index:Thing everything  options.ignoreChanges: -\"labels\"",
            "~ test:index:Thing everything  options.protect: true -> (none)",
        ]);
    });
});

describe("a second registration of one URN", function () {
    this.timeout(30000);

    // The engine refuses it (pulumi/pulumi sdk/go/common/diag/errors.go: "Duplicate resource URN
    // '…'; try giving it a unique name"); Pulumi's mock monitor accepts it, the recorder does not.
    it("fails that registration as the engine does, and records the first one only", async () => {
        await pulumi.runtime.setMocks(mocksFor({}), "warmstart", "recorder", false);
        const recording = recordMonitor();
        const first = new Thing("twice", { n: 1 });
        const second = new Thing("twice", { n: 2 });
        const urn = (r: Thing) => (r.urn as unknown as { promise(): Promise<string> }).promise();
        const firstUrn = await urn(first);
        const failure = await urn(second).then(() => undefined, (err: unknown) => err as Error);
        expect(failure?.message).to.include(duplicateUrnError(firstUrn).message);
        expect(firstUrn).to.equal("urn:pulumi:recorder::warmstart::test:index:Thing::twice");
        await recording.settle().catch(() => undefined);
        expect(recording.resources.filter((r) => r.urn === firstUrn).map((r) => r.inputs.n)).to.deep.equal([1]);
    });
});
