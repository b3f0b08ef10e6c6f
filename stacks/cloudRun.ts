// What Cloud Run offers, as published: the regions and their price tier, the GPUs and where,
// the CPU values and the memory each CPU value allows. Read 2026-11 from
// cloud.google.com/run/docs/locations and cloud.google.com/run/docs/configuring/services/memory-limits,
// .../services/cpu and .../instances/memory-limits; the tiers re-read 2026-12-03 on docs/locations
// ("Subject to Tier 1 pricing" / "Tier 2"), the GPU regions on .../configuring/services/gpu
// ("Supported regions"). Re-read them when Cloud Run adds a region, a GPU or a size.
import { cpuCount, memoryMiB } from "../policy/units";

/** Regions where Cloud Run runs services and jobs, and the price tier each is billed at (docs/locations). */
export const CLOUD_RUN_REGION_TIERS = {
    "asia-east1": 1, "asia-northeast1": 1, "asia-northeast2": 1, "europe-north1": 1, "europe-southwest1": 1, "europe-west1": 1,
    "europe-west4": 1, "europe-west8": 1, "europe-west9": 1, "me-west1": 1, "us-central1": 1, "us-east1": 1, "us-east4": 1,
    "us-east5": 1, "us-south1": 1, "us-west1": 1,
    "africa-south1": 2, "asia-east2": 2, "asia-northeast3": 2, "asia-southeast1": 2, "asia-southeast2": 2, "asia-south1": 2,
    "asia-south2": 2, "australia-southeast1": 2, "australia-southeast2": 2, "europe-central2": 2, "europe-west10": 2,
    "europe-west12": 2, "europe-west2": 2, "europe-west3": 2, "europe-west6": 2, "me-central1": 2, "me-central2": 2,
    "northamerica-northeast1": 2, "northamerica-northeast2": 2, "southamerica-east1": 2, "southamerica-west1": 2,
    "us-west2": 2, "us-west3": 2, "us-west4": 2,
} as const satisfies Record<string, 1 | 2>;

export type CloudRunRegion = keyof typeof CLOUD_RUN_REGION_TIERS;

/** The regions of the table above: what `region` accepts. */
export const CLOUD_RUN_REGIONS = Object.keys(CLOUD_RUN_REGION_TIERS) as CloudRunRegion[];

/**
 * GPU types Cloud Run offers, each with the regions that offer it (docs/configuring/services/gpu,
 * "Supported regions"; asia-south1 by invitation only).
 */
export const CLOUD_RUN_GPU_REGIONS = {
    "nvidia-l4": ["asia-south1", "asia-southeast1", "europe-west1", "europe-west4", "us-central1", "us-east4"],
} as const satisfies Record<string, readonly CloudRunRegion[]>;

export type GpuType = keyof typeof CLOUD_RUN_GPU_REGIONS;
export const GPU_TYPES = Object.keys(CLOUD_RUN_GPU_REGIONS) as [GpuType, ...GpuType[]];

/** Whole vCPU counts Cloud Run takes; below 1, fractions from 0.08. */
export const WHOLE_CPUS = [1, 2, 4, 6, 8];
export const MIN_FRACTIONAL_CPU = 0.08;

/**
 * Memory each CPU value allows, in MiB: [min, max]. Below 1 vCPU the minimum CPU per memory
 * applies (512 MiB needs 0.333, 1 GiB 0.583, 2 GiB a whole vCPU). Second-generation instances
 * (GCS volumes need them) take at least 512 MiB.
 */
export const MEMORY_BY_CPU: Record<number, [number, number]> = {
    1: [512, 4 * 1024],
    2: [512, 8 * 1024],
    4: [2 * 1024, 16 * 1024],
    6: [4 * 1024, 24 * 1024],
    8: [4 * 1024, 32 * 1024],
};
const FRACTIONAL_MAX_MEMORY: [number, number][] = [[0.583, 1024], [0.333, 512]];

/** Why Cloud Run refuses this CPU value, or undefined when it takes it. */
export function cpuProblem(cpu: string): string | undefined {
    const n = cpuCount(cpu);
    if (Number.isNaN(n)) return "must be a vCPU count such as 1, 4 or 0.5 (or millicores such as 500m)";
    if (n < 1 ? n >= MIN_FRACTIONAL_CPU : WHOLE_CPUS.includes(n)) return undefined;
    return `is not a CPU value Cloud Run takes: a fraction from ${MIN_FRACTIONAL_CPU} below 1, or ${WHOLE_CPUS.join(", ")}`;
}

/** Why Cloud Run refuses this memory with this CPU, or undefined when it takes it (or the CPU is invalid). */
export function memoryProblem(memory: string, cpu: string): string | undefined {
    const n = cpuCount(cpu);
    const mib = memoryMiB(memory);
    if (cpuProblem(cpu) !== undefined || Number.isNaN(mib)) return undefined;
    const [min, max] = n >= 1 ? MEMORY_BY_CPU[n] : [512, FRACTIONAL_MAX_MEMORY.find(([c]) => n >= c)?.[1] ?? 0];
    if (mib >= min && mib <= max) return undefined;
    const gib = (m: number) => (m >= 1024 ? `${m / 1024}Gi` : `${m}Mi`);
    if (max < min) return `cannot run with ${cpu} vCPU: Cloud Run needs at least 0.333 vCPU for its 512Mi minimum`;
    return `must be between ${gib(min)} and ${gib(max)} with ${cpu} vCPU (Cloud Run's CPU/memory table)`;
}
