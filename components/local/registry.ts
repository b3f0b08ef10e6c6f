import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { DOCKER_HUB, ImageRegistry } from "../build/buildSettings";
import { LOCAL_REGISTRY_ROLES } from "../shared/naming";

/** The distribution registry image both local registries run. */
export const REGISTRY_IMAGE = "registry:3.0.0";

/**
 * The BuildKit image the local builder runs, pinned: buildx's default (`moby/buildkit:buildx-stable-1`)
 * moves under the stack, and an engine without it must be told which image to load.
 */
export const BUILDKIT_IMAGE = "moby/buildkit:v0.31.0";

export interface RegistryConfigArgs {
    /** Address the registry listens on inside its container, e.g. `:5000`. */
    listen: string;
    /** Where blobs are stored inside the container. */
    rootDirectory: string;
    /** Let blobs and manifests be deleted (garbage collection, proxy expiry). */
    deleteEnabled: boolean;
    /** Pull-through mode: the upstream to mirror and how long cached content lives. */
    proxy?: { remoteUrl: string; ttl: string; username?: string; password?: string };
}

/**
 * The distribution registry's `config.yml`. A registry with `proxy` set is a pull-through cache
 * of one upstream and refuses pushes; without it, a plain registry for our images and caches.
 */
export function registryConfig(args: RegistryConfigArgs): string {
    const config: Record<string, unknown> = {
        version: 0.1,
        log: { level: "info", formatter: "json" },
        storage: {
            filesystem: { rootdirectory: args.rootDirectory },
            delete: { enabled: args.deleteEnabled },
            cache: { blobdescriptor: "inmemory" },
        },
        http: { addr: args.listen, headers: { "X-Content-Type-Options": ["nosniff"] } },
        health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
    };
    if (args.proxy !== undefined) {
        config.proxy = {
            remoteurl: args.proxy.remoteUrl,
            ttl: args.proxy.ttl,
            ...(args.proxy.username !== undefined ? { username: args.proxy.username, password: args.proxy.password } : {}),
        };
    }
    return stringify(config);
}

/** The BuildKit daemon config of the local builder: our loopback registries speak plain HTTP. */
export function buildkitdConfig(ports: number[]): string {
    return ports.map((port) => `[registry."localhost:${port}"]\n  http = true\n  insecure = true\n`).join("\n");
}

export interface LocalRegistryArgs {
    /** Prefix of container, volume and network names, e.g. `ws-local`. */
    namePrefix: string;
    /** Host port of the Docker Hub pull-through cache (loopback only). */
    proxyPort: number;
    /** Host port of the registry our images and build caches are pushed to (loopback only). */
    pushPort: number;
    /** Upstream the proxy mirrors. */
    upstream: string;
    /** How long the proxy keeps content it pulled, e.g. `168h`. */
    proxyTtl: string;
    /** Path of the BuildKit config the builder starts with (written by the caller). */
    buildkitConfigPath: string;
}

/**
 * The local target's registry side: the distribution registry in proxy mode in front of Docker
 * Hub, a plain registry for pushes (a proxy registry refuses pushes), both on loopback ports,
 * and a BuildKit builder on the host network so builds reach both.
 */
export class LocalRegistry extends pulumi.ComponentResource implements ImageRegistry {
    readonly host: string;
    readonly builderName: pulumi.Output<string>;
    readonly proxy: docker.Container;
    readonly push: docker.Container;

    constructor(name: string, args: LocalRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
        super("warmstart:registry:LocalRegistry", name, {}, opts);
        const parent = { parent: this };
        this.host = `localhost:${args.pushPort}`;

        const image = new docker.RemoteImage(`${name}-image`, { name: REGISTRY_IMAGE, keepLocally: true }, parent);
        const registry = (role: string, hostPort: number, config: string) => {
            const volume = new docker.Volume(`${name}-${role}-data`, { name: `${args.namePrefix}-${role}-data` }, parent);
            return new docker.Container(`${name}-${role}`, {
                name: `${args.namePrefix}-${role}`,
                image: image.imageId,
                restart: "unless-stopped",
                // Loopback only: the registries have no authentication.
                ports: [{ internal: 5000, external: hostPort, ip: "127.0.0.1" }],
                mounts: [{ type: "volume", source: volume.name, target: "/var/lib/registry" }],
                uploads: [{ file: "/etc/distribution/config.yml", content: config }],
                healthcheck: { tests: ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:5000/v2/"], interval: "10s", timeout: "3s", retries: 3 },
                wait: true,
            }, parent);
        };
        this.proxy = registry(LOCAL_REGISTRY_ROLES.mirror, args.proxyPort, registryConfig({
            listen: ":5000", rootDirectory: "/var/lib/registry", deleteEnabled: true, proxy: { remoteUrl: args.upstream, ttl: args.proxyTtl },
        }));
        this.push = registry(LOCAL_REGISTRY_ROLES.push, args.pushPort, registryConfig({ listen: ":5000", rootDirectory: "/var/lib/registry", deleteEnabled: true }));

        const builder = new docker.BuildxBuilder(`${name}-builder`, {
            name: `${args.namePrefix}-builder`,
            // No `driver`: a dockerContainer block selects the docker-container driver, and the
            // provider refuses both together (ConflictsWith in its buildx builder schema).
            // On the host network the builder reaches the registries' loopback ports.
            dockerContainer: { network: "host", image: BUILDKIT_IMAGE },
            buildkitConfig: args.buildkitConfigPath,
            bootstrap: true,
        }, { parent: this, dependsOn: [this.proxy, this.push] });
        this.builderName = builder.name.apply((n) => n ?? `${args.namePrefix}-builder`);

        this.registerOutputs({ host: this.host, builder: this.builderName });
    }

    mirror(upstream: string = DOCKER_HUB): pulumi.Output<string> {
        if (upstream !== DOCKER_HUB) throw new Error(`the local target mirrors Docker Hub only (asked for '${upstream}')`);
        // Depends on the proxy container, so builds start after it is up.
        return pulumi.interpolate`localhost:${this.proxy.ports.apply((p) => p?.[0]?.external)}`;
    }

    imageRef(image: string, tag: string): pulumi.Output<string> {
        return pulumi.interpolate`localhost:${this.push.ports.apply((p) => p?.[0]?.external)}/warmstart/${image}:${tag}`;
    }

    cacheRef(image: string): pulumi.Output<string> {
        return pulumi.interpolate`localhost:${this.push.ports.apply((p) => p?.[0]?.external)}/warmstart-cache/${image}:buildcache`;
    }
}
