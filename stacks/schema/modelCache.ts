// modelCache: the bucket's name, location, namespace and what it keeps for how long.
import { z } from "zod";

export const modelCacheSchema = z.strictObject({
    /** Bucket names are `<bucketPrefix>-<project>-<stack>`, shortened with a hash when too long. */
    bucketPrefix: z.string().regex(/^[a-z0-9][a-z0-9-]{1,20}$/, "must be 2-21 lowercase letters, digits or hyphens").default("warmstart-models"),
    /** Bucket location; defaults to the stack's region so reads stay in-region. */
    location: z.string().regex(/^[A-Za-z0-9-]+$/, "must be a GCS location such as EUROPE-WEST1 or EU").optional(),
    /** Hierarchical namespace gives atomic directory renames; it rules out object versioning. */
    hierarchicalNamespace: z.boolean().default(false),
    /** Days a model revision no longer in the manifest is kept before removal. */
    revisionRetentionDays: z.number().int().min(1).max(365).default(7),
    /** Days an abandoned download under `.staging/` is kept before the bucket deletes it. */
    stagingRetentionDays: z.number().int().min(1).max(30).default(1),
    /** Days a deleted object stays restorable (soft delete); 0, the default, turns it off. */
    softDeleteRetentionDays: z.number().int().refine((d) => d === 0 || (d >= 7 && d <= 90), "must be 0 (off) or 7 to 90 days, the range Cloud Storage accepts").default(0),
});
