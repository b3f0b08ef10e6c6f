// Ollama registry: the tag's manifest, then each layer by digest, laid out as OLLAMA_MODELS
// expects: manifests/registry.ollama.ai/<namespace>/<model>/<tag> and blobs/sha256-<hex>.
import { createHash } from "crypto";
import { getJson } from "../http";
import type { OllamaModel } from "../models";
import { ModelPlan, SourceContext, urlPath } from "./types";

const MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json";

interface OllamaManifest {
    config?: { digest: string; size: number };
    layers: { digest: string; size: number; mediaType?: string }[];
}

export const OLLAMA_HOST = "registry.ollama.ai";

/** `namespace/model` as Ollama resolves a name: official models live in the `library` namespace. */
export function ollamaRepository(model: string): string {
    const name = model.startsWith(`${OLLAMA_HOST}/`) ? model.slice(OLLAMA_HOST.length + 1) : model;
    return name.includes("/") ? name : `library/${name}`;
}

export async function planOllama(spec: OllamaModel, ctx: SourceContext): Promise<ModelPlan> {
    const repository = ollamaRepository(spec.model);
    const url = `${ctx.ollamaRegistry}/v2/${urlPath(repository)}/manifests/${encodeURIComponent(spec.tag)}`;
    const { body, raw } = await getJson<OllamaManifest>(url, ctx.http, MANIFEST_TYPE);
    if (!Array.isArray(body.layers)) throw new Error(`unexpected answer from ${url}: no layers`);
    const blobs = [...(body.config ? [body.config] : []), ...body.layers];
    for (const b of blobs) {
        if (!/^sha256:[0-9a-f]{64}$/.test(b.digest)) throw new Error(`unexpected digest ${JSON.stringify(b.digest)} in ${url}`);
    }
    return {
        name: spec.name,
        source: "ollama",
        // The manifest's own digest: any change to any layer changes it.
        revision: `sha256:${createHash("sha256").update(raw).digest("hex")}`,
        root: "ollama",
        immutableRoot: false,
        files: blobs.map((b) => ({
            path: `ollama/blobs/${b.digest.replace(":", "-")}`,
            url: `${ctx.ollamaRegistry}/v2/${urlPath(repository)}/blobs/${b.digest}`,
            size: b.size,
            sha256: b.digest.slice("sha256:".length),
            shared: true,
        })),
        pointers: [{ path: `ollama/manifests/${OLLAMA_HOST}/${repository}/${spec.tag}`, content: raw }],
    };
}
