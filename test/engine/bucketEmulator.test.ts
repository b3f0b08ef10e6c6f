// The model cache's bucket (components/gcp/modelCache.ts) deployed for real by the engine and the
// gcp provider, against a Cloud Storage emulator on loopback (fake-gcs-server, through the
// provider's storageCustomEndpoint): created, filled, refreshed, refused a destroy while protected,
// then the teardown docs/operations.md gives — protection off, `up`, `destroy` — deleting it with
// its objects. The emulator keeps a bucket's name, location and versioning and ignores the rest
// (lifecycle, labels, uniform access, soft delete: fake-gcs-server fakestorage/bucket.go), so
// what it reads back proves the requests and the engine's steps, not GCP's answers.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { REPO_ROOT } from "../../scripts/evaluate";
import { EngineRun, StateResource } from "../../scripts/engine/run";
import { StorageEmulator } from "../mount/storageEmulator";
import { requireTool } from "../support/tools";
import { EngineProject } from "./engineProject";

const BUCKET = "ws-emulator-models";
const LOCATION = "EUROPE-WEST1";
const STACK = "emulator";

/** The ModelCache component alone, its gcp provider pointed at the emulator; `protect` from stack config, as deletionProtection sets it. */
const PROGRAM = `import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { ModelCache } from ${JSON.stringify(path.join(REPO_ROOT, "components", "gcp", "modelCache"))};

const config = new pulumi.Config();
const provider = new gcp.Provider("storage-emulator", {
    project: "warmstart-emulator",
    accessToken: "emulator",
    storageCustomEndpoint: \`\${config.require("endpoint")}/storage/v1/\`,
});
const cache = new ModelCache("model-cache", {
    project: "warmstart-emulator", bucketName: ${JSON.stringify(BUCKET)}, location: ${JSON.stringify(LOCATION)},
    hierarchicalNamespace: false, revisionRetentionDays: 3, stagingRetentionDays: 2, softDeleteRetentionDays: 0,
    protect: config.requireBoolean("protect"),
}, { providers: [provider] });
export const bucketName = cache.bucketName;
`;

describe("the model cache bucket against a Cloud Storage emulator, for real", function () {
    this.timeout(300000);
    let project: EngineProject;
    let emulator: StorageEmulator;
    let dir: string;

    const engine = (args: string[]): EngineRun => project.run([...args, "-s", STACK]);
    const ok = (args: string[]): EngineRun => {
        const run = engine(args);
        expect(run.status, `${args.join(" ")}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`).to.equal(0);
        return run;
    };
    const bucketStatus = async () => (await emulator.request("GET", `/storage/v1/b/${BUCKET}`)).status;
    const bucketState = (): StateResource => {
        const state = JSON.parse(ok(["stack", "export"]).stdout) as { deployment: { resources: StateResource[] } };
        return state.deployment.resources.find((r) => r.type === "gcp:storage/bucket:Bucket")!;
    };

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-gcs-emulator-"));
        emulator = await StorageEmulator.start(requireTool("fake-gcs-server"), dir, ["-location", LOCATION]);
        project = new EngineProject("bucket", { name: "bucket", files: { "index.ts": PROGRAM } });
        project.initStack(STACK);
        ok(["config", "set", "endpoint", emulator.endpoint]);
        ok(["config", "set", "--type", "bool", "protect", "true"]);
    });

    after(async () => {
        await emulator?.stop();
        project?.dispose();
        if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("up creates the bucket, versioned, in its location, protected and retained as prod has it", async () => {
        ok(["up", "--yes"]);
        const bucket = JSON.parse((await emulator.request("GET", `/storage/v1/b/${BUCKET}`)).body.toString()) as { location?: string; versioning?: { enabled?: boolean } };
        expect(bucket.location).to.equal(LOCATION);
        expect(bucket.versioning?.enabled).to.equal(true);
        const state = bucketState();
        expect(state.protect).to.equal(true);
        expect(state.retainOnDelete).to.equal(true);
        expect(state.outputs?.forceDestroy).to.equal(false);
    });

    it("a refresh reads it back: name, location and versioning as deployed (the rest the emulator does not keep)", () => {
        const run = ok(["refresh", "--yes"]);
        const state = bucketState();
        expect(state.outputs).to.include({ name: BUCKET, location: LOCATION });
        expect(state.outputs?.versioning).to.deep.equal({ enabled: true });
        const read = /gcp:storage:Bucket model-cache-bucket (?:updated|refreshing).*\[diff: ([^\]]*)\]/.exec(run.stdout)?.[1];
        console.log(`      fields the emulator read back otherwise: ${read ?? "none"}`);
    });

    it("with models in it, a destroy is refused at the protected bucket, and nothing is deleted", async () => {
        for (const name of ["manifest.json", ".done", "huggingface/BAAI/bge-m3/rev/model.safetensors"]) await emulator.write(BUCKET, name, `bytes of ${name}`);
        const run = engine(["destroy", "--yes"]);
        expect(run.status).to.not.equal(0);
        expect(run.stdout).to.match(/cannot be deleted\s+because it is protected/);
        expect(await bucketStatus()).to.equal(200);
        expect([...(await emulator.list(BUCKET)).keys()].sort()).to.deep.equal([".done", "huggingface/BAAI/bge-m3/rev/model.safetensors", "manifest.json"]);
    });

    it("protection off and up: an update in place, and the bucket is no longer protected nor retained", () => {
        ok(["config", "set", "--type", "bool", "protect", "false"]);
        const run = ok(["up", "--yes"]);
        expect(run.stdout).to.not.match(/replaced|to replace/);
        const state = bucketState();
        expect(state.protect ?? false).to.equal(false);
        expect(state.retainOnDelete ?? false).to.equal(false);
        expect(state.outputs?.forceDestroy).to.equal(true);
    });

    it("then destroy deletes the bucket with every object in it, as docs/operations.md says", async () => {
        ok(["destroy", "--yes"]);
        expect(await bucketStatus()).to.equal(404);
        expect(JSON.parse(ok(["stack", "export"]).stdout).deployment.resources ?? []).to.deep.equal([]);
    });
});
