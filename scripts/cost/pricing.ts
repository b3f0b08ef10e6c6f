// The price list the cost estimate reads: pricing/gcp.json, checked on load, with a stack's
// overrides (committed-use discounts, or a price no public source gives) applied by price id.
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";
import { CLOUD_RUN_GPU_REGIONS, CLOUD_RUN_REGION_TIERS, GPU_TYPES } from "../../stacks/cloudRun";

export const PRICING_FILE = path.resolve(__dirname, "..", "..", "pricing", "gcp.json");

const priceSchema = z.strictObject({
    value: z.number().nonnegative(),
    unit: z.string().min(1),
    source: z.url({ protocol: /^https$/ }),
    readOn: z.iso.date(),
    evidence: z.string().min(1),
    note: z.string().optional(),
    /** Who quotes the figure when the page itself could not be read: the figure is second-hand. */
    quotedBy: z.string().min(1).optional(),
});

export const priceListSchema = z.strictObject({
    $comment: z.string().optional(),
    currency: z.literal("USD"),
    hoursPerMonth: z.number().positive(),
    freeTiers: z.string().min(1),
    resourceTypes: z.strictObject({
        priced: z.array(z.string()),
        free: z.record(z.string(), z.string()),
        notPriced: z.record(z.string(), z.string()),
    }),
    prices: z.record(z.string(), priceSchema),
});

export type PriceList = z.infer<typeof priceListSchema>;
export type PriceEntry = z.infer<typeof priceSchema>;

/** A price as one figure of the table cites it. */
export interface UsedPrice {
    id: string;
    value: number;
    unit: string;
    /** The page it was read on, or `stack override` */
    source: string;
    /** When it was read; absent for a stack override. */
    readOn?: string;
    /** The third party whose copy of the page gave the figure, when the page itself did not. */
    quotedBy?: string;
}

/** The graph holds something no price covers; the message names the resource and the value. */
export class PricingError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PricingError";
    }
}

export function loadPriceList(file = PRICING_FILE): PriceList {
    const parsed = priceListSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
    if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new PricingError(`${path.basename(file)}: ${issue.path.join(".")}: ${issue.message}`);
    }
    return parsed.data;
}

/** The id of a GPU's price per second: Cloud Run prices GPUs per region, with or without zonal redundancy. */
export function gpuPriceId(type: string, zonalRedundancy: boolean, region: string): string {
    return `run.gpu.${type}.${zonalRedundancy ? "zonal" : "nonzonal"}.${region}`;
}

/** Price ids a stack may supply though the list lacks them: a GPU in a region that offers it. */
function suppliableIds(): Set<string> {
    return new Set(GPU_TYPES.flatMap((type) => CLOUD_RUN_GPU_REGIONS[type].flatMap((region) => [gpuPriceId(type, true, region), gpuPriceId(type, false, region)])));
}

/**
 * Prices with a stack's overrides applied. An override names a price of the list, or one the
 * estimate asks for that no source gives (a GPU region without a price); any other id is a typo.
 */
export class Prices {
    private readonly suppliable = suppliableIds();

    constructor(readonly list: PriceList, readonly overrides: Record<string, number> = {}) {
        for (const [id, value] of Object.entries(overrides)) {
            if (list.prices[id] === undefined && !this.suppliable.has(id)) {
                throw new PricingError(`warmstart:pricing.overrides.${id}: names no price the estimate uses (value ${value}); ids are those of pricing/gcp.json, or run.gpu.<gpu type>.<zonal|nonzonal>.<GPU region> for a GPU region of stacks/cloudRun.ts`);
            }
        }
    }

    get hoursPerMonth(): number {
        return this.list.hoursPerMonth;
    }

    /** The price `id`, needed by `resource` for `what` (the value that picked it). */
    get(id: string, resource: string, what: string, unit: string): UsedPrice {
        const entry = this.list.prices[id];
        const override = this.overrides[id];
        if (override !== undefined) return { id, value: override, unit: entry?.unit ?? unit, source: "stack override (warmstart:pricing.overrides)" };
        if (entry === undefined) {
            const supply = this.suppliable.has(id) ? `, or set warmstart:pricing.overrides.${id} in the stack` : "";
            throw new PricingError(`${resource}: no price for ${what} (pricing/gcp.json has no '${id}': add it with its source page${supply})`);
        }
        return { id, value: entry.value, unit: entry.unit, source: entry.source, readOn: entry.readOn, ...(entry.quotedBy === undefined ? {} : { quotedBy: entry.quotedBy }) };
    }

    /** The region's price tier, from Cloud Run's location table (stacks/cloudRun.ts) only. */
    tier(region: unknown, resource: string): 1 | 2 {
        const tiers: Record<string, 1 | 2> = CLOUD_RUN_REGION_TIERS;
        const tier = typeof region === "string" && Object.hasOwn(tiers, region) ? tiers[region] : undefined;
        if (tier === undefined) {
            throw new PricingError(`${resource}: region ${JSON.stringify(region)} has no price tier in Cloud Run's location table (stacks/cloudRun.ts)`);
        }
        return tier;
    }

    /** How the price list classes a resource type: priced, free, not priced, or unknown. */
    classify(type: string): { kind: "priced" } | { kind: "free" | "notPriced"; reason: string } | { kind: "unknown" } {
        const { priced, free, notPriced } = this.list.resourceTypes;
        if (priced.includes(type)) return { kind: "priced" };
        const match = (table: Record<string, string>) => {
            for (const [pattern, reason] of Object.entries(table)) {
                if (pattern === type || (pattern.endsWith("*") && type.startsWith(pattern.slice(0, -1)))) return reason;
            }
            return undefined;
        };
        const freeReason = match(free);
        if (freeReason !== undefined) return { kind: "free", reason: freeReason };
        const notPricedReason = match(notPriced);
        if (notPricedReason !== undefined) return { kind: "notPriced", reason: notPricedReason };
        return { kind: "unknown" };
    }
}
