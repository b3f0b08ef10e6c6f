// A run killed after one model finished while another still downloads: the finished model's
// pointers (a Hub ref, an Ollama tag) must still name what the published manifest names, or a
// reader resolving by branch or tag would load a revision nobody published.
import { ChildProcess, spawn } from "child_process";
import { randomBytes } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { createLogger } from "../src/log";
import type { ModelSpec } from "../src/models";
import { sync } from "../src/sync";
import { FakeUpstream, ollamaTag, randomCommit, sha256 } from "./fakeUpstream";
import { Lines } from "./logLines";

const CLI = path.resolve(__dirname, "../src/cli.ts");
const REPO = "acme/tiny-chat";
const REF = "huggingface/hub/models--acme--tiny-chat/refs/main";
const TAG = "ollama/manifests/registry.ollama.ai/library/tinyllama/1b";

describe("killed while another model still downloads (SIGKILL, a real child process)", function () {
    this.timeout(60000);
    let up: FakeUpstream;
    let dest: string;
    let child: ChildProcess | undefined;

    beforeEach(async () => {
        up = new FakeUpstream();
        await up.start();
        dest = fs.mkdtempSync(path.join(os.tmpdir(), "killed-pointers-"));
    });
    afterEach(async () => {
        child?.kill("SIGKILL");
        await up.stop();
        fs.rmSync(dest, { recursive: true, force: true });
    });

    it("leaves the finished model's ref and tag naming the published revision", async () => {
        up.repos.set(REPO, { sha: randomCommit(), files: { "config.json": Buffer.from("{}") }, lfs: [] });
        up.tags.set("library/tinyllama:1b", ollamaTag([1000]));
        const slow = randomBytes(400_000);
        up.urls.set("slow.bin", slow);
        const models = (slowSha: string): ModelSpec[] => [
            { name: "tiny-chat", source: "huggingface", repo: REPO, revision: "main" },
            { name: "tinyllama", source: "ollama", model: "tinyllama", tag: "1b" },
            { name: "slow", source: "url", url: `${up.endpoint}/files/slow.bin`, sha256: slowSha, path: "slow.bin" },
        ];
        await sync({
            models: models(sha256(slow)), dest, hfEndpoint: up.endpoint, ollamaRegistry: up.endpoint, concurrency: 4, timeoutSeconds: 5, attempts: 2, backoffMs: 5,
            retentionDays: 7, lock: { heartbeatSeconds: 1, staleSeconds: 3600 }, logger: createLogger(new Lines()),
        });
        const ref = fs.readFileSync(path.join(dest, REF), "utf8");
        const tag = fs.readFileSync(path.join(dest, TAG));

        // Upstream moves: the branch and the tag get new revisions, and the URL file a new body
        // that arrives slowly.
        up.repos.set(REPO, { sha: randomCommit(), files: { "config.json": Buffer.from('{"v": 2}') }, lfs: [] });
        up.tags.set("library/tinyllama:1b", ollamaTag([2000]));
        const next = randomBytes(400_000);
        up.urls.set("slow.bin", next);
        up.fault("/files/slow.bin", { kind: "stall", afterBytes: 1000, ms: 30_000 });
        child = spawn(process.execPath, [require.resolve("ts-node/dist/bin.js"), "--transpile-only", CLI, "--dest", dest], {
            env: { ...process.env, MODELS_JSON: JSON.stringify(models(sha256(next))), HF_ENDPOINT: up.endpoint, OLLAMA_REGISTRY: up.endpoint },
            stdio: ["ignore", "pipe", "ignore"],
        });
        let out = "";
        child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
        const finished = (model: string) => out.split("\n").some((l) => l.includes('"model synced"') && l.includes(`"model":"${model}"`));
        const deadline = Date.now() + 30_000;
        while (!(finished("tiny-chat") && finished("tinyllama") && up.count("/files/slow.bin") > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(finished("tiny-chat") && finished("tinyllama"), `both finished while slow.bin downloads: ${out}`).to.equal(true);
        child.kill("SIGKILL");
        await new Promise((r) => child!.once("exit", r));

        expect(fs.readFileSync(path.join(dest, REF), "utf8"), "the branch's ref").to.equal(ref);
        expect(fs.readFileSync(path.join(dest, TAG)).equals(tag), "the Ollama tag").to.equal(true);
    });
});
