// What Docker itself reports about a container, read from the engine the Docker provider
// drives. The provider records a one-shot container's exit code only when it creates the
// container or a refresh reads it (kreuzwerker/terraform-provider-docker,
// resource_docker_container_funcs.go), so a plain `up` asks Docker for what happened since.
import Modem from "docker-modem";

/** A container as `GET /containers/{name}/json` describes it, the parts the stack reads. */
export interface ContainerRun {
    /** The full container id. */
    id: string;
    /** `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`. */
    status: string;
    /** The exit code of its last run (0 while it never ran). */
    exitCode: number;
    labels: Record<string, string>;
}

/** The engine's answer, in the shape Docker's API documents (ContainerInspectResponse). */
interface InspectResponse {
    Id: string;
    State?: { Status?: string; ExitCode?: number };
    Config?: { Labels?: Record<string, string> | null };
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

/** The container named `name` on the engine at `host` (see engineAt); undefined when there is none. */
export async function inspectContainer(name: string, host?: string): Promise<ContainerRun | undefined> {
    const engine = engineAt(host);
    const where = host || process.env.DOCKER_HOST || "the default Docker socket";
    const body = await new Promise<InspectResponse | undefined>((resolve, reject) => {
        engine.dial({ path: `/containers/${encodeURIComponent(name)}/json`, method: "GET", statusCodes: { 200: true, 404: "no such container" } }, (err, data) => {
            if ((err as { statusCode?: number } | null)?.statusCode === 404) resolve(undefined);
            else if (err) reject(new Error(`cannot read the container ${name} from the Docker engine at ${where}: ${err.message.trim()}`));
            else resolve(data as InspectResponse);
        });
    });
    if (body === undefined) return undefined;
    return { id: body.Id, status: body.State?.Status ?? "", exitCode: body.State?.ExitCode ?? 0, labels: body.Config?.Labels ?? {} };
}
