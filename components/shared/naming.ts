// GCP resource ids have per-service length and character limits; these helpers derive ids that
// fit them, stay stable from run to run, and keep two stacks in one project apart.
import type { BaseVersions } from "../../stacks/schema";
import { createHash } from "crypto";

// The names the program gives its own resources live with the contract, where the stack schema
// reads them too (a service may not take one).
export { baseImageName, LOCAL_REGISTRY_ROLES, SCHEDULER_ACCOUNT, serviceNameCollision, SYNC_ACCOUNT, SYNC_NAME } from "../../contract/resourceNames";

/** Longest ids GCP accepts, per kind of resource. */
export const MAX_LENGTH = {
    serviceAccount: 30,
    cloudRun: 49,
    repository: 63,
    bucket: 63,
} as const;

/**
 * Joins parts with hyphens, lowercased; when the result is longer than `maxLength`, cuts it and
 * appends a 6-character hash of the full name, so different long names never collide.
 */
export function resourceId(parts: string[], maxLength: number): string {
    const full = parts
        .map((p) => p.toLowerCase().replace(/[^a-z0-9-]/g, "-"))
        .join("-")
        .replace(/-{2,}/g, "-")
        .replace(/^-|-$/g, "");
    if (full.length <= maxLength) return full;
    const hash = createHash("sha256").update(full).digest("hex").slice(0, 6);
    return `${full.slice(0, maxLength - hash.length - 1).replace(/-+$/, "")}-${hash}`;
}

/** The prefix of a stack's resource names: `<namePrefix>-<stack>`, at most 20 characters. */
export function stackPrefix(namePrefix: string, stack: string): string {
    return resourceId([namePrefix, stack], 20);
}

/** The Cloud Run name of a service or job of a stack. */
export function cloudRunName(prefix: string, name: string): string {
    return resourceId([prefix, name], MAX_LENGTH.cloudRun);
}

/** A service account id (6-30 characters, starting with a letter). */
export function serviceAccountId(prefix: string, stack: string, purpose: string): string {
    const id = resourceId([prefix, stack, purpose], MAX_LENGTH.serviceAccount);
    return id.length >= 6 ? id : `${id}-sa`.padEnd(6, "0");
}

/** The model cache bucket's globally unique name. */
export function bucketName(bucketPrefix: string, project: string, stack: string): string {
    return resourceId([bucketPrefix, project, stack], MAX_LENGTH.bucket);
}

/** The docker tag of a CUDA base variant: it names every version that went into it. */
export function baseImageTag(v: BaseVersions): string {
    return `cuda${v.cudaVersion}-ubuntu${v.ubuntuVersion}-py${v.pythonVersion}-torch${v.torchVersion}-${v.kind}`;
}

/** PyTorch's wheel index for a CUDA version: 12.8.1 -> https://download.pytorch.org/whl/cu128. */
export function torchIndexUrl(cudaVersion: string): string {
    const [major, minor] = cudaVersion.split(".");
    return `https://download.pytorch.org/whl/cu${major}${minor}`;
}
