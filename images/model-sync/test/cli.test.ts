import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { readOptions } from "../src/cli";
import { DEFAULT_PARALLEL } from "../src/download";
import { createLogger } from "../src/log";
import { EXIT, Setting, SETTINGS } from "../src/settings";

const CLI = path.resolve(__dirname, "../src/cli.ts");
const logger = createLogger(fs.createWriteStream("/dev/null"));

describe("command line", () => {
    it("reads the models and the destination from the environment, like the Cloud Run job", () => {
        const o = readOptions([], { MODELS_JSON: '[{"name":"m","source":"ollama","model":"llama3.2","tag":"1b"}]', MODEL_CACHE_PATH: "/models", REVISION_RETENTION_DAYS: "3" }, logger);
        expect(o.dest).to.equal("/models");
        expect(o.models.map((m) => m.name)).to.deep.equal(["m"]);
        expect(o.retentionDays).to.equal(3);
        expect(o.hfEndpoint).to.equal("https://huggingface.co");
        expect(o.ollamaRegistry).to.equal("https://registry.ollama.ai");
    });

    it("locks on the bucket when the job names it, with a file otherwise; bad lock timings are named", () => {
        const base = { MODELS_JSON: "[]", MODEL_CACHE_PATH: "/models" };
        const cloudRun = { CLOUD_RUN_EXECUTION: "model-sync-x7k2p", CLOUD_RUN_TASK_INDEX: "0", CLOUD_RUN_TASK_ATTEMPT: "2" };
        const lock = readOptions([], { ...base, ...cloudRun, MODEL_CACHE_BUCKET: "acme-models", SYNC_LOCK_HEARTBEAT_SECONDS: "10" }, logger).lock;
        expect(lock).to.include({ bucket: "acme-models", heartbeatSeconds: 10, staleSeconds: 40 });
        // The lock records the task attempt from the environment main() is given, and this process.
        expect(lock.self).to.include({ host: os.hostname(), pid: String(process.pid), execution: "model-sync-x7k2p", task: "0", attempt: "2" });
        expect(readOptions([], base, logger).lock.self).not.to.have.property("execution");
        expect(readOptions([], base, logger).lock.bucket).to.equal(undefined);
        expect(() => readOptions([], { ...base, SYNC_LOCK_STALE_SECONDS: "40" }, logger)).to.throw(/SYNC_LOCK_STALE_SECONDS must be at least twice SYNC_LOCK_HEARTBEAT_SECONDS \(got 40 and 30\)/);
        expect(() => readOptions([], { ...base, MODEL_CACHE_BUCKET: "gs://acme" }, logger)).to.throw(/MODEL_CACHE_BUCKET is not a bucket name \(got "gs:\/\/acme"\)/);
    });

    it("names the entry, field and value of a bad models list", () => {
        expect(() => readOptions([], { MODELS_JSON: '[{"name":"m","source":"ollama","model":"llama3.2"}]', MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/models\[0\]\.tag: .*\(value \(not set\)\)/);
        expect(() => readOptions([], { MODELS_JSON: '[{"name":"m","source":"url","url":"https://x/y","sha256":"abc","path":"y"}]', MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/models\[0\]\.sha256: .*"abc"/);
        expect(() => readOptions([], { MODELS_JSON: "{", MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/MODELS_JSON: not JSON/);
        expect(() => readOptions([], { MODELS_JSON: "[]", SYNC_CONCURRENCY: "0", MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/SYNC_CONCURRENCY must be a positive integer \(got "0"\)/);
        expect(() => readOptions(["--concurrency", "two"], { MODELS_JSON: "[]", SYNC_CONCURRENCY: "3", MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/--concurrency must be a positive integer \(got "two"\)/);
        expect(() => readOptions(["--retention-days", "0"], { MODELS_JSON: "[]", MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/--retention-days must be a positive number \(got "0"\)/);
        expect(() => readOptions([], { MODELS_JSON: "[]", SYNC_CONNECTIONS_PER_FILE: "1.5", MODEL_CACHE_PATH: "/m" }, logger)).to.throw(/SYNC_CONNECTIONS_PER_FILE must be a positive integer \(got "1.5"\)/);
    });

    it("opens the default number of Range connections per large file unless the environment says otherwise", () => {
        const base = { MODELS_JSON: "[]", MODEL_CACHE_PATH: "/m" };
        expect(readOptions([], base, logger).connectionsPerFile).to.equal(DEFAULT_PARALLEL.connections);
        expect(readOptions([], { ...base, SYNC_CONNECTIONS_PER_FILE: "8" }, logger).connectionsPerFile).to.equal(8);
    });

    it("exits 2 on bad input without writing a byte", () => {
        const dest = fs.mkdtempSync(path.join(os.tmpdir(), "bad-input-"));
        const target = path.join(dest, "cache");
        const run = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", CLI, "--dest", target], {
            env: { ...process.env, MODELS_JSON: '[{"name":"Bad Name","source":"ollama","model":"x","tag":"1"}]' }, encoding: "utf8",
        });
        expect(run.status).to.equal(2);
        const line = JSON.parse(run.stdout.trim().split("\n").pop()!) as Record<string, string>;
        expect(line.severity).to.equal("ERROR");
        expect(line.error).to.include("models[0].name");
        expect(fs.existsSync(target)).to.equal(false);
        fs.rmSync(dest, { recursive: true, force: true });
    });

    describe("the README", () => {
        const readme = fs.readFileSync(path.resolve(__dirname, "../README.md"), "utf8");

        it("lists every setting the program reads, with its default, in the program's order", () => {
            const table = /## Settings\n[\s\S]*?\n\| flag \/ variable[^\n]*\n\|[-|]+\n((?:\|[^\n]*\n)+)/.exec(readme)?.[1];
            expect(table, "the README's settings table").to.be.a("string");
            const rows = table!.trim().split("\n").map((row) => {
                const [names, fallback] = row.split(" | ");
                return { names: [...names.matchAll(/`([^`]+)`/g)].map((m) => m[1]), fallback: fallback.replace(/`/g, "").trim() };
            });
            const expected = Object.values(SETTINGS as Record<string, Setting>).map((s) => ({
                names: [...(s.flag === undefined ? [] : [s.flag]), ...s.env.split(", ")],
                fallback: s.setBy !== undefined ? `set by ${s.setBy}` : s.default === undefined ? (s.flag === undefined ? "none" : "—") : String(s.default),
            }));
            expect(rows).to.deep.equal(expected);
        });

        it("gives the program's exit codes", () => {
            const paragraph = /\nExit codes: ([\s\S]*?)\n\n/.exec(readme)?.[1] ?? "";
            expect([...paragraph.matchAll(/`(\d+)`/g)].map((m) => Number(m[1]))).to.deep.equal(Object.values(EXIT).map((e) => e.code));
        });
    });
});
