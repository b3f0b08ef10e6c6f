// Everything the end-to-end stack runs against, started fresh for one run: a Docker engine of its
// own holding only the images the program expects to find there (the registry, the builder's
// BuildKit), an upstream registry holding what builds pull FROM through the stack's proxy, and the
// model file server. Nothing is pulled from Docker Hub; the stack config points at all of it.
import * as fs from "fs";
import * as path from "path";
import { startDockerEngine, type DockerEngine } from "./dockerd";
import { importImage, withUser } from "./images";
import { startModelServer, type ModelServer } from "./modelServer";
import { nodeRuntime, syncNodeImage } from "./nodeRuntime";
import { debianRootfs } from "./rootfs";
import { startUpstreamRegistry, type UpstreamRegistry } from "./upstream";
import { BUILDKIT_IMAGE, REGISTRY_IMAGE } from "../../../components/local/registry";
import { requireTool } from "../../support/tools";

/** What the test base Dockerfile (test/engine/stack/base.Dockerfile) builds FROM, under the proxy. */
export const DEBIAN_IMAGE = "library/debian:bookworm";

export interface Rig {
    dir: string;
    engine: DockerEngine;
    upstream: UpstreamRegistry;
    models: ModelServer;
    /** Seconds each preparation step took, for the report. */
    timings: Record<string, number>;
    stop(): Promise<void>;
}

function timed<T>(timings: Record<string, number>, step: string, f: () => T): T {
    const start = Date.now();
    try {
        return f();
    } finally {
        timings[step] = (Date.now() - start) / 1000;
    }
}

export async function startRig(dir: string): Promise<Rig> {
    const timings: Record<string, number> = {};
    const registryBinary = requireTool("distribution", "registry");
    const buildkit = path.dirname(requireTool("buildkit", "buildkitd"));
    const rootfs = timed(timings, "debian rootfs", () => debianRootfs());
    const node = timed(timings, "node runtime", () => nodeRuntime(/:(\d+)/.exec(syncNodeImage())![1]));

    const engine = await startDockerEngine(path.join(dir, "engine"));
    const stops: (() => Promise<void>)[] = [() => engine.stop()];
    const stop = async () => {
        for (const s of stops.reverse()) await s().catch(() => undefined);
    };
    try {
        // What the engine itself pulls: the registry containers' image and the builder's.
        timed(timings, "load registry image", () => importImage(engine, {
            ref: REGISTRY_IMAGE, rootfs,
            overlay: { "usr/local/bin/registry": { from: registryBinary, mode: 0o755 } },
            changes: ["ENTRYPOINT [\"registry\"]", "CMD [\"serve\", \"/etc/distribution/config.yml\"]", "EXPOSE 5000"],
        }));
        timed(timings, "load buildkit image", () => importImage(engine, {
            ref: BUILDKIT_IMAGE, rootfs,
            overlay: Object.fromEntries(["buildkitd", "buildctl"].map((b) => [`usr/local/bin/${b}`, { from: path.join(buildkit, b), mode: 0o755 }])),
            changes: ["ENTRYPOINT [\"buildkitd\"]"],
        }));

        const upstream = await startUpstreamRegistry(registryBinary, engine.bridgeAddress, path.join(dir, "upstream"));
        stops.push(() => upstream.stop());
        // What builds pull FROM, pushed to the upstream, then dropped from the engine: the engine
        // must get them through the stack's registries like any other image.
        const staged = (ref: string, name: string, image: Parameters<typeof importImage>[1]) => timed(timings, `upstream ${name}`, () => {
            importImage(engine, image);
            upstream.push(engine, ref, name);
            engine.docker(["rmi", ref, `${upstream.address}/${name}`]);
        });
        staged("e2e-stage/debian", DEBIAN_IMAGE, { ref: "e2e-stage/debian", rootfs });
        staged("e2e-stage/node", syncNodeImage(), {
            ref: "e2e-stage/node", rootfs,
            // The official Node images' user: the sync's Dockerfile runs as `node` (1000:1000).
            overlay: {
                ...withUser(rootfs, { name: "node", uid: 1000, gid: 1000, home: "/home/node" }),
                "home/node": { directory: true, owner: 1000 },
                "usr/local": { from: node },
                // The sync's build runs `npm ci` on the builder's network, the host's: where the
                // host reaches the npm registry through a TLS-inspecting proxy, the image must trust
                // what the host trusts (Node reads only its own CAs unless told).
                "etc/ssl/certs/ca-certificates.crt": { from: "/etc/ssl/certs/ca-certificates.crt" },
            },
            changes: [
                "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt",
                "CMD [\"node\"]",
            ],
        });

        // The sync runs on the host's network: the model server stays on loopback.
        const models = await startModelServer("127.0.0.1");
        stops.push(() => models.stop());
        return { dir, engine, upstream, models, timings, stop };
    } catch (e) {
        await stop();
        throw e;
    }
}

/** Whether `dir` exists and holds nothing. */
export function isEmptyDir(dir: string): boolean {
    return !fs.existsSync(dir) || fs.readdirSync(dir).length === 0;
}
