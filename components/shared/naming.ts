// GCP resource ids have per-service length and character limits; these helpers derive ids that
// fit them, stay stable from run to run, and keep two stacks in one project apart.
import type { BaseVersions } from "../../stacks/schema";
import { createHash } from "crypto";

/** The sync program's name: its image, its Cloud Run job and local container, its components. */
export const SYNC_NAME = "model-sync";

/** Service account id suffixes (`<prefix>-<stack>-<suffix>`) of the sync job and of the scheduler that starts it. */
export const SYNC_ACCOUNT = "sync";
export const SCHEDULER_ACCOUNT = "sched";

/** The local target's registry containers, `<prefix>-<role>`. */
export const LOCAL_REGISTRY_ROLES = { mirror: "mirror", push: "push" } as const;

/** CUDA base images share the image repository with the services, as `cuda-<variant>`. */
const BASE_IMAGE_PREFIX = "cuda-";

/** The image name of a CUDA base variant. */
export function baseImageName(variant: string): string {
    return `${BASE_IMAGE_PREFIX}${variant}`;
}

/**
 * Why a service may not have this name, or undefined when it may: a service's name becomes its
 * image, its service account id and (locally) its container name, beside the program's own.
 */
export function serviceNameCollision(name: string): string | undefined {
    if (name === SYNC_NAME) return `is the model sync's own image, job and container name (${SYNC_NAME})`;
    if (name === SYNC_ACCOUNT || name === SCHEDULER_ACCOUNT) {
        return `would give the service the service account id of the model sync's ${name === SYNC_ACCOUNT ? "job" : "scheduler"} (<namePrefix>-<stack>-${name})`;
    }
    if ((Object.values(LOCAL_REGISTRY_ROLES) as string[]).includes(name)) return `is the name of a local registry container (<namePrefix>-<stack>-${name})`;
    if (name.startsWith(BASE_IMAGE_PREFIX)) return `starts with ${BASE_IMAGE_PREFIX}, the names of the CUDA base images in the same repository (${baseImageName("<base>")})`;
    return undefined;
}

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
