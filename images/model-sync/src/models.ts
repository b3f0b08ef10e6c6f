// The models list: the same shape as the stack config's `models` key (stacks/schema.ts), which
// the job receives as MODELS_JSON. Checked before any byte is written.
import { z } from "zod";

const name = z.string().regex(/^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/, "must be 1-30 lowercase letters, digits or hyphens, starting with a letter");

const relativePath = z
    .string()
    .min(1)
    .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a relative path without '..'");

export const huggingFaceModel = z.strictObject({
    name,
    source: z.literal("huggingface"),
    repo: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a Hub repository id such as BAAI/bge-m3"),
    revision: z.string().min(1),
    include: z.array(z.string().min(1)).min(1).optional(),
    /** A size hint for the stack's cost estimate; the sync does not read it. */
    sizeGiB: z.number().positive().optional(),
});

export const ollamaModel = z.strictObject({
    name,
    source: z.literal("ollama"),
    model: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/, "must be an Ollama model name such as llama3.2"),
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]*$/, "must be an Ollama tag such as 1b"),
    /** A size hint for the stack's cost estimate; the sync does not read it. */
    sizeGiB: z.number().positive().optional(),
});

export const urlModel = z.strictObject({
    name,
    source: z.literal("url"),
    url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"),
    path: relativePath,
    /** A size hint for the stack's cost estimate; the sync does not read it. */
    sizeGiB: z.number().positive().optional(),
});

export const modelSpec = z.discriminatedUnion("source", [huggingFaceModel, ollamaModel, urlModel], { error: "must have source huggingface, ollama or url" });
export type ModelSpec = z.infer<typeof modelSpec>;
export type HuggingFaceModel = z.infer<typeof huggingFaceModel>;
export type OllamaModel = z.infer<typeof ollamaModel>;
export type UrlModel = z.infer<typeof urlModel>;

export const modelList = z.array(modelSpec).superRefine((models, ctx) => {
    const seen = new Set<string>();
    models.forEach((m, i) => {
        if (seen.has(m.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicates the name '${m.name}'` });
        seen.add(m.name);
    });
});

/** Parses a models list; the error names the entry, the field and the value. */
export function parseModels(json: string, origin: string): ModelSpec[] {
    let raw: unknown;
    try {
        raw = JSON.parse(json);
    } catch (err) {
        throw new Error(`${origin}: not JSON (${(err as Error).message})`);
    }
    const result = modelList.safeParse(raw);
    if (result.success) return result.data;
    const problems = result.error.issues.map((issue) => {
        let value: unknown = raw;
        for (const key of issue.path) value = value === null || typeof value !== "object" ? undefined : (value as Record<PropertyKey, unknown>)[key];
        const where = issue.path.reduce<string>((acc, k) => (typeof k === "number" ? `${acc}[${k}]` : `${acc}.${String(k)}`), "models");
        return `${where}: ${issue.message} (value ${value === undefined ? "(not set)" : JSON.stringify(value)})`;
    });
    throw new Error(`${origin}: invalid models list:\n  - ${problems.join("\n  - ")}`);
}
