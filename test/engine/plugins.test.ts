// The plugins the real engine loads, built from source by `npm run tools`: each answers the
// plugin protocol with the version its SDK asks for (the engine loads exactly that version), and
// serves the schema its own sources ship, so the module stand-ins in tools/go-replace changed
// nothing a program sees. Each provider is started as the engine starts it: with the address of
// an engine to log to (a small one served here on loopback), printing the port it listens on.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import { expect } from "chai";
import * as grpc from "@grpc/grpc-js";
import { REPO_ROOT } from "../../scripts/evaluate";
import { requireTool, toolVersion } from "../support/tools";

/* eslint-disable @typescript-eslint/no-require-imports -- the SDK's generated gRPC stubs are CommonJS without types for these paths */
const providerGrpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const providerProto = require("@pulumi/pulumi/proto/provider_pb");
const engineGrpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const emptyProto = require("google-protobuf/google/protobuf/empty_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

const VERSIONS_FILE = path.join(REPO_ROOT, "tools", "versions.env");
const VENDOR = process.env.WARMSTART_VENDOR ?? path.join(REPO_ROOT, "..", "shared", "vendor");

/** tools/versions.env as a map of its assignments. */
function pinnedVersions(): Record<string, string> {
    const pins: Record<string, string> = {};
    for (const line of fs.readFileSync(VERSIONS_FILE, "utf8").split("\n")) {
        const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
        if (m) pins[m[1]] = m[2];
    }
    return pins;
}

interface Plugin { sdk: string; plugin: string; version?: string }

/** The plugins the program's SDKs ask for, as scripts/engine.sh reads them. */
async function providerPlugins(): Promise<Plugin[]> {
    const mod = await import(path.join(REPO_ROOT, "scripts", "offline", "providerPlugins.mjs"));
    return mod.providerPlugins(REPO_ROOT) as Plugin[];
}

/** Each provider: the tool that builds it, its versions.env key, and where its sources ship a schema. */
const PROVIDERS: Record<string, { tool: string; pin: string; shippedSchema?: () => string }> = {
    docker: {
        tool: "docker-provider", pin: "DOCKER_PROVIDER_VERSION",
        shippedSchema: () => fromArchive("pulumi-docker-5.0.0", "provider/cmd/pulumi-resource-docker/schema.json"),
    },
    "docker-build": {
        tool: "docker-build-provider", pin: "DOCKER_BUILD_PROVIDER_VERSION",
        shippedSchema: () => {
            const download = execFileSync("go", ["mod", "download", "-json", `github.com/pulumi/pulumi-docker-build@v${pinnedVersions().DOCKER_BUILD_PROVIDER_VERSION}`], { encoding: "utf8", env: { ...process.env, GOFLAGS: "" } });
            return fs.readFileSync(path.join(JSON.parse(download).Dir, "provider/cmd/pulumi-resource-docker-build/schema.json"), "utf8");
        },
    },
    // pulumi-gcp commits no schema: its tfgen writes it during the build.
    gcp: { tool: "gcp-provider", pin: "GCP_PROVIDER_VERSION" },
    time: {
        tool: "time-provider", pin: "TIME_PROVIDER_VERSION",
        shippedSchema: () => fromArchive("pulumi-time-0.1.1", "provider/cmd/pulumi-resource-time/schema.json"),
    },
};

function fromArchive(archive: string, file: string): string {
    return execFileSync("tar", ["-xzOf", path.join(VENDOR, `${archive}.tar.gz`), `${archive}/${file}`], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
}

/** A minimal engine on loopback: providers log to it while they start and serve. */
async function startEngine(): Promise<{ address: string; stop: () => void }> {
    const server = new grpc.Server();
    const empty = (_call: unknown, done: (err: null, value: unknown) => void) => done(null, new emptyProto.Empty());
    server.addService(engineGrpc.EngineService, { log: empty, getRootResource: empty, setRootResource: empty, startDebugging: empty });
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    return { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() };
}

/** Starts a provider binary as the engine does and connects to the port it prints. */
async function startProvider(binary: string, engine: string): Promise<{ client: grpc.Client & Record<string, CallableFunction>; proc: ChildProcess }> {
    const proc = spawn(binary, [engine], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    proc.stderr?.on("data", (d) => (stderr += d));
    const port = await new Promise<string>((resolve, reject) => {
        const lines = readline.createInterface({ input: proc.stdout! });
        lines.once("line", (line) => resolve(line.trim()));
        proc.once("exit", (code) => reject(new Error(`${path.basename(binary)} exited ${code} before printing its port: ${stderr}`)));
    });
    const client = new providerGrpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
        "grpc.max_receive_message_length": 512 * 1024 * 1024,
    });
    return { client, proc };
}

function call<T>(client: Record<string, CallableFunction>, method: string, request: unknown): Promise<T> {
    return new Promise((resolve, reject) => client[method](request, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));
}

/** A schema without its `version`, which the build sets and the committed file leaves out. */
function withoutVersion(schema: string): unknown {
    const parsed = JSON.parse(schema) as Record<string, unknown>;
    delete parsed.version;
    return parsed;
}

describe("the providers built from source", function () {
    this.timeout(180000);

    it("are each the version its SDK asks for, as tools/versions.env builds it", async () => {
        const pins = pinnedVersions();
        const plugins = await providerPlugins();
        expect(plugins.map((p) => p.plugin).sort()).to.deep.equal(Object.keys(PROVIDERS).sort());
        for (const p of plugins) {
            // An SDK that names no version gets any installed one: then its own release is the pin.
            const asked = p.version ?? (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "node_modules", p.sdk, "package.json"), "utf8")) as { version: string }).version;
            expect(pins[PROVIDERS[p.plugin].pin], `${p.sdk} asks for ${p.plugin} ${asked}`).to.equal(asked.replace(/^v/, ""));
        }
    });

    for (const [plugin, spec] of Object.entries(PROVIDERS)) {
        it(`${plugin}: answers GetPluginInfo with its version${spec.shippedSchema ? " and GetSchema with the schema its sources ship" : " and serves its schema"}`, async () => {
            const version = pinnedVersions()[spec.pin];
            const binary = requireTool(spec.tool, `pulumi-resource-${plugin}`);
            const engine = await startEngine();
            const { client, proc } = await startProvider(binary, engine.address);
            try {
                const info = await call<{ getVersion(): string }>(client, "getPluginInfo", new emptyProto.Empty());
                expect(info.getVersion().replace(/^v/, "")).to.equal(version);
                const schema = (await call<{ getSchema(): string }>(client, "getSchema", new providerProto.GetSchemaRequest())).getSchema();
                expect((JSON.parse(schema) as { name: string; version: string })).to.include({ name: plugin, version });
                if (spec.shippedSchema) expect(withoutVersion(schema)).to.deep.equal(withoutVersion(spec.shippedSchema()));
            } finally {
                client.close();
                proc.kill();
                engine.stop();
            }
        });
    }

    it("are installed where scripts/engine.sh points the engine, at those versions", async () => {
        const home = execFileSync("bash", [path.join(REPO_ROOT, "tools", "build.sh"), "--pulumi-home"], { encoding: "utf8" }).trim();
        for (const p of await providerPlugins()) {
            const version = p.version ?? pinnedVersions()[PROVIDERS[p.plugin].pin];
            expect(fs.existsSync(path.join(home, "plugins", `resource-${p.plugin}-v${version}`, `pulumi-resource-${p.plugin}`)), `${p.plugin} ${version} in ${home}`).to.equal(true);
        }
        expect(toolVersion("pulumi-language-nodejs")).to.match(new RegExp(`^${pinnedVersions().LANGUAGE_HOST_VERSION}-`));
    });
});
