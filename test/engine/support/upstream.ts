// The upstream the stack's pull-through proxy mirrors (`local.upstream`), standing in for Docker
// Hub: the distribution registry `npm run tools` builds, run on the host at the engine's bridge
// address (the proxy runs in a container on that bridge: the host's loopback is not its own, and
// the bridge is reachable from this machine only). Filled by pushing images from the run's engine.
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { stringify } from "yaml";
import type { DockerEngine } from "./dockerd";
import { freePort } from "../../support/freePort";

export interface UpstreamRegistry {
    /** `host:port`, for image names. */
    address: string;
    /** `http://host:port`, for `local.upstream`. */
    url: string;
    /** Tags `local` (an image in `engine`) as `<address>/<name>` and pushes it there. */
    push(engine: DockerEngine, local: string, name: string): void;
    stop(): Promise<void>;
}

export async function startUpstreamRegistry(registryBinary: string, host: string, dir: string): Promise<UpstreamRegistry> {
    fs.mkdirSync(dir, { recursive: true });
    // A free port on loopback is as good as free on the bridge address: both are this machine's.
    const port = await freePort();
    const address = `${host}:${port}`;
    const config = path.join(dir, "config.yml");
    fs.writeFileSync(config, stringify({
        version: 0.1, log: { level: "warn" },
        storage: { filesystem: { rootdirectory: path.join(dir, "data") } },
        http: { addr: address },
    }));
    const log = fs.openSync(path.join(dir, "registry.log"), "a");
    const server: ChildProcess = spawn(registryBinary, ["serve", config], { stdio: ["ignore", log, log] });
    fs.closeSync(log);
    const url = `http://${address}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
        const ok = await fetch(`${url}/v2/`).then((r) => r.ok, () => false);
        if (ok) break;
        if (server.exitCode !== null || Date.now() > deadline) {
            server.kill("SIGKILL");
            throw new Error(`the upstream registry did not answer at ${url}: ${fs.readFileSync(path.join(dir, "registry.log"), "utf8").slice(-2000)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return {
        address, url,
        push(engine, local, name) {
            engine.docker(["tag", local, `${address}/${name}`]);
            engine.docker(["push", `${address}/${name}`]);
        },
        async stop() {
            if (server.exitCode !== null) return;
            const exited = new Promise((resolve) => server.once("exit", resolve));
            server.kill("SIGTERM");
            await exited;
        },
    };
}
