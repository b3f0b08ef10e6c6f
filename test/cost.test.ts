// The cost estimate: hand-checked figures, coverage of every stack's graph by the price list,
// the errors for what no price covers, overrides, measured sizes and the diff against a base plan.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { listStacks, REPO_ROOT } from "../scripts/evaluate";
import { CostEstimate, CostPlan, costOf, costOfPlanFile, diffCost, estimateCost, loadPriceList, measuredSizes, Prices, PricingError, renderCost, renderCostDiff, WRITE_A_PLAN } from "../scripts/cost";
import { costOptionsOf, FORMATS, planJsonText, render, SNAPSHOT_DIR, stackCostOptions } from "../scripts/plan";
import { toJsonPlan } from "../scripts/render";
import { manifestText } from "../images/model-sync/src/store";
import { StackConfigError } from "../stacks/load";
import { BUCKET_LOCATIONS, CLOUD_RUN_GPU_REGIONS, CLOUD_RUN_REGION_TIERS, CLOUD_RUN_REGIONS, stackConfigSchema } from "../stacks/schema";
import { devConfigWith, evaluateWith, ONE_SERVICE } from "./support/plan";

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
/** The dev stack's services, as its stack file gives them. */
const devServices = () => JSON.parse(devConfigWith({})["warmstart:services"]) as Record<string, unknown>[];
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
            expect(list.prices["run.gpu.nvidia-l4.nonzonal.europe-west1"].value).to.equal(0.0001867);
            expect(list.prices["scheduler.job"].value).to.equal(0.1);
            expect(list.hoursPerMonth).to.equal(730);
            expect(CLOUD_RUN_REGION_TIERS["europe-west1"]).to.equal(1);
        });

        it("prices prod's GPU service per instance-hour and its minimum instance per month", () => {
            const cost = costOf(snapshot("prod"), stackCostOptions("prod"));
            // 4 vCPU × 0.000018 + 16 GiB × 0.000002 + 1 L4 × 0.0001867 = 0.0002907 $/s
            expect(lineOf(cost, "embeddings-service", "per instance-hour").amount).to.equal(1.04652); // × 3600 s
            expect(lineOf(cost, "embeddings-service", "minimum instances").amount).to.equal(763.9596); // × 730 h × 1 instance
            const table = renderCost(cost);
            expect(table).to.include("| $763.96 |").and.include("| $1.05 |");
            expect(table).to.include("run.gpu.nvidia-l4.nonzonal.europe-west1 $0.0001867/GPU-second");
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
            // 763.9596 + 0.10 × 730 / 744 scheduler + (2.2 + 1.3) GiB × 0.020
            expect(cost.totals.fixedMonthly).to.equal(764.127718);
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
            expect(line.prices).to.include("run.gpu.nvidia-l4.zonal.europe-west1");
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
            expect(() => estimateCost(plan, prices())).to.throw(PricingError, `gcp:cloudrunv2/service:Service 'embeddings-service': no price for GPU type "nvidia-h100" in region "europe-west1" (pricing/gcp.json has no 'run.gpu.nvidia-h100.nonzonal.europe-west1'`);
        });

        it("fails on a bucket location or storage class without a price", () => {
            // EUR5 is a dual-region Cloud Storage offers; the schema refuses it, a foreign plan may hold it.
            const eur5 = withInputs(snapshot("dev"), "model-cache-bucket", (i) => (i.location = "EUR5"));
            expect(() => estimateCost(eur5, prices())).to.throw(PricingError, `gcp:storage/bucket:Bucket 'model-cache-bucket': no price for Standard storage in location "EUR5"`);
            const nearline = withInputs(snapshot("dev"), "model-cache-bucket", (i) => (i.storageClass = "NEARLINE"));
            expect(() => estimateCost(nearline, prices())).to.throw(PricingError, `storageClass "NEARLINE" has no price`);
        });

        it("takes the tier from Cloud Run's location table, not from the region's name", () => {
            // cloud.google.com/run/docs/locations: europe-west1 is tier 1, its neighbour europe-west2 tier 2.
            const plan = withInputs(snapshot("prod"), "custom-ops-service", (i) => (i.location = "europe-west2"));
            expect(lineOf(estimateCost(plan, prices()), "custom-ops-service", "per instance-hour").prices).to.deep.equal(["run.request.vcpu.tier2", "run.request.memory.tier2"]);
        });
    });

    describe("stack inputs", () => {
        it("applies a stack's price override and says so", () => {
            const cost = estimateCost(snapshot("prod"), new Prices(loadPriceList(), { "run.gpu.nvidia-l4.nonzonal.europe-west1": 0.00015 }));
            expect(lineOf(cost, "embeddings-service", "minimum instances").amount).to.be.closeTo((0.000072 + 0.000032 + 0.00015) * 3600 * 730, 1e-6);
            expect(cost.prices["run.gpu.nvidia-l4.nonzonal.europe-west1"].source).to.equal("stack override (warmstart:pricing.overrides)");
        });

        it("rejects an override of a price id the list does not have", () => {
            expect(() => new Prices(loadPriceList(), { "run.gpu.h100": 1 })).to.throw(PricingError, "warmstart:pricing.overrides.run.gpu.h100: names no price the estimate uses (value 1)");
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
            const run = planCommand("dev", "--format", "cost", "--against", file);
            fs.rmSync(file);
            expect(run.status, run.stderr).to.equal(0);
            expect(run.stdout).to.include("| fixed | cloudrunv2 Service embeddings-service | minimum instances | $1,527.92/month | $0.00/month | -$1,527.92 |");
            expect(run.stdout).to.include("| fixed | cloudrunv2 Service custom-ops-service | minimum instances | — | $0.00/month | $0.00 |");
            expect(run.stdout).to.include("## Cost of stack `dev`");
        });

        it("says what a file that is not a plan holds, and the command that writes one", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "not-a-plan-"));
            const banner = path.join(dir, "banner.json");
            const other = path.join(dir, "other.json");
            // What `npm run plan -- prod --format json > base.json` writes: npm's banner, then the plan.
            fs.writeFileSync(banner, `\n> warmstart@0.1.0 plan\n> ts-node --transpile-only scripts/plan.ts prod --format json\n\n${JSON.stringify({ stack: "prod", resources: [], outputs: {} }, null, 2)}`);
            fs.writeFileSync(other, JSON.stringify({ models: [] }));
            try {
                expect(() => costOfPlanFile(banner)).to.throw(PricingError, `--against ${banner}: is not a plan: it starts with "> warmstart@0.1.0 plan", the banner npm prints when run without -s`);
                expect(() => costOfPlanFile(other)).to.throw(PricingError, "is not a plan: it is JSON without a resources list (it holds an object with keys models)");
                for (const file of [banner, other]) expect(() => costOfPlanFile(file)).to.throw(PricingError, WRITE_A_PLAN);
                expect(WRITE_A_PLAN).to.include("npm run -s plan -- <stack> --format json --out base.json");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });

        it("says so when nothing changed", () => {
            const cost = costOf(snapshot("prod"), stackCostOptions("prod"));
            expect(renderCostDiff(diffCost(cost, cost))).to.include("No cost line changed.");
        });
    });
});

describe("cost estimate in every region and location the schema accepts", function () {
    this.timeout(120000);
    const list = loadPriceList();
    const l4Regions = CLOUD_RUN_GPU_REGIONS["nvidia-l4"] as readonly string[];

    it("walks the schema's own region list: each region is accepted, one beside it is not", () => {
        expect(CLOUD_RUN_REGIONS.length).to.be.greaterThan(30);
        for (const region of CLOUD_RUN_REGIONS) expect(stackConfigSchema.safeParse({ project: "my-project", services: ONE_SERVICE, region }).success, region).to.equal(true);
        expect(stackConfigSchema.safeParse({ project: "my-project", services: ONE_SERVICE, region: "europe-west5" }).success).to.equal(false);
    });

    // A copy of dev in each region: with its GPU service where Cloud Run offers the L4, CPU only elsewhere
    // (the schema refuses the GPU there, see the stack configuration tests).
    for (const region of CLOUD_RUN_REGIONS) {
        const withGpu = l4Regions.includes(region);
        it(`prices a copy of dev in ${region}${withGpu ? " with its GPU service" : ", CPU only"}`, async () => {
            const services = devServices();
            if (!withGpu) delete services[0].gpu;
            const plan = await evaluateWith({ "warmstart:region": region, "warmstart:services": services });
            const tier = CLOUD_RUN_REGION_TIERS[region];
            const gpuPrice = `run.gpu.nvidia-l4.nonzonal.${region}`;
            let overrides: Record<string, number> = {};
            if (withGpu && list.prices[gpuPrice] === undefined) {
                // No source gives this region's L4 price: refused, with the override that prices it.
                expect(() => costOf(toJsonPlan(plan))).to.throw(PricingError, `set warmstart:pricing.overrides.${gpuPrice} in the stack`);
                overrides = { [gpuPrice]: 0.0002 };
            }
            const cost = costOf(toJsonPlan(plan), { overrides });
            expect(lineOf(cost, "custom-ops-service", "per instance-hour").prices).to.deep.equal([`run.request.vcpu.tier${tier}`, `run.request.memory.tier${tier}`]);
            expect(lineOf(cost, "model-sync-job", "per run-hour").prices).to.deep.equal([`run.instance.vcpu.tier${tier}`, `run.instance.memory.tier${tier}`]);
            expect(lineOf(cost, "model-cache-bucket", "storage").prices).to.deep.equal([`storage.standard.${region}`]);
            const embeddings = lineOf(cost, "embeddings-service", "per instance-hour").prices;
            expect(embeddings).to.deep.equal(withGpu
                ? [`run.instance.vcpu.tier${tier}`, `run.instance.memory.tier${tier}`, gpuPrice]
                : [`run.request.vcpu.tier${tier}`, `run.request.memory.tier${tier}`]);
            expect(await render(plan, "cost", { overrides })).to.include(`## Cost of stack \`dev\``);
        });
    }

    it("prices the L4 in each GPU region from a source for that region, and leaves the ones without a source unpriced", () => {
        const unpriced: string[] = [];
        for (const region of l4Regions) {
            for (const redundancy of ["zonal", "nonzonal"]) {
                const entry = list.prices[`run.gpu.nvidia-l4.${redundancy}.${region}`];
                if (entry === undefined) unpriced.push(`${redundancy} ${region}`);
                else expect(`${entry.evidence} ${entry.note ?? ""}`, `run.gpu.nvidia-l4.${redundancy}.${region}`).to.include(region);
            }
        }
        // asia-south1 offers the L4 by invitation only; no public source gives its price.
        expect(unpriced).to.deep.equal(["zonal asia-south1", "nonzonal asia-south1"]);
        expect(Object.keys(list.prices).filter((id) => id.startsWith("run.gpu.") && !l4Regions.some((r) => id.endsWith(`.${r}`)))).to.deep.equal([]);
    });

    it("does not apply one region's GPU price to another region of its tier", () => {
        const plan = withInputs(snapshot("prod"), "embeddings-service", (i) => (i.location = "asia-east2"));
        expect(() => estimateCost(plan, prices())).to.throw(PricingError, "pricing/gcp.json has no 'run.gpu.nvidia-l4.nonzonal.asia-east2'");
    });

    it("accepts every bucket location of Cloud Storage's table, in either case, and prices each", () => {
        for (const region of CLOUD_RUN_REGIONS) expect(BUCKET_LOCATIONS, "the bucket's default location is the stack's region").to.include(region);
        for (const location of BUCKET_LOCATIONS) {
            for (const spelt of [location, location.toUpperCase()]) {
                expect(stackConfigSchema.safeParse({ project: "my-project", services: ONE_SERVICE, modelCache: { location: spelt } }).success, spelt).to.equal(true);
            }
            const plan = withInputs(snapshot("dev"), "model-cache-bucket", (i) => (i.location = location.toUpperCase()));
            expect(lineOf(estimateCost(plan, prices()), "model-cache-bucket", "storage").prices).to.deep.equal([`storage.standard.${location}`]);
        }
        for (const typo of ["EUROPE-WEST", "eu-west1", "nam9"]) {
            expect(stackConfigSchema.safeParse({ project: "my-project", services: ONE_SERVICE, modelCache: { location: typo } }).success, typo).to.equal(false);
        }
    });
});

describe("cost estimate: units, overrides, provenance and the command line", function () {
    this.timeout(120000);

    it("prices a scheduler job per 31 days, scaled to the 730-hour month", () => {
        const line = lineOf(costOf(snapshot("prod"), stackCostOptions("prod")), "model-sync-schedule", "scheduler job");
        // $0.10 per 31 days × 730 h / (31 × 24 h)
        expect(line.amount).to.be.closeTo(0.1 * 730 / 744, 1e-6);
        expect(line.how).to.include("730 h / 744 h");
    });

    it("shows the maxInstances ceiling as a line of its own, so the diff shows it change", () => {
        const base = costOf(snapshot("prod"), stackCostOptions("prod"));
        const head = estimateCost(withInputs(snapshot("prod"), "embeddings-service", (i) => (i.template.scaling.maxInstanceCount = 50)), new Prices(loadPriceList(), stackCostOptions("prod").overrides));
        // 1.04652 $/instance-hour × 5 and × 50
        expect(lineOf(base, "embeddings-service", "per hour at maxInstances").amount).to.equal(5.2326);
        const diff = diffCost(base, head);
        expect(diff.changes.map((c) => [c.resource, c.item, c.change])).to.deep.equal([["cloudrunv2 Service embeddings-service", "per hour at maxInstances", 47.0934]]);
        expect(renderCostDiff(diff)).to.include("| per unit | cloudrunv2 Service embeddings-service | per hour at maxInstances | $5.23/hour, upper bound | $52.33/hour, upper bound | +$47.09 |");
    });

    it("points a missing price to the override key that supplies it, and takes that override", () => {
        const plan = withInputs(snapshot("prod"), "embeddings-service", (i) => (i.location = "asia-south1"));
        const id = "run.gpu.nvidia-l4.nonzonal.asia-south1";
        expect(() => estimateCost(plan, prices())).to.throw(PricingError, `gcp:cloudrunv2/service:Service 'embeddings-service': no price for GPU type "nvidia-l4" in region "asia-south1" (pricing/gcp.json has no '${id}': add it with its source page, or set warmstart:pricing.overrides.${id} in the stack)`);
        const cost = estimateCost(plan, new Prices(loadPriceList(), { [id]: 0.0002 }));
        expect(cost.prices[id].source).to.equal("stack override (warmstart:pricing.overrides)");
        expect(lineOf(cost, "embeddings-service", "per instance-hour").amount).to.be.closeTo((4 * 0.0000216 + 16 * 0.0000024 + 0.0002) * 3600, 1e-6);
    });

    it("does not suggest an override for a price no stack can set", () => {
        const plan = withInputs(snapshot("dev"), "embeddings-service", (i) => (i.template.nodeSelector.accelerator = "nvidia-h100"));
        expect(() => estimateCost(plan, prices())).to.throw(PricingError, /has no 'run\.gpu\.nvidia-h100\.nonzonal\.europe-west1': add it with its source page\)$/);
    });

    it("names the value of a negative override read from the stack file", () => {
        const read = () => costOptionsOf({ "warmstart:pricing": JSON.stringify({ overrides: { "scheduler.job": -1 } }) });
        expect(read).to.throw(StackConfigError, "warmstart:pricing.overrides.scheduler.job:");
        expect(read).to.throw(StackConfigError, "(value -1)");
    });

    it("says in the prices table which figures are second-hand", () => {
        const list = loadPriceList();
        for (const [id, entry] of Object.entries(list.prices)) {
            expect(entry.quotedBy !== undefined, `${id}: a figure read from a third party's copy names it in quotedBy`).to.equal(/quoted/.test(entry.evidence));
        }
        const table = renderCost(costOf(snapshot("prod"), stackCostOptions("prod")));
        const row = (id: string) => table.split("\n").find((l) => l.startsWith(`| \`${id}\` |`)) ?? "";
        expect(row("run.instance.vcpu.tier1")).to.include("| on the page |");
        expect(row("run.instance.memory.tier1")).to.include(`| second-hand: quoted by ${list.prices["run.instance.memory.tier1"].quotedBy} |`);
        const secondHand = Object.values(costOf(snapshot("prod"), stackCostOptions("prod")).prices).filter((p) => p.quotedBy !== undefined).length;
        expect(secondHand).to.be.greaterThan(0);
        expect(table).to.include(`${secondHand} of `);
    });

    it("names both stacks when the base plan is another stack's", () => {
        const prod = costOf(snapshot("prod"), stackCostOptions("prod"));
        const dev = costOf(snapshot("dev"), stackCostOptions("dev"));
        const text = renderCostDiff(diffCost(prod, dev));
        expect(text).to.include("## Cost change of stack `dev` against the plan of stack `prod`");
        expect(text).to.include("Fixed monthly total: $764.13 (stack `prod`) → $0.17 (stack `dev`) (**-$763.96**)");
        expect(renderCostDiff(diffCost(dev, dev))).to.include("## Cost change of stack `dev` against the base plan");
    });

    it("prints its usage with --help: the stacks found, the formats, the options and the exit codes", () => {
        const run = planCommand("--help");
        expect(run.status, run.stderr).to.equal(0);
        expect(run.stdout).to.include(`stacks (the Pulumi.<stack>.yaml files here): ${listStacks().join(", ")}`);
        expect(run.stdout).to.include(`--format FORMAT      ${FORMATS.join(", ")}`);
        for (const option of ["--out FILE", "--against PLAN.json", "--manifest FILE", "--update-snapshots", "-h, --help"]) expect(run.stdout).to.include(option);
        expect(run.stdout).to.match(/exit codes: 0 .*; 1 .*; 2 /);
        expect(planCommand("-h").stdout).to.equal(run.stdout);
    });

    it("names the format it does not know", () => {
        const run = planCommand("dev", "--format", "png");
        expect(run.status).to.equal(2);
        expect(run.stderr).to.include("unknown --format 'png'");
        expect(run.stderr).to.include("tree|json|dot|svg|cost");
    });
});

describe("cost estimate in docs/cost.md", () => {
    it("shows the real estimate of prod", () => {
        const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "cost.md"), "utf8");
        const table = renderCost(costOf(snapshot("prod"), stackCostOptions("prod")));
        // The page nests the table one heading level down; the rows are verbatim.
        const rows = table.split("\n").filter((l) => l.startsWith("|"));
        expect(rows.length).to.be.greaterThan(10);
        for (const row of rows) expect(doc, "docs/cost.md's example cost is stale: paste npm run plan -- prod --format cost").to.include(row);
    });

    it("shows the real diff of turning on prod's warm GPU instance", () => {
        const doc = fs.readFileSync(path.join(REPO_ROOT, "docs", "cost.md"), "utf8");
        const cold = withInputs(snapshot("prod"), "embeddings-service", (i) => (i.template.scaling.minInstanceCount = 0));
        const diff = renderCostDiff(diffCost(costOf(cold, stackCostOptions("prod")), costOf(snapshot("prod"), stackCostOptions("prod"))));
        const lines = diff.split("\n").filter((l) => l.startsWith("|") || l.startsWith("Fixed monthly total"));
        expect(lines.length).to.equal(4);
        for (const line of lines) expect(doc, "docs/cost.md's example diff is stale").to.include(line);
    });
});
