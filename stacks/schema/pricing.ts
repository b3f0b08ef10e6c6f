// pricing: what the cost estimate (`npm run plan -- <stack> --format cost`) prices differently.
import { z } from "zod";

export const pricingSchema = z.strictObject({
    /** Prices by id of pricing/gcp.json, e.g. after a committed-use discount: `run.instance.vcpu.tier1: 0.0000149`. */
    overrides: z.record(z.string().regex(/^[a-z][A-Za-z0-9.-]*$/, "must be a price id of pricing/gcp.json such as run.instance.vcpu.tier1"), z.number().nonnegative()).default({}),
});
