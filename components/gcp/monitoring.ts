import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as time from "@pulumiverse/time";
import { Cron } from "croner";

export interface MonitoringArgs {
    project: pulumi.Input<string>;
    /** Prefix of log-based metric names, e.g. `warmstart/ws-prod`. */
    metricPrefix: string;
    /** Cloud Run services whose entrypoint logs `cache_hit`. */
    serviceNames: pulumi.Input<string>[];
    syncJobName: pulumi.Input<string>;
    /** The sync job's cron and time zone: the failure alert's window follows it. */
    syncSchedule: string;
    syncTimeZone: string;
    /** The longest one execution can run: task timeout times attempts (1 + retries). */
    syncMaxRunSeconds: number;
    bucketName: pulumi.Input<string>;
    /** Alert recipients. */
    emails: string[];
    /** Hourly cache-hit rate below this share alerts (0.9 = 90 %). */
    cacheHitRateThreshold: number;
    /** This many failed sync executions in a row alert. */
    consecutiveFailedSyncs: number;
    /** Bucket quota in GiB; no usage alert without it. */
    bucketQuotaGiB?: number;
    /** Share of the quota that alerts (0.8 = 80 %). */
    bucketUsageThreshold: number;
    /** Link shown in every alert, e.g. the runbook, docs/operations.md. */
    runbookUrl?: string;
}

/**
 * Log filter of the entrypoint's one JSON line per container start (see images/cuda-base):
 * every check, or the misses only. Misses are counted, not hits: a ratio of hits to checks has
 * no numerator series in an hour without a hit, so it would be silent exactly when every start misses.
 */
export function cacheCheckFilter(serviceNames: string[], missesOnly: boolean): string {
    const services = serviceNames.map((s) => `"${s}"`).join(" OR ");
    return [
        'resource.type="cloud_run_revision"',
        `resource.labels.service_name=(${services})`,
        missesOnly ? "jsonPayload.cache_hit=false" : "jsonPayload.cache_hit:*",
    ].join(" AND ");
}

/**
 * How long alert policies on brand-new log-based metrics wait after the metrics are created: the
 * API refuses them with "Cannot find metric(s)" for up to ~10 minutes (terraform-provider-google #11102).
 */
export const NEW_METRIC_SETTLE = "10m";

/** Log filter of the sync program's summary line (images/model-sync: `sync finished…`). */
export function syncSummaryFilter(jobName: pulumi.Input<string>): pulumi.Output<string> {
    return pulumi.interpolate`resource.type="cloud_run_job" AND resource.labels.job_name="${jobName}" AND jsonPayload.message=~"^sync finished" AND jsonPayload.outcome:*`;
}

/** Seconds between two runs of a cron schedule (the first two upcoming runs). */
export function scheduleIntervalSeconds(schedule: string, timeZone: string): number {
    const [a, b] = new Cron(schedule, { paused: true, timezone: timeZone }).nextRuns(2);
    return Math.round((b.getTime() - a.getTime()) / 1000);
}

/** The cache alert's threshold: a hit rate under `hitRate` is a miss share over 1 - hitRate. */
export function missShareThreshold(hitRate: number): number {
    return Math.round((1 - hitRate) * 1e6) / 1e6;
}

/**
 * The look-back of the "N failed executions in a row" alert: N schedule intervals plus the
 * longest run, so N consecutive runs fit even when retries or a DST change move their times.
 */
export function failedSyncWindowSeconds(intervalSeconds: number, consecutive: number, maxRunSeconds: number): number {
    return intervalSeconds * consecutive + maxRunSeconds;
}

/**
 * PromQL: at least N failed executions in the window, unless one succeeded in it (then the
 * failures were not in a row). No state carries between evaluations, so a drifting run time
 * cannot reset it, as a one-interval threshold window held for N-1 intervals could.
 * Metric names follow Cloud Monitoring's PromQL mapping (first `/` to `:`, the rest to `_`).
 */
export function failedSyncQuery(jobName: string, consecutive: number, windowSeconds: number): string {
    const executions = (result: string) =>
        `sum(increase(run_googleapis_com:job_completed_execution_count{monitored_resource="cloud_run_job",job_name="${jobName}",result="${result}"}[${windowSeconds}s]))`;
    return `${executions("failed")} >= ${consecutive} unless ${executions("succeeded")} > 0`;
}

function documentation(title: string, meaning: string, action: string, runbookUrl?: string): gcp.types.input.monitoring.AlertPolicyDocumentation {
    return {
        subject: `warmstart: ${title}`,
        mimeType: "text/markdown",
        content: `**What it means.** ${meaning}\n\n**What to do.** ${action}`,
        links: runbookUrl !== undefined ? [{ displayName: "warmstart runbook", url: runbookUrl }] : undefined,
    };
}

/**
 * Tells you when the cache stops working: log-based metrics from the services' `cache_hit`
 * lines, and alert policies on the hit rate, failed syncs and bucket usage, sent to email.
 */
export class Monitoring extends pulumi.ComponentResource {
    readonly channels: gcp.monitoring.NotificationChannel[];
    readonly policies: gcp.monitoring.AlertPolicy[] = [];

    constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:ops:Monitoring", name, {}, opts);
        const parent = { parent: this };

        this.channels = args.emails.map((email, i) => new gcp.monitoring.NotificationChannel(`${name}-email-${i}`, {
            project: args.project,
            type: "email",
            displayName: `warmstart alerts: ${email}`,
            labels: { email_address: email },
        }, parent));
        const notificationChannels = this.channels.map((c) => c.name);

        const counter = (suffix: string, description: string, filter: pulumi.Input<string>) => new gcp.logging.Metric(`${name}-${suffix}`, {
            project: args.project,
            name: `${args.metricPrefix}/${suffix.replace(/-/g, "_")}`,
            description,
            filter,
            metricDescriptor: { metricKind: "DELTA", valueType: "INT64", unit: "1", labels: [{ key: "service", valueType: "STRING", description: "Cloud Run service" }] },
            labelExtractors: { service: "EXTRACT(resource.labels.service_name)" },
        }, parent);
        const names = pulumi.all(args.serviceNames);
        const checks = counter("cache-checks", "Container starts that checked the model cache", names.apply((n) => cacheCheckFilter(n, false)));
        const misses = counter("cache-misses", "Container starts that found no complete model cache", names.apply((n) => cacheCheckFilter(n, true)));
        // Policies on these metrics wait once, when the metrics are created (Sleep waits on
        // create only); a renamed metric replaces the Sleep through its triggers and waits again.
        const metricsSettled = new time.Sleep(`${name}-metrics-settle`, {
            createDuration: NEW_METRIC_SETTLE,
            triggers: { metrics: pulumi.interpolate`${checks.name},${misses.name}` },
        }, { ...parent, dependsOn: [checks, misses] });

        const hourlySum = [{ alignmentPeriod: "3600s", perSeriesAligner: "ALIGN_SUM", crossSeriesReducer: "REDUCE_SUM", groupByFields: ["metric.label.service"] }];
        const pct = (share: number) => `${Math.round(share * 100)} %`;
        this.alert(`${name}-cache-hit-rate`, {
            project: args.project,
            displayName: `Model cache hit rate under ${pct(args.cacheHitRateThreshold)}`,
            severity: "WARNING",
            notificationChannels,
            condition: {
                displayName: `hourly cache-miss share > ${pct(1 - args.cacheHitRateThreshold)}`,
                conditionThreshold: {
                    filter: pulumi.interpolate`metric.type="logging.googleapis.com/user/${misses.name}" AND resource.type="cloud_run_revision"`,
                    denominatorFilter: pulumi.interpolate`metric.type="logging.googleapis.com/user/${checks.name}" AND resource.type="cloud_run_revision"`,
                    aggregations: hourlySum,
                    denominatorAggregations: hourlySum,
                    // Hit rate under T is a miss share over 1 - T (rounded: 1 - 0.9 is not 0.1 in floats).
                    comparison: "COMPARISON_GT",
                    thresholdValue: missShareThreshold(args.cacheHitRateThreshold),
                    duration: "0s",
                    // No container starts in an hour is not a miss.
                    evaluationMissingData: "EVALUATION_MISSING_DATA_INACTIVE",
                },
            },
            title: "model cache misses",
            meaning: "Services are starting without a complete model cache: they fall back to a local directory and download models at start, which makes cold starts slow.",
            action: "Check the last sync execution (`gcloud run jobs executions list --job <syncJobName>`), read `manifest.json` and `.done` in the bucket, and run a sync by hand (`pulumi stack output runSyncCommand`). The services' `cache_hit: false` log lines give the reason.",
            runbookUrl: args.runbookUrl,
        }, { ...parent, dependsOn: [metricsSettled] });

        // The sync's own summary line per run (outcome, bytes, failed models), for charts and log
        // queries. The alert below counts executions instead: with retries, one failed execution
        // writes several failed summaries, and a retried attempt that then succeeds is no failure.
        new gcp.logging.Metric(`${name}-sync-runs`, {
            project: args.project,
            name: `${args.metricPrefix}/sync_runs`,
            description: "Model sync runs by outcome, from the sync program's summary line",
            filter: syncSummaryFilter(args.syncJobName),
            metricDescriptor: { metricKind: "DELTA", valueType: "INT64", unit: "1", labels: [{ key: "outcome", valueType: "STRING", description: "succeeded or failed" }] },
            labelExtractors: { outcome: "EXTRACT(jsonPayload.outcome)" },
        }, parent);

        const windowSeconds = failedSyncWindowSeconds(scheduleIntervalSeconds(args.syncSchedule, args.syncTimeZone), args.consecutiveFailedSyncs, args.syncMaxRunSeconds);
        this.alert(`${name}-sync-failures`, {
            project: args.project,
            displayName: `Model sync failed ${args.consecutiveFailedSyncs} times in a row`,
            severity: "ERROR",
            notificationChannels,
            condition: {
                displayName: `${args.consecutiveFailedSyncs} consecutive failed sync executions`,
                conditionPrometheusQueryLanguage: {
                    query: pulumi.output(args.syncJobName).apply((job) => failedSyncQuery(job, args.consecutiveFailedSyncs, windowSeconds)),
                    duration: "0s",
                    evaluationInterval: "300s",
                },
            },
            title: "model sync failing",
            meaning: "The nightly sync has failed several times in a row. Services keep serving the last published revision (the previous manifest stays intact), but new models and revisions are not arriving.",
            action: "Read the failed executions' logs (`gcloud run jobs executions list --job <syncJobName>`, then `gcloud logging read` on the execution): the summary line names the failed models. Typical causes: an upstream revision that no longer exists, a gated model without `sync.hfTokenSecret`, a timeout too short for a large model.",
            runbookUrl: args.runbookUrl,
        }, parent);

        if (args.bucketQuotaGiB !== undefined) {
            const thresholdBytes = Math.round(args.bucketQuotaGiB * args.bucketUsageThreshold * 2 ** 30);
            this.alert(`${name}-bucket-usage`, {
                project: args.project,
                displayName: `Model cache over ${pct(args.bucketUsageThreshold)} of ${args.bucketQuotaGiB} GiB`,
                severity: "WARNING",
                notificationChannels,
                condition: {
                    displayName: `bucket size > ${pct(args.bucketUsageThreshold)} of quota`,
                    conditionThreshold: {
                        filter: pulumi.interpolate`metric.type="storage.googleapis.com/storage/v2/total_bytes" AND resource.type="gcs_bucket" AND resource.labels.bucket_name="${args.bucketName}"`,
                        aggregations: [{ alignmentPeriod: "3600s", perSeriesAligner: "ALIGN_MEAN", crossSeriesReducer: "REDUCE_SUM" }],
                        comparison: "COMPARISON_GT",
                        thresholdValue: thresholdBytes,
                        duration: "0s",
                    },
                },
                title: "model cache filling up",
                meaning: "The model cache bucket is close to its configured quota.",
                action: "Lower `modelCache.revisionRetentionDays` so old revisions go sooner, drop models from `models`, or raise `monitoring.bucketQuotaGiB` if the growth is expected.",
                runbookUrl: args.runbookUrl,
            }, parent);
        }

        this.registerOutputs({ policies: this.policies.map((p) => p.name) });
    }

    /** One alert policy: a single condition, sent to every channel, with what to do written in it. */
    private alert(name: string, alert: AlertArgs, opts: pulumi.CustomResourceOptions): void {
        this.policies.push(new gcp.monitoring.AlertPolicy(name, {
            project: alert.project,
            displayName: alert.displayName,
            combiner: "OR",
            severity: alert.severity,
            notificationChannels: alert.notificationChannels,
            conditions: [alert.condition],
            documentation: documentation(alert.title, alert.meaning, alert.action, alert.runbookUrl),
        }, opts));
    }
}

interface AlertArgs {
    project: pulumi.Input<string>;
    displayName: string;
    severity: "WARNING" | "ERROR";
    notificationChannels: pulumi.Input<string>[];
    condition: gcp.types.input.monitoring.AlertPolicyCondition;
    /** The mail's subject, what the alert means and what to do about it. */
    title: string;
    meaning: string;
    action: string;
    runbookUrl?: string;
}
