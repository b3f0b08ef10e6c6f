// The cost estimate: hand-checked figures, coverage of every stack's graph by the price list,
// the errors for what no price covers, overrides, measured sizes and the diff against a base plan.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { listStacks, REPO_ROOT } from "../scripts/evaluate";
import { CostEstimate, CostPlan, costOf, diffCost, estimateCost, loadPriceList, measuredSizes, Prices, PricingError, renderCost, renderCostDiff } from "../scripts/cost";
import { costOptionsOf, planJsonText, SNAPSHOT_DIR, stackCostOptions } from "../scripts/plan";
import { toJsonPlan } from "../scripts/render";
import { manifestText } from "../images/model-sync/src/store";
import { StackConfigError } from "../stacks/load";
import { evaluateWith } from "./support/plan";

const snapshot = (stack: string) => JSON.parse(fs.readFileSync(path.join(SNAPSHOT_DIR, `${stack}.json`), "utf8")) as CostPlan & { cost: CostEstimate };
const lineOf = (e: CostEstimate, resource: string, item: string) => {
    const found = [...e.fixed, ...e.perUnit].find((l) => l.resource.endsWith(` ${resource}`) && l.item === item);
    expect(found, `${resource} / ${item}`).not.to.equal(undefined);
    return found!;
};
/** A copy of a plan with one resource's inputs changed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reaches into nested provider inputs
function withInputs(plan: CostPlan, name: string, change: (inputs: Record<string, any>) => void): CostPlan {
    const copy = JSON.parse(JSON.stringify(plan)) as CostPlan;
    change(copy.resources.find((r) => r.name === name)!.inputs);
    return copy;
}
const prices = () => new Prices(loadPriceList());
/** Runs `scripts/plan.ts` as `npm run plan --` does. */
const planCommand = (...args: string[]) => spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/plan.ts", ...args], { cwd: REPO_ROOT, encoding: "utf8" });

describe("cost estimate", function () {
    this.timeout(120000);

    describe("hand-checked against the price list", () => {
        const list = loadPriceList();
        it("reads the figures the hand check uses from pricing/gcp.json", () => {
            // If a price is re-read and changes, redo the arithmetic below by hand.
            expect(list.prices["run.instance.vcpu.tier1"].value).to.equal(0.000018);
            expect(list.prices["run.instance.memory.tier1"].value).to.equal(0.000002);
            expect(list.prices["run.gpu.nvidia-l4.nonzonal.tier1"].value).to.equal(0.0001867);
            expect(list.hoursPerMonth).to.equal(730);
            expect(list.regionTiers.regions["europe-west1"]).to.equal(1);
        });

        it("prices prod's GPU service per instance-hour and its minimum instance per month", () => {
            const cost = costOf(snapshot("prod"), stackCostOptions("prod"));
            // 4 vCPU × 0.000018 + 16 GiB × 0.000002 + 1 L4 × 0.0001867 = 0.0002907 $/s
            expect(lineOf(cost, "embeddings-service", "per instance-hour").amount).to.equal(1.04652); // × 3600 s
            expect(lineOf(cost, "embeddings-service", "minimum instances").amount).to.equal(763.9596); // × 730 h × 1 instance
            const table = renderCost(cost);
            expect(table).to.include("| $763.96 |").and.include("| $1.05 |");
            expect(table).to.include("run.gpu.nvidia-l4.nonzonal.tier1 $0.0001867/GPU-second");
        });

        it("prices the nightly job per run-hour and bounds a run by timeout × attempts", () => {
            const cost = costOf(snapshot("prod"), stackCostOptions("prod"));
            // 2 vCPU × 0.000018 + 8 GiB × 0.000002 = 0.000052 $/s; prod: timeout 7200 s, maxRetries 2
            expect(lineOf(cost, "model-sync-job", "per run-hour").amount).to.equal(0.1872);
            expect(lineOf(cost, "model-sync-job", "per run, upper bound").amount).to.equal(1.1232);
            // '0 3 * * *' daily: 730 / 24 runs in a 730-hour month
            expect(lineOf(cost, "model-sync-job", "per month, upper bound").amount).to.be.closeTo(1.1232 * (730 / 24), 1e-4);
        });

        it("sums the fixed part: minimum instances, scheduler jobs and the bucket from the sizeGiB hints", () => {
            const cost = costOf(snapshot("prod"), stackCostOptions("prod"));
            // 763.9596 + 0.10 scheduler + (2.2 + 1.3) GiB × 0.020
            expect(cost.totals.fixedMonthly).to.equal(764.1296);
            expect(cost.totals.fixedUnknown).to.equal(3); // the registry's three repositories: no size before a build
            expect(renderCost(cost)).to.match(/\*\*\$764\.13\*\* \+ 3 unknown/);
        });

        it("charges GPU zonal redundancy at its own price, and a request-based idle instance at idle rates", () => {
            const plan = snapshot("prod");
            // Cloud Run GPU docs: a GPU needs instance-based billing, so cpuIdle cannot make it request-based.
            const zonal = withInputs(plan, "embeddings-service", (i) => {
                delete i.template.gpuZonalRedundancyDisabled;
                i.template.containers[0].resources.cpuIdle = true;
            });
            const line = lineOf(estimateCost(zonal, prices()), "embeddings-service", "minimum instances");
            expect(line.prices).to.include("run.gpu.nvidia-l4.zonal.tier1");
            expect(line.amount).to.be.closeTo((4 * 0.000018 + 16 * 0.000002 + 0.0002909) * 3600 * 730, 1e-6);
            const warmCpu = withInputs(plan, "custom-ops-service", (i) => (i.template.scaling.minInstanceCount = 2));
            const idle = lineOf(estimateCost(warmCpu, prices()), "custom-ops-service", "minimum instances");
            expect(idle.prices).to.deep.equal(["run.request.idleVcpu.tier1", "run.request.idleMemory.tier1"]);
            expect(idle.amount).to.be.closeTo(2 * (2 * 0.0000025 + 4 * 0.0000025) * 3600 * 730, 1e-6);
        });
    });

    describe("coverage: the price list covers every stack's graph", () => {
        for (const stack of listStacks()) {
            it(`prices every resource of ${stack} or says why not`, () => {
                const plan = snapshot(stack);
                const p = prices();
                for (const r of plan.resources) expect(p.classify(r.type).kind, `${r.type} ${r.name}`).not.to.equal("unknown");
                const cost = estimateCost(plan, new Prices(loadPriceList(), stackCostOptions(stack).overrides));
                expect(cost.stack).to.equal(stack);
                expect(plan.cost, `snapshot ${stack} has a stale cost section: run npm run plan -- --update-snapshots`).to.deep.equal(cost);
            });
        }

        it("fails on a resource type no list names", () => {
            const plan = snapshot("dev");
            const extra = { ...plan, resources: [...plan.resources, { urn: "urn:x", type: "gcp:compute/instance:Instance", name: "vm", inputs: {} }] };
            expect(() => estimateCost(extra, prices())).to.throw(PricingError, `gcp:compute/instance:Instance 'vm': resource type "gcp:compute/instance:Instance" is in no list`);
        });

        it("fails on a region without a tier, naming the resource and the region", () => {
            const plan = withInputs(snapshot("dev"), "embeddings-service", (i) => (i.location = "mars-north1"));
            expect(() => estimateCost(plan, prices())).to.throw(PricingError, `gcp:cloudrunv2/service:Service 'embeddings-service': region "mars-north1" has no price tier`);
        });

        it("fails on a GPU type without a price, naming the resource and the type", () => {
            const plan = withInputs(snapshot("dev"), "embeddings-service", (i) => (i.template.nodeSelector.accelerator = "nvidia-h100"));
            expect(() => estimateCost(plan, prices())).to.throw(PricingError, `gcp:cloudrunv2/service:Service 'embeddings-service': no price for GPU type "nvidia-h100" (pricing/gcp.json has no 'run.gpu.nvidia-h100.nonzonal.tier1'`);
        });

        it("fails on a bucket location or storage class without a price", () => {
            const eu = withInputs(snapshot("dev"), "model-cache-bucket", (i) => (i.location = "EU"));
            expect(() => estimateCost(eu, prices())).to.throw(PricingError, `gcp:storage/bucket:Bucket 'model-cache-bucket': no price for Standard storage in location "EU"`);
            const nearline = withInputs(snapshot("dev"), "model-cache-bucket", (i) => (i.storageClass = "NEARLINE"));
            expect(() => estimateCost(nearline, prices())).to.throw(PricingError, `storageClass "NEARLINE" has no price`);
        });

        it("takes the tier from the data file's region map, not from the region's name", () => {
            const list = loadPriceList();
            list.regionTiers.regions["europe-west1"] = 2;
            const line = lineOf(estimateCost(snapshot("prod"), new Prices(list)), "embeddings-service", "minimum instances");
            expect(line.prices).to.deep.equal(["run.instance.vcpu.tier2", "run.instance.memory.tier2", "run.gpu.nvidia-l4.nonzonal.tier2"]);
        });
    });

    describe("stack inputs", () => {
        it("applies a stack's price override and says so", () => {
            const cost = estimateCost(snapshot("prod"), new Prices(loadPriceList(), { "run.gpu.nvidia-l4.nonzonal.tier1": 0.00015 }));
            expect(lineOf(cost, "embeddings-service", "minimum instances").amount).to.be.closeTo((0.000072 + 0.000032 + 0.00015) * 3600 * 730, 1e-6);
            expect(cost.prices["run.gpu.nvidia-l4.nonzonal.tier1"].source).to.equal("stack override (warmstart:pricing.overrides)");
        });

        it("rejects an override of a price id the list does not have", () => {
            expect(() => new Prices(loadPriceList(), { "run.gpu.h100": 1 })).to.throw(PricingError, "warmstart:pricing.overrides.run.gpu.h100: names no price in pricing/gcp.json (value 1)");
        });

        it("says unknown when a model has no sizeGiB, rather than guess", () => {
            // The scheduled job and the seeding job carry the same list.
            const dropHint: Parameters<typeof withInputs>[2] = (i) => {
                const env = i.template.template.containers[0].envs.find((e: { name: string }) => e.name === "MODELS_JSON");
                const models = JSON.parse(env.value) as { sizeGiB?: number }[];
                delete models[1].sizeGiB;
                env.value = JSON.stringify(models);
            };
            const plan = withInputs(withInputs(snapshot("dev"), "model-sync-job", dropHint), "model-sync-seed", dropHint);
            const line = lineOf(estimateCost(plan, prices()), "model-cache-bucket", "storage");
            expect(line.amount).to.equal(null);
            expect(line.unknown).to.equal("1 of 2 models have a sizeGiB hint; give each one, or --manifest");
        });

        it("sizes the bucket from the sync's manifest.json when given one", () => {
            const gib = 1024 ** 3;
            const manifest = manifestText({
                schemaVersion: 1, revision: "r1", generatedAt: "2026-11-22T00:00:00Z",
                models: [
                    { name: "bge-m3", source: "huggingface", revision: "x", path: "huggingface/hub", files: [{ path: "a", size: 3 * gib, sha256: "0" }, { path: "b", size: gib, sha256: "0" }] },
                    { name: "llama3-2-1b", source: "ollama", revision: "y", path: "ollama", files: [{ path: "c", size: gib, sha256: "0" }] },
                ],
            });
            const line = lineOf(estimateCost(snapshot("dev"), prices(), { measured: measuredSizes(manifest, "manifest.json") }), "model-cache-bucket", "storage");
            expect(line.amount).to.equal(5 * 0.02);
            expect(line.how).to.include("5.00 GiB measured in manifest.json");
            expect(() => measuredSizes('{"schemaVersion": 2}', "m.json")).to.throw(PricingError, "m.json: is not a sync manifest (schemaVersion 2");
        });
    });

    describe("the diff against a base plan", () => {
        it("shows a change of minInstances per resource and in total", async () => {
            const base = costOf(snapshot("dev"), stackCostOptions("dev"));
            const services = [
                { name: "embeddings", context: "images/services/embeddings", base: "runtime", cpu: "4", memory: "16Gi", gpu: { type: "nvidia-l4" }, minInstances: 1, maxInstances: 2, env: { EMBEDDING_MODEL: "BAAI/bge-m3" } },
                { name: "custom-ops", context: "images/services/custom-ops", base: "runtime", builder: "devel", cpu: "2", memory: "4Gi", minInstances: 0, maxInstances: 1 },
            ];
            const head = costOf(toJsonPlan(await evaluateWith({ "warmstart:services": services })), stackCostOptions("dev"));
            const diff = diffCost(base, head);
            expect(diff.changes.map((c) => [c.resource, c.item, c.change])).to.deep.equal([["cloudrunv2 Service embeddings-service", "minimum instances", 763.9596]]);
            expect(diff.totals.change).to.equal(763.9596);
            expect(renderCostDiff(diff)).to.include("Fixed monthly total: $0.17 → $764.13 (**+$763.96**)");
        });

        it("prints the diff from the command line against a plan file, the way the preview workflow does", async () => {
            const warm = await evaluateWith({ "warmstart:services": [{ name: "embeddings", context: "images/services/embeddings", base: "runtime", cpu: "4", memory: "16Gi", gpu: { type: "nvidia-l4" }, minInstances: 2, maxInstances: 2 }] });
            const file = path.join(os.tmpdir(), `base-plan-${process.pid}.json`);
            fs.writeFileSync(file, planJsonText(warm, stackCostOptions("dev")));
            const run = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", "scripts/plan.ts", "dev", "--format", "cost", "--against", file], { cwd: REPO_ROOT, encoding: "utf8" });
            fs.rmSync(file);
            expect(run.status, run.stderr).to.equal(0);
            expect(run.stdout).to.include("| fixed | cloudrunv2 Service embeddings-service | minimum instances | $1,527.92/month | $0.00/month | -$1,527.92 |");
            expect(run.stdout).to.include("| fixed | cloudrunv2 Service custom-ops-service | minimum instances | — | $0.00/month | $0.00 |");
            expect(run.stdout).to.include("## Cost of stack `dev`");
        });

        it("says so when nothing changed", () => {
            const cost = costOf(snapshot("prod"), stackCostOptions("prod"));
            expect(renderCostDiff(diffCost(cost, cost))).to.include("No cost line changed.");
        });
    });
});

describe("cost estimate: units, overrides, provenance and the command line", function () {
    this.timeout(120000);

    it("names the value of a negative override read from the stack file", () => {
        const read = () => costOptionsOf({ "warmstart:pricing": JSON.stringify({ overrides: { "scheduler.job": -1 } }) });
        expect(read).to.throw(StackConfigError, "warmstart:pricing.overrides.scheduler.job:");
        expect(read).to.throw(StackConfigError, "(value -1)");
    });

    it("names the format it does not know", () => {
        const run = planCommand("dev", "--format", "png");
        expect(run.status).to.equal(2);
        expect(run.stderr).to.include("unknown --format 'png'");
        expect(run.stderr).to.include("tree|json|dot|svg|cost");
    });
});

describe("cost estimate in the README", () => {
    it("shows the real estimate of prod", () => {
        const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
        const table = renderCost(costOf(snapshot("prod"), stackCostOptions("prod")));
        // The README nests the table one heading level down; the rows are verbatim.
        const rows = table.split("\n").filter((l) => l.startsWith("|"));
        expect(rows.length).to.be.greaterThan(10);
        for (const row of rows) expect(readme, "README's example cost is stale: paste npm run plan -- prod --format cost").to.include(row);
    });
});
