import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import type { ExportedBase } from "../build/baseImages";
import { BaseRefs, DOCKER_HUB, ImageRegistry } from "../build/buildSettings";

/** The stack output a platform stack publishes and project stacks read. */
export const PLATFORM_OUTPUT = "platform";

const exportedBase = z.object({
    ref: z.string().regex(/@sha256:[0-9a-f]{64}$/, "must be pinned by digest"),
    kind: z.enum(["runtime", "devel"]),
    cudaVersion: z.string(),
    ubuntuVersion: z.string(),
    pythonVersion: z.string(),
    torchVersion: z.string(),
}) satisfies z.ZodType<ExportedBase>; // a field added to BaseVersions must be read here too

/** The shape of a platform stack's `platform` output. */
export const platformOutputSchema = z.object({
    host: z.string().min(1),
    imageRepository: z.string().min(1),
    cacheRepository: z.string().min(1),
    mirrors: z.record(z.string(), z.string()),
    bases: z.record(z.string(), exportedBase),
});
export type PlatformOutput = z.infer<typeof platformOutputSchema>;

/** The output as a platform stack writes it: the same shape, its values still being resolved. */
export interface PlatformOutputArgs {
    host: pulumi.Input<string>;
    imageRepository: pulumi.Input<string>;
    cacheRepository: pulumi.Input<string>;
    mirrors: Record<string, pulumi.Input<string>>;
    bases: Record<string, pulumi.Input<ExportedBase>>;
}

/** Writes the platform output; the compiler holds it to what `checkPlatformOutput` reads. */
export function platformOutput(args: PlatformOutputArgs): pulumi.Output<PlatformOutput> {
    return pulumi.output(args);
}

export interface PlatformReferenceArgs {
    /** `<org>/<project>/<stack>` of the platform stack. */
    stack: string;
    /** Base variants this stack builds on; each must be one the platform exports. */
    requiredVariants: string[];
}

/** Checks a platform output; the error names the platform stack and what is wrong or missing. */
export function checkPlatformOutput(stack: string, value: unknown, requiredVariants: string[]): PlatformOutput {
    if (value === undefined) {
        throw new Error(`platform stack ${stack} exports no '${PLATFORM_OUTPUT}' output: deploy it with layer: platform (or layer: all) first`);
    }
    const parsed = platformOutputSchema.safeParse(value);
    if (!parsed.success) {
        const problems = parsed.error.issues.map((i) => `${PLATFORM_OUTPUT}.${i.path.join(".")}: ${i.message}`).join("; ");
        throw new Error(`platform stack ${stack} exports a '${PLATFORM_OUTPUT}' output this version cannot read: ${problems}`);
    }
    const exported = Object.keys(parsed.data.bases);
    const missing = [...new Set(requiredVariants)].filter((v) => !exported.includes(v));
    if (missing.length > 0) {
        throw new Error(`base variant ${missing.map((v) => `'${v}'`).join(", ")} is not exported by platform stack ${stack} (it exports: ${exported.join(", ") || "none"})`);
    }
    return parsed.data;
}

/**
 * The registry and bases of a platform stack, read through a StackReference: a project stack
 * builds on them exactly as a single stack builds on its own RegistryCache and BaseImages. It
 * reads only; whatever access the project needs, the platform stack grants from its own config.
 */
export class PlatformReference extends pulumi.ComponentResource implements ImageRegistry, BaseRefs {
    readonly host: string;
    readonly platform: PlatformOutput;

    private constructor(name: string, args: PlatformReferenceArgs, platform: PlatformOutput, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:platform:PlatformReference", name, { stack: args.stack }, opts);
        this.platform = platform;
        this.host = platform.host;
        this.registerOutputs({ stack: args.stack });
    }

    /** Reads and checks the platform stack's outputs before anything is built on them. */
    static async read(name: string, args: PlatformReferenceArgs, opts?: pulumi.ComponentResourceOptions): Promise<PlatformReference> {
        const ref = new pulumi.StackReference(`${name}-stack`, { name: args.stack }, opts);
        const details = await ref.getOutputDetails(PLATFORM_OUTPUT);
        const platform = checkPlatformOutput(args.stack, details.value ?? details.secretValue, args.requiredVariants);
        return new PlatformReference(name, args, platform, opts);
    }

    mirror(upstream: string = DOCKER_HUB): pulumi.Output<string> {
        const prefix = this.platform.mirrors[upstream];
        if (prefix === undefined) throw new Error(`the platform has no mirror for upstream '${upstream}' (it mirrors: ${Object.keys(this.platform.mirrors).join(", ")})`);
        return pulumi.output(prefix);
    }

    imageRef(image: string, tag: string): pulumi.Output<string> {
        return pulumi.output(`${this.platform.imageRepository}/${image}:${tag}`);
    }

    cacheRef(image: string): pulumi.Output<string> {
        return pulumi.output(`${this.platform.cacheRepository}/${image}:buildcache`);
    }

    ref(variant: string): pulumi.Output<string> {
        const base = this.platform.bases[variant];
        if (base === undefined) throw new Error(`base variant '${variant}' is not exported by the platform (it exports: ${Object.keys(this.platform.bases).join(", ")})`);
        return pulumi.output(base.ref);
    }
}
