// npm run bench:sync — the compiled sync (node dist/cli.js, what the image runs) fetching one large
// file from a loopback server, beside `rclone copyurl`, `rclone copyurl && openssl dgst -sha256`
// (a download plus the verification the sync also does) and `curl`, on the same server and file;
// and an unchanged rerun after every cold sync. Prints wall times, ratios (peer time / sync time:
// ≥ 1 means the sync is as fast), the spread of the runs, CPU seconds of each case and of the
// server serving it, peak RSS, the body bytes the reruns fetched, and each of TARGETS met or missed.
// BENCH_SIZE_MIB (2048) sets the file size, BENCH_RUNS (1) the interleaved rounds (medians shown),
// BENCH_NODE (`node` on PATH) the node binary that runs the sync: the image runs the major in its
// Dockerfile's NODE_IMAGE, which this machine may not have (README: how to fetch it from npm).
import { spawnSync } from "child_process";
import { createHash, randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startFileServer } from "./startFileServer";

const ROOT = path.resolve(__dirname, "..");
const PKG = path.join(ROOT, "images/model-sync");
const CLI = path.join(PKG, "dist/cli.js");
const MiB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_SIZE_MIB ?? 2048) * MiB;
const RUNS = Number(process.env.BENCH_RUNS ?? 1);
const TIME = "/usr/bin/time";
const NODE = process.env.BENCH_NODE ?? "node";
// What the sync is held to on a 2-core machine, on the Node its image runs. Ratios are peer time /
// sync time. The verifying peer does what the sync does (download, then sha256); raw rclone skips
// the hash, and on 2 cores sha256 costs about as much CPU as the download ("bound" below).
const TARGETS = { vsRawRclone: 0.75, vsVerifyingPeer: 1.3, peakRssMb: 150, rerunSeconds: 0.3, rerunBodyBytes: 0 };

function has(program: string): boolean {
    return spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;
}

interface Sample {
    seconds: number;
    /** Peak RSS of the command (the largest process of a pipeline), in MB; undefined without GNU time. */
    rssMb?: number;
    /** User + system CPU seconds of the command and its children; undefined without GNU time. */
    cpuSeconds?: number;
    /** CPU seconds the file server spent during the command: it shares the cores. */
    serverCpuSeconds?: number;
    stdout: string;
}

/** Runs `sh -c script` under GNU time (peak RSS) and times it with the monotonic clock. */
function timed(script: string, env: NodeJS.ProcessEnv = process.env): Sample {
    const rssFile = path.join(os.tmpdir(), `bench-rss-${process.pid}`);
    const withTime = fs.existsSync(TIME);
    const args = withTime ? [TIME, "-f", "%M %U %S", "-o", rssFile, "sh", "-c", script] : ["sh", "-c", script];
    const t0 = process.hrtime.bigint();
    const res = spawnSync(args[0], args.slice(1), { env, encoding: "utf8", maxBuffer: 64 * MiB });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    if (res.status !== 0) throw new Error(`${script} failed (${res.status}): ${res.stderr}`);
    let rssMb: number | undefined;
    let cpuSeconds: number | undefined;
    if (withTime) {
        const [kb, user, sys] = fs.readFileSync(rssFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
        rssMb = kb / 1024;
        cpuSeconds = user + sys;
        fs.rmSync(rssFile, { force: true });
    }
    return { seconds, rssMb, cpuSeconds, stdout: res.stdout };
}

/**
 * How soon this machine hands freed memory back to its host, if it does (a VM's virtio free page
 * reporting): a page the host took back is faulted in again by whoever writes to it first, inside
 * the copy into the page cache. 2 GiB written right after 2 GiB were freed cost 0.66-0.71 s of
 * system time here, 6 s after 1.46-2.19 s, and 0.64-0.68 s either way with min_free_ms at 60000.
 */
function freePageReporting(): string | undefined {
    const dir = "/sys/module/page_reporting/parameters";
    const read = (name: string) => {
        try {
            return fs.readFileSync(path.join(dir, name), "utf8").trim();
        } catch {
            return undefined;
        }
    };
    const order = read("page_reporting_order");
    if (order === undefined) return undefined;
    const minFree = read("min_free_ms");
    return `freed memory goes back to its host (free page reporting: page_reporting_order ${order}${minFree === undefined ? "" : `, min_free_ms ${minFree}`})`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** The median CPU seconds of a case's samples; undefined without GNU time. */
const cpuOf = (s: Sample[]) => (s.some((x) => x.cpuSeconds === undefined) ? undefined : median(s.map((x) => x.cpuSeconds!)));
/** The median CPU seconds the server spent on a case's samples. */
const serverCpuOf = (s: Sample[]) => median(s.map((x) => x.serverCpuSeconds!));
/** The largest peak RSS of a case's samples; undefined without GNU time. */
const peakRssOf = (s: Sample[]) => (s.some((x) => x.rssMb === undefined) ? undefined : Math.max(...s.map((x) => x.rssMb!)));

async function main(): Promise<void> {
    if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm --prefix images/model-sync run build\``);
    const nodeVersion = spawnSync(NODE, ["--version"], { encoding: "utf8" });
    if (nodeVersion.status !== 0) throw new Error(`BENCH_NODE=${NODE} does not run: ${nodeVersion.error?.message ?? nodeVersion.stderr}`);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "bench-sync-"));
    const server = { kill: () => {} } as { kill: () => void };
    try {
        // Random content (nothing compresses), written in 64 MiB blocks.
        const data = path.join(tmp, "data");
        fs.mkdirSync(data);
        const file = path.join(data, "model.bin");
        const hash = createHash("sha256");
        const fd = fs.openSync(file, "w");
        const block = randomBytes(64 * MiB);
        for (let done = 0; done < SIZE; done += block.length) {
            const part = block.subarray(0, Math.min(block.length, SIZE - done));
            hash.update(part);
            fs.writeSync(fd, part);
        }
        fs.closeSync(fd);
        const digest = hash.digest("hex");

        const { base, kill } = await startFileServer(data);
        server.kill = kill;
        const url = `${base}/model.bin`;
        const served = async () => Number(await (await fetch(`${base}/__bytes`)).text());
        const serverCpu = async () => Number(await (await fetch(`${base}/__cpu`)).text());
        /** Times `script` and the server CPU it cost. */
        const measured = async (script: string, env?: NodeJS.ProcessEnv): Promise<Sample> => {
            const before = await serverCpu();
            const s = timed(script, env);
            return { ...s, serverCpuSeconds: (await serverCpu()) - before };
        };

        const models = path.join(tmp, "models.json");
        fs.writeFileSync(models, JSON.stringify([{ name: "bench", source: "url", url, sha256: digest, path: "model.bin" }]));
        const cache = path.join(tmp, "cache");
        const out = path.join(tmp, "out.bin");
        const syncEnv = { ...process.env, LOG_LEVEL: "warn" };
        const syncCmd = `${NODE} ${CLI} --models ${models} --dest ${cache}`;

        const peers: { name: string; script: string; needs: string[] }[] = [
            { name: "rclone copyurl", script: `rclone --config /dev/null copyurl ${url} ${out}`, needs: ["rclone"] },
            { name: "rclone copyurl && openssl dgst -sha256", script: `rclone --config /dev/null copyurl ${url} ${out} && openssl dgst -sha256 -r ${out}`, needs: ["rclone", "openssl"] },
            { name: "curl", script: `curl -sf -o ${out} ${url}`, needs: ["curl"] },
        ];
        const missing = peers.filter((p) => !p.needs.every(has));
        for (const p of missing) console.log(`PEER MISSING: ${p.name} — needs ${p.needs.filter((n) => !has(n)).join(", ")} (Debian: apt-get install -y ${p.needs.join(" ")}); not measured`);
        const present = peers.filter((p) => !missing.includes(p));
        if (!fs.existsSync(TIME)) console.log("GNU time missing (apt-get install -y time): peak RSS not measured");

        const samples = new Map<string, Sample[]>([["sync", []], ...present.map((p) => [p.name, []] as [string, Sample[]])]);
        // Every case writes the file to disk: flush the previous one's dirty pages (untimed) so its
        // writeback does not land on the next case.
        const flush = () => spawnSync("sync");
        const reruns: Sample[] = [];
        let rerunBytes = 0;
        const syncCold = async () => {
            flush();
            samples.get("sync")!.push(await measured(syncCmd, syncEnv));
            const manifest = JSON.parse(fs.readFileSync(path.join(cache, "manifest.json"), "utf8")) as { models: { files: { sha256: string }[] }[] };
            if (manifest.models[0].files[0].sha256 !== digest) throw new Error("the sync published a different sha256");
            // The unchanged rerun, on the cache this cold sync left: one per round, so its median
            // is as robust to this machine's noise as the other cases'.
            flush();
            const before = await served();
            reruns.push(await measured(syncCmd, syncEnv));
            rerunBytes += (await served()) - before;
            fs.rmSync(cache, { recursive: true, force: true });
        };
        const cases = [syncCold, ...present.map((p) => async () => {
            flush();
            const s = await measured(p.script);
            if (p.script.includes("openssl") && !s.stdout.startsWith(digest)) throw new Error(`${p.name}: digest differs`);
            samples.get(p.name)!.push(s);
            fs.rmSync(out, { force: true });
        })];
        // Each case's output is removed as soon as it has been measured, so every case starts with
        // the last one's 2 GiB just freed; the first one too, after this copy. On a VM that hands
        // freed pages back to its host (virtio-balloon free page reporting), a writer that finds no
        // freshly freed memory pays for every page it faults back in: rclone after a sync that
        // kept its cache took 8.0-12.2 s, after one that had removed it 1.95-2.01 s.
        fs.copyFileSync(file, out);
        fs.rmSync(out);
        for (let round = 0; round < RUNS; round++) {
            // Interleaved and rotated, so noise from other work and the page cache hits every case alike.
            for (let k = 0; k < cases.length; k++) await cases[(k + round) % cases.length]();
        }

        const sync = median(samples.get("sync")!.map((s) => s.seconds));
        const fmt = (n: number | undefined, d = 2) => (n === undefined ? "n/a" : n.toFixed(d));
        const spreadOf = (times: number[]) => `${fmt(Math.min(...times))}-${fmt(Math.max(...times))}`;
        console.log(`\n${(SIZE / MiB).toFixed(0)} MiB over loopback, ${RUNS} round(s), ${os.cpus().length} cores, the sync on node ${nodeVersion.stdout.trim()}; medians`);
        const reporting = freePageReporting();
        if (reporting !== undefined) console.log(`this machine: ${reporting}; a case that writes slowly pays for more of its pages (model-sync README)`);
        // The spread and the CPU time show how much of a difference is this machine's noise.
        console.log(`${"case".padEnd(42)} ${"seconds".padStart(8)} ${"min-max".padStart(11)} ${"CPU s".padStart(6)} ${"server".padStart(7)} ${"peak RSS MB".padStart(12)} ${"peer/sync".padStart(10)}`);
        for (const [name, s] of samples) {
            const times = s.map((x) => x.seconds);
            const t = median(times);
            console.log(`${name.padEnd(42)} ${fmt(t).padStart(8)} ${spreadOf(times).padStart(11)} ${fmt(cpuOf(s)).padStart(6)} ${fmt(serverCpuOf(s)).padStart(7)} ${fmt(peakRssOf(s), 0).padStart(12)} ${(name === "sync" ? "" : `${fmt(t / sync)}×`).padStart(10)}`);
        }
        const rerunTimes = reruns.map((x) => x.seconds);
        console.log(`${"sync, unchanged rerun".padEnd(42)} ${fmt(median(rerunTimes)).padStart(8)} ${spreadOf(rerunTimes).padStart(11)} ${fmt(cpuOf(reruns)).padStart(6)} ${fmt(serverCpuOf(reruns)).padStart(7)} ${fmt(peakRssOf(reruns), 0).padStart(12)}   body bytes fetched: ${rerunBytes}`);
        // What the cores allow a verifying download: the CPU time a download plus its sha256 took
        // (client and server, which share the cores), spread perfectly over every core.
        const verified = samples.get("rclone copyurl && openssl dgst -sha256");
        const raw = samples.get("rclone copyurl");
        const verifiedCpu = verified === undefined ? undefined : cpuOf(verified);
        if (verified !== undefined && raw !== undefined && verifiedCpu !== undefined) {
            const bound = (verifiedCpu + serverCpuOf(verified)) / os.cpus().length;
            const rawTime = median(raw.map((x) => x.seconds));
            console.log(`bound: rclone && openssl's CPU time (client + server) over ${os.cpus().length} cores = ${fmt(bound)} s; raw rclone / bound = ${fmt(rawTime / bound)}×, the best peer/sync against raw rclone a verifying download can show here`);
        }
        // The same for the sync's own CPU time: how much of its time the cores were busy for it.
        const syncCpu = cpuOf(samples.get("sync")!);
        if (syncCpu !== undefined) {
            const own = (syncCpu + serverCpuOf(samples.get("sync")!)) / os.cpus().length;
            console.log(`the sync's CPU time (client + server) over ${os.cpus().length} cores = ${fmt(own)} s, ${fmt((100 * own) / sync, 0)}% of its time`);
        }
        console.log(`sha256 verified by the sync (manifest) and by openssl: ${digest}`);
        const peerRatio = (name: string) => {
            const s = samples.get(name);
            return s === undefined ? undefined : median(s.map((x) => x.seconds)) / sync;
        };
        const checks: [string, number | undefined, (v: number) => boolean, string][] = [
            ["raw rclone / sync", peerRatio("rclone copyurl"), (v) => v >= TARGETS.vsRawRclone, `≥ ${TARGETS.vsRawRclone}×`],
            ["rclone && openssl / sync", peerRatio("rclone copyurl && openssl dgst -sha256"), (v) => v >= TARGETS.vsVerifyingPeer, `≥ ${TARGETS.vsVerifyingPeer}×`],
            ["sync peak RSS MB (max of rounds)", peakRssOf(samples.get("sync")!), (v) => v <= TARGETS.peakRssMb, `≤ ${TARGETS.peakRssMb}`],
            ["unchanged rerun seconds (median)", median(rerunTimes), (v) => v <= TARGETS.rerunSeconds, `≤ ${TARGETS.rerunSeconds}`],
            ["unchanged reruns' body bytes", rerunBytes, (v) => v <= TARGETS.rerunBodyBytes, `= ${TARGETS.rerunBodyBytes}`],
        ];
        for (const [name, value, ok, target] of checks) {
            const verdict = value === undefined ? "not measured" : ok(value) ? "met" : "MISSED";
            console.log(`target ${name.padEnd(34)} ${target.padStart(7)}: ${fmt(value)} ${verdict}`);
        }
    } finally {
        server.kill();
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
