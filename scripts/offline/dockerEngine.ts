// A Docker engine offline: answers `GET /containers/json` (all, filtered by name) and
// `GET /containers/{name or id}/json` on loopback from a fixed set of containers, in the shape
// Docker's API documents, so the program reads what a test says Docker would report (and a plan
// reads no real engine).
import * as http from "http";
import type { AddressInfo } from "net";
import type { ContainerRun } from "../../components/local/dockerEngine";

/** A container the offline engine knows: what inspect reports, and when it was created (Unix seconds, 0 unless given). */
export type OfflineContainer = Omit<ContainerRun, "name"> & { created?: number };

/** Containers the offline engine knows, by name. */
export type DockerContainers = Record<string, OfflineContainer>;

export interface OfflineDockerEngine {
    /** Its address, as DOCKER_HOST takes it. */
    host: string;
    /** What was asked, in order: `list <name filter>`, or the name or id inspected. */
    readonly asked: string[];
    close(): Promise<void>;
}

/** Starts the engine on 127.0.0.1 (a free port). */
export async function startOfflineDockerEngine(containers: DockerContainers = {}): Promise<OfflineDockerEngine> {
    const asked: string[] = [];
    const entries = Object.entries(containers);
    const server = http.createServer((req, res) => {
        const send = (status: number, body: unknown) => {
            res.writeHead(status, { "Content-Type": "application/json" });
            res.end(JSON.stringify(body));
        };
        const url = new URL(req.url ?? "/", "http://engine");
        // Clients may prefix an API version: /v1.47/containers/json.
        const route = url.pathname.replace(/^\/v[\d.]+/, "");
        if (req.method === "GET" && route === "/containers/json") {
            // Docker's name filter: Go regular expressions, any of which matches "/name" (moby api/types/filters).
            const filters = JSON.parse(url.searchParams.get("filters") ?? "{}") as { name?: string[] };
            asked.push(`list ${(filters.name ?? []).join(" ")}`);
            // Without all=true Docker lists running containers only.
            const all = ["1", "true"].includes(url.searchParams.get("all") ?? "");
            const listed = entries
                .filter(([name, c]) => (all || c.status === "running") && (filters.name ?? []).every((f) => new RegExp(f).test(`/${name}`)))
                .map(([name, c]) => ({ Id: c.id, Names: [`/${name}`], Created: c.created ?? 0, State: c.status, Labels: c.labels }));
            return send(200, listed);
        }
        const inspect = /^\/containers\/([^/]+)\/json$/.exec(route);
        if (req.method !== "GET" || inspect === null) return send(404, { message: `page not found: ${req.method} ${req.url}` });
        const key = decodeURIComponent(inspect[1]);
        asked.push(key);
        const found = entries.find(([name, c]) => name === key || c.id === key);
        if (found === undefined) return send(404, { message: `No such container: ${key}` });
        const [name, container] = found;
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
