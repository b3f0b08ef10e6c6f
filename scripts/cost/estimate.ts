// Prices a plan: reads only the plan's JSON resource records (type, name, parent, inputs), so it
// works on any plan file, this branch's or the base branch's.
import { Cron } from "croner";
import { cpuCount, memoryMiB } from "../../stacks/schema";
import { gpuPriceId, Prices, PricingError, UsedPrice } from "./pricing";

/** What the estimate needs of a planned resource: a record of `npm run plan -- <stack> --format json`. */
export interface CostResource {
    urn: string;
    type: string;
    name: string;
    parent?: string;
    inputs: Record<string, unknown>;
}

export interface CostPlan {
    stack: string;
    resources: CostResource[];
}

export type CostUnit = "month" | "instance-hour" | "hour, upper bound" | "run-hour" | "run, upper bound" | "month, upper bound";

export interface CostLine {
    /** Stable across plans: type, name and item. */
    key: string;
    /** The component the resource belongs to, e.g. `ModelService embeddings`. */
    component: string;
    /** `<type> <name>`, e.g. `Service embeddings-service`. */
    resource: string;
    item: string;
    /** Dollars per `unit`; null when a quantity is unknown (then `unknown` says why). */
    amount: number | null;
    unit: CostUnit;
    /** How the figure was made, with the prices it used by id. */
    how: string;
    prices: string[];
    unknown?: string;
}

export interface CostEstimate {
    stack: string;
    currency: "USD";
    hoursPerMonth: number;
    freeTiers: string;
    fixed: CostLine[];
    perUnit: CostLine[];
    notPriced: { resource: string; reason: string }[];
    /** Sum of the fixed lines with a known amount, and how many are unknown. */
    totals: { fixedMonthly: number; fixedUnknown: number };
    prices: Record<string, UsedPrice>;
}

/** Sizes measured by the sync: GiB per model name, from its manifest.json. */
export interface MeasuredSizes {
    origin: string;
    models: Record<string, number>;
}

export interface EstimateOptions {
    measured?: MeasuredSizes;
}

const GPU_LIMIT = "nvidia.com/gpu";
/** Cloud Scheduler's price is per 31 days of a job. */
const SCHEDULER_PERIOD_HOURS = 31 * 24;
const GIB = 1024 ** 3;

function get(value: unknown, ...keys: (string | number)[]): unknown {
    let v = value;
    for (const k of keys) {
        if (v === null || typeof v !== "object") return undefined;
        v = (v as Record<string | number, unknown>)[k];
    }
    return v;
}

/** `gcp:cloudscheduler/job:Job` -> `cloudscheduler Job`; components by their type name only. */
function shortType(type: string): string {
    const [pkg, module, name] = type.split(":");
    if (pkg === "warmstart" || name === undefined) return name ?? type;
    return `${module.split("/")[0]} ${name}`;
}

/** A price as the data file states it, every digit kept. */
export function priceText(p: UsedPrice): string {
    return `$${p.value.toFixed(10).replace(/0+$/, "").replace(/\.$/, "")}/${p.unit}`;
}

/** A Cloud Run container's size: vCPUs, GiB of memory, GPUs and their type. */
interface Size {
    vcpu: number;
    gib: number;
    gpus: number;
    gpuType?: string;
}

function sizeOf(resource: string, limits: unknown, accelerator: unknown): Size {
    const cpu = get(limits, "cpu");
    const memory = get(limits, "memory");
    const vcpu = typeof cpu === "string" ? cpuCount(cpu) : NaN;
    const mib = typeof memory === "string" && /^\d+(Mi|Gi)$/.test(memory) ? memoryMiB(memory) : NaN;
    if (!Number.isFinite(vcpu) || vcpu <= 0) throw new PricingError(`${resource}: limits.cpu ${JSON.stringify(cpu)} is not a vCPU count the estimate can price`);
    if (!Number.isFinite(mib) || mib <= 0) throw new PricingError(`${resource}: limits.memory ${JSON.stringify(memory)} is not a size the estimate can price (such as 4Gi or 512Mi)`);
    const gpuLimit = get(limits, GPU_LIMIT);
    const gpus = gpuLimit === undefined ? 0 : Number(gpuLimit);
    if (!Number.isInteger(gpus) || gpus < 0) throw new PricingError(`${resource}: limits.${GPU_LIMIT} ${JSON.stringify(gpuLimit)} is not a GPU count`);
    if (gpus > 0 && typeof accelerator !== "string") throw new PricingError(`${resource}: ${gpus} GPU without nodeSelector.accelerator (value ${JSON.stringify(accelerator)}): no GPU type to price`);
    return { vcpu, gib: mib / 1024, gpus, gpuType: gpus > 0 ? (accelerator as string) : undefined };
}

/** Dollars per second of one instance of `size` in `region`, and the prices used. */
function ratePerSecond(prices: Prices, resource: string, size: Size, region: string, ids: { vcpu: string; memory: string; gpu?: string }): { rate: number; used: UsedPrice[] } {
    const used = [prices.get(ids.vcpu, resource, "vCPU time", "vCPU-second"), prices.get(ids.memory, resource, "memory time", "GiB-second")];
    let rate = size.vcpu * used[0].value + size.gib * used[1].value;
    if (size.gpus > 0) {
        const gpu = prices.get(ids.gpu!, resource, `GPU type ${JSON.stringify(size.gpuType)} in region ${JSON.stringify(region)}`, "GPU-second");
        used.push(gpu);
        rate += size.gpus * gpu.value;
    }
    return { rate, used };
}

function describeSize(size: Size): string {
    return `${size.vcpu} vCPU, ${size.gib} GiB${size.gpus > 0 ? `, ${size.gpus} ${size.gpuType}` : ""}`;
}

/** Scheduled runs in an average month: a year of the schedule, scaled to the price list's month. */
export function runsPerMonth(schedule: string, timeZone: string | undefined, hoursPerMonth: number): number {
    const cron = new Cron(schedule, { paused: true, timezone: timeZone });
    const start = new Date("2026-01-05T00:00:00Z");
    const end = new Date(start.getTime() + 364 * 24 * 3600 * 1000);
    let count = 0;
    for (let next = cron.nextRun(start); next !== null && next < end; next = cron.nextRun(next)) count++;
    return (count / (364 * 24)) * hoursPerMonth;
}

/** Prices every resource of the plan; throws PricingError for a type or setting no price covers. */
export function estimateCost(plan: CostPlan, prices: Prices, options: EstimateOptions = {}): CostEstimate {
    const byUrn = new Map(plan.resources.map((r) => [r.urn, r]));
    const fixed: CostLine[] = [];
    const perUnit: CostLine[] = [];
    const notPriced: { resource: string; reason: string }[] = [];
    const used: Record<string, UsedPrice> = {};
    const hours = prices.hoursPerMonth;

    const use = (list: UsedPrice[]) => {
        for (const p of list) used[p.id] = p;
        return list.map((p) => p.id);
    };
    const cite = (list: UsedPrice[]) => list.map((p) => `${p.id} ${priceText(p)}`).join(" + ");

    const componentOf = (r: CostResource) => {
        const parent = r.parent === undefined ? undefined : byUrn.get(r.parent);
        return parent === undefined ? "(top level)" : `${shortType(parent.type)} ${parent.name}`;
    };
    const line = (r: CostResource, item: string, amount: number | null, unit: CostUnit, how: string, ids: string[], unknown?: string): CostLine => ({
        key: `${r.type}::${r.name}::${item}`,
        component: componentOf(r),
        resource: `${shortType(r.type)} ${r.name}`,
        item,
        amount: amount === null ? null : round(amount),
        unit,
        how,
        prices: ids,
        ...(unknown === undefined ? {} : { unknown }),
    });

    // Which models each bucket holds: the sync job's MODELS_JSON, keyed by the bucket it mounts.
    const modelsByBucket = new Map<string, { name: string; sizeGiB?: number }[]>();
    const schedulesByJobName = new Map<string, CostResource>();
    for (const r of plan.resources) {
        if (r.type === "gcp:cloudrunv2/job:Job") {
            const env = (get(r.inputs, "template", "template", "containers", 0, "envs") ?? []) as { name: string; value?: string }[];
            const modelsJson = env.find((e) => e.name === "MODELS_JSON")?.value;
            const volumes = (get(r.inputs, "template", "template", "volumes") ?? []) as { gcs?: { bucket?: string } }[];
            if (modelsJson !== undefined) {
                for (const v of volumes) if (v.gcs?.bucket !== undefined) modelsByBucket.set(v.gcs.bucket, JSON.parse(modelsJson) as { name: string; sizeGiB?: number }[]);
            }
        }
        if (r.type === "gcp:cloudscheduler/job:Job") {
            const uri = get(r.inputs, "httpTarget", "uri");
            const job = typeof uri === "string" ? /\/jobs\/([^/:]+):run$/.exec(uri)?.[1] : undefined;
            if (job !== undefined) schedulesByJobName.set(job, r);
        }
    }

    for (const r of plan.resources) {
        const label = `${r.type} '${r.name}'`;
        const kind = prices.classify(r.type);
        if (kind.kind === "unknown") {
            throw new PricingError(`${label}: resource type ${JSON.stringify(r.type)} is in no list of pricing/gcp.json (resourceTypes.priced, free or notPriced)`);
        }
        if (kind.kind === "notPriced") notPriced.push({ resource: `${shortType(r.type)} ${r.name}`, reason: kind.reason });
        if (kind.kind !== "priced") continue;

        switch (r.type) {
            case "gcp:cloudrunv2/service:Service": {
                const tier = prices.tier(r.inputs.location, label);
                const region = String(r.inputs.location);
                const container = get(r.inputs, "template", "containers", 0);
                const size = sizeOf(label, get(container, "resources", "limits"), get(r.inputs, "template", "nodeSelector", "accelerator"));
                // GPU services must use instance-based billing; cpuIdle false is "CPU always allocated".
                const instanceBased = get(container, "resources", "cpuIdle") === false || size.gpus > 0;
                const zonal = get(r.inputs, "template", "gpuZonalRedundancyDisabled") !== true;
                const gpuId = gpuPriceId(String(size.gpuType), zonal, region);
                const billing = instanceBased ? "instance" : "request";
                const gpuText = size.gpus > 0 ? `, ${zonal ? "with" : "without"} zonal redundancy` : "";
                const active = ratePerSecond(prices, label, size, region, { vcpu: `run.${billing}.vcpu.tier${tier}`, memory: `run.${billing}.memory.tier${tier}`, gpu: gpuId });
                const idle = instanceBased ? active : ratePerSecond(prices, label, size, region, { vcpu: `run.request.idleVcpu.tier${tier}`, memory: `run.request.idleMemory.tier${tier}` });
                const min = Number(get(r.inputs, "template", "scaling", "minInstanceCount") ?? 0);
                const max = get(r.inputs, "template", "scaling", "maxInstanceCount");
                const setting = `${describeSize(size)}${gpuText}, ${billing}-based billing, tier ${tier}`;
                fixed.push(line(r, "minimum instances", min * hours * 3600 * idle.rate, "month", `${min} × ${hours} h × (${setting}${instanceBased ? "" : ", idle"}): ${cite(idle.used)}`, use(idle.used)));
                const perHour = active.rate * 3600;
                const ids = use(active.used);
                perUnit.push(line(r, "per instance-hour", perHour, "instance-hour", `3600 s × (${setting}): ${cite(active.used)}${instanceBased ? "" : " (request fees not included)"}`, ids));
                // The ceiling a traffic spike can reach: a line of its own, so a change of maxInstances shows in the diff.
                if (typeof max === "number") perUnit.push(line(r, "per hour at maxInstances", perHour * max, "hour, upper bound", `maxInstances ${max} × the per-instance-hour cost`, ids));
                break;
            }
            case "gcp:cloudrunv2/job:Job": {
                const tier = prices.tier(r.inputs.location, label);
                const region = String(r.inputs.location);
                const task = get(r.inputs, "template", "template");
                const size = sizeOf(label, get(task, "containers", 0, "resources", "limits"), get(task, "nodeSelector", "accelerator"));
                // Jobs run without GPU zonal redundancy, at instance-based rates.
                const rate = ratePerSecond(prices, label, size, region, { vcpu: `run.instance.vcpu.tier${tier}`, memory: `run.instance.memory.tier${tier}`, gpu: gpuPriceId(String(size.gpuType), false, region) });
                const setting = `${describeSize(size)}, tier ${tier}`;
                const ids = use(rate.used);
                perUnit.push(line(r, "per run-hour", rate.rate * 3600, "run-hour", `3600 s × (${setting}): ${cite(rate.used)}`, ids));
                const timeout = /^(\d+)s$/.exec(String(get(task, "timeout") ?? ""))?.[1];
                if (timeout === undefined) throw new PricingError(`${label}: template.template.timeout ${JSON.stringify(get(task, "timeout"))} is not a duration in seconds such as 3600s`);
                const attempts = Number(get(task, "maxRetries") ?? 3) + 1;
                const tasks = Number(get(r.inputs, "template", "taskCount") ?? 1);
                const perRun = rate.rate * Number(timeout) * attempts * tasks;
                perUnit.push(line(r, "per run, upper bound", perRun, "run, upper bound", `timeout ${timeout} s × ${attempts} attempts × ${tasks} task(s) at the run-hour rate`, ids));
                const schedule = schedulesByJobName.get(String(r.inputs.name));
                if (schedule !== undefined) {
                    const runs = runsPerMonth(String(schedule.inputs.schedule), schedule.inputs.timeZone as string | undefined, hours);
                    perUnit.push(line(r, "per month, upper bound", perRun * runs, "month, upper bound", `${runs.toFixed(1)} scheduled runs a month ('${String(schedule.inputs.schedule)}') × the per-run upper bound`, ids));
                }
                break;
            }
            case "gcp:cloudscheduler/job:Job": {
                // Billed by the day at a price per 31 days: scaled to the list's month.
                const price = prices.get("scheduler.job", label, "a scheduler job", "job per 31 days");
                fixed.push(line(r, "scheduler job", (price.value * hours) / SCHEDULER_PERIOD_HOURS, "month", `1 job × ${hours} h / ${SCHEDULER_PERIOD_HOURS} h: ${cite([price])} (3 free jobs per billing account not subtracted)`, use([price])));
                break;
            }
            case "gcp:artifactregistry/repository:Repository": {
                if (r.inputs.mode === "VIRTUAL_REPOSITORY") break; // stores nothing: its upstreams are billed
                const price = prices.get("artifactRegistry.storage", label, "registry storage", "GiB-month");
                fixed.push(line(r, "storage", null, "month", `size × ${cite([price])}`, use([price]), "image and cache sizes are not known before a build"));
                break;
            }
            case "gcp:storage/bucket:Bucket": {
                const location = typeof r.inputs.location === "string" ? r.inputs.location.toLowerCase() : r.inputs.location;
                const storageClass = r.inputs.storageClass ?? "STANDARD";
                if (storageClass !== "STANDARD") throw new PricingError(`${label}: storageClass ${JSON.stringify(storageClass)} has no price in pricing/gcp.json (Standard only)`);
                const price = prices.get(`storage.standard.${String(location)}`, label, `Standard storage in location ${JSON.stringify(r.inputs.location)}`, "GiB-month");
                const ids = use([price]);
                const models = modelsByBucket.get(String(r.inputs.name ?? r.name));
                const versioned = get(r.inputs, "versioning", "enabled") === true ? "; noncurrent revisions kept by versioning add to this until the lifecycle deletes them" : "";
                if (options.measured !== undefined && models !== undefined) {
                    const gib = models.reduce((sum, m) => sum + (options.measured!.models[m.name] ?? 0), 0);
                    const missing = models.filter((m) => options.measured!.models[m.name] === undefined).map((m) => m.name);
                    if (missing.length > 0) {
                        fixed.push(line(r, "storage", null, "month", `size × ${cite([price])}`, ids, `${options.measured.origin} has no model ${missing.join(", ")}`));
                    } else {
                        fixed.push(line(r, "storage", gib * price.value, "month", `${gib.toFixed(2)} GiB measured in ${options.measured.origin} × ${cite([price])}${versioned}`, ids));
                    }
                } else if (models !== undefined && models.length > 0 && models.every((m) => typeof m.sizeGiB === "number")) {
                    const gib = models.reduce((sum, m) => sum + m.sizeGiB!, 0);
                    fixed.push(line(r, "storage", gib * price.value, "month", `${gib} GiB from the models' sizeGiB hints × ${cite([price])}${versioned}`, ids));
                } else {
                    const hinted = (models ?? []).filter((m) => typeof m.sizeGiB === "number").length;
                    const why = models === undefined || models.length === 0 ? "no models list names this bucket" : `${hinted} of ${models.length} models have a sizeGiB hint; give each one, or --manifest`;
                    fixed.push(line(r, "storage", null, "month", `size × ${cite([price])}`, ids, why));
                }
                break;
            }
            default:
                throw new PricingError(`${label}: pricing/gcp.json lists ${JSON.stringify(r.type)} as priced, but the estimate has no rule for it`);
        }
    }

    const byKey = (a: CostLine, b: CostLine) => a.component.localeCompare(b.component) || a.resource.localeCompare(b.resource) || a.item.localeCompare(b.item);
    fixed.sort(byKey);
    perUnit.sort(byKey);
    return {
        stack: plan.stack,
        currency: "USD",
        hoursPerMonth: hours,
        freeTiers: prices.list.freeTiers,
        fixed,
        perUnit,
        notPriced: notPriced.sort((a, b) => a.resource.localeCompare(b.resource)),
        totals: {
            fixedMonthly: round(fixed.reduce((sum, l) => sum + (l.amount ?? 0), 0)),
            fixedUnknown: fixed.filter((l) => l.amount === null).length,
        },
        prices: Object.fromEntries(Object.keys(used).sort().map((id) => [id, used[id]])),
    };
}

/** Cents are what a reviewer reads; rounding also keeps the JSON stable. */
function round(n: number): number {
    return Math.round(n * 1e6) / 1e6;
}

/** GiB per model from the sync's manifest.json (images/model-sync/src/store.ts `Manifest`). */
export function measuredSizes(manifestText: string, origin: string): MeasuredSizes {
    let manifest: unknown;
    try {
        manifest = JSON.parse(manifestText);
    } catch (err) {
        throw new PricingError(`${origin}: is not JSON (${(err as Error).message})`);
    }
    const models = get(manifest, "models");
    if (get(manifest, "schemaVersion") !== 1 || !Array.isArray(models)) {
        throw new PricingError(`${origin}: is not a sync manifest (schemaVersion ${JSON.stringify(get(manifest, "schemaVersion"))}, expected 1 with a models list)`);
    }
    const sizes: Record<string, number> = {};
    for (const m of models as { name?: unknown; files?: { size?: unknown }[] }[]) {
        if (typeof m.name !== "string" || !Array.isArray(m.files)) throw new PricingError(`${origin}: model entry ${JSON.stringify(m.name)} has no name or files`);
        sizes[m.name] = m.files.reduce((sum, f) => {
            if (typeof f.size !== "number" || f.size < 0) throw new PricingError(`${origin}: model '${m.name}' has a file with size ${JSON.stringify(f.size)}`);
            return sum + f.size;
        }, 0) / GIB;
    }
    return { origin, models: sizes };
}
