// monitoring: alerts on cache misses, failed syncs and bucket usage, and who receives them.
import { z } from "zod";

export const monitoringSchema = z.strictObject({
    /** Create the log-based metrics, alert policies and notification channels. */
    enabled: z.boolean().default(false),
    /** Who receives the alerts. */
    notificationEmails: z.array(z.email({ error: "must be an email address" })).default([]),
    /** Hourly share of container starts that must find a complete cache. */
    cacheHitRateThreshold: z.number().gt(0).max(1).default(0.9),
    /** Failed sync executions in a row that alert. */
    consecutiveFailedSyncs: z.number().int().min(1).max(10).default(2),
    /** The bucket's quota in GiB; no usage alert without it. */
    bucketQuotaGiB: z.number().positive().optional(),
    /** Share of the quota that alerts. */
    bucketUsageThreshold: z.number().gt(0).max(1).default(0.8),
    /** Link in every alert to the runbook. */
    runbookUrl: z.url({ protocol: /^https$/, error: "must be an https:// URL" }).optional(),
}).superRefine((m, ctx) => {
    if (m.enabled && m.notificationEmails.length === 0) {
        ctx.addIssue({ code: "custom", path: ["notificationEmails"], message: "must list at least one address when monitoring.enabled is true (an alert nobody receives is silent)", input: [] });
    }
});
