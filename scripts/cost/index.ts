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
    const text = readText(file);
    let plan: CostPlan & { cost?: CostEstimate };
    try {
        plan = JSON.parse(text) as CostPlan & { cost?: CostEstimate };
    } catch (err) {
        throw new PricingError(`--against ${file}: is not a plan: ${notJsonFound(text)} (${(err as Error).message.replace(/\s+/g, " ")}); ${WRITE_A_PLAN}`);
    }
    if (plan !== null && typeof plan === "object" && plan.cost !== undefined && Array.isArray(plan.cost.fixed) && Array.isArray(plan.cost.perUnit)) return plan.cost;
    if (plan === null || typeof plan !== "object" || !Array.isArray(plan.resources)) {
        throw new PricingError(`--against ${file}: is not a plan: it is JSON without a resources list (it holds ${jsonShape(plan)}); ${WRITE_A_PLAN}`);
    }
    return costOf(plan);
}

/** The command that writes what --against reads; `-s` keeps npm's banner out of the file. */
export const WRITE_A_PLAN = "write one with `npm run -s plan -- <stack> --format json --out base.json`";

/** What a file that is not JSON starts with, said so a reader recognises it. */
function notJsonFound(text: string): string {
    const start = text.trimStart();
    if (start === "") return "the file is empty";
    const firstLine = JSON.stringify(start.split("\n")[0].slice(0, 60));
    // `npm run` (without -s) prints "> <package>@<version> <script>" before the script's output.
    if (/^> \S+@\S+ /.test(start)) return `it starts with ${firstLine}, the banner npm prints when run without -s`;
    return `it starts with ${firstLine}, which is not JSON`;
}

/** A short description of parsed JSON that is not a plan. */
function jsonShape(value: unknown): string {
    if (value === null || typeof value !== "object") return `a ${value === null ? "null" : typeof value}`;
    if (Array.isArray(value)) return `a list of ${value.length}`;
    const keys = Object.keys(value);
    return keys.length === 0 ? "an empty object" : `an object with keys ${keys.slice(0, 6).join(", ")}`;
}

function readText(file: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (err) {
        throw new PricingError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
}
