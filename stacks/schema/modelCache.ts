// modelCache: the bucket's name, location, namespace and what it keeps for how long.
import { z } from "zod";
import { BUCKET_LOCATIONS } from "../cloudStorage";

export const modelCacheSchema = z.strictObject({
    /** Bucket names are `<bucketPrefix>-<project>-<stack>`, shortened with a hash when too long. */
    bucketPrefix: z.string().regex(/^[a-z0-9][a-z0-9-]{1,20}$/, "must be 2-21 lowercase letters, digits or hyphens").default("warmstart-models"),
    /** Bucket location (stacks/cloudStorage.ts), in any case; defaults to the stack's region so reads stay in-region. */
    location: z.string().refine((l) => BUCKET_LOCATIONS.includes(l.toLowerCase()), "must be a Cloud Storage location: a region such as EUROPE-WEST1, a dual-region ASIA1, EUR4 or NAM4, or a multi-region ASIA, EU or US (stacks/cloudStorage.ts)").optional(),
    /** Hierarchical namespace gives atomic directory renames; it rules out object versioning. */
    hierarchicalNamespace: z.boolean().default(false),
    /** Days a model revision no longer in the manifest is kept before removal. */
    revisionRetentionDays: z.number().int().min(1).max(365).default(7),
    /** Days an abandoned download under `.staging/` is kept before the bucket deletes it. */
    stagingRetentionDays: z.number().int().min(1).max(30).default(1),
    /** Days a deleted object stays restorable (soft delete); 0, the default, turns it off. */
    softDeleteRetentionDays: z.number().int().refine((d) => d === 0 || (d >= 7 && d <= 90), "must be 0 (off) or 7 to 90 days, the range Cloud Storage accepts").default(0),
});
