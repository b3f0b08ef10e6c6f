// A Docker engine offline: answers `GET /containers/{name}/json` on loopback from a fixed set of
// containers, in the shape Docker's API documents, so the program reads what a test says Docker
// would report (and a plan reads no real engine).
import * as http from "http";
import type { AddressInfo } from "net";
import type { ContainerRun } from "../../components/local/dockerEngine";

/** Containers the offline engine knows, by name. */
export type DockerContainers = Record<string, ContainerRun>;

export interface OfflineDockerEngine {
    /** Its address, as DOCKER_HOST takes it. */
    host: string;
    /** Container names asked for, in order. */
    readonly asked: string[];
    close(): Promise<void>;
}

/** Starts the engine on 127.0.0.1 (a free port). */
export async function startOfflineDockerEngine(containers: DockerContainers = {}): Promise<OfflineDockerEngine> {
    const asked: string[] = [];
    const server = http.createServer((req, res) => {
        // Clients may prefix an API version: /v1.47/containers/{name}/json.
        const match = /^(?:\/v[\d.]+)?\/containers\/([^/?]+)\/json(?:\?.*)?$/.exec(req.url ?? "");
        const send = (status: number, body: unknown) => {
            res.writeHead(status, { "Content-Type": "application/json" });
            res.end(JSON.stringify(body));
        };
        if (req.method !== "GET" || match === null) return send(404, { message: `page not found: ${req.method} ${req.url}` });
        const name = decodeURIComponent(match[1]);
        asked.push(name);
        const container = containers[name];
        if (container === undefined) return send(404, { message: `No such container: ${name}` });
        send(200, {
            Id: container.id,
            Name: `/${name}`,
            State: { Status: container.status, Running: container.status === "running", ExitCode: container.exitCode },
            Config: { Labels: container.labels },
        });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return {
        host: `tcp://127.0.0.1:${port}`,
        asked,
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
}
