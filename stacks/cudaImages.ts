// Which nvidia/cuda images exist: CUDA version -> Ubuntu releases with runtime and devel tags.
// Read 2026-11 from NVIDIA's tag list (gitlab.com/nvidia/container-images/cuda, doc/supported-tags.md)
// and hub.docker.com/r/nvidia/cuda/tags. Add a row when NVIDIA publishes a version the bases should take.
export const CUDA_UBUNTU: Record<string, string[]> = {
    "12.4.1": ["20.04", "22.04"],
    "12.5.1": ["20.04", "22.04"],
    "12.6.3": ["20.04", "22.04", "24.04"],
    "12.8.1": ["20.04", "22.04", "24.04"],
    "12.9.1": ["20.04", "22.04", "24.04"],
};

/** Why no `nvidia/cuda:<cuda>-…-ubuntu<ubuntu>` image exists, or undefined when it does. */
export function cudaImageProblem(cudaVersion: string, ubuntuVersion: string): { key: "cudaVersion" | "ubuntuVersion"; message: string } | undefined {
    const releases = CUDA_UBUNTU[cudaVersion];
    if (releases === undefined) return { key: "cudaVersion", message: `has no nvidia/cuda image (known: ${Object.keys(CUDA_UBUNTU).join(", ")})` };
    if (!releases.includes(ubuntuVersion)) return { key: "ubuntuVersion", message: `has no nvidia/cuda ${cudaVersion} image (Ubuntu ${releases.join(", ")} have)` };
    return undefined;
}
