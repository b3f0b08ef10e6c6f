// The real Python consumer: huggingface_hub (the version the services' pins resolve to, from PyPI
// with hashes: tools/python/requirements.txt) reads the synced cache as a service does, started
// by the real entrypoint, over a gcsfuse mount of the emulator and over a plain directory.
import { spawn } from "child_process";
import * as fs from "fs";
import * as http from "http";
import type { AddressInfo } from "net";
import * as path from "path";
import { expect } from "chai";
import type { ModelSpec } from "../../images/model-sync/src/models";
import { randomCommit, sha256 } from "../../images/model-sync/test/fakeUpstream";
import { CacheRig, mountTestSetup, messages, SyncRun, Tools } from "./cacheRig";
import { BRANCH_REPO, LFS_FILE, newCommit, PINNED_REPO, ENTRYPOINT, serveModels } from "./fixtures";
import { envAt, Workload } from "./programWorkloads";
import { REPO_ROOT } from "../../scripts/evaluate";

const TAGGED_REPO = "acme/tiny-rerank";
const CONSUMER = path.join(__dirname, "hubConsumer.py");
/** The version tools/python/requirements.txt pins (what tools/build.sh installs). */
const PINNED_VERSION = /^huggingface-hub==(\S+)/m.exec(fs.readFileSync(path.join(REPO_ROOT, "tools/python/requirements.txt"), "utf8"))?.[1];
/** Retention in the job's unit (days), short enough to expire within the test: 2.6 s. */
const RETENTION_DAYS = "0.00003";

interface Consumed {
    version: string;
    cache: string;
    snapshots: { repo: string; revision: string; path?: string; files?: string[]; error?: string }[];
    downloads: { repo: string; file: string; revision?: string; path?: string; sha256?: string; error?: string }[];
    scan: { warnings: string[]; repos: { repo: string; revisions: string[]; refs: Record<string, string>; files: Record<string, string[]> }[] };
}

/** Any request at all, direct (HF_ENDPOINT) or through the proxy variables, is recorded and refused. */
class NetworkRecorder {
    readonly requests: string[] = [];
    endpoint = "";
    private server?: http.Server;

    async start(): Promise<void> {
        this.server = http.createServer((req, res) => {
            this.requests.push(`${req.method} ${req.url}`);
            res.writeHead(503).end("no network in this test");
        });
        this.server.on("connect", (req: http.IncomingMessage, socket: import("net").Socket) => {
            this.requests.push(`CONNECT ${req.url}`);
            socket.end("HTTP/1.1 503 No network\r\n\r\n");
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    }

    async stop(): Promise<void> {
        this.server?.closeAllConnections();
        await new Promise((resolve) => (this.server ? this.server.close(resolve) : resolve(undefined)));
    }
}

const expectOk = (run: SyncRun, what: string) => expect(run.code, `${what}: exit ${run.code}\n${JSON.stringify(run.lines.slice(-5))}\n${run.stderr}`).to.equal(0);

describe("huggingface_hub reads the synced cache offline", function () {
    this.timeout(180_000);
    let tools: Tools;
    let workloads: { syncJob: Workload; service: Workload };
    let rig: CacheRig | undefined;
    let net: NetworkRecorder;

    before(async function () {
        ({ tools, workloads } = await mountTestSetup());
    });

    beforeEach(async () => {
        rig = await CacheRig.start(tools, workloads);
        net = new NetworkRecorder();
        await net.start();
    });

    afterEach(async () => {
        await net.stop();
        await rig?.stop();
        rig = undefined;
    });

    /** How the cache is written and read: through the job's and a service's mounts, or a plain directory. */
    interface Layout {
        name: string;
        sync(models: ModelSpec[]): Promise<SyncRun>;
        /** A new service instance's view of the cache, and its release. */
        open(): Promise<{ root: string; close(): Promise<void> }>;
    }

    const layouts: Layout[] = [
        {
            name: "through the job's and a service's gcsfuse mounts",
            async sync(models) {
                const mnt = await rig!.mountForJob();
                try {
                    return await rig!.runSync(rig!.jobEnv(models, mnt, { mounted: true, extra: { REVISION_RETENTION_DAYS: RETENTION_DAYS } }));
                } finally {
                    await rig!.unmount(mnt);
                }
            },
            async open() {
                const root = await rig!.mountForService();
                return { root, close: () => rig!.unmount(root) };
            },
        },
        {
            name: "in a plain directory (file lock, as the local target)",
            sync(models) {
                return rig!.runSync(rig!.jobEnv(models, path.join(rig!.dir, "plain"), { mounted: false, extra: { REVISION_RETENTION_DAYS: RETENTION_DAYS } }));
            },
            async open() {
                return { root: path.join(rig!.dir, "plain"), close: async () => undefined };
            },
        },
    ];

    /** Starts a service instance: the entrypoint, then the Python consumer with what it exported. */
    async function consume(layout: Layout, request: Pick<Consumed, "snapshots" | "downloads">): Promise<Consumed> {
        const view = await layout.open();
        try {
            const env = {
                PATH: process.env.PATH ?? "/usr/bin:/bin",
                HOME: path.join(rig!.dir, "home"),
                ...envAt(workloads.service, view.root),
                LOCAL_MODEL_CACHE: path.join(rig!.dir, "local"),
                // Anything that reaches for the network lands here.
                HF_ENDPOINT: net.endpoint, HTTP_PROXY: net.endpoint, HTTPS_PROXY: net.endpoint, http_proxy: net.endpoint, https_proxy: net.endpoint,
            };
            const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>((resolve, reject) => {
                const child = spawn("sh", [ENTRYPOINT, tools.python, CONSUMER, JSON.stringify(request)], { env, stdio: ["ignore", "pipe", "pipe"] });
                let o = "";
                let e = "";
                child.stdout.on("data", (d: Buffer) => (o += d.toString()));
                child.stderr.on("data", (d: Buffer) => (e += d.toString()));
                child.on("error", reject);
                child.on("close", (c) => resolve({ code: c, out: o, err: e }));
            });
            expect(code, err).to.equal(0);
            const [decision, result] = out.trim().split("\n");
            expect(JSON.parse(decision), "the entrypoint found the cache complete").to.include({ cache_hit: true, cache_path: view.root });
            const consumed = JSON.parse(result) as Consumed;
            expect(consumed.cache, "the contract's Hugging Face cache").to.equal(envAt(workloads.service, view.root).HF_HUB_CACHE);
            return consumed;
        } finally {
            await view.close();
        }
    }

    for (const layout of layouts) {
        it(`${layout.name}: a pinned commit, a branch and a tag, then a retention pass`, async () => {
            const up = rig!.upstream;
            const { models } = serveModels(up);
            const hubModels = models.filter((m) => m.source === "huggingface");
            up.repos.set(TAGGED_REPO, { sha: randomCommit(), files: { "config.json": Buffer.from('{"labels": 1}'), [LFS_FILE]: Buffer.alloc(200_000, 3) }, lfs: [LFS_FILE] });
            hubModels.push({ name: "tiny-rerank", source: "huggingface", repo: TAGGED_REPO, revision: "v1.0" });
            const commit = (repo: string) => up.repos.get(repo)!.sha;
            const body = (repo: string, file: string) => up.repos.get(repo)!.files[file];
            const repoDir = (repo: string) => `models--${repo.replace("/", "--")}`;
            const [pinned1, branch1, tag1] = [commit(PINNED_REPO), commit(BRANCH_REPO), commit(TAGGED_REPO)];

            expectOk(await layout.sync(hubModels), "first sync");
            let got = await consume(layout, {
                snapshots: [{ repo: PINNED_REPO, revision: pinned1 }, { repo: BRANCH_REPO, revision: "main" }, { repo: TAGGED_REPO, revision: "v1.0" }],
                // Without a revision: the default branch, as hf_hub_download(repo, file) asks.
                downloads: [{ repo: PINNED_REPO, file: LFS_FILE, revision: pinned1 }, { repo: BRANCH_REPO, file: "1_Pooling/config.json" }, { repo: BRANCH_REPO, file: LFS_FILE }, { repo: TAGGED_REPO, file: "config.json", revision: "v1.0" }],
            });
            expect(got.version, "the pinned client").to.equal(PINNED_VERSION);
            let hubCache = got.cache;
            expect(got.snapshots).to.deep.equal([
                { repo: PINNED_REPO, revision: pinned1, path: `${hubCache}/${repoDir(PINNED_REPO)}/snapshots/${pinned1}`, files: ["config.json", LFS_FILE, "tokenizer.json"] },
                { repo: BRANCH_REPO, revision: "main", path: `${hubCache}/${repoDir(BRANCH_REPO)}/snapshots/${branch1}`, files: ["1_Pooling/config.json", "config.json", LFS_FILE] },
                { repo: TAGGED_REPO, revision: "v1.0", path: `${hubCache}/${repoDir(TAGGED_REPO)}/snapshots/${tag1}`, files: ["config.json", LFS_FILE] },
            ]);
            expect(got.downloads.map((d) => [d.path, d.sha256])).to.deep.equal([
                [`${hubCache}/${repoDir(PINNED_REPO)}/snapshots/${pinned1}/${LFS_FILE}`, sha256(body(PINNED_REPO, LFS_FILE))],
                [`${hubCache}/${repoDir(BRANCH_REPO)}/snapshots/${branch1}/1_Pooling/config.json`, sha256(body(BRANCH_REPO, "1_Pooling/config.json"))],
                [`${hubCache}/${repoDir(BRANCH_REPO)}/snapshots/${branch1}/${LFS_FILE}`, sha256(body(BRANCH_REPO, LFS_FILE))],
                [`${hubCache}/${repoDir(TAGGED_REPO)}/snapshots/${tag1}/config.json`, sha256(body(TAGGED_REPO, "config.json"))],
            ]);
            expect(got.scan.warnings).to.deep.equal([]);
            // By repo id, as scan_cache_dir's repos are sorted here.
            expect(got.scan.repos.map((r) => [r.repo, r.revisions, r.refs])).to.deep.equal([
                [BRANCH_REPO, [branch1], { main: branch1 }],
                [PINNED_REPO, [pinned1], {}],
                [TAGGED_REPO, [tag1], { "v1.0": tag1 }],
            ]);
            expect(net.requests, "network requests").to.deep.equal([]);

            // Upstream moves on: a new pin, the branch moves, the tagged model is pinned to a new commit.
            const pinned2 = newCommit(up, PINNED_REPO, 300_000);
            const branch2 = newCommit(up, BRANCH_REPO, 300_000);
            const pinnedTag = newCommit(up, TAGGED_REPO, 300_000);
            const next = hubModels.map((m) => (m.repo === PINNED_REPO ? { ...m, revision: pinned2 } : m.repo === TAGGED_REPO ? { ...m, revision: pinnedTag } : m));
            const published = await layout.sync(next);
            expectOk(published, "sync of the new revisions");
            expect(messages(published)).to.include("manifest published");
            got = await consume(layout, { snapshots: [{ repo: TAGGED_REPO, revision: "v1.0" }], downloads: [] });
            expect(got.scan.warnings, "old revisions kept within the retention").to.deep.equal([]);
            expect(got.snapshots[0].path, "the old tag still resolves").to.equal(`${got.cache}/${repoDir(TAGGED_REPO)}/snapshots/${tag1}`);

            // The retention pass: the old snapshots go, and with them the tag that named one.
            await new Promise((r) => setTimeout(r, Number(RETENTION_DAYS) * 86_400_000 + 500));
            const retained = await layout.sync(next);
            expectOk(retained, "retention pass");
            expect(retained.lines.filter((l) => l.message === "old revision removed").map((l) => l.path)).to.have.members([
                `huggingface/hub/${repoDir(PINNED_REPO)}/snapshots/${pinned1}`,
                `huggingface/hub/${repoDir(BRANCH_REPO)}/snapshots/${branch1}`,
                `huggingface/hub/${repoDir(TAGGED_REPO)}/snapshots/${tag1}`,
            ]);
            got = await consume(layout, {
                snapshots: [{ repo: PINNED_REPO, revision: pinned2 }, { repo: BRANCH_REPO, revision: "main" }, { repo: TAGGED_REPO, revision: pinnedTag }, { repo: TAGGED_REPO, revision: "v1.0" }],
                downloads: [{ repo: PINNED_REPO, file: LFS_FILE, revision: pinned2 }, { repo: BRANCH_REPO, file: LFS_FILE }, { repo: TAGGED_REPO, file: LFS_FILE, revision: pinnedTag }],
            });
            hubCache = got.cache;
            expect(got.scan.warnings).to.deep.equal([]);
            expect(got.scan.repos.map((r) => [r.repo, r.revisions, r.refs])).to.deep.equal([
                [BRANCH_REPO, [branch2], { main: branch2 }],
                [PINNED_REPO, [pinned2], {}],
                [TAGGED_REPO, [pinnedTag], {}],
            ]);
            expect(got.snapshots.slice(0, 3).map((s) => s.path)).to.deep.equal([
                `${hubCache}/${repoDir(PINNED_REPO)}/snapshots/${pinned2}`,
                `${hubCache}/${repoDir(BRANCH_REPO)}/snapshots/${branch2}`,
                `${hubCache}/${repoDir(TAGGED_REPO)}/snapshots/${pinnedTag}`,
            ]);
            expect(got.snapshots[3].error, "the removed tag no longer resolves").to.match(/^LocalEntryNotFoundError/);
            expect(got.downloads.map((d) => d.sha256)).to.deep.equal([sha256(body(PINNED_REPO, LFS_FILE)), sha256(body(BRANCH_REPO, LFS_FILE)), sha256(body(TAGGED_REPO, LFS_FILE))]);
            expect(net.requests, "network requests").to.deep.equal([]);
            expect(fs.existsSync(path.join(rig!.dir, "local")), "never fell back to the local directory").to.equal(false);
        });
    }
});
