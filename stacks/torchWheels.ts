// Which CUDA builds PyTorch publishes wheels for: torch minor version -> the CUDA major.minor of
// each https://download.pytorch.org/whl/cu<major><minor> index that has its wheels (the base
// installs torch from the index of its cudaVersion, components/shared/naming.ts torchIndexUrl).
// Read 2026-12 from the Release Compatibility Matrix in PyTorch's RELEASE.md
// (github.com/pytorch/pytorch/blob/main/RELEASE.md, its stable and experimental CUDA columns alike:
// both are published). Add a row when PyTorch publishes a release the bases should take.
export const TORCH_CUDA: Record<string, string[]> = {
    "2.4": ["11.8", "12.1", "12.4"],
    "2.5": ["11.8", "12.1", "12.4"],
    "2.6": ["11.8", "12.4", "12.6"],
    "2.7": ["11.8", "12.6", "12.8"],
    "2.8": ["12.6", "12.8", "12.9"],
    "2.9": ["12.6", "12.8", "13.0"],
    "2.10": ["12.6", "12.8", "13.0"],
    "2.11": ["12.6", "12.8", "13.0"],
    "2.12": ["12.6", "13.0", "13.2"],
};

const minorOf = (version: string) => version.split(".").slice(0, 2).join(".");

/** Why PyTorch has no wheel of `torchVersion` for `cudaVersion`, or undefined when it has one. */
export function torchWheelProblem(cudaVersion: string, torchVersion: string): { key: "torchVersion"; message: string } | undefined {
    const torch = minorOf(torchVersion);
    const cudas = TORCH_CUDA[torch];
    if (cudas === undefined) return { key: "torchVersion", message: `is a PyTorch release stacks/torchWheels.ts does not know (known: ${Object.keys(TORCH_CUDA).join(", ")})` };
    const cuda = minorOf(cudaVersion);
    if (!cudas.includes(cuda)) {
        return { key: "torchVersion", message: `has no wheel for cudaVersion ${cudaVersion}: PyTorch ${torch} was published for CUDA ${cudas.join(", ")} (stacks/torchWheels.ts); change cudaVersion or torchVersion` };
    }
    return undefined;
}
