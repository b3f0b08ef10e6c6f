// The sync job and a service as the program declares them for Cloud Run: their model-cache volume
// (bucket, readOnly, mountOptions), where it is mounted, and their plain environment. Read from the
// evaluated dev stack, so the tests mount with what would be deployed, never a copy of it.
import { expect } from "chai";
import { evaluateStack, PlannedResource } from "../../scripts/evaluate";
import { MODEL_VOLUME_NAME } from "../../contract/modelCache";
import type { GcsVolume } from "./gcsfuseArgs";

export interface Workload {
    /** The model cache volume. */
    volume: GcsVolume;
    /** Where the container mounts it. */
    mountPath: string;
    /** The container's environment with plain values (secrets from Secret Manager left out). */
    env: Record<string, string>;
}

interface RunTemplate {
    volumes?: { name: string; gcs?: GcsVolume }[];
    containers: { envs?: { name: string; value?: string }[]; volumeMounts?: { name: string; mountPath: string }[] }[];
}

function workloadOf(resource: PlannedResource, template: RunTemplate): Workload {
    const volume = template.volumes?.find((v) => v.name === MODEL_VOLUME_NAME)?.gcs;
    const container = template.containers[0];
    const mount = container.volumeMounts?.find((m) => m.name === MODEL_VOLUME_NAME);
    expect(volume, `${resource.name}: a ${MODEL_VOLUME_NAME} Cloud Storage volume`).to.not.equal(undefined);
    expect(mount, `${resource.name}: a mount of ${MODEL_VOLUME_NAME}`).to.not.equal(undefined);
    const env = Object.fromEntries((container.envs ?? []).filter((e) => typeof e.value === "string").map((e) => [e.name, e.value!]));
    return { volume: { bucket: volume!.bucket, readOnly: volume!.readOnly === true, mountOptions: volume!.mountOptions ?? [] }, mountPath: mount!.mountPath, env };
}

/** The sync job (ModelSyncJob's Cloud Run jobs) and the first service with the cache (ModelService). */
export async function programWorkloads(stack = "dev"): Promise<{ syncJob: Workload; service: Workload; stack: string }> {
    const plan = await evaluateStack(stack);
    const parentType = (r: PlannedResource) => plan.resources.find((p) => p.urn === r.parent)?.type;
    const jobs = plan.resources
        .filter((r) => r.type === "gcp:cloudrunv2/job:Job" && parentType(r) === "warmstart:run:ModelSyncJob")
        .map((r) => workloadOf(r, (r.inputs.template as { template: RunTemplate }).template));
    const services = plan.resources
        .filter((r) => r.type === "gcp:cloudrunv2/service:Service" && parentType(r) === "warmstart:run:ModelService")
        .map((r) => workloadOf(r, r.inputs.template as RunTemplate));
    expect(jobs, `the ${stack} stack's sync jobs`).to.have.length.greaterThan(0);
    expect(services, `the ${stack} stack's services`).to.have.length.greaterThan(0);
    // Every job (scheduled, seed) and every service mounts the cache the same way.
    for (const j of jobs) expect(j.volume).to.deep.equal(jobs[0].volume);
    for (const s of services) expect(s.volume).to.deep.equal(services[0].volume);
    return { syncJob: jobs[0], service: services[0], stack };
}

/** The environment with every path under the workload's mount path moved under `mountPoint`. */
export function envAt(workload: Workload, mountPoint: string): Record<string, string> {
    const from = workload.mountPath;
    return Object.fromEntries(Object.entries(workload.env).map(([k, v]) => [k, v === from || v.startsWith(`${from}/`) ? `${mountPoint}${v.slice(from.length)}` : v]));
}
