// The price list the cost estimate reads: pricing/gcp.json, checked on load, with a stack's
// overrides (committed-use discounts) applied by price id.
import * as fs from "fs";
import * as path from "path";
import { z } from "zod";

export const PRICING_FILE = path.resolve(__dirname, "..", "..", "pricing", "gcp.json");

const priceSchema = z.strictObject({
    value: z.number().nonnegative(),
    unit: z.string().min(1),
    source: z.url({ protocol: /^https$/ }),
    readOn: z.iso.date(),
    evidence: z.string().min(1),
    note: z.string().optional(),
});

export const priceListSchema = z.strictObject({
    $comment: z.string().optional(),
    currency: z.literal("USD"),
    hoursPerMonth: z.number().positive(),
    freeTiers: z.string().min(1),
    regionTiers: z.strictObject({
        source: z.url(),
        readOn: z.iso.date(),
        evidence: z.string(),
        regions: z.record(z.string(), z.union([z.literal(1), z.literal(2)])),
    }),
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
    readOn?: string;
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

/** Prices with a stack's overrides applied; an override of an unknown id is an error. */
export class Prices {
    constructor(readonly list: PriceList, readonly overrides: Record<string, number> = {}) {
        for (const [id, value] of Object.entries(overrides)) {
            if (list.prices[id] === undefined) {
                throw new PricingError(`warmstart:pricing.overrides.${id}: names no price in pricing/gcp.json (value ${value}); known ids start with ${[...new Set(Object.keys(list.prices).map((k) => k.split(".")[0]))].join(", ")}`);
            }
        }
    }

    get hoursPerMonth(): number {
        return this.list.hoursPerMonth;
    }

    /** The price `id`, needed by `resource` for `what` (the value that picked it). */
    get(id: string, resource: string, what: string): UsedPrice {
        const entry = this.list.prices[id];
        if (entry === undefined) {
            throw new PricingError(`${resource}: no price for ${what} (pricing/gcp.json has no '${id}'; add it with its source page, or override it in the stack)`);
        }
        const override = this.overrides[id];
        if (override !== undefined) return { id, value: override, unit: entry.unit, source: "stack override (warmstart:pricing.overrides)" };
        return { id, value: entry.value, unit: entry.unit, source: entry.source, readOn: entry.readOn };
    }

    /** The region's price tier, from the data file's region map only. */
    tier(region: unknown, resource: string): 1 | 2 {
        const tier = typeof region === "string" ? this.list.regionTiers.regions[region] : undefined;
        if (tier === undefined) {
            throw new PricingError(`${resource}: region ${JSON.stringify(region)} has no price tier in pricing/gcp.json (regionTiers.regions)`);
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
