import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { MODEL_MOUNT_PATH, MODEL_VOLUME_NAME } from "../../contract/modelCache";

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
 * gcsfuse flags (without the leading dashes, as Cloud Run takes them) for services that only
 * read models. Revision directories are immutable once published and a fresh instance reads the
 * manifest once at start, so metadata can be cached for the instance's lifetime: this turns the
 * many stat/list calls of a model loader into one round trip each.
 */
export function readOnlyMountOptions(): string[] {
    return [
        // Objects written through other tools (gcloud storage cp) have no directory placeholders.
        "implicit-dirs",
        // Immutable revision directories: a cached stat or type never goes stale.
        "metadata-cache-ttl-secs=-1",
        // Enough for tens of thousands of model files without unbounded memory.
        "stat-cache-max-size-mb=64",
        "type-cache-max-size-mb=16",
        // Directory listings (tokenizer and shard discovery) served from the kernel after the first.
        "kernel-list-cache-ttl-secs=-1",
    ];
}

/** gcsfuse flags for the sync job, which writes and must see the bucket as it is now. */
export function readWriteMountOptions(): string[] {
    return [
        "implicit-dirs",
        // The writer must see what the previous run published, not a cached view of it.
        "metadata-cache-ttl-secs=0",
        // Publishing renames staged files into place; on a flat bucket a directory rename is a
        // copy per object, allowed up to this many.
        "rename-dir-limit=200000",
    ];
}

/**
 * Cloud Storage soft delete (on by default, 7 days) keeps every deleted or overwritten object,
 * billed, on top of versioning: 0 turns it off, which the cache can afford since the sync can
 * fetch any model again.
 */
export function softDeletePolicy(days: number): gcp.types.input.storage.BucketSoftDeletePolicy {
    return { retentionDurationSeconds: days * 86400 };
}

/** ModelCache's component type, the first part of its children's URNs. */
export const MODEL_CACHE_TYPE = "warmstart:storage:ModelCache";

/** The Pulumi name of a ModelCache's bucket. */
export function bucketResourceName(componentName: string): string {
    return `${componentName}-bucket`;
}

/** The URN of the bucket of the ModelCache `componentName` at the top of a stack: what `pulumi state` commands take. */
export function modelCacheBucketUrn(project: string, stack: string, componentName: string): string {
    return `urn:pulumi:${stack}::${project}::${MODEL_CACHE_TYPE}$gcp:storage/bucket:Bucket::${bucketResourceName(componentName)}`;
}

/** What the previous deploy recorded of the bucket; undefined fields are unknown. */
export interface DeployedBucket {
    bucketName?: unknown;
    hierarchicalNamespace?: unknown;
    location?: unknown;
}

/** What this deploy asks of the bucket, and what a refusal needs to say. */
export interface WantedBucket {
    bucketName: string;
    hierarchicalNamespace: boolean;
    location: string;
    /** The key the location is read from: `warmstart:modelCache.location`, or `warmstart:region` when no location pins it. */
    locationKey: string;
    /** Protected and retained on delete (deletionProtection). */
    protect: boolean;
    /** The bucket's URN, for `pulumi state unprotect`. */
    urn: string;
}

/**
 * The way out that works when a setting fixed at creation must change: another bucket, under a
 * new bucketPrefix. A protected bucket cannot be replaced (the engine refuses while both the old
 * state and the program protect it) until `pulumi state unprotect`; it is then retained on
 * delete: the old bucket leaves the stack and stays in GCP with its models.
 */
export function moveToNewBucket(wanted: Pick<WantedBucket, "protect" | "urn">, oldBucket: string): string {
    if (!wanted.protect) {
        return "move the cache to a new bucket: set warmstart:modelCache.bucketPrefix to a new prefix, and `pulumi up` creates the new bucket, " +
            "fills it and deletes the old one with its models";
    }
    return `move the cache to a new bucket: run \`pulumi state unprotect '${wanted.urn}'\`, then set warmstart:modelCache.bucketPrefix to a new prefix, ` +
        "and `pulumi up` creates the new bucket (protected), fills it, and lets the old one leave the stack but stay in GCP with its models " +
        `(retained on delete) until you delete it: \`gcloud storage rm -r gs://${oldBucket}\``;
}

/**
 * Refuses, for the existing bucket (same name as the previous deploy's), a change of a setting
 * Cloud Storage fixes when a bucket is created (its hierarchical namespace, its location): the
 * provider would replace the bucket — refused in prod (protected), and in dev a delete of every
 * cached model. Each problem names the key and says how to keep the bucket or leave it.
 */
export function fixedSettingProblems(deployed: DeployedBucket, wanted: WantedBucket): string[] {
    if (deployed.bucketName !== wanted.bucketName) return [];
    const bucket = wanted.bucketName;
    const problems: string[] = [];
    if (typeof deployed.hierarchicalNamespace === "boolean" && deployed.hierarchicalNamespace !== wanted.hierarchicalNamespace) {
        const was = String(deployed.hierarchicalNamespace);
        problems.push(
            `warmstart:modelCache.hierarchicalNamespace: cannot change from ${was} to ${String(wanted.hierarchicalNamespace)} (value ${String(wanted.hierarchicalNamespace)}) ` +
            `on the existing bucket ${bucket}: Cloud Storage sets it when a bucket is created. Keep ${was}, or ${moveToNewBucket(wanted, bucket)}.`,
        );
    }
    if (typeof deployed.location === "string" && deployed.location.toUpperCase() !== wanted.location.toUpperCase()) {
        const was = deployed.location.toUpperCase();
        const pin = wanted.locationKey === "warmstart:modelCache.location" ? "set it back to" : "pin the bucket with warmstart:modelCache.location:";
        problems.push(
            `${wanted.locationKey}: would move the existing bucket ${bucket} from ${was} to ${wanted.location.toUpperCase()} (value ${JSON.stringify(wanted.location)}): ` +
            `Cloud Storage fixes a bucket's location when it is created, so it would be replaced${wanted.protect ? "" : ", deleting every cached model"}. ` +
            `Keep it where it is (${pin} ${was}), or ${moveToNewBucket(wanted, bucket)}.`,
        );
    }
    return problems;
}

/** A Cloud Storage volume of a Cloud Run service or job, and where its containers mount it. */
export interface CloudRunVolume {
    volume: { name: string; gcs: { bucket: pulumi.Input<string>; readOnly: boolean; mountOptions: string[] } };
    mount: { name: string; mountPath: string };
}

/**
 * The GCS bucket that holds the models: private (uniform access, public access prevention
 * enforced), reached only through the grants made with `grantRead` and `grantWrite`.
 */
export class ModelCache extends pulumi.ComponentResource {
    readonly bucket: gcp.storage.Bucket;
    readonly bucketName: pulumi.Output<string>;

    constructor(componentName: string, args: ModelCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super(MODEL_CACHE_TYPE, componentName, {}, opts);
        this.bucket = new gcp.storage.Bucket(bucketResourceName(componentName), {
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

    /** The bucket as a Cloud Run volume and its mount, for a service: read-only, metadata cached. */
    readVolume(): CloudRunVolume {
        return this.volume(true, readOnlyMountOptions());
    }

    /** The bucket as a Cloud Run volume and its mount, for the sync job, the only writer. */
    writeVolume(): CloudRunVolume {
        return this.volume(false, readWriteMountOptions());
    }

    private volume(readOnly: boolean, mountOptions: string[]): CloudRunVolume {
        return {
            volume: { name: MODEL_VOLUME_NAME, gcs: { bucket: this.bucketName, readOnly, mountOptions } },
            mount: { name: MODEL_VOLUME_NAME, mountPath: MODEL_MOUNT_PATH },
        };
    }

    private grant(name: string, role: string, member: pulumi.Input<string>, opts?: pulumi.CustomResourceOptions): gcp.storage.BucketIAMMember {
        // Non-authoritative member binding on this bucket only: never replaces grants made elsewhere.
        return new gcp.storage.BucketIAMMember(name, { bucket: this.bucket.name, role, member }, { parent: this, ...opts });
    }
}
