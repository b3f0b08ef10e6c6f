// Hugging Face Hub: list a repo's files at a revision through the Hub API, download through
// `resolve` URLs (which redirect to a CDN for large files), verify LFS files by sha256.
import picomatch from "picomatch";
import { getJson } from "../http";
import type { HuggingFaceModel } from "../models";
import { ModelPlan, SourceContext, urlPath } from "./types";

interface RepoInfo {
    sha: string;
    siblings: { rfilename: string; size?: number; lfs?: { sha256: string; size: number } }[];
}

/** `huggingface/hub/models--<org>--<name>`, the layout `huggingface_hub` reads (HF_HUB_CACHE). */
export function hubRepoDir(repo: string): string {
    return `huggingface/hub/models--${repo.replace(/\//g, "--")}`;
}

export async function planHuggingFace(spec: HuggingFaceModel, ctx: SourceContext): Promise<ModelPlan> {
    const api = `${ctx.hfEndpoint}/api/models/${urlPath(spec.repo)}/revision/${encodeURIComponent(spec.revision)}?blobs=true`;
    const { body: info } = await getJson<RepoInfo>(api, ctx.http);
    if (typeof info.sha !== "string" || !/^[0-9a-f]{40}$/.test(info.sha) || !Array.isArray(info.siblings)) {
        throw new Error(`unexpected answer from ${api}: no commit sha or file list`);
    }
    const include = spec.include !== undefined ? picomatch(spec.include, { dot: true }) : () => true;
    const siblings = info.siblings.filter((s) => include(s.rfilename));
    if (siblings.length === 0) throw new Error(`${spec.repo}@${spec.revision}: no file matches include ${JSON.stringify(spec.include)}`);

    const repoDir = hubRepoDir(spec.repo);
    const root = `${repoDir}/snapshots/${info.sha}`;
    const pointers = [{ path: `${repoDir}/refs/${spec.revision}`, content: Buffer.from(info.sha) }];
    // A pinned commit is what services should load under the default name too.
    if (spec.revision === info.sha) pointers.push({ path: `${repoDir}/refs/main`, content: Buffer.from(info.sha) });
    return {
        name: spec.name,
        source: "huggingface",
        revision: info.sha,
        root,
        immutableRoot: true,
        files: siblings.map((s) => ({
            path: `${root}/${s.rfilename}`,
            url: `${ctx.hfEndpoint}/${urlPath(spec.repo)}/resolve/${info.sha}/${urlPath(s.rfilename)}`,
            size: s.lfs?.size ?? s.size,
            sha256: s.lfs?.sha256,
        })),
        pointers,
    };
}
