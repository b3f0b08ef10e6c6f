// The models list: the one schema of the stack config's `models` key (stacks/ imports it) and of
// the MODELS_JSON the job receives. Checked before any resource is registered and before any
// byte is written.
import { z } from "zod";

/** Names become parts of resource names and cache paths: lowercase, a letter first, no double hyphen. */
const name = z
    .string()
    .regex(/^[a-z]([a-z0-9-]{0,28}[a-z0-9])?$/, "must be 1-30 characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen")
    .refine((s) => !s.includes("--"), "must not contain two hyphens in a row");

const relativePath = z
    .string()
    .min(1, "must not be empty")
    .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a relative path without '..'");

/** Plain http only to this machine (a local mirror); anything crossing a network is https. */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);
const artifactUrl = z
    .url({ protocol: /^https?$/, error: "must be an https:// URL" })
    // An unparsable URL is the format check's to report.
    .refine((u) => !URL.canParse(u) || u.startsWith("https://") || LOOPBACK.has(new URL(u).hostname), "must be an https:// URL (plain http only to localhost)");

/** A size hint for the stack's cost estimate (bucket storage); the sync does not read it. */
const sizeGiB = z.number().positive().optional();

export const huggingFaceModel = z.strictObject({
    name,
    source: z.literal("huggingface"),
    repo: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be a Hub repository id such as BAAI/bge-m3"),
    /** Pinned commit (40 hex characters) or a branch/tag name. */
    revision: z.string().min(1, "must not be empty"),
    include: z.array(z.string().min(1)).min(1).optional(),
    sizeGiB,
});

export const ollamaModel = z.strictObject({
    name,
    source: z.literal("ollama"),
    // Ollama's name rules (ollama types/model/name.go): [host/][namespace/]model, a namespace
    // without dots, parts of at most 80 characters, no "..". Only the default host: a tag lands
    // under manifests/<host>/, and the sync pulls from one registry. Lowercase: some Ollama
    // versions lowercase the manifest path.
    model: z.string().regex(/^(?!.*\.\.)(?:registry\.ollama\.ai\/)?(?:[a-z0-9_][a-z0-9_-]{0,79}\/)?[a-z0-9_][a-z0-9_.-]{0,79}$/, "must be an Ollama model name [registry.ollama.ai/][namespace/]model such as llama3.2 or acme/embed"),
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,79}$/, "must be an Ollama tag such as 1b"),
    sizeGiB,
});

export const urlModel = z.strictObject({
    name,
    source: z.literal("url"),
    url: artifactUrl,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex characters"),
    path: relativePath,
    sizeGiB,
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
