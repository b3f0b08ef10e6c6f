// Hugging Face Hub: resolve the revision to a commit, list the commit's files through the tree
// API, download through `resolve` URLs (which redirect to a CDN for large files); LFS files are
// verified by sha256, the others by their git blob sha1.
import picomatch from "picomatch";
import { getJson, HttpOptions, PermanentError, withRetries } from "../http";
import type { HuggingFaceModel } from "../models";
import { ModelPlan, SourceContext, urlPath } from "./types";

interface RepoInfo {
    sha: string;
}

/** One entry of `GET /api/models/{repo}/tree/{revision}?recursive=true`. */
interface TreeEntry {
    type: "file" | "directory";
    path: string;
    size?: number;
    /** The git blob sha1 (of the LFS pointer, for an LFS file). */
    oid?: string;
    lfs?: { oid: string; size: number };
    xetHash?: string;
}

/** `huggingface/hub/models--<org>--<name>`, the layout `huggingface_hub` reads (HF_HUB_CACHE). */
export function hubRepoDir(repo: string): string {
    return `huggingface/hub/models--${repo.replace(/\//g, "--")}`;
}

/**
 * An include filter that matches as `snapshot_download(allow_patterns=…)` does: Python's fnmatch,
 * where `*` also crosses `/`, and a pattern ending in `/` means everything under that folder
 * (huggingface_hub utils/_paths.py filter_repo_objects).
 */
export function includeFilter(patterns: string[] | undefined): (file: string) => boolean {
    if (patterns === undefined) return () => true;
    const fnmatch = patterns.map((p) => (p.endsWith("/") ? `${p}*` : p));
    // bash: a single `*` matches like `**`; fnmatch knows neither braces nor extglobs.
    return picomatch(fnmatch, { bash: true, dot: true, nobrace: true, noextglob: true });
}

/** The next page's URL from a `Link: <url>; rel="next"` header, as the Hub paginates. */
export function nextLink(link: string | null): string | undefined {
    if (link === null) return undefined;
    for (const part of link.split(",")) {
        const m = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
        if (m) return m[1];
    }
    return undefined;
}

/**
 * Every page of a paginated Hub listing. `getJson` hides response headers, so the pages are
 * fetched here with the same retries; fold into the HTTP layer when it exposes headers.
 */
async function getAllPages<T>(first: string, http: HttpOptions): Promise<T[]> {
    const out: T[] = [];
    for (let url: string | undefined = first, pages = 0; url !== undefined; pages++) {
        if (pages >= 10_000) throw new Error(`${first}: more than 10000 pages`);
        const page: string = url;
        const { items, next } = await withRetries(page, http, async () => {
            const res = await fetch(page, { headers: { ...http.headers, Accept: "application/json" }, signal: AbortSignal.timeout(http.timeoutSeconds * 1000) });
            if (!res.ok) {
                await res.body?.cancel();
                const msg = `HTTP ${res.status} from ${page}`;
                throw res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408 ? new PermanentError(msg) : new Error(msg);
            }
            const body = (await res.json()) as unknown;
            if (!Array.isArray(body)) throw new PermanentError(`unexpected answer from ${page}: not a list`);
            return { items: body as T[], next: nextLink(res.headers.get("link")) };
        });
        out.push(...items);
        url = next === undefined ? undefined : new URL(next, page).toString();
    }
    return out;
}

export async function planHuggingFace(spec: HuggingFaceModel, ctx: SourceContext): Promise<ModelPlan> {
    const api = `${ctx.hfEndpoint}/api/models/${urlPath(spec.repo)}/revision/${encodeURIComponent(spec.revision)}`;
    const { body: info } = await getJson<RepoInfo>(api, ctx.http);
    if (typeof info.sha !== "string" || !/^[0-9a-f]{40}$/.test(info.sha)) throw new Error(`unexpected answer from ${api}: no commit sha`);
    // Not `siblings`: the Hub stops listing them past a size (huggingface_hub lists the tree for
    // large repos), and they carry no git blob id to verify small files with.
    const treeUrl = `${ctx.hfEndpoint}/api/models/${urlPath(spec.repo)}/tree/${info.sha}?recursive=true`;
    const tree = await getAllPages<TreeEntry>(treeUrl, ctx.http);
    const include = includeFilter(spec.include);
    const files = tree.filter((e) => e.type === "file" && include(e.path));
    if (files.length === 0) throw new Error(`${spec.repo}@${spec.revision}: no file matches include ${JSON.stringify(spec.include)}`);
    for (const f of files) {
        if (f.lfs === undefined && !(typeof f.oid === "string" && /^[0-9a-f]{40}$/.test(f.oid))) throw new Error(`unexpected answer from ${treeUrl}: ${f.path} has neither lfs nor a git oid`);
    }

    const repoDir = hubRepoDir(spec.repo);
    const root = `${repoDir}/snapshots/${info.sha}`;
    // Like snapshot_download: a ref only for a branch or tag name, never for a commit
    // (huggingface_hub _snapshot_download.py: `if revision != commit_hash`).
    const pointers = spec.revision === info.sha ? [] : [{ path: `${repoDir}/refs/${spec.revision}`, content: Buffer.from(info.sha) }];
    return {
        name: spec.name,
        source: "huggingface",
        revision: info.sha,
        root,
        immutableRoot: true,
        files: files.map((f) => ({
            path: `${root}/${f.path}`,
            url: `${ctx.hfEndpoint}/${urlPath(spec.repo)}/resolve/${info.sha}/${urlPath(f.path)}`,
            size: f.lfs?.size ?? f.size,
            sha256: f.lfs?.oid,
            gitSha1: f.lfs === undefined ? f.oid : undefined,
        })),
        pointers,
        // @huggingface/hub's scanCacheDir stats refs/ and drops a repo without it.
        directories: [`${repoDir}/refs`],
    };
}
