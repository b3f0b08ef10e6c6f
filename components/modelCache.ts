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
    /**
     * Prod: the bucket is protected (Pulumi refuses to delete it) and kept in GCP when removed
     * from the stack. Dev: `pulumi destroy` deletes it with its objects.
     */
    protect: boolean;
}

/** Prefix the sync job downloads into before publishing; never read by services. */
export const STAGING_PREFIX = ".staging/";

/**
 * Lifecycle of the cache: abandoned staging downloads go after a day or so, and superseded
 * versions of overwritten objects (manifest.json, .done) after the revision retention — long
 * enough to roll back to the previous manifest. Removing unreferenced revision directories is
 * the sync job's work: only it knows which revisions the manifest still names.
 */
export function modelCacheLifecycle(args: Pick<ModelCacheArgs, "hierarchicalNamespace" | "revisionRetentionDays" | "stagingRetentionDays">): gcp.types.input.storage.BucketLifecycleRule[] {
    const rules: gcp.types.input.storage.BucketLifecycleRule[] = [
        { action: { type: "Delete" }, condition: { age: args.stagingRetentionDays, matchesPrefixes: [STAGING_PREFIX] } },
        { action: { type: "AbortIncompleteMultipartUpload" }, condition: { age: args.stagingRetentionDays } },
    ];
    if (!args.hierarchicalNamespace) {
        rules.push({ action: { type: "Delete" }, condition: { daysSinceNoncurrentTime: args.revisionRetentionDays, withState: "ARCHIVED" } });
    }
    return rules;
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
