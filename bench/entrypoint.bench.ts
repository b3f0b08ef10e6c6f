// npm run bench:entrypoint — the entrypoint's cache check with an empty cache and with a cache of
// 10,000 model files, beside a peer that walks the cache (what an O(n) check would cost).
// The check must cost the same whatever the cache holds: the ratio stays near 1.
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const ENTRYPOINT = path.resolve(__dirname, "..", "images/cuda-base/entrypoint.sh");
const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const FILES = 10_000;
// The check hashes the manifest, which lists every file (~160 bytes each): a few milliseconds at
// 10,000 files. Walking or reading the files themselves would cost far more on gcsfuse, where each
// directory listing is a round trip to GCS.
const MAX_RATIO = 2;

/** A published cache with `files` model files, listed in the manifest as the sync writes them. */
function makeCache(root: string, files: number): string {
    const cache = path.join(root, `cache-${files}`);
    const dir = path.join(cache, "url", "m", "rev");
    fs.mkdirSync(dir, { recursive: true });
    const listed = [];
    for (let i = 0; i < files; i++) {
        fs.writeFileSync(path.join(dir, `shard-${i}.bin`), "x");
        listed.push({ path: `shard-${i}.bin`, size: 1, sha256: createHash("sha256").update("x").digest("hex") });
    }
    const models = files === 0 ? [] : [{ name: "m", source: "url", revision: "rev", path: "url/m/rev", files: listed }];
    const manifest = `${JSON.stringify({ schemaVersion: 1, revision: "bench", generatedAt: new Date(0).toISOString(), models }, null, 2)}\n`;
    fs.writeFileSync(path.join(cache, "manifest.json"), manifest);
    fs.writeFileSync(path.join(cache, ".done"), createHash("sha256").update(manifest).digest("hex"));
    return cache;
}

interface Case {
    args: string[];
    env: Record<string, string>;
}

/** Runs the cases interleaved, so machine noise (the other core, the page cache) hits all alike. */
function time(cases: Case[]): number[][] {
    const samples = cases.map(() => [] as number[]);
    for (let i = 0; i < RUNS; i++) {
        cases.forEach((c, k) => {
            const start = process.hrtime.bigint();
            const res = spawnSync("sh", c.args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...c.env }, stdio: ["ignore", "pipe", "pipe"] });
            samples[k].push(Number(process.hrtime.bigint() - start) / 1e6);
            if (res.status !== 0) throw new Error(`run failed: ${res.stderr}`);
        });
    }
    return samples.map((s) => s.sort((a, b) => a - b));
}

const pct = (s: number[], p: number) => s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];

function main(): number {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-bench-"));
    try {
        const empty = makeCache(root, 0);
        const full = makeCache(root, FILES);
        const local = path.join(root, "local");
        const check = (cache: string): Case => ({ args: [ENTRYPOINT, "true"], env: { MODEL_CACHE_PATH: cache, LOCAL_MODEL_CACHE: local } });
        // The peer: an entrypoint that would verify the cache by walking it.
        const walk = (cache: string): Case => ({ args: ["-c", `find "${cache}" -type f | wc -l >/dev/null; exec sh "${ENTRYPOINT}" true`], env: { MODEL_CACHE_PATH: cache, LOCAL_MODEL_CACHE: local } });
        const [a, b, c, d] = time([check(empty), check(full), walk(empty), walk(full)]);
        const manifestKiB = (fs.statSync(path.join(full, "manifest.json")).size / 1024).toFixed(0);
        const rows = [
            ["entrypoint, empty cache", a],
            [`entrypoint, ${FILES} files`, b],
            ["walking peer, empty cache", c],
            [`walking peer, ${FILES} files`, d],
        ] as const;
        console.log(`cache check, ${RUNS} runs each (ms)`);
        console.log(`${"".padEnd(30)}${"median".padStart(9)}${"p95".padStart(9)}`);
        for (const [label, s] of rows) console.log(`${label.padEnd(30)}${pct(s, 50).toFixed(2).padStart(9)}${pct(s, 95).toFixed(2).padStart(9)}`);
        const ratio = pct(rows[1][1], 50) / pct(rows[0][1], 50);
        const peerRatio = pct(rows[3][1], 50) / pct(rows[2][1], 50);
        console.log(`ratio ${FILES} files / empty: entrypoint ${ratio.toFixed(2)}, walking peer ${peerRatio.toFixed(2)}`);
        console.log(`(the entrypoint reads no model file; what grows is hashing the ${manifestKiB} KiB manifest that lists them)`);
        if (ratio > MAX_RATIO) {
            console.error(`the check grew with the cache: ratio ${ratio.toFixed(2)} > ${MAX_RATIO}`);
            return 1;
        }
        return 0;
    } finally {
        fs.rmSync(root, { recursive: true, force: true });
    }
}

process.exit(main());
