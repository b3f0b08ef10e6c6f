// The local target's registry configs, run for real: the distribution registry of the release the
// stack runs (REGISTRY_IMAGE, built by `npm run tools`) on loopback as an upstream, as the generated
// proxy in front of it, and as the generated push registry. skopeo moves a test image made here
// (an OCI layout) between them.
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { BUILDKIT_IMAGE, REGISTRY_IMAGE, registryConfig } from "../components/local/registry";
import { findTool, toolVersion } from "./support/tools";
import { freePort } from "./support/freePort";

const have = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

async function waitReady(port: number, child: ChildProcess, log: () => string): Promise<void> {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
        if (child.exitCode !== null) throw new Error(`registry on :${port} exited: ${log()}`);
        try {
            const res = await fetch(`http://127.0.0.1:${port}/v2/`);
            if (res.status === 200) return;
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`registry on :${port} not ready: ${log()}`);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

/** A one-layer OCI image layout under `dir`, tagged `tag`; returns its manifest digest. */
function writeOciImage(dir: string, tag: string, content: string): string {
    const blobs = path.join(dir, "blobs", "sha256");
    fs.mkdirSync(blobs, { recursive: true });
    const root = fs.mkdtempSync(path.join(dir, "..", "layer-"));
    fs.writeFileSync(path.join(root, "hello.txt"), content);
    const tar = execFileSync("tar", ["-C", root, "--mtime=@0", "--owner=0", "--group=0", "-cf", "-", "hello.txt"]);
    const gz = execFileSync("gzip", ["-n", "-c"], { input: tar });
    const blob = (data: Buffer) => {
        const digest = sha256(data);
        fs.writeFileSync(path.join(blobs, digest), data);
        return { digest: `sha256:${digest}`, size: data.length };
    };
    const layer = blob(gz);
    const config = blob(Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [`sha256:${sha256(tar)}`] }, config: {} })));
    const manifest = blob(Buffer.from(JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", ...layer }],
    })));
    fs.writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
    fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", ...manifest, annotations: { "org.opencontainers.image.ref.name": tag } }],
    }));
    return manifest.digest;
}

function skopeo(...args: string[]): { ok: boolean; out: string } {
    const run = spawnSync("skopeo", ["--insecure-policy", ...args], { encoding: "utf8", timeout: 60000 });
    return { ok: run.status === 0, out: `${run.stdout}${run.stderr}` };
}

describe("local registries (the distribution registry on loopback, generated configs)", function () {
    this.timeout(120000);
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-registry-"));
    const children: ChildProcess[] = [];
    let upstreamPort = 0;
    let proxyPort = 0;
    let pushPort = 0;
    let upstream: ChildProcess;
    let digest = "";
    const registry = findTool("distribution", "registry");

    function serve(name: string, config: string): { child: ChildProcess; log: () => string } {
        const file = path.join(work, `${name}.yml`);
        fs.writeFileSync(file, config);
        let output = "";
        const child = spawn(registry.path!, ["serve", file], { stdio: ["ignore", "pipe", "pipe"] });
        child.stdout!.on("data", (d) => (output += d));
        child.stderr!.on("data", (d) => (output += d));
        children.push(child);
        return { child, log: () => output.slice(-2000) };
    }

    before(async function () {
        if (registry.path === undefined || !have("skopeo")) {
            // CI builds and installs both (.ci/run); a developer machine without them skips, CI never does.
            const missing = `${registry.reason ?? ""} ${have("skopeo") ? "" : "skopeo is not installed (apt-get install skopeo)"}`.trim();
            if (process.env.CI) throw new Error(`required in CI: ${missing}`);
            console.log(`    skipped: ${missing}`);
            this.skip();
        }
        [upstreamPort, proxyPort, pushPort] = [await freePort(), await freePort(), await freePort()];
        const storage = (name: string) => path.join(work, name);

        const up = serve("upstream", registryConfig({ listen: `127.0.0.1:${upstreamPort}`, rootDirectory: storage("upstream"), deleteEnabled: true }));
        upstream = up.child;
        await waitReady(upstreamPort, up.child, up.log);
        digest = writeOciImage(path.join(work, "image"), "1", "built once, started warm\n");
        const pushed = skopeo("copy", "--dest-tls-verify=false", `oci:${path.join(work, "image")}:1`, `docker://127.0.0.1:${upstreamPort}/library/hello:1`);
        expect(pushed.ok, pushed.out).to.equal(true);

        const proxy = serve("proxy", registryConfig({
            listen: `127.0.0.1:${proxyPort}`, rootDirectory: storage("proxy"), deleteEnabled: true,
            proxy: { remoteUrl: `http://127.0.0.1:${upstreamPort}`, ttl: "168h" },
        }));
        await waitReady(proxyPort, proxy.child, proxy.log);
        const push = serve("push", registryConfig({ listen: `127.0.0.1:${pushPort}`, rootDirectory: storage("push"), deleteEnabled: true }));
        await waitReady(pushPort, push.child, push.log);
    });

    after(() => {
        for (const child of children) child.kill("SIGKILL");
        fs.rmSync(work, { recursive: true, force: true });
    });

    it("pulls an upstream image through the proxy, byte for byte", () => {
        const out = path.join(work, "pulled");
        const pulled = skopeo("copy", "--src-tls-verify=false", `docker://127.0.0.1:${proxyPort}/library/hello:1`, `oci:${out}:1`);
        expect(pulled.ok, pulled.out).to.equal(true);
        const index = JSON.parse(fs.readFileSync(path.join(out, "index.json"), "utf8")) as { manifests: { digest: string }[] };
        expect(index.manifests[0].digest).to.equal(digest);
    });

    it("refuses a push to the proxy", () => {
        const pushed = skopeo("copy", "--dest-tls-verify=false", `oci:${path.join(work, "image")}:1`, `docker://127.0.0.1:${proxyPort}/warmstart/hello:1`);
        expect(pushed.ok, "a proxy registry must not take pushes").to.equal(false);
        expect(pushed.out).to.match(/initiating layer upload.*unsupported/);
    });

    it("still serves the cached image with the upstream stopped", async () => {
        // The proxy writes what it served to its storage in the background: wait for every blob.
        const blobs = fs.readdirSync(path.join(work, "image", "blobs", "sha256"));
        const cached = (d: string) => fs.existsSync(path.join(work, "proxy", "docker", "registry", "v2", "blobs", "sha256", d.slice(0, 2), d, "data"));
        const deadline = Date.now() + 20000;
        while (!blobs.every(cached) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
        expect(blobs.filter((d) => !cached(d)), "blobs the proxy has not stored").to.deep.equal([]);

        upstream.kill("SIGKILL");
        await new Promise((r) => upstream.once("exit", r));
        await fetch(`http://127.0.0.1:${upstreamPort}/v2/`).then(
            () => expect.fail("the upstream still answers"),
            () => undefined,
        );
        const out = path.join(work, "pulled-offline");
        const pulled = skopeo("copy", "--src-tls-verify=false", `docker://127.0.0.1:${proxyPort}/library/hello:1`, `oci:${out}:1`);
        expect(pulled.ok, pulled.out).to.equal(true);
        const inspect = skopeo("inspect", "--tls-verify=false", "--raw", `docker://127.0.0.1:${proxyPort}/library/hello:1`);
        expect(sha256(Buffer.from(inspect.out.trim()))).to.equal(digest.slice("sha256:".length));
    });

    it("takes the push on the push registry, and serves it back", () => {
        const pushed = skopeo("copy", "--dest-tls-verify=false", `oci:${path.join(work, "image")}:1`, `docker://127.0.0.1:${pushPort}/warmstart/hello:1`);
        expect(pushed.ok, pushed.out).to.equal(true);
        const inspect = skopeo("inspect", "--tls-verify=false", `docker://127.0.0.1:${pushPort}/warmstart/hello:1`);
        expect(inspect.ok, inspect.out).to.equal(true);
        expect(JSON.parse(inspect.out).Digest).to.equal(digest);
    });
});

describe("the registry release under test", () => {
    it("is the one the local stack runs", () => {
        expect(`registry:${toolVersion("distribution")}`).to.equal(REGISTRY_IMAGE);
    });

    // test:engine loads the built buildkitd under BUILDKIT_IMAGE: the same release, or the real
    // run would test another BuildKit than the stack asks for.
    it("is matched by the BuildKit release the local builder runs", () => {
        expect(`moby/buildkit:v${toolVersion("buildkit")}`).to.equal(BUILDKIT_IMAGE);
    });
});
