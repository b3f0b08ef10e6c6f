import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";

export interface ModelCacheArgs {
    project: pulumi.Input<string>;
    /** Globally unique bucket name. */
    bucketName: string;
    /** GCS location; the stack's region keeps reads in-region. */
    location: string;
    /** Hierarchical namespace: atomic folder renames, no object versioning. */
    hierarchicalNamespace: boolean;
    /** Days a superseded manifest or marker version is kept, for rollback. */
    revisionRetentionDays: number;
    /** Days an abandoned download under `.staging/` is kept. */
    stagingRetentionDays: number;
    /** Days a deleted object stays restorable (Cloud Storage soft delete); 0 turns it off. */
    softDeleteRetentionDays: number;
    /**
     * Prod: the bucket is protected (Pulumi refuses to delete it) and kept in GCP when removed
     * from the stack. Dev: `pulumi destroy` deletes it with its objects.
     */
    protect: boolean;
}

/** Prefix the sync job downloads into before publishing; never read by services. */
export const STAGING_PREFIX = ".staging/";

/** The published pair a rollback restores (docs/model-cache-contract.md). */
export const PUBLISHED_OBJECTS = ["manifest.json", ".done"];

/**
 * Everything else the sync writes, by top-level prefix: the model directories (Hugging Face,
 * Ollama, plain URLs, sentence-transformers), staging, and its lock and state files (`.sync…`).
 */
export const MODEL_PREFIXES = ["huggingface/", "ollama/", "url/", "sentence-transformers/"];
export const SYNC_PREFIXES = [STAGING_PREFIX, ".sync"];

/** Superseded model files outlive their deletion by this long, and no longer. */
export const NONCURRENT_MODEL_DAYS = 1;

/**
 * Lifecycle of the cache. Abandoned staging downloads go after the staging retention. With
 * versioning, a superseded `manifest.json` or `.done` is kept for the revision retention (the
 * rollback window); a superseded or deleted model file, staged download or sync file for a day
 * only — the sync itself keeps unreferenced revision directories for the retention, so keeping
 * their noncurrent copies as long again would pay for every multi-GB revision twice. Removing
 * unreferenced revision directories is the sync job's work: only it knows what the manifest names.
 */
export function modelCacheLifecycle(args: Pick<ModelCacheArgs, "hierarchicalNamespace" | "revisionRetentionDays" | "stagingRetentionDays">): gcp.types.input.storage.BucketLifecycleRule[] {
    const rules: gcp.types.input.storage.BucketLifecycleRule[] = [
        { action: { type: "Delete" }, condition: { age: args.stagingRetentionDays, matchesPrefixes: [STAGING_PREFIX] } },
        { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: args.stagingRetentionDays } },
    ];
    if (!args.hierarchicalNamespace) {
        rules.push(
            { action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: args.revisionRetentionDays, withState: "ARCHIVED", matchesPrefixes: PUBLISHED_OBJECTS } },
            { action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: NONCURRENT_MODEL_DAYS, withState: "ARCHIVED", matchesPrefixes: [...MODEL_PREFIXES, ...SYNC_PREFIXES] } },
        );
    }
    return rules;
}

/**
 * Cloud Storage soft delete (on by default, 7 days) keeps every deleted or overwritten object,
 * billed, on top of versioning: 0 turns it off, which the cache can afford since the sync can
 * fetch any model again.
 */
export function softDeletePolicy(days: number): gcp.types.input.storage.BucketSoftDeletePolicy {
    return { retentionDurationSeconds: days * 86400 };
}

/** What the previous deploy recorded of the bucket; undefined fields are unknown. */
export interface DeployedBucket {
    bucketName?: unknown;
    hierarchicalNamespace?: unknown;
}

/**
 * Refuses to switch the hierarchical namespace of a bucket that exists: Cloud Storage sets it at
 * creation only, so the provider would replace the bucket — refused in prod (protected), and
 * in dev a delete of every cached model, or a create that fails because the name is taken. A new
 * bucket name (another bucketPrefix) is a new bucket, and may have either setting.
 */
export function checkHierarchicalNamespace(deployed: DeployedBucket, bucketName: string, wanted: boolean): void {
    if (deployed.bucketName !== bucketName || typeof deployed.hierarchicalNamespace !== "boolean") return;
    if (deployed.hierarchicalNamespace === wanted) return;
    throw new Error(
        `warmstart:modelCache.hierarchicalNamespace: cannot change from ${String(deployed.hierarchicalNamespace)} to ${String(wanted)} (value ${String(wanted)}) ` +
        `on the existing bucket ${bucketName}: Cloud Storage sets it when a bucket is created. Keep ${String(deployed.hierarchicalNamespace)}, ` +
        `or set warmstart:modelCache.bucketPrefix to move the cache to a new bucket (the sync fills it; remove the old one yourself).`,
    );
}

/**
 * The GCS bucket that holds the models: private (uniform access, public access prevention
 * enforced), reached only through the grants made with `grantRead` and `grantWrite`.
 */
export class ModelCache extends pulumi.ComponentResource {
    readonly bucket: gcp.storage.Bucket;
    readonly bucketName: pulumi.Output<string>;

    constructor(componentName: string, args: ModelCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:storage:ModelCache", componentName, {}, opts);
        this.bucket = new gcp.storage.Bucket(`${componentName}-bucket`, {
            project: args.project,
            name: args.bucketName,
            location: args.location,
            storageClass: "STANDARD",
            uniformBucketLevelAccess: true,
            publicAccessPrevention: "enforced",
            hierarchicalNamespace: args.hierarchicalNamespace ? { enabled: true } : undefined,
            // Versioning keeps the previous manifest.json and .done for rollback; HNS buckets
            // do not support it.
            versioning: { enabled: !args.hierarchicalNamespace },
            lifecycleRules: modelCacheLifecycle(args),
            softDeletePolicy: softDeletePolicy(args.softDeleteRetentionDays),
            forceDestroy: !args.protect,
            labels: { "warmstart-role": "model-cache" },
        }, { parent: this, protect: args.protect, retainOnDelete: args.protect });
        this.bucketName = this.bucket.name;
        this.registerOutputs({ bucketName: this.bucketName });
    }

    /** Read-only access to this bucket's objects, for services that mount it read-only. */
    grantRead(name: string, member: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): gcp.storage.BucketIAMMember {
        return this.grant(name, "roles/storage.objectViewer", member, opts);
    }

    /** Read, create, overwrite and delete objects in this bucket only, for the sync job. */
    grantWrite(name: string, member: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): gcp.storage.BucketIAMMember {
        return this.grant(name, "roles/storage.objectUser", member, opts);
    }

    private grant(name: string, role: string, member: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): gcp.storage.BucketIAMMember {
        // Non-authoritative member binding on this bucket only: never replaces grants made elsewhere.
        return new gcp.storage.BucketIAMMember(name, { bucket: this.bucket.name, role, member }, { parent: this, ...opts });
    }
}
