import { createHash } from "crypto";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import stableStringify from "fast-json-stable-stringify";
import type { ModelSpec } from "../../images/model-sync/src/models";
import type { ContainerRun } from "./dockerEngine";
import type { LocalModelCache } from "./modelCache";
import { syncJobEnv } from "../../contract/modelCache";

/**
 * The user the sync runs as: `node` (1000:1000) of the official Node images the sync image is
 * built on (images/model-sync/Dockerfile, `USER node`). A host directory for the cache must be
 * writable by it.
 */
export const SYNC_USER = { uid: 1000, gid: 1000 } as const;

export interface LocalModelSyncArgs {
    /** The stack's name for its sync container; a re-run after a failure adds the failed container's short id (syncContainerName). */
    containerName: string;
    /** The sync program's image, pinned by digest. */
    image: pulumi.Input<string>;
    modelCache: LocalModelCache;
    models: ModelSpec[];
    revisionRetentionDays: number;
    /** What Docker reports now about the newest of the stack's sync containers (undefined: there is none). */
    lastRun: pulumi.Input<ContainerRun | undefined>;
}

/** The label that tells a sync container's attempt: a new value replaces the container, and so runs the sync again. */
export const SYNC_ATTEMPT_LABEL = "warmstart.sync-attempt";

/** The label that tells what a sync container's run publishes (publishedDigest of its environment). */
export const SYNC_PUBLISHED_LABEL = "warmstart.sync-published";

/** A container's short id, as syncAttempt takes it: the part a re-run's name adds. */
const SHORT_ID = "[0-9a-f]{12}";

/**
 * The name of the sync container for `attempt`: the stack's name for the first, the name and the
 * short id of the container it replaces after a failure or a change of what it publishes. Each attempt has a name of its own, so the next
 * one is created while the last still exists (the default create-before-delete): the services,
 * which take the sync's result as an input, are then updated, not deleted first as they are
 * under delete-before-replace (pulumi step_generator.go, calculateDependentReplacements), and a
 * re-run that fails leaves them running.
 */
export function syncContainerName(baseName: string, attempt: string): string {
    const failed = new RegExp(`^after-(${SHORT_ID})$`).exec(attempt);
    return failed === null ? baseName : `${baseName}-${failed[1]}`;
}

/** The names syncContainerName gives for `baseName`, as a regular expression read alike by JavaScript and Go. */
function syncContainerNames(baseName: string): string {
    return `${baseName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(-${SHORT_ID})?`;
}

/** Whether `name` is one of the names syncContainerName gives for `baseName`. */
export function isSyncContainerName(baseName: string, name: string): boolean {
    return new RegExp(`^${syncContainerNames(baseName)}$`).test(name);
}

/** Docker's name filter (a Go regular expression, matched against "/name") for the names above. */
export function syncContainerNameFilter(baseName: string): string {
    return `^/?${syncContainerNames(baseName)}$`;
}

/** A run that left the cache unfinished: exited non-zero, never started, or dead. */
function runFailed(run: ContainerRun): boolean {
    return run.status === "created" || run.status === "dead" || (run.status === "exited" && run.exitCode !== 0);
}

/**
 * The attempt label of the sync container this deployment declares, from what Docker reports
 * about the container now and what this deployment publishes (`published`, publishedDigest).
 * After a failed run: a new value, so the next plain `pulumi up`, with the config unchanged,
 * replaces the container and the sync runs again. After a run that published something else (a
 * new model list): a new value too, so the replacement gets a name of its own; with the stack's
 * name again, Docker refuses to create it beside the container it replaces ("Conflict. The
 * container name … is already in use", seen under the real engine). Otherwise the value that
 * container carries (nothing changes), or `first` when there is none.
 */
export function syncAttempt(lastRun: ContainerRun | undefined, published: string): string {
    if (lastRun === undefined) return "first";
    if (runFailed(lastRun) || lastRun.labels[SYNC_PUBLISHED_LABEL] !== published) return `after-${lastRun.id.slice(0, 12)}`;
    return lastRun.labels[SYNC_ATTEMPT_LABEL] ?? "first";
}

/**
 * The exit code of the sync's latest run. The provider records it when it creates the container
 * (`recorded`); when this deployment keeps that container and Docker reports on it, Docker's code
 * is newer (a run by hand may have succeeded since). A container created now has a new id.
 */
export function latestExitCode(containerId: string | undefined, recorded: number | undefined, lastRun: ContainerRun | undefined): number | undefined {
    if (lastRun !== undefined && lastRun.id === containerId && lastRun.status === "exited") return lastRun.exitCode;
    return recorded;
}

/**
 * The sync's exit code, or an error naming the container and the code. The Docker provider
 * records a one-shot container's exit code and reports success whatever it is
 * (kreuzwerker/terraform-provider-docker, resource_docker_container_funcs.go: `exit_code` is only
 * set), so the program turns a failed sync into a failed deployment itself. Unknown (preview) passes.
 */
export function requireSyncSuccess(containerName: string, exitCode: number | undefined): number | undefined {
    if (exitCode !== undefined && exitCode !== 0) {
        throw new Error(`the model sync container ${containerName} exited with code ${exitCode}: read its output with \`docker logs ${containerName}\`, fix the cause, then run pulumi up again (it runs the sync again)`);
    }
    return exitCode;
}

/**
 * A short digest of what a sync run publishes: its whole environment (the model list, the
 * retention). Services carry it, so a new model list restarts them on what the sync published.
 */
export function publishedDigest(env: Record<string, string>): string {
    return createHash("sha256").update(stableStringify(env)).digest("hex").slice(0, 12);
}

/**
 * The local target's sync: the same program as the Cloud Run job, run once as a container that
 * `pulumi up` waits for, so the services start on a filled cache. Run it again with
 * `docker start -a <container>`.
 */
export class LocalModelSync extends pulumi.ComponentResource {
    readonly container: docker.Container;
    /** The sync container's name (it changes with each attempt after a failure). */
    readonly containerName: pulumi.Output<string>;
    /**
     * The sync's exit code once it succeeded; fails (and so fails every resource taking it as an
     * input) when the sync exited non-zero.
     */
    readonly succeeded: pulumi.Output<number | undefined>;
    /**
     * What a service started after this sync carries: fails like `succeeded`, and changes when
     * the sync publishes another model list (publishedDigest), not when a failed run is re-run.
     */
    readonly published: pulumi.Output<string>;

    constructor(name: string, args: LocalModelSyncArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:run:LocalModelSync", name, {}, opts);
        const env = syncJobEnv(args);
        const published = publishedDigest(env);
        const attempt = pulumi.output(args.lastRun).apply((lastRun) => syncAttempt(lastRun, published));
        this.containerName = attempt.apply((a) => syncContainerName(args.containerName, a));
        this.container = new docker.Container(`${name}-container`, {
            name: this.containerName,
            image: args.image,
            envs: Object.entries(env).map(([k, v]) => `${k}=${v}`).sort(),
            mounts: [args.modelCache.writeVolume()],
            // The host's network: a model URL on the host's loopback (plain http is allowed only
            // there) is the host's, not the container's own, and the sync fetches what the host can.
            networkMode: "host",
            // One-shot: wait for the exit, keep the container (and its log, for `docker logs`) for
            // the next run. No `logs`: the provider would copy the whole log into the state.
            attach: true,
            mustRun: false,
            restart: "no",
            // kreuzwerker/terraform-provider-docker resource_docker_container.go: `labels` and
            // `name` are ForceNew, so a new attempt replaces the container.
            labels: [{ label: SYNC_ATTEMPT_LABEL, value: attempt }, { label: SYNC_PUBLISHED_LABEL, value: published }],
        }, {
            parent: this,
            // pulumi-docker asks to delete a container before replacing it (provider/resources.go);
            // each attempt's own name makes that unneeded, and overriding it keeps the services
            // (see syncContainerName). The old container goes once the new one has run.
            deleteBeforeReplace: false,
        });
        this.succeeded = pulumi.all([this.container.name, this.container.id, this.container.exitCode, args.lastRun])
            .apply(([containerName, id, code, lastRun]) => requireSyncSuccess(containerName, latestExitCode(id, code, lastRun)));
        this.published = this.succeeded.apply((code) => `${name} exit ${code ?? "unknown"}, published ${published}`);
        this.registerOutputs({ container: this.container.name, exitCode: this.succeeded, published: this.published });
    }
}
