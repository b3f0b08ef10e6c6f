import * as http from "http";
import type { AddressInfo } from "net";
import { expect } from "chai";
import { inspectContainer, newestContainer } from "../components/local/dockerEngine";
import { isSyncContainerName, syncContainerNameFilter } from "../components/local/modelSync";
import { startOfflineDockerEngine } from "../scripts/offline/dockerEngine";
import { freePort } from "./support/freePort";

/** Runs `body` with DOCKER_HOST set to `host` (unset when undefined), then restores it. */
async function withDockerHost<T>(host: string | undefined, body: () => Promise<T>): Promise<T> {
    const saved = process.env.DOCKER_HOST;
    if (host === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = host;
    try {
        return await body();
    } finally {
        if (saved === undefined) delete process.env.DOCKER_HOST;
        else process.env.DOCKER_HOST = saved;
    }
}

/** A loopback address nothing listens on. */
async function closedAddress(): Promise<string> {
    return `tcp://127.0.0.1:${await freePort()}`;
}

describe("reading a container from the Docker engine", () => {
    // Docker Engine API (moby api/swagger.yaml, ContainerInspect): GET /containers/{id}/json takes
    // an id or a name and answers 404 for no such container; State.Status is one of created,
    // running, paused, restarting, removing, exited, dead.
    it("reads the id, status, exit code and labels of Docker's inspect answer", async () => {
        const server = http.createServer((_req, res) => {
            res.writeHead(200, { "Content-Type": "application/json" });
            res.end(JSON.stringify({
                Id: "a1".repeat(32), Name: "/ws-local-model-sync", Path: "node", Args: ["/app/dist/cli.js"],
                State: { Status: "exited", Running: false, Paused: false, OOMKilled: false, Dead: false, Pid: 0, ExitCode: 3, Error: "", FinishedAt: "2026-11-02T10:00:00Z" },
                Config: { Image: "localhost:5001/warmstart/model-sync:local", Labels: { "warmstart.sync-attempt": "first" } },
            }));
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        try {
            const host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
            expect(await inspectContainer("ws-local-model-sync", host)).to.deep.equal({ id: "a1".repeat(32), name: "ws-local-model-sync", status: "exited", exitCode: 3, labels: { "warmstart.sync-attempt": "first" } });
        } finally {
            await new Promise((resolve) => server.close(resolve));
        }
    });

    it("answers none for a container Docker does not know, and asks for it by name", async () => {
        const engine = await startOfflineDockerEngine({});
        try {
            expect(await inspectContainer("ws-local-model-sync", engine.host)).to.equal(undefined);
            expect(engine.asked).to.deep.equal(["ws-local-model-sync"]);
        } finally {
            await engine.close();
        }
    });

    it("asks the provider's docker:host when it is set, else DOCKER_HOST", async () => {
        const run = { id: "b2".repeat(32), status: "running", exitCode: 0, labels: {} };
        const engine = await startOfflineDockerEngine({ "ws-local-model-sync": run });
        try {
            const elsewhere = await closedAddress();
            const inspected = { ...run, name: "ws-local-model-sync" };
            expect(await withDockerHost(elsewhere, () => inspectContainer("ws-local-model-sync", engine.host))).to.deep.equal(inspected);
            expect(await withDockerHost(engine.host, () => inspectContainer("ws-local-model-sync"))).to.deep.equal(inspected);
            // The address lent to the client is given back.
            expect(await withDockerHost(elsewhere, async () => {
                await inspectContainer("ws-local-model-sync", engine.host);
                return process.env.DOCKER_HOST;
            })).to.equal(elsewhere);
        } finally {
            await engine.close();
        }
    });

    it("fails naming the container and the engine when the engine does not answer", async () => {
        const address = await closedAddress();
        try {
            await inspectContainer("ws-local-model-sync", address);
            expect.fail("an unreachable engine was taken for an empty one");
        } catch (err) {
            expect((err as Error).message).to.match(new RegExp(`^cannot read the container ws-local-model-sync from the Docker engine at ${address}: .*ECONNREFUSED`));
        }
    });

    describe("finding the newest of the stack's sync containers", () => {
        const BASE = "ws-local-model-sync";
        const container = (id: string, created: number, exitCode = 0) => ({ id: id.padEnd(64, "0"), status: "exited", exitCode, labels: {}, created });
        const newestSync = (host: string) => newestContainer(syncContainerNameFilter(BASE), (name) => isSyncContainerName(BASE, name), host);

        it("takes the newest by creation time, lists stopped ones too, and inspects it by id", async () => {
            const engine = await startOfflineDockerEngine({
                [BASE]: container("aaaaaaaaaaaa", 100, 1),
                [`${BASE}-aaaaaaaaaaaa`]: container("bbbbbbbbbbbb", 300, 0),
                [`${BASE}-0123456789ab`]: container("cccccccccccc", 200, 1),
            });
            try {
                const newest = await newestSync(engine.host);
                expect(newest).to.deep.include({ id: "bbbbbbbbbbbb".padEnd(64, "0"), name: `${BASE}-aaaaaaaaaaaa`, exitCode: 0 });
                expect(engine.asked).to.deep.equal([`list ${syncContainerNameFilter(BASE)}`, "bbbbbbbbbbbb".padEnd(64, "0")]);
            } finally {
                await engine.close();
            }
        });

        it("ignores containers whose names only start like the stack's: another stack's, a service's", async () => {
            const engine = await startOfflineDockerEngine({
                [`${BASE}-extra`]: container("dddddddddddd", 500),
                [`${BASE}x`]: container("eeeeeeeeeeee", 600),
                [`${BASE}-0123456789abc`]: container("ffffffffffff", 700),
                [BASE]: container("aaaaaaaaaaaa", 100),
            });
            try {
                expect((await newestSync(engine.host))?.name).to.equal(BASE);
            } finally {
                await engine.close();
            }
        });

        it("answers none when the stack has no sync container", async () => {
            const engine = await startOfflineDockerEngine({ "ws-local-embeddings": container("aaaaaaaaaaaa", 100) });
            try {
                expect(await newestSync(engine.host)).to.equal(undefined);
            } finally {
                await engine.close();
            }
        });

        it("fails naming the name filter and the engine when the engine does not answer", async () => {
            const address = await closedAddress();
            try {
                await newestSync(address);
                expect.fail("an unreachable engine was taken for an empty one");
            } catch (err) {
                expect((err as Error).message).to.include(`cannot read the containers matching ${syncContainerNameFilter(BASE)} from the Docker engine at ${address}`);
            }
        });
    });
});
