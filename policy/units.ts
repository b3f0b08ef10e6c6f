// Kubernetes-style quantities as Cloud Run takes them, parsed in one place: the stack schema
// (stacks/schema/) and the policy pack (rules.ts) read CPU and memory with these. It lives in
// the policy pack so the pack stays self-contained when it is installed on its own.

/** vCPUs of a CPU quantity: `2`, `0.5` or millicores `500m`; NaN when it is none of these. */
export function cpuCount(cpu: string | undefined): number {
    const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(cpu ?? "");
    if (m === null) return NaN;
    return m[2] === "m" ? Number(m[1]) / 1000 : Number(m[1]);
}

const MEMORY_UNITS: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, K: 1e3, M: 1e6, G: 1e9 };

/** MiB of a memory quantity such as `512Mi`, `16Gi` or `2G`; NaN when it is none of these. */
export function memoryMiB(memory: string | undefined): number {
    const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)$/.exec(memory ?? "");
    if (m === null) return NaN;
    return (Number(m[1]) * MEMORY_UNITS[m[2]]) / 2 ** 20;
}
