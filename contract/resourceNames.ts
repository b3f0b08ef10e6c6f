// The names the program gives its own resources: the sync's image, job and container, the service
// accounts of the sync and its scheduler, the local registry containers, the CUDA base images. A
// service may not take one (the stack schema refuses it); the components name their resources with them.

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
    // Locally a re-run after a failure is `<prefix>-model-sync-<short id>` (components/local/modelSync.ts).
    if (name.startsWith(`${SYNC_NAME}-`)) return `starts with ${SYNC_NAME}-, the names of the local sync's re-run containers (<namePrefix>-<stack>-${SYNC_NAME}-<id>)`;
    if (name === SYNC_ACCOUNT || name === SCHEDULER_ACCOUNT) {
        return `would give the service the service account id of the model sync's ${name === SYNC_ACCOUNT ? "job" : "scheduler"} (<namePrefix>-<stack>-${name})`;
    }
    if ((Object.values(LOCAL_REGISTRY_ROLES) as string[]).includes(name)) return `is the name of a local registry container (<namePrefix>-<stack>-${name})`;
    if (name.startsWith(BASE_IMAGE_PREFIX)) return `starts with ${BASE_IMAGE_PREFIX}, the names of the CUDA base images in the same repository (${baseImageName("<base>")})`;
    return undefined;
}
