// bases: the CUDA base variants, each an NVIDIA image that exists with the Python its Ubuntu ships
// and a PyTorch release published for its CUDA version.
import { z } from "zod";
import { cudaImageProblem } from "../cudaImages";
import { torchWheelProblem } from "../torchWheels";
import { relativePath, resourceName, uniqueNames, version, versionString } from "./common";

/** The Python each Ubuntu release ships: the CUDA base installs it from the release's packages. */
export const UBUNTU_PYTHON: Record<string, string> = { "20.04": "3.8", "22.04": "3.10", "24.04": "3.12" };

export const baseVariantSchema = z.strictObject({
    /** Name other keys use to refer to this base, e.g. `runtime`. */
    name: resourceName,
    /** Which target of the CUDA base Dockerfile to build. */
    kind: z.enum(["runtime", "devel"]),
    cudaVersion: version("12.8.1").default("12.8.1"),
    ubuntuVersion: versionString().regex(/^\d{2}\.\d{2}$/, "must be an Ubuntu release such as 24.04").default("24.04"),
    pythonVersion: versionString().regex(/^3\.\d+$/, "must be a Python 3 minor version such as 3.12").default("3.12"),
    torchVersion: version("2.7.1").default("2.7.1"),
    /** Build context, relative to the repository root. */
    context: relativePath.default("images/cuda-base"),
    /** Dockerfile, relative to the repository root. */
    dockerfile: relativePath.default("images/cuda-base/Dockerfile"),
}).superRefine((b, ctx) => {
    const image = cudaImageProblem(b.cudaVersion, b.ubuntuVersion);
    if (image !== undefined) ctx.addIssue({ code: "custom", path: [image.key], message: image.message, input: b[image.key] });
    // Only for a CUDA version with an image: otherwise that is the problem to fix first.
    const wheel = image?.key === "cudaVersion" ? undefined : torchWheelProblem(b.cudaVersion, b.torchVersion);
    if (wheel !== undefined) ctx.addIssue({ code: "custom", path: [wheel.key], message: wheel.message, input: b.torchVersion });
    const shipped = UBUNTU_PYTHON[b.ubuntuVersion];
    if (shipped !== undefined && shipped !== b.pythonVersion) {
        ctx.addIssue({ code: "custom", path: ["pythonVersion"], message: `must be ${shipped}, the Python of Ubuntu ${b.ubuntuVersion} (the base installs the release's python${shipped})`, input: b.pythonVersion });
    }
});

/** A base variant with its defaults filled in. */
export type BaseVariant = z.output<typeof baseVariantSchema>;
/** What a base is built from, in the tag, the build args and the platform's output alike. */
export type BaseVersions = Pick<BaseVariant, "kind" | "cudaVersion" | "ubuntuVersion" | "pythonVersion" | "torchVersion">;

export const baseListSchema = uniqueNames(baseVariantSchema)
    .min(1, "must list at least one base variant")
    .default([baseVariantSchema.parse({ name: "runtime", kind: "runtime" }), baseVariantSchema.parse({ name: "devel", kind: "devel" })]);
