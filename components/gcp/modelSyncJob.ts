import { createHash } from "crypto";
import * as gcp from "@pulumi/gcp";
import stableStringify from "fast-json-stable-stringify";
import * as pulumi from "@pulumi/pulumi";
import type { ModelSpec } from "../../images/model-sync/src/models";
import type { ModelCache } from "./modelCache";
import { envList, LOCK_BUCKET_ENV, syncJobEnv } from "../../contract/modelCache";
import { MAX_LENGTH, resourceId } from "../shared/naming";

export interface ModelSyncJobArgs {
    project: pulumi.Input<string>;
    region: string;
    /** Cloud Run job name. */
    jobName: string;
    /** Id of the job's own service account (the only writer of the cache). */
    accountId: string;
    /** Id of the account Cloud Scheduler calls the Run API as. */
    schedulerAccountId: string;
    /** The sync program's image, pinned by digest. */
    image: pulumi.Input<string>;
    modelCache: ModelCache;
    /** The models list, passed to the program as `MODELS_JSON`. */
    models: ModelSpec[];
    /** Days an unreferenced revision is kept before the sync removes it. */
    revisionRetentionDays: number;
    /** Cron in Cloud Scheduler syntax, and its time zone. */
    schedule: string;
    timeZone: string;
    timeoutSeconds: number;
    maxRetries: number;
    cpu: string;
    memory: string;
    /**
     * Seed the cache before the services start: a second job, run once at creation and again
     * whenever what it runs changes, reports ready only when that run completed; the services
     * depend on it and start on a filled cache.
     */
    seedOnCreate: boolean;
    /** Secret Manager secret id of a Hugging Face token, for gated repositories. */
    hfTokenSecret?: string;
    /** Cloud Run deletion protection of the scheduled job (the seed job has none: see below). */
    deletionProtection: boolean;
}

/** The longest execution token the API takes: job name + token must stay under 63 characters. */
export function maxExecutionTokenLength(jobName: string): number {
    return 62 - jobName.length;
}

/**
 * The seed job's run token, derived from every other input of the job (its name, project,
 * location and the whole template: image digest, models list, resources, mount, account), keys
 * sorted: the same job gives the same token, and the execution it names, `<job>-<token>`, says
 * which spec ran. A lowercase letter, then hex, within the API's length limit.
 */
export function seedExecutionToken(jobName: string, spec: unknown): string {
    const length = Math.min(16, maxExecutionTokenLength(jobName));
    return `s${createHash("sha256").update(stableStringify(spec)).digest("hex").slice(0, length - 1)}`;
}

/**
 * How the seed job changes: never in place. Any change replaces it, old job first (its name is
 * fixed), so its run token is only ever sent by a create: an update would PATCH the job with the
 * token it already ran, which the API refuses once it holds that execution. A create or replace
 * whose run failed leaves the job with init errors, and `*` covers them: the next `up` replaces
 * the job again and runs it again, instead of resuming it with the failed run's token.
 */
export const SEED_REPLACEMENT: Pick<pulumi.CustomResourceOptions, "replaceOnChanges" | "deleteBeforeReplace"> = {
    replaceOnChanges: ["*"],
    deleteBeforeReplace: true,
};

/** The seed job's name, beside the scheduled one's. */
export function seedJobName(jobName: string): string {
    return resourceId([jobName, "seed"], MAX_LENGTH.cloudRun);
}

/**
 * How long creating (or updating) the seed job may take: it waits for its execution, and each
 * of the `maxRetries + 1` attempts may run the full task timeout; 15 minutes on top for creating
 * the job, scheduling the attempts and mounting the bucket.
 */
export function seedRunTimeout(timeoutSeconds: number, maxRetries: number): string {
    return `${Math.ceil(((maxRetries + 1) * timeoutSeconds) / 60) + 15}m`;
}

/** The Cloud Run Admin API endpoint that starts one execution of a job. */
export function jobRunUri(project: string, region: string, jobName: string): string {
    return `https://run.googleapis.com/v2/projects/${project}/locations/${region}/jobs/${jobName}:run`;
}

/**
 * The nightly model sync: a Cloud Run job whose own account is the only writer of the cache
 * bucket, mounted read-write at /models, and a Cloud Scheduler job that starts it through the Run
 * API as a separate account that may run this job and nothing else.
 */
export class ModelSyncJob extends pulumi.ComponentResource {
    readonly account: gcp.serviceaccount.Account;
    /** The scheduled job. */
    readonly job: gcp.cloudrunv2.Job;
    /** The seeding job, with `seedOnCreate`: ready once its run for the current spec completed. */
    readonly seed?: gcp.cloudrunv2.Job;
    readonly schedulerAccount: gcp.serviceaccount.Account;
    readonly schedule: gcp.cloudscheduler.Job;
    readonly jobName: pulumi.Output<string>;

    constructor(name: string, args: ModelSyncJobArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:run:ModelSyncJob", name, {}, opts);

        this.account = new gcp.serviceaccount.Account(`${name}-sa`, {
            project: args.project,
            accountId: args.accountId,
            displayName: `warmstart model sync ${args.jobName}`,
            description: "Runs the model sync job; the only writer of the model cache bucket.",
        }, { parent: this });
        const member = pulumi.interpolate`serviceAccount:${this.account.email}`;
        const grants: pulumi.Resource[] = [args.modelCache.grantWrite(`${name}-models-write`, member, { parent: this })];

        const secretEnv: gcp.types.input.cloudrunv2.JobTemplateTemplateContainerEnv[] = [];
        if (args.hfTokenSecret !== undefined) {
            // Access to this one secret only, not the project's secrets.
            grants.push(new gcp.secretmanager.SecretIamMember(`${name}-hf-token-access`, {
                project: args.project,
                secretId: args.hfTokenSecret,
                role: "roles/secretmanager.secretAccessor",
                member,
            }, { parent: this }));
            secretEnv.push({ name: "HF_TOKEN", valueSource: { secretKeyRef: { secret: args.hfTokenSecret, version: "latest" } } });
        }

        const models = args.modelCache.writeVolume();
        const template: gcp.types.input.cloudrunv2.JobTemplate = {
            taskCount: 1,
            parallelism: 1,
            template: {
                serviceAccount: this.account.email,
                executionEnvironment: "EXECUTION_ENVIRONMENT_GEN2",
                timeout: `${args.timeoutSeconds}s`,
                maxRetries: args.maxRetries,
                volumes: [models.volume],
                containers: [{
                    image: args.image,
                    resources: { limits: { cpu: args.cpu, memory: args.memory } },
                    // The run lock lives in the bucket itself, taken through the JSON API (images/model-sync).
                    envs: [...envList(syncJobEnv(args)), { name: LOCK_BUCKET_ENV, value: args.modelCache.bucketName }, ...secretEnv],
                    volumeMounts: [models.mount],
                }],
            },
        };

        // The scheduled job carries no run token: the provider re-sends a token on every update,
        // and once the scheduler has run the job the API no longer holds it, so the update would
        // ask for an execution that already exists (magic-modules #19060).
        this.job = new gcp.cloudrunv2.Job(`${name}-job`, {
            project: args.project,
            location: args.region,
            name: args.jobName,
            deletionProtection: args.deletionProtection,
            template,
        }, { parent: this, dependsOn: grants });
        this.jobName = this.job.name;

        if (args.seedOnCreate) {
            // The same task in a job only Pulumi runs, by token: nothing else ever executes it, so
            // the API keeps the token, a refresh reads it back and an unchanged spec is no diff.
            const seedName = seedJobName(args.jobName);
            const seedArgs = {
                project: args.project,
                location: args.region,
                name: seedName,
                // Off in every stack: the job holds nothing and is re-created at will, and the
                // provider refuses to delete a job whose state says otherwise, which would block
                // both its replacement and turning seeding off.
                deletionProtection: false,
                template,
            };
            this.seed = new gcp.cloudrunv2.Job(`${name}-seed`, {
                ...seedArgs,
                runExecutionToken: pulumi.output(seedArgs).apply((spec) => seedExecutionToken(seedName, spec)),
            }, {
                parent: this,
                dependsOn: grants,
                ...SEED_REPLACEMENT,
                // Creating it waits for the whole execution.
                customTimeouts: { create: seedRunTimeout(args.timeoutSeconds, args.maxRetries) },
            });
        }

        this.schedulerAccount = new gcp.serviceaccount.Account(`${name}-scheduler-sa`, {
            project: args.project,
            accountId: args.schedulerAccountId,
            displayName: `warmstart scheduler for ${args.jobName}`,
            description: "Cloud Scheduler starts the model sync job as this account; it can run that job only.",
        }, { parent: this });
        const invoker = this.grantRun(`${name}-scheduler-invoker`, pulumi.interpolate`serviceAccount:${this.schedulerAccount.email}`);

        this.schedule = new gcp.cloudscheduler.Job(`${name}-schedule`, {
            project: args.project,
            region: args.region,
            description: `Starts ${args.jobName} on schedule`,
            schedule: args.schedule,
            timeZone: args.timeZone,
            attemptDeadline: "180s",
            // A failed start is retried; an execution already running holds the sync's lock.
            retryConfig: { retryCount: 3, minBackoffDuration: "60s", maxBackoffDuration: "600s", maxDoublings: 3 },
            httpTarget: {
                httpMethod: "POST",
                uri: pulumi.all([this.job.project, this.job.name]).apply(([project, job]) => jobRunUri(project, args.region, job)),
                oauthToken: {
                    serviceAccountEmail: this.schedulerAccount.email,
                    scope: "https://www.googleapis.com/auth/cloud-platform",
                },
            },
        }, {
            parent: this,
            // Without the binding the first scheduled call would fail with 403.
            dependsOn: [invoker],
        });

        this.registerOutputs({ jobName: this.jobName, account: this.account.email, schedulerAccount: this.schedulerAccount.email });
    }

    /** roles/run.invoker on this job only: lets a member start executions of it. */
    grantRun(name: string, member: pulumi.Input<string>): gcp.cloudrunv2.JobIamMember {
        return new gcp.cloudrunv2.JobIamMember(name, {
            project: this.job.project,
            location: this.job.location,
            name: this.job.name,
            role: "roles/run.invoker",
            member,
        }, { parent: this });
    }
}
