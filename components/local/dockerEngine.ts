// What Docker itself reports about a container, read from the engine the Docker provider
// drives. The provider records a one-shot container's exit code only when it creates the
// container or a refresh reads it (kreuzwerker/terraform-provider-docker,
// resource_docker_container_funcs.go), so a plain `up` asks Docker for what happened since.
import Modem from "docker-modem";

/** A container as `GET /containers/{name}/json` describes it, the parts the stack reads. */
export interface ContainerRun {
    /** The full container id. */
    id: string;
    /** Its name, without Docker's leading slash. */
    name: string;
    /** `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`. */
    status: string;
    /** The exit code of its last run (0 while it never ran). */
    exitCode: number;
    labels: Record<string, string>;
}

/** The engine's answer, in the shape Docker's API documents (ContainerInspectResponse). */
interface InspectResponse {
    Id: string;
    Name?: string;
    State?: { Status?: string; ExitCode?: number };
    Config?: { Labels?: Record<string, string> | null };
}

/** One entry of `GET /containers/json` (ContainerSummary), the parts the stack reads. */
interface ContainerSummary {
    Id: string;
    Names?: string[] | null;
    /** Unix seconds. */
    Created?: number;
}

/** How long to wait for the engine's answer: a hung engine must not hang the program. */
const ENGINE_TIMEOUT_MS = 30_000;

/**
 * A client of the engine at `host` (the provider's `docker:host`), else where DOCKER_HOST points,
 * else the default socket: the provider's own order.
 */
function engineAt(host: string | undefined): Modem {
    if (host === undefined || host === "") return new Modem({ timeout: ENGINE_TIMEOUT_MS });
    // docker-modem reads an address from DOCKER_HOST only: lend it `host` while it parses.
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = host;
    try {
        return new Modem({ timeout: ENGINE_TIMEOUT_MS });
    } finally {
        if (saved === undefined) delete process.env.DOCKER_HOST;
        else process.env.DOCKER_HOST = saved;
    }
}

/**
 * A GET of the engine at `host` (see engineAt); undefined when it answers 404. `what` names the
 * request in errors. A query goes in `query`, which docker-modem encodes (objects as JSON) after a
 * path ending in "?".
 */
async function ask<T>(path: string, what: string, host: string | undefined, query?: Record<string, unknown>): Promise<T | undefined> {
    const engine = engineAt(host);
    const where = host || process.env.DOCKER_HOST || "the default Docker socket";
    return new Promise<T | undefined>((resolve, reject) => {
        engine.dial({ path: query === undefined ? path : `${path}?`, method: "GET", options: query, statusCodes: { 200: true, 404: "not found" } }, (err, data) => {
            if ((err as { statusCode?: number } | null)?.statusCode === 404) resolve(undefined);
            else if (err) reject(new Error(`cannot read ${what} from the Docker engine at ${where}: ${err.message.trim()}`));
            else resolve(data as T);
        });
    });
}

/** The container named (or with the id) `name` on the engine at `host`; undefined when there is none. */
export async function inspectContainer(name: string, host?: string): Promise<ContainerRun | undefined> {
    const body = await ask<InspectResponse>(`/containers/${encodeURIComponent(name)}/json`, `the container ${name}`, host);
    if (body === undefined) return undefined;
    return {
        id: body.Id, name: (body.Name ?? name).replace(/^\//, ""),
        status: body.State?.Status ?? "", exitCode: body.State?.ExitCode ?? 0, labels: body.Config?.Labels ?? {},
    };
}

/**
 * The newest container (by creation time) among those whose name `isWanted` accepts, inspected;
 * undefined when there is none. `nameFilter` narrows the engine's list first: a Go regular
 * expression Docker matches against each name, with and without its leading slash (moby
 * daemon/list.go, api/types/filters Args.Match); `isWanted` then decides exactly.
 */
export async function newestContainer(nameFilter: string, isWanted: (name: string) => boolean, host?: string): Promise<ContainerRun | undefined> {
    const listed = (await ask<ContainerSummary[]>("/containers/json", `the containers matching ${nameFilter}`, host, { all: true, filters: { name: [nameFilter] } })) ?? [];
    const wanted = listed.filter((c) => (c.Names ?? []).some((n) => isWanted(n.replace(/^\//, ""))));
    if (wanted.length === 0) return undefined;
    // Newest first; the id breaks a tie (two created within the same second) the same way every time.
    const newest = wanted.sort((a, b) => (b.Created ?? 0) - (a.Created ?? 0) || b.Id.localeCompare(a.Id))[0];
    // Removed between the two requests: as if it never existed.
    return inspectContainer(newest.Id, host);
}
