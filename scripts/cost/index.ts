// The cost estimate of a plan: `npm run plan -- <stack> --format cost [--against plan.json] [--manifest FILE]`.
import * as fs from "fs";
import { CostEstimate, CostPlan, estimateCost, measuredSizes } from "./estimate";
import { loadPriceList, Prices, PricingError } from "./pricing";

export { CostEstimate, CostPlan, estimateCost, measuredSizes } from "./estimate";
export { loadPriceList, Prices, PricingError } from "./pricing";
export { diffCost, renderCost, renderCostDiff } from "./render";

export interface CostOptions {
    /** The stack's `warmstart:pricing.overrides`. */
    overrides?: Record<string, number>;
    /** A manifest.json written by the sync, for measured bucket sizes. */
    manifestFile?: string;
}

export function costOf(plan: CostPlan, options: CostOptions = {}): CostEstimate {
    const measured = options.manifestFile === undefined ? undefined : measuredSizes(readText(options.manifestFile), options.manifestFile);
    return estimateCost(plan, new Prices(loadPriceList(), options.overrides ?? {}), { measured });
}

/**
 * The estimate of another plan file (the base branch's): its own `cost` section when it has
 * one, so its stack overrides count; otherwise its resources priced with today's list.
 */
export function costOfPlanFile(file: string): CostEstimate {
    let plan: CostPlan & { cost?: CostEstimate };
    try {
        plan = JSON.parse(readText(file)) as CostPlan & { cost?: CostEstimate };
    } catch (err) {
        throw new PricingError(`--against ${file}: ${(err as Error).message}`);
    }
    if (plan.cost !== undefined && Array.isArray(plan.cost.fixed) && Array.isArray(plan.cost.perUnit)) return plan.cost;
    if (!Array.isArray(plan.resources)) throw new PricingError(`--against ${file}: is not a plan (no resources list); write one with --format json`);
    return costOf(plan);
}

function readText(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new PricingError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
}
