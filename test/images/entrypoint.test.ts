// The cache-aware entrypoint, run for real with /bin/sh (dash on Debian) in temporary directories.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { REPO_ROOT } from "../../scripts/evaluate";

const ENTRYPOINT = path.join(REPO_ROOT, "images/cuda-base/entrypoint.sh");

/** A manifest as the sync job writes it (two-space indent, top-level revision on its own line). */
export function manifestText(revision: string, files = 0): string {
    const models = files === 0 ? [] : [{ name: "m", source: "url", revision: "r", path: "url/m", files: Array.from({ length: files }, (_, i) => ({ path: `f${i}`, size: 1, sha256: "0".repeat(64) })) }];
    return `${JSON.stringify({ schemaVersion: 1, revision, generatedAt: "2026-11-22T03:00:00.000Z", models }, null, 2)}\n`;
}

export function publish(dir: string, revision: string): void {
    const text = manifestText(revision);
    fs.writeFileSync(path.join(dir, "manifest.json"), text);
    fs.writeFileSync(path.join(dir, ".done"), `${createHash("sha256").update(text).digest("hex")}\n`);
}

interface Run {
    status: number | null;
    log: Record<string, unknown>;
    env: Record<string, string>;
    /** HF_HUB_OFFLINE and OLLAMA_NOPRUNE as the command saw them ("" when unset). */
    offline: Record<string, string>;
    pid: number;
    shellPid: number;
    stderr: string;
}

/** Runs the entrypoint with a command that prints its PID and the model variables it was given. */
function run(cache: string, extraEnv: Record<string, string> = {}): Run {
    const local = path.join(cache, "..", "local");
    const script = 'echo "PID=$$"; echo "HF_HUB_CACHE=$HF_HUB_CACHE"; echo "OLLAMA_MODELS=$OLLAMA_MODELS"; echo "SENTENCE_TRANSFORMERS_HOME=$SENTENCE_TRANSFORMERS_HOME"; echo "HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-}"; echo "OLLAMA_NOPRUNE=${OLLAMA_NOPRUNE:-}"';
    // `exec sh -c` in a wrapper: the wrapper's PID is the entrypoint's, so an exec keeps it.
    const res = spawnSync("sh", ["-c", `echo "SHELL=$$"; exec sh "${ENTRYPOINT}" sh -c '${script}'`], {
        encoding: "utf8",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MODEL_CACHE_PATH: cache, LOCAL_MODEL_CACHE: local, ...extraEnv },
    });
    const lines = res.stdout.trim().split("\n");
    const value = (key: string) => lines.find((l) => l.startsWith(`${key}=`))?.slice(key.length + 1) ?? "";
    const jsonLines = lines.filter((l) => l.startsWith("{"));
    expect(jsonLines, `one JSON log line (stdout: ${res.stdout} stderr: ${res.stderr})`).to.have.length(1);
    return {
        status: res.status,
        log: JSON.parse(jsonLines[0]) as Record<string, unknown>,
        env: { HF_HUB_CACHE: value("HF_HUB_CACHE"), OLLAMA_MODELS: value("OLLAMA_MODELS"), SENTENCE_TRANSFORMERS_HOME: value("SENTENCE_TRANSFORMERS_HOME") },
        offline: { HF_HUB_OFFLINE: value("HF_HUB_OFFLINE"), OLLAMA_NOPRUNE: value("OLLAMA_NOPRUNE") },
        pid: Number(value("PID")),
        shellPid: Number(value("SHELL")),
        stderr: res.stderr,
    };
}

describe("cache-aware entrypoint", () => {
    let root: string;
    let cache: string;
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "entrypoint-"));
        cache = path.join(root, "models");
        fs.mkdirSync(cache);
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    const expectLocal = (r: Run) => {
        const local = path.join(root, "local");
        expect(r.env).to.deep.equal({ HF_HUB_CACHE: `${local}/huggingface/hub`, OLLAMA_MODELS: `${local}/ollama`, SENTENCE_TRANSFORMERS_HOME: `${local}/sentence-transformers` });
        expect(fs.existsSync(`${local}/huggingface/hub`)).to.equal(true);
        expect(r.offline, "the fallback directory must be able to download").to.deep.equal({ HF_HUB_OFFLINE: "", OLLAMA_NOPRUNE: "" });
    };

    it("on a hit: logs cache_hit true with the revision, points the models at the cache, execs the command", () => {
        publish(cache, "20261122T030000Z-3f9c2a1b");
        const r = run(cache);
        expect(r.status).to.equal(0);
        expect(r.log).to.deep.equal({ severity: "INFO", message: "model cache hit", cache_hit: true, cache_path: cache, revision: "20261122T030000Z-3f9c2a1b" });
        expect(r.env).to.deep.equal({ HF_HUB_CACHE: `${cache}/huggingface/hub`, OLLAMA_MODELS: `${cache}/ollama`, SENTENCE_TRANSFORMERS_HOME: `${cache}/sentence-transformers` });
        expect(r.pid, "the command replaced the entrypoint's process (exec)").to.equal(r.shellPid);
    });

    it("on a hit: keeps the libraries off the network and away from the read-only cache", () => {
        // Online, huggingface_hub (file_download.py) resolves a branch to upstream's current commit;
        // once it moved past the synced one, hf_hub_download writes to HF_HUB_CACHE: EROFS on the
        // read-only mount. Ollama prunes unreferenced blobs at start unless OLLAMA_NOPRUNE is set.
        publish(cache, "r1");
        expect(run(cache).offline).to.deep.equal({ HF_HUB_OFFLINE: "1", OLLAMA_NOPRUNE: "1" });
    });

    it("on a miss with no marker: logs the reason and falls back to a local directory", () => {
        fs.writeFileSync(path.join(cache, "manifest.json"), manifestText("r1"));
        const r = run(cache);
        expect(r.status).to.equal(0);
        expect(r.log).to.include({ severity: "WARNING", cache_hit: false, reason: "no_marker" });
        expectLocal(r);
        expect(r.pid).to.equal(r.shellPid);
    });

    it("with the volume disabled: does not look at the cache", () => {
        publish(cache, "r1");
        const r = run(cache, { SHARED_MODEL_VOLUME_ENABLED: "false" });
        expect(r.log).to.include({ cache_hit: false, reason: "volume_disabled", severity: "NOTICE" });
        expectLocal(r);
    });

    it("with a corrupt manifest that the marker matches: refuses it", () => {
        const garbage = "{ not json";
        fs.writeFileSync(path.join(cache, "manifest.json"), garbage);
        fs.writeFileSync(path.join(cache, ".done"), createHash("sha256").update(garbage).digest("hex"));
        const r = run(cache);
        expect(r.log).to.include({ cache_hit: false, reason: "manifest_invalid" });
        expectLocal(r);
    });

    it("with a stale marker (a publish in progress, or a damaged manifest): misses", () => {
        publish(cache, "r1");
        fs.writeFileSync(path.join(cache, "manifest.json"), manifestText("r2"));
        const r = run(cache);
        expect(r.log).to.include({ cache_hit: false, reason: "stale_marker" });
        expectLocal(r);
    });

    it("with an unreadable manifest: misses", function () {
        publish(cache, "r1");
        fs.rmSync(path.join(cache, "manifest.json"));
        fs.mkdirSync(path.join(cache, "manifest.json"));
        const r = run(cache);
        expect(r.log).to.include({ cache_hit: false });
        expect(["manifest_unreadable", "stale_marker"]).to.include(r.log.reason);
    });

    it("keeps the log line valid JSON whatever the path holds", () => {
        const odd = path.join(root, 'we"ird\\dir');
        fs.mkdirSync(odd);
        publish(odd, 'rev"1');
        const r = run(odd);
        expect(r.log).to.include({ cache_hit: true, cache_path: odd });
    });

    it("passes the command's exit status through", () => {
        const res = spawnSync("sh", [ENTRYPOINT, "sh", "-c", "exit 7"], { encoding: "utf8", env: { PATH: process.env.PATH, MODEL_CACHE_PATH: cache, LOCAL_MODEL_CACHE: path.join(root, "l") } });
        expect(res.status).to.equal(7);
    });

    it("fails clearly without a command", () => {
        const res = spawnSync("sh", [ENTRYPOINT], { encoding: "utf8", env: { PATH: process.env.PATH, MODEL_CACHE_PATH: cache } });
        expect(res.status).to.equal(64);
        expect(res.stderr).to.include("no command given");
    });

    it("reads only the manifest and the marker, never the model files", () => {
        const script = fs.readFileSync(ENTRYPOINT, "utf8").split("\n").filter((l) => !l.trim().startsWith("#"));
        const reads = script.filter((l) => /\$cache\//.test(l));
        for (const l of reads) expect(l, l).to.match(/\$cache\/(\.done|manifest\.json)|point_models_at|mkdir/);
        expect(script.join("\n")).not.to.match(/\b(find|ls|du)\b/);
    });
});
