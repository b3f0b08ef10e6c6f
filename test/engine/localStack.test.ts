// The local target for real: the Pulumi CLI, the Node.js language host and the docker and
// docker-build providers built here (`npm run tools`), against a Docker engine of the run's own that
// can pull nothing (test/engine/support/rig.ts). One stack, taken through a deployment's life in
// order; each step asserts what the engine, Docker and the registries report, not what the
// program logs. A step after a failed one fails too, saying which step broke the chain.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { e2eConfig, type E2eModel, MODEL, SERVICE, sha256, writeConfigFile } from "./stack/config";
import { PulumiCli, REPO_ROOT, summaryCounts, type CliRun } from "./support/pulumiCli";
import { recoveryCommands } from "./support/operationsGuide";
import { isEmptyDir, startRig, type Rig } from "./support/rig";
import { freePort } from "../support/freePort";
import { BUILDKIT_IMAGE, REGISTRY_IMAGE } from "../../components/local/registry";

const STACK = "e2e";
/** Where the service's build context is copied: inside the project (contexts are relative to it), git-ignored. */
const SERVICE_CONTEXT = ".warmstart/e2e/service";

interface Outputs {
    serviceUrls: Record<string, string>;
    modelCacheVolume: string;
    syncContainer: string;
    serviceImageRefs: Record<string, string>;
    syncImageRef: string;
    baseImageRefs: Record<string, string>;
}

interface Container { name: string; id: string; image: string; state: string }

/** Model files the server holds, each with its true sha256. */
const modelBytes = (label: string) => Buffer.from(`${label}\n${"weights ".repeat(4096)}`);

describe("the local stack under the real engine", function () {
    // Each step is bounded by the CLI's own run; the whole chain stays well under 15 minutes here.
    this.timeout(10 * 60_000);
    let rig: Rig;
    let cli: PulumiCli;
    let configFile = "";
    let ports: { proxyPort: number; pushPort: number; firstServicePort: number };
    let broken: string | undefined;
    const times: Record<string, number> = {};
    const served: Record<string, Buffer> = {};

    /** Runs `step` unless an earlier step failed; a failure marks the chain broken. */
    const step = (title: string, body: () => Promise<void>) => it(title, async function () {
        if (broken !== undefined) throw new Error(`not run: the earlier step "${broken}" failed, and this one builds on it`);
        try {
            await body();
        } catch (e) {
            broken = title;
            throw e;
        }
    });

    const configure = (model: E2eModel) => writeConfigFile(configFile, e2eConfig({
        ...ports, upstream: rig.upstream.url, modelServer: rig.models.url, serviceContext: SERVICE_CONTEXT, model,
    }));
    const serve = (file: string, label: string): E2eModel => {
        served[file] = modelBytes(label);
        rig.models.put(file, served[file]);
        return { file, sha256: sha256(served[file]) };
    };
    const pulumi = (...args: string[]) => cli.run(...args, "-s", STACK, "--config-file", configFile);
    const pulumiOk = (...args: string[]) => cli.ok(...args, "-s", STACK, "--config-file", configFile);
    const outputs = async (): Promise<Outputs> => JSON.parse((await cli.ok("stack", "output", "--json", "--show-secrets", "-s", STACK)).out) as Outputs;
    const containers = (): Container[] => rig.engine.docker(["ps", "-a", "--format", "{{.Names}}\t{{.ID}}\t{{.Image}}\t{{.State}}"]).trim().split("\n").filter(Boolean)
        .map((l) => l.split("\t")).map(([name, id, image, state]) => ({ name, id, image, state }));
    const containerOf = (name: string) => containers().find((c) => c.name === name);
    /** manifest.json, .done and the sha256 of manifest.json, read from the cache volume by a throwaway container. */
    const cache = (volume: string) => {
        const out = rig.engine.docker(["run", "--rm", "--entrypoint", "sh", "-v", `${volume}:/models:ro`, REGISTRY_IMAGE, "-c",
            "cat /models/manifest.json; echo '\n--8<--'; cat /models/.done; echo '--8<--'; sha256sum /models/manifest.json | cut -d ' ' -f 1"]);
        const [manifest, done, actual] = out.split("--8<--").map((s) => s.trim());
        return { manifest, done, actual, parsed: JSON.parse(manifest) as { revision: string; models: { name: string; revision: string }[] } };
    };
    const serviceGet = async (what: string) => {
        const res = await fetch(`http://127.0.0.1:${ports.firstServicePort}${what}`);
        return { status: res.status, body: await res.text() };
    };
    /** The service's answer about its model once it answers (a new container takes a moment). */
    const loadedModel = async () => {
        const deadline = Date.now() + 60_000;
        for (;;) {
            const got = await serviceGet("/model").catch(() => undefined);
            if (got?.status === 200) return JSON.parse(got.body) as { sha256: string; modelRevision: string; manifestRevision: string };
            if (Date.now() > deadline) throw new Error(`the service did not answer /model on 127.0.0.1:${ports.firstServicePort}`);
            await new Promise((resolve) => setTimeout(resolve, 500));
        }
    };
    /** The entrypoint's JSON decision line in a container's log. */
    const entrypointDecision = (container: string) => {
        const line = rig.engine.docker(["logs", container]).split("\n").find((l) => l.includes("\"cache_hit\""));
        if (line === undefined) throw new Error(`no entrypoint decision in the log of ${container}`);
        return JSON.parse(line) as { cache_hit: boolean; reason?: string };
    };
    const expectExit = (run: CliRun, code: number) => expect(run.status, run.out.slice(-5000)).to.equal(code);

    before(async function () {
        this.timeout(20 * 60_000);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-e2e-"));
        rig = await startRig(dir);
        ports = { proxyPort: await freePort(), pushPort: await freePort(), firstServicePort: await freePort() };
        fs.rmSync(path.join(REPO_ROOT, SERVICE_CONTEXT), { recursive: true, force: true });
        fs.mkdirSync(path.dirname(path.join(REPO_ROOT, SERVICE_CONTEXT)), { recursive: true });
        fs.cpSync(path.join(__dirname, "stack", "service"), path.join(REPO_ROOT, SERVICE_CONTEXT), { recursive: true });
        fs.mkdirSync(path.join(dir, "state"));
        cli = new PulumiCli({
            verbose: process.env.E2E_VERBOSE === "1",
            env: {
                PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
                PULUMI_CONFIG_PASSPHRASE: "e2e only",
                DOCKER_HOST: rig.engine.host,
                // buildx keeps its builders under the Docker client's config: the run's own.
                DOCKER_CONFIG: path.join(dir, "docker-config"),
            },
        });
        configFile = path.join(dir, `Pulumi.${STACK}.yaml`);
        if (!fs.existsSync(path.join(REPO_ROOT, "policy", "node_modules"))) {
            const { spawnSync } = await import("child_process");
            spawnSync("npm", ["ci", "--prefix", "policy", "--no-audit", "--no-fund"], { cwd: REPO_ROOT, stdio: "ignore" });
        }
        await cli.ok("stack", "init", STACK, "--secrets-provider", "passphrase");
        // `stack init` writes the passphrase's salt to Pulumi.<stack>.yaml beside the project's
        // stacks (it takes no --config-file): moved into the run's file, which keeps it.
        const initFile = path.join(REPO_ROOT, `Pulumi.${STACK}.yaml`);
        fs.writeFileSync(configFile, fs.readFileSync(initFile));
        fs.rmSync(initFile);
        configure(serve("model-v1.bin", "v1"));
        console.log(`      rig ready: ${JSON.stringify(rig.timings)}`);
    });

    after(async function () {
        this.timeout(5 * 60_000);
        console.log(`      wall times (s): ${JSON.stringify(times)}`);
        if (rig === undefined) return;
        if (process.env.E2E_KEEP === "1") {
            console.log(`      kept: ${rig.dir} (DOCKER_HOST=${rig.engine.host})`);
            return;
        }
        await rig.stop();
        fs.rmSync(rig.dir, { recursive: true, force: true });
        fs.rmSync(path.join(REPO_ROOT, SERVICE_CONTEXT), { recursive: true, force: true });
    });

    step("preview with the policy pack: real CrossGuard, no violation", async () => {
        const run = await pulumi("preview", "--policy-pack", "policy");
        expectExit(run, 0);
        expect(run.out).to.match(/Policies:\s+✅ warmstart@v[\d.]+ \(local: policy\)/);
        expect(run.out).not.to.match(/mandatory|advisory/);
        expect(summaryCounts(run.out)["to create"]).to.be.greaterThan(10);
    });

    step("cold up: builds the base, the service and the sync with BuildKit, fills the cache, starts the service warm", async () => {
        const run = await pulumi("up", "--yes");
        times["cold up"] = run.seconds;
        expectExit(run, 0);
        const out = await outputs();

        // Built by the stack's BuildKit builder (the pinned image, loaded, never pulled) ...
        const builder = containers().find((c) => c.name.startsWith("buildx_buildkit_"));
        expect(builder, "the builder's container").to.include({ image: BUILDKIT_IMAGE, state: "running" });
        // ... and pushed to the stack's own registry, by the digest the stack deploys.
        const push = `http://127.0.0.1:${ports.pushPort}`;
        for (const ref of [out.baseImageRefs.runtime, out.serviceImageRefs[SERVICE], out.syncImageRef]) {
            const [, repo, digest] = /^localhost:\d+\/(.+):[^:@]+@(sha256:[0-9a-f]{64})$/.exec(ref) ?? [];
            expect(repo, ref).to.be.a("string");
            const res = await fetch(`${push}/v2/${repo}/manifests/${digest}`, { method: "HEAD", headers: { accept: "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json" } });
            expect(res.status, `${ref} in the push registry`).to.equal(200);
        }

        // The sync filled the volume: manifest.json, then .done holding its sha256.
        const filled = cache(out.modelCacheVolume);
        expect(filled.done).to.equal(filled.actual);
        expect(filled.parsed.models.map((m) => [m.name, m.revision])).to.deep.equal([[MODEL, sha256(served["model-v1.bin"])]]);
        expect(containerOf(out.syncContainer), "the sync container").to.include({ state: "exited" });
        // The sync's log stays in Docker: none of it in the stack's state.
        const syncLog = rig.engine.docker(["logs", out.syncContainer]).trim().split("\n");
        expect(syncLog.length, "the sync's log").to.be.greaterThan(0);
        const state = (await cli.ok("stack", "export", "-s", STACK)).out;
        // As the state's JSON spells a log line (quotes escaped).
        for (const line of syncLog) expect(state, "the exported state").not.to.include(JSON.stringify(line.trim()).slice(1, -1));

        // The service answers, having read the model's bytes from the read-only cache.
        expect(await serviceGet("/healthz")).to.deep.equal({ status: 200, body: "ok" });
        expect((await loadedModel()).sha256).to.equal(sha256(served["model-v1.bin"]));
        expect(entrypointDecision(`ws-${STACK}-${SERVICE}`)).to.include({ cache_hit: true });
    });

    step("up again: no change in any resource", async () => {
        const run = await pulumi("up", "--yes", "--expect-no-changes");
        times["no-op up"] = run.seconds;
        expectExit(run, 0);
    });

    step("a model-list change: the sync runs again and the service restarts on the new model", async () => {
        const before = await outputs();
        const service = containerOf(`ws-${STACK}-${SERVICE}`)!;
        configure(serve("model-v2.bin", "v2"));
        await pulumiOk("up", "--yes");
        const after = await outputs();
        const filled = cache(after.modelCacheVolume);
        expect(filled.done).to.equal(filled.actual);
        expect(filled.parsed.models.map((m) => m.revision)).to.deep.equal([sha256(served["model-v2.bin"])]);
        expect(containerOf(after.syncContainer)).to.include({ state: "exited" });
        expect(containerOf(before.syncContainer), "the previous sync container").to.equal(undefined);
        const restarted = containerOf(`ws-${STACK}-${SERVICE}`)!;
        expect(restarted.id, "the service's container").not.to.equal(service.id);
        const loaded = await loadedModel();
        expect(loaded.sha256).to.equal(sha256(served["model-v2.bin"]));
        expect(loaded.manifestRevision).to.equal(filled.parsed.revision);
        expect(entrypointDecision(restarted.name)).to.include({ cache_hit: true });
    });

    step("a bad sha256: up fails, the service is not replaced, the published cache is intact", async () => {
        const before = await outputs();
        const cacheBefore = cache(before.modelCacheVolume);
        const service = containerOf(`ws-${STACK}-${SERVICE}`)!;
        const bytes = modelBytes("v3");
        rig.models.put("model-v3.bin", bytes);
        configure({ file: "model-v3.bin", sha256: sha256(Buffer.from("not these bytes")) });
        const run = await pulumi("up", "--yes");
        expect(run.status, run.out.slice(-3000)).not.to.equal(0);
        expect(run.out).to.match(/model sync container \S+ exited with code [1-9]/);
        expect(containerOf(`ws-${STACK}-${SERVICE}`), "the service's container").to.deep.equal(service);
        expect(cache(before.modelCacheVolume)).to.deep.equal(cacheBefore);
        expect((await loadedModel()).sha256).to.equal(sha256(served["model-v2.bin"]));
    });

    step("the model server answers 500 during an up, then recovers: the next plain up succeeds", async () => {
        const model = serve("model-v3.bin", "v3");
        configure(model);
        rig.models.failing = true;
        const failed = await pulumi("up", "--yes");
        expect(failed.status, failed.out.slice(-3000)).not.to.equal(0);
        expect(failed.out).to.match(/model sync container \S+ exited with code [1-9]/);
        rig.models.failing = false;
        // The config is unchanged: no --refresh, no edit.
        await pulumiOk("up", "--yes");
        const after = await outputs();
        expect(cache(after.modelCacheVolume).parsed.models.map((m) => m.revision)).to.deep.equal([model.sha256]);
        expect((await loadedModel()).sha256).to.equal(model.sha256);
        // Only the last, successful sync container is left.
        expect(containers().filter((c) => c.name.startsWith(`ws-${STACK}-model-sync`)).map((c) => c.name)).to.deep.equal([after.syncContainer]);
    });

    step("the CLI killed mid-build: the operations guide's recovery, then up converges with no orphan", async () => {
        // A change to the service's source, with a step slow enough to be caught running.
        const dockerfile = path.join(REPO_ROOT, SERVICE_CONTEXT, "Dockerfile");
        fs.appendFileSync(dockerfile, "RUN sleep 45 && echo rebuilt > /home/app/rebuilt\n");
        const up = cli.start(["up", "--yes", "-s", STACK, "--config-file", configFile]);
        const builder = containers().find((c) => c.name.startsWith("buildx_buildkit_"))!.name;
        const deadline = Date.now() + 5 * 60_000;
        // Mid-build: BuildKit is running the new step inside the builder's container.
        while (!/sleep 45/.test(rig.engine.tryDocker(["top", builder, "-eo", "pid,args"]).out)) {
            if (Date.now() > deadline) throw new Error("the rebuild never started");
            await new Promise((resolve) => setTimeout(resolve, 250));
        }
        expect(up.killCli(), "the CLI process").to.equal(true);
        const killed = await up.done;
        expect(killed.status).not.to.equal(0);

        // What docs/operations.md says to run after an interrupted `pulumi up`, in its order.
        for (const [, ...args] of recoveryCommands()) {
            const filled = args.map((a) => (a === "<stack>" ? STACK : a));
            // Commands that evaluate the stack's config read it from the run's file.
            await cli.ok(...filled, ...(["up", "preview", "refresh", "destroy"].includes(filled[0]) ? ["--config-file", configFile] : []));
        }
        await pulumiOk("up", "--yes");
        await pulumiOk("up", "--yes", "--expect-no-changes");
        // No orphan: every container is one the state holds (the builder's belongs to its resource).
        const state = JSON.parse((await cli.ok("stack", "export", "-s", STACK)).out) as { deployment: { resources: { type: string; id?: string; outputs?: { name?: string } }[] } };
        const declared = state.deployment.resources.filter((r) => r.type === "docker:index/container:Container").map((r) => r.outputs?.name);
        expect(containers().map((c) => c.name).filter((n) => !n.startsWith("buildx_buildkit_")).sort()).to.deep.equal(declared.sort());
        expect(rig.engine.docker(["exec", `ws-${STACK}-${SERVICE}`, "cat", "/home/app/rebuilt"]).trim()).to.equal("rebuilt");
    });

    step("refresh: no diff", async () => {
        const run = await pulumi("refresh", "--yes", "--expect-no-changes");
        expectExit(run, 0);
    });

    step("destroy: no container, volume, network or builder of the stack is left", async () => {
        const run = await pulumi("destroy", "--yes");
        times.destroy = run.seconds;
        expectExit(run, 0);
        expect(containers()).to.deep.equal([]);
        expect(rig.engine.docker(["volume", "ls", "-q"]).trim()).to.equal("");
        expect(rig.engine.docker(["network", "ls", "--format", "{{.Name}}"]).trim().split("\n").sort()).to.deep.equal(["bridge", "host", "none"]);
        // buildx's record of the builder, in the run's Docker client config.
        expect(isEmptyDir(path.join(rig.dir, "docker-config", "buildx", "instances")), "buildx builder records").to.equal(true);
    });
});
