import * as http from "http";
import type { AddressInfo } from "net";
import { expect } from "chai";
import { inspectContainer } from "../components/local/dockerEngine";
import { startOfflineDockerEngine } from "../scripts/offline/dockerEngine";

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
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    return `tcp://127.0.0.1:${port}`;
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
            expect(await inspectContainer("ws-local-model-sync", host)).to.deep.equal({ id: "a1".repeat(32), status: "exited", exitCode: 3, labels: { "warmstart.sync-attempt": "first" } });
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
            expect(await withDockerHost(elsewhere, () => inspectContainer("ws-local-model-sync", engine.host))).to.deep.equal(run);
            expect(await withDockerHost(engine.host, () => inspectContainer("ws-local-model-sync"))).to.deep.equal(run);
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
});
