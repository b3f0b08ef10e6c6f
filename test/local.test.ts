import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { DockerfileParser } from "dockerfile-ast";
import { parse as parseYaml } from "yaml";
import { MODEL_MOUNT_PATH } from "../contract/modelCache";
import { buildkitdConfig, registryConfig } from "../components/local/registry";
import type { OfflineContainer } from "../scripts/offline/dockerEngine";
import { isSyncContainerName, requireSyncSuccess, SYNC_ATTEMPT_LABEL, SYNC_PUBLISHED_LABEL, SYNC_USER, syncContainerName, syncContainerNameFilter } from "../components/local/modelSync";
import { dockerCpus } from "../components/local/modelService";
import { hostPathProblem } from "../targets/local";
import { evaluate, EvaluationError, evaluateStack, REPO_ROOT } from "../scripts/evaluate";
import { byType, devConfigWith, dependsOn, evaluateWith, expectRejected, get, one, Plan } from "./support/plan";

const IMAGE = "docker-build:index:Image";
const CONTAINER = "docker:index/container:Container";

describe("the local target (local stack under mocks)", () => {
    let plan: Plan;
    before(async () => {
        plan = await evaluateStack("local");
    });

    describe("registry config", () => {
        it("puts a proxy registry in front of the upstream, with TTL, storage and deletion", () => {
            const config = parseYaml(registryConfig({ listen: ":5000", rootDirectory: "/var/lib/registry", deleteEnabled: true, proxy: { remoteUrl: "https://registry-1.docker.io", ttl: "72h" } }));
            expect(config.version).to.equal(0.1);
            expect(config.proxy).to.deep.equal({ remoteurl: "https://registry-1.docker.io", ttl: "72h" });
            expect(config.storage.filesystem.rootdirectory).to.equal("/var/lib/registry");
            expect(config.storage.delete.enabled).to.equal(true);
            expect(config.http.addr).to.equal(":5000");
        });

        it("makes a plain registry without a proxy section", () => {
            expect(parseYaml(registryConfig({ listen: ":5000", rootDirectory: "/r", deleteEnabled: false }))).not.to.have.property("proxy");
        });

        it("lets the builder push to both loopback registries over plain HTTP", () => {
            expect(buildkitdConfig([5000, 5001])).to.equal('[registry."localhost:5000"]\n  http = true\n  insecure = true\n\n[registry."localhost:5001"]\n  http = true\n  insecure = true\n');
        });
    });

    describe("graph", () => {
        it("creates no cloud resource", () => {
            expect(plan.resources.filter((r) => r.type.startsWith("gcp:")).map((r) => r.type)).to.deep.equal([]);
        });

        it("runs the proxy and the push registry on loopback ports with the generated configs", () => {
            const mirror = one(plan, CONTAINER, "registry-mirror");
            const push = one(plan, CONTAINER, "registry-push");
            expect(mirror.inputs.ports).to.deep.equal([{ internal: 5000, external: 5000, ip: "127.0.0.1" }]);
            expect(push.inputs.ports).to.deep.equal([{ internal: 5000, external: 5001, ip: "127.0.0.1" }]);
            const config = (c: typeof mirror) => parseYaml(String(get(c.inputs, "uploads.0.content")));
            expect(config(mirror).proxy).to.deep.equal({ remoteurl: "https://registry-1.docker.io", ttl: "168h" });
            expect(config(push)).not.to.have.property("proxy");
            expect(get(mirror.inputs, "uploads.0.file")).to.equal("/etc/distribution/config.yml");
        });

        it("builds the bases through the proxy, on a builder on the host network, cached in the push registry", () => {
            const base = one(plan, IMAGE, "bases-runtime");
            const builder = one(plan, "docker:index/buildxBuilder:BuildxBuilder", "registry-builder");
            expect(get(base.inputs, "buildArgs.REGISTRY_MIRROR")).to.equal("localhost:5000");
            expect(dependsOn(base, one(plan, CONTAINER, "registry-mirror"))).to.equal(true);
            expect(get(base.inputs, "builder.name")).to.equal("ws-local-builder");
            expect(dependsOn(base, builder)).to.equal(true);
            expect(get(builder.inputs, "dockerContainer.network")).to.equal("host");
            // kreuzwerker/terraform-provider-docker resource_docker_buildx_builder.go: `driver` is
            // ConflictsWith `docker_container`; the block alone selects the docker-container driver.
            expect(builder.inputs).not.to.have.property("driver");
            expect(get(base.inputs, "cacheTo.0.registry")).to.include({ ref: "localhost:5001/warmstart-cache/cuda-runtime:buildcache", mode: "max" });
            expect((base.inputs.tags as string[])[0]).to.match(/^localhost:5001\/warmstart\/cuda-runtime:/);
        });

        it("builds services on their bases, as on GCP", () => {
            const svc = one(plan, IMAGE, "custom-ops-image");
            expect(dependsOn(svc, one(plan, IMAGE, "bases-runtime"))).to.equal(true);
            expect(dependsOn(svc, one(plan, IMAGE, "bases-devel"))).to.equal(true);
            expect(String(get(svc.inputs, "buildArgs.BASE_IMAGE"))).to.match(/^localhost:5001\/warmstart\/cuda-runtime:.*@sha256:/);
        });

        it("runs the sync once, read-write, before the services start with the cache read-only", () => {
            const sync = one(plan, CONTAINER, "model-sync-container");
            expect(sync.inputs).to.include({ attach: true, mustRun: false, restart: "no" });
            expect(get(sync.inputs, "mounts.0")).to.deep.equal({ type: "volume", source: "ws-local-models", target: "/models", readOnly: false });
            expect((sync.inputs.envs as string[]).find((e) => e.startsWith("MODELS_JSON="))).to.include('"bge-m3"');
            for (const name of ["embeddings-container", "custom-ops-container"]) {
                const svc = one(plan, CONTAINER, name);
                expect(dependsOn(svc, sync), name).to.equal(true);
                expect(get(svc.inputs, "mounts.0"), name).to.deep.equal({ type: "volume", source: "ws-local-models", target: "/models", readOnly: true });
                expect(svc.inputs.envs, name).to.include.members(["MODEL_CACHE_PATH=/models", "SHARED_MODEL_VOLUME_ENABLED=true", "HF_HUB_CACHE=/models/huggingface/hub"]);
            }
        });

        // images/model-sync/src/models.ts allows plain http only to loopback: on the default
        // bridge a container's loopback is its own, so such a model was out of the sync's reach.
        it("runs the sync on the host's network, where a loopback model URL is the host's", () => {
            expect(one(plan, CONTAINER, "model-sync-container").inputs.networkMode).to.equal("host");
        });

        // kreuzwerker/terraform-provider-docker resource_docker_container_funcs.go: with `logs` the
        // provider copies an attached container's whole output into `container_logs`, which the
        // state then holds in plain text; without it, only Docker keeps the log.
        it("keeps the sync's log out of the state, and a failure says where to read it", () => {
            const sync = one(plan, CONTAINER, "model-sync-container");
            expect(sync.inputs).to.include({ attach: true });
            expect(sync.inputs.logs).not.to.equal(true);
            expect(() => requireSyncSuccess("ws-local-model-sync", 2)).to.throw("read its output with `docker logs ws-local-model-sync`");
        });

        // kreuzwerker/terraform-provider-docker resource_docker_container_funcs.go: an attached
        // one-shot container's exit code is stored in `exit_code`, never turned into an error.
        it("fails the deployment, with no service container, when the one-shot sync exits non-zero", async () => {
            expect(() => requireSyncSuccess("ws-local-model-sync", 3)).to.throw(/ws-local-model-sync exited with code 3/);
            expect(requireSyncSuccess("s", 0)).to.equal(0);
            const ok = await evaluate("local", devConfigWith({}, "local"), { state: { "model-sync-container": { exitCode: 0 } } });
            expect(get(one(ok, CONTAINER, "embeddings-container").inputs, "labels.0")).to.deep.include({ label: "warmstart.started-after" });
            expect(get(one(ok, CONTAINER, "embeddings-container").inputs, "labels.0.value")).to.match(/^model-sync exit 0, published [0-9a-f]{12}$/);
            try {
                await evaluate("local", devConfigWith({}, "local"), { state: { "model-sync-container": { exitCode: 1 } } });
                expect.fail("a failed sync was accepted");
            } catch (err) {
                expect(err).to.be.instanceOf(EvaluationError);
                expect((err as Error).message).to.include("ws-local-model-sync exited with code 1");
            }
        });

        it("publishes services on loopback, one port each, and runs each image by digest", () => {
            const ports = byType(plan, CONTAINER).filter((c) => c.name.endsWith("-container") && c.name !== "model-sync-container").map((c) => get(c.inputs, "ports.0"));
            expect(ports).to.deep.include.members([{ internal: 8080, external: 8081, ip: "127.0.0.1" }, { internal: 8080, external: 8080, ip: "127.0.0.1" }]);
            expect(String(one(plan, CONTAINER, "embeddings-container").inputs.image)).to.match(/@sha256:[0-9a-f]{64}$/);
            expect(plan.outputs.runSyncCommand).to.equal("docker start --attach ws-local-model-sync");
        });

        // Docker CLI reference (docker run --cpus): a decimal number of CPUs; millicores are not a Docker unit.
        it("gives Docker a decimal CPU count for a Cloud Run millicore value", async () => {
            const services = JSON.parse(devConfigWith({}, "local")["warmstart:services"]) as Record<string, unknown>[];
            services[1] = { ...services[1], cpu: "500m", memory: "512Mi" };
            const p = await evaluateWith({ "warmstart:services": services }, "local");
            const name = `${String(services[1].name)}-container`;
            expect(one(p, CONTAINER, name).inputs).to.include({ cpus: "0.5", memory: 512, memorySwap: 512 });
        });

        // kreuzwerker/terraform-provider-docker: `cpus` is read back with nanoInt64ToDecimalString
        // (helpers.go), `memory_swap` from HostConfig.MemorySwap and healthcheck durations with Go's
        // Duration.String() (resource_docker_container_funcs.go): an input spelled otherwise is a
        // diff on every `up` (seen under the real engine: `[diff: -memorySwap~cpus,healthcheck]`).
        it("spells CPUs, swap and health-check durations as the provider reads them back", () => {
            expect(["1", "2", "500m", "250m", "1500m", "0.25"].map(dockerCpus)).to.deep.equal(["1.0", "2.0", "0.5", "0.25", "1.5", "0.25"]);
            const svc = one(plan, CONTAINER, "embeddings-container").inputs;
            expect(svc).to.include({ cpus: "2.0", memory: 4096, memorySwap: 4096 });
            const goDuration = /^(\d+h)?(\d+m)?\d+s$/;
            for (const key of ["interval", "timeout", "startPeriod"]) expect(get(svc, `healthcheck.${key}`), key).to.match(goDuration);
            expect(get(svc, "healthcheck.startPeriod")).to.equal("5m0s");
        });

    });

    describe("a host directory for the cache (local.modelCacheHostPath)", () => {
        let root: string;
        before(() => {
            root = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-cache-"));
        });
        after(() => fs.rmSync(root, { recursive: true, force: true }));

        /** A directory under the test's root with the given mode (not masked by the umask). */
        const dirWithMode = (name: string, mode: number) => {
            const dir = path.join(root, name);
            fs.mkdirSync(dir);
            fs.chmodSync(dir, mode);
            return dir;
        };

        /** The local stack with a host path must fail before registering anything; its message. */
        const rejected = async (hostPath: string) => {
            try {
                await evaluate("local", devConfigWith({ "warmstart:local": { modelCacheHostPath: hostPath } }, "local"));
            } catch (err) {
                expect(err).to.be.instanceOf(EvaluationError);
                expect((err as EvaluationError).registered, "resources registered before the refusal").to.equal(0);
                return (err as Error).message;
            }
            throw new Error(`host path ${hostPath} was accepted`);
        };

        it("bind-mounts a directory the sync's user can write, instead of a volume", async () => {
            const dir = dirWithMode("shared", 0o777);
            const p = await evaluateWith({ "warmstart:local": { modelCacheHostPath: dir } }, "local");
            expect(byType(p, "docker:index/volume:Volume").map((v) => v.name)).not.to.include("model-cache-volume");
            expect(get(one(p, CONTAINER, "embeddings-container").inputs, "mounts.0")).to.deep.equal({ type: "bind", source: dir, target: "/models", readOnly: true });
        });

        // moby daemon/volume/mounts/linux_parser.go (validateBindSourceExists): a bind mount's
        // source must exist; Docker refuses the container otherwise, mid-up.
        it("refuses a directory that does not exist, with the command that creates it", async () => {
            const missing = path.join(root, "absent");
            expect(await rejected(missing)).to.include(`warmstart:local.modelCacheHostPath: does not exist: create it for the sync's user, \`sudo install -d -o ${SYNC_USER.uid} -g ${SYNC_USER.gid} ${missing}\` (value "${missing}")`);
        });

        // A bind mount keeps the host directory's owner and mode (no copy as for a volume): the
        // sync, uid 1000, cannot write a directory of root's with mode 0755.
        it("refuses a directory the sync's user cannot write, with the command that hands it over", async function () {
            if (process.getuid?.() === SYNC_USER.uid) this.skip();
            const dir = dirWithMode("private", 0o755);
            const owner = fs.statSync(dir);
            expect(await rejected(dir)).to.include(`warmstart:local.modelCacheHostPath: is owned by ${owner.uid}:${owner.gid} with mode 0755, which the sync (uid ${SYNC_USER.uid}, gid ${SYNC_USER.gid}) cannot write: run \`sudo chown -R ${SYNC_USER.uid}:${SYNC_USER.gid} ${dir}\``);
        });

        it("refuses a file", async () => {
            const file = path.join(root, "file");
            fs.writeFileSync(file, "");
            expect(await rejected(file)).to.include("warmstart:local.modelCacheHostPath: is not a directory");
        });

        it("reads write access as the kernel does: the owner's bits for the owner, the group's for the group, else the others'", () => {
            const stat = (uid: number, gid: number, mode: number) => ({ uid, gid, mode: 0o40000 | mode, isDirectory: () => true });
            const { uid, gid } = SYNC_USER;
            expect(hostPathProblem("/c", stat(uid, 0, 0o700), "linux")).to.equal(undefined);
            expect(hostPathProblem("/c", stat(0, gid, 0o770), "linux")).to.equal(undefined);
            expect(hostPathProblem("/c", stat(0, 0, 0o777), "linux")).to.equal(undefined);
            // The owner's bits decide for the owner, even when the others may write.
            expect(hostPathProblem("/c", stat(uid, 0, 0o577), "linux")).to.match(/cannot write/);
            expect(hostPathProblem("/c", stat(0, gid, 0o757), "linux")).to.match(/cannot write/);
            // Writing into a directory needs its search bit too.
            expect(hostPathProblem("/c", stat(0, 0, 0o776), "linux")).to.match(/cannot write/);
            // Docker Desktop shares host directories with the containers of its VM under its own ownership mapping.
            expect(hostPathProblem("/c", stat(501, 20, 0o755), "darwin")).to.equal(undefined);
        });
    });

    describe("the plain up after a failed sync, with the config unchanged", () => {
        const SYNC = "ws-local-model-sync";
        /** The id the mocks give the sync container: the one the state holds. */
        const STATE_ID = "docker:index/container:Container::model-sync-container-id";
        const syncOf = (p: Plan) => one(p, CONTAINER, "model-sync-container");
        const labelOf = (p: Plan, label: string) => (syncOf(p).inputs.labels as { label: string; value: string }[] | undefined)
            ?.find((l) => l.label === label)?.value;
        const attemptOf = (p: Plan) => labelOf(p, SYNC_ATTEMPT_LABEL);
        /** A container Docker reports, by default a successful run of the stack file's models. */
        const run = (fields: Partial<OfflineContainer>): OfflineContainer => {
            const labels = { [SYNC_ATTEMPT_LABEL]: "first", [SYNC_PUBLISHED_LABEL]: labelOf(plan, SYNC_PUBLISHED_LABEL)!, ...fields.labels };
            return { id: "f".repeat(64), status: "exited", exitCode: 0, ...fields, labels };
        };
        const startedAfter = (p: Plan) => get(one(p, CONTAINER, "embeddings-container").inputs, "labels.0.value");
        const local = () => devConfigWith({}, "local");

        it("declares the first attempt, under the stack's name, when Docker has no sync container", () => {
            expect(attemptOf(plan)).to.equal("first");
            expect(syncOf(plan).inputs.name).to.equal(SYNC);
        });

        // kreuzwerker/terraform-provider-docker resource_docker_container.go: `labels` and `name`
        // are ForceNew. pulumi-docker provider/resources.go asks to delete a container before
        // replacing it; pulumi step_generator.go then deletes first every resource whose inputs
        // take the container's outputs (calculateDependentReplacements): the services. The
        // program's deleteBeforeReplace: false overrides the provider (same file), which a name
        // of the attempt's own allows.
        it("replaces the container whose run failed under a name of its own, created before the old one goes, so the services stay", async () => {
            const failed = run({ id: `0123456789ab${"c".repeat(52)}`, exitCode: 1 });
            const p = await evaluate("local", local(), { docker: { [SYNC]: failed } });
            expect(attemptOf(p)).to.equal("after-0123456789ab");
            expect(syncOf(p).inputs.name).to.equal(`${SYNC}-0123456789ab`);
            expect(syncOf(p).options).to.include({ deleteBeforeReplace: false });
            // The services' input from the sync is the same as on the first deployment: updated
            // in place with nothing to change once the new run succeeds.
            expect(startedAfter(p)).to.equal(startedAfter(plan));
            expect(startedAfter(p)).to.match(/^model-sync exit 0, /);
            expect(p.outputs.runSyncCommand).to.equal(`docker start --attach ${SYNC}-0123456789ab`);
            expect(p.outputs.syncContainer).to.equal(`${SYNC}-0123456789ab`);
        });

        // Docker refuses a second container of the same name (409 Conflict), and the replacement
        // is created before the container it replaces goes: seen under the real engine.
        it("gives the run of a new model list a name of its own, so its container can be created beside the last", async () => {
            const models = (JSON.parse(local()["warmstart:models"]) as unknown[]).slice(0, 1);
            const last = run({ id: `0123456789ab${"e".repeat(52)}` });
            const p = await evaluate("local", devConfigWith({ "warmstart:models": models }, "local"), { docker: { [SYNC]: last } });
            expect(labelOf(p, SYNC_PUBLISHED_LABEL)).not.to.equal(labelOf(plan, SYNC_PUBLISHED_LABEL));
            expect(attemptOf(p)).to.equal("after-0123456789ab");
            expect(syncOf(p).inputs.name).to.equal(`${SYNC}-0123456789ab`);
            // The same list as that run: nothing to change.
            const same = await evaluate("local", local(), { docker: { [SYNC]: last } });
            expect(syncOf(same).inputs.name).to.equal(SYNC);
            expect(attemptOf(same)).to.equal("first");
        });

        it("runs again a container that was created and never ran, or died", async () => {
            for (const status of ["created", "dead"]) {
                const p = await evaluate("local", local(), { docker: { [SYNC]: run({ id: `abcdef012345${"0".repeat(52)}`, status }) } });
                expect(attemptOf(p), status).to.equal("after-abcdef012345");
            }
        });

        // kreuzwerker resource_docker_container.go: `labels` are ForceNew, so a new label value
        // replaces the service container, which loads its models at start.
        it("restarts the services on a new model list, and only then", async () => {
            const models = (JSON.parse(local()["warmstart:models"]) as unknown[]).slice(0, 1);
            const fewer = await evaluate("local", devConfigWith({ "warmstart:models": models }, "local"));
            expect(startedAfter(fewer)).to.match(/^model-sync exit 0, published [0-9a-f]{12}$/);
            expect(startedAfter(fewer)).not.to.equal(startedAfter(plan));
            const again = await evaluate("local", local());
            expect(startedAfter(again)).to.equal(startedAfter(plan));
        });

        it("reads the newest of the stack's sync containers: a second failure gets a third name", async () => {
            const p = await evaluate("local", local(), {
                docker: {
                    [SYNC]: run({ id: `0123456789ab${"c".repeat(52)}`, exitCode: 1, created: 100 }),
                    [`${SYNC}-0123456789ab`]: run({ id: `fedcba987654${"d".repeat(52)}`, exitCode: 1, created: 200, labels: { [SYNC_ATTEMPT_LABEL]: "after-0123456789ab" } }),
                },
            });
            expect(attemptOf(p)).to.equal("after-fedcba987654");
            expect(syncOf(p).inputs.name).to.equal(`${SYNC}-fedcba987654`);
        });

        it("keeps a container whose run by hand succeeded since, and starts the services though the state holds the failure", async () => {
            const p = await evaluate("local", local(), {
                state: { "model-sync-container": { exitCode: 1 } },
                docker: { [`${SYNC}-0123456789ab`]: run({ id: STATE_ID, labels: { [SYNC_ATTEMPT_LABEL]: "after-0123456789ab" } }) },
            });
            expect(attemptOf(p)).to.equal("after-0123456789ab");
            expect(syncOf(p).inputs.name).to.equal(`${SYNC}-0123456789ab`);
            expect(startedAfter(p)).to.equal(startedAfter(plan));
        });

        it("keeps a sync that is running, and a successful one: no change", async () => {
            for (const status of ["running", "exited"]) {
                const p = await evaluate("local", local(), { docker: { [`${SYNC}-0123456789ab`]: run({ id: STATE_ID, status, labels: { [SYNC_ATTEMPT_LABEL]: "after-0123456789ab" } }) } });
                expect(attemptOf(p), status).to.equal("after-0123456789ab");
                expect(syncOf(p).inputs.name, status).to.equal(`${SYNC}-0123456789ab`);
            }
        });

        it("fails again, pointing at docker logs of the new container, when the sync run again fails too", async () => {
            try {
                await evaluate("local", local(), { state: { "model-sync-container": { exitCode: 2 } }, docker: { [SYNC]: run({ exitCode: 1 }) } });
                expect.fail("a failed sync was accepted");
            } catch (err) {
                expect((err as Error).message).to.include(`${SYNC}-ffffffffffff exited with code 2: read its output with \`docker logs ${SYNC}-ffffffffffff\``);
            }
        });

        it("names each attempt's container so that only the stack's own are read back", () => {
            expect(syncContainerName(SYNC, "first")).to.equal(SYNC);
            expect(syncContainerName(SYNC, "after-0123456789ab")).to.equal(`${SYNC}-0123456789ab`);
            // A label set by hand is not a name part.
            expect(syncContainerName(SYNC, "after-../x")).to.equal(SYNC);
            for (const name of [SYNC, `${SYNC}-0123456789ab`]) expect(isSyncContainerName(SYNC, name), name).to.equal(true);
            for (const name of [`${SYNC}-extra`, `${SYNC}x`, `${SYNC}-0123456789abc`, `ws-other-model-sync`, "ws-local-embeddings"]) expect(isSyncContainerName(SYNC, name), name).to.equal(false);
            // Docker matches the filter against "/name" (Go regexp; this one reads the same in JS).
            const filter = new RegExp(syncContainerNameFilter("ws.a-model-sync"));
            expect(filter.test("/ws.a-model-sync-0123456789ab")).to.equal(true);
            expect(filter.test("/wsxa-model-sync")).to.equal(false);
        });
    });

    describe("a fresh model cache volume", () => {
        // moby daemon/create_unix.go (populateVolume) and daemon/container/container_unix.go
        // (copyExistingContents, containerd continuity fs.CopyDir): when a container is created, an
        // empty named volume mounted on a directory of its image takes that directory's content,
        // owner and mode. Without the directory the volume's root stays root's, 0755
        // (daemon/volume/local/local.go), and the sync's unprivileged user cannot write it.
        it("is given /models of the sync image, owned by the user the sync runs as", () => {
            const dockerfile = fs.readFileSync(path.join(REPO_ROOT, "images/model-sync/Dockerfile"), "utf8");
            const instructions = DockerfileParser.parse(dockerfile).getInstructions();
            const runtime = instructions.slice(instructions.map((i) => i.getKeyword()).lastIndexOf("FROM") + 1);
            const user = runtime.filter((i) => i.getKeyword() === "USER").pop()?.getArgumentsContent()?.trim() ?? "root";
            expect(user).not.to.match(/^(root|0)(:|$)/);
            const [owner, group = owner] = user.split(":");
            const creates = runtime.filter((i) => i.getKeyword() === "RUN").map((i) => i.getArgumentsContent() ?? "")
                .find((cmd) => new RegExp(`\\binstall\\s+-d\\b.*\\s${MODEL_MOUNT_PATH}(\\s|$)`).test(cmd));
            expect(creates, `the runtime stage creates ${MODEL_MOUNT_PATH} with install -d`).to.be.a("string");
            expect(creates).to.match(new RegExp(`\\s-o\\s+${owner}\\s`)).and.to.match(new RegExp(`\\s-g\\s+${group}\\s`));
        });

        // moby daemon/volume/mounts/linux_parser.go: a volume mount copies the image's data unless
        // its VolumeOptions say NoCopy.
        it("is mounted by the sync with Docker's copy of the image directory left on", () => {
            const sync = one(plan, CONTAINER, "model-sync-container");
            expect(get(sync.inputs, "mounts.0.type")).to.equal("volume");
            expect(get(sync.inputs, "mounts.0.volumeOptions.noCopy")).not.to.equal(true);
        });
    });

    describe("config", () => {
        it("needs no GCP project", () => {
            expect(Object.keys(plan.outputs)).to.include("serviceUrls");
        });

        it("holds the whole graph: no platform or project layer", async () => {
            const message = await expectRejected({ "warmstart:target": "local", "warmstart:layer": "platform", "warmstart:services": [], "warmstart:models": [] });
            expect(message).to.include("warmstart:layer: must be all with target: local");
        });

        it("refuses Cloud Monitoring and clashing ports", async () => {
            expect(await expectRejected({ "warmstart:target": "local", "warmstart:monitoring": { enabled: true, notificationEmails: ["a@example.com"] } })).to.include("warmstart:monitoring.enabled:");
            expect(await expectRejected({ "warmstart:target": "local", "warmstart:local": { proxyPort: 6000, pushPort: 6000 } })).to.include("warmstart:local.pushPort: must differ");
            // Two services from 4999: the second would be published on the proxy's 5000.
            expect(await expectRejected({ "warmstart:target": "local", "warmstart:local": { firstServicePort: 4999 } }))
                .to.include("warmstart:local.firstServicePort: publishes services[1] (custom-ops) on port 5000, which local.proxyPort uses");
            expect(await expectRejected({ "warmstart:target": "local", "warmstart:local": { firstServicePort: 5001 } }))
                .to.include("warmstart:local.firstServicePort: publishes services[0] (embeddings) on port 5001, which local.pushPort uses");
        });
    });
});
