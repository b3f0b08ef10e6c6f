// Models for the mount tests, served by the sync's own loopback upstream (images/model-sync/test):
// a Hub repo pinned to a commit, one followed by branch, an Ollama tag and a plain URL file.
import { randomBytes } from "crypto";
import { spawn } from "child_process";
import * as path from "path";
import type { ModelSpec } from "../../images/model-sync/src/models";
import { FakeUpstream, ollamaTag, randomCommit, sha256 } from "../../images/model-sync/test/fakeUpstream";
import { REPO_ROOT } from "../../scripts/evaluate";

export const PINNED_REPO = "acme/tiny-embed";
export const BRANCH_REPO = "acme/tiny-chat";
export const LFS_FILE = "model.safetensors";

/** Puts the fixtures on the upstream; returns the models list and every file body by sha256. */
export function serveModels(up: FakeUpstream): { models: ModelSpec[]; bodies: Map<string, Buffer> } {
    up.repos.set(PINNED_REPO, {
        sha: randomCommit(),
        files: { "config.json": Buffer.from('{"hidden_size": 8}'), "tokenizer.json": Buffer.from('{"v": 1}'), [LFS_FILE]: randomBytes(3_000_000), "README.md": Buffer.from("# tiny") },
        lfs: [LFS_FILE],
    });
    up.repos.set(BRANCH_REPO, {
        sha: randomCommit(),
        files: { "config.json": Buffer.from('{"layers": 2}'), "1_Pooling/config.json": Buffer.from('{"pooling_mode_mean_tokens": true}'), [LFS_FILE]: randomBytes(1_000_000) },
        lfs: [LFS_FILE],
    });
    up.tags.set("library/tinyllama:1b", ollamaTag([500_000, 200]));
    const weights = randomBytes(50_000);
    up.urls.set("weights.bin", weights);
    const models: ModelSpec[] = [
        { name: "tiny-embed", source: "huggingface", repo: PINNED_REPO, revision: up.repos.get(PINNED_REPO)!.sha, include: ["*.json", "*.safetensors"] },
        { name: "tiny-chat", source: "huggingface", repo: BRANCH_REPO, revision: "main" },
        { name: "tinyllama", source: "ollama", model: "tinyllama", tag: "1b" },
        { name: "weights", source: "url", url: `${up.endpoint}/files/weights.bin`, sha256: sha256(weights), path: "weights.bin" },
    ];
    return { models, bodies: bodiesOf(up) };
}

/** Every body the upstream serves, by sha256. */
export function bodiesOf(up: FakeUpstream): Map<string, Buffer> {
    const all = [...[...up.repos.values()].flatMap((r) => Object.values(r.files)), ...[...up.tags.values()].flatMap((t) => [t.manifest, ...t.blobs]), ...up.urls.values()];
    return new Map(all.map((b) => [sha256(b), b]));
}

/** Moves a Hub repo to a new commit whose LFS file is new; returns the commit. */
export function newCommit(up: FakeUpstream, repo: string, lfsSize: number): string {
    const current = up.repos.get(repo)!;
    const sha = randomCommit();
    up.repos.set(repo, { ...current, sha, files: { ...current.files, [LFS_FILE]: randomBytes(lfsSize) } });
    return sha;
}

export const ENTRYPOINT = path.join(REPO_ROOT, "images/cuda-base/entrypoint.sh");

export interface EntrypointRun {
    code: number | null;
    /** The entrypoint's one JSON decision line. */
    decision: Record<string, unknown>;
    /** The command's own output, after the decision. */
    output: string;
    stderr: string;
}

/** Runs the CUDA bases' entrypoint with /bin/sh, as the images do, then `command`. */
export function runEntrypoint(env: Record<string, string>, command: string[]): Promise<EntrypointRun> {
    return new Promise((resolve, reject) => {
        const child = spawn("sh", [ENTRYPOINT, ...command], { env, stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (code) => {
            const newline = out.indexOf("\n");
            try {
                resolve({ code, decision: JSON.parse(out.slice(0, newline)) as Record<string, unknown>, output: out.slice(newline + 1), stderr });
            } catch {
                reject(new Error(`entrypoint printed no decision line first (exit ${code}): ${out} ${stderr}`));
            }
        });
    });
}
