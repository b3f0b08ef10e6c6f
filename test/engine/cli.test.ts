// The real Pulumi CLI (built by `npm run tools`) reading the project: Pulumi.yaml validated against
// the CLI's own project schema (typed `config:` keys, objects and lists of objects), and every stack
// file read the way the offline plan reads it (scripts/offline/stackFiles.ts). The mocks never load
// Pulumi.yaml, so only this catches a declaration the CLI refuses or a value it reads otherwise.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { REPO_ROOT } from "../../scripts/evaluate";
import { listStacks, projectDefaults, stackFileConfig } from "../../scripts/offline/stackFiles";
import { requireTool } from "../support/tools";

interface CliConfigValue { value: string; objectValue?: unknown; secret: boolean }

/** A config value as the program parses it: objects and lists from their JSON, scalars as strings. */
const asProgramSees = (value: string, isObject: boolean): unknown => (isObject ? JSON.parse(value) : value);

describe("the real Pulumi CLI", function () {
    this.timeout(120000);
    const pulumi = requireTool("pulumi");
    let work = "";

    /** Runs the CLI offline in `work`: a file backend there, no update check, no plugin download. */
    function cli(...args: string[]): { status: number | null; out: string; stdout: string } {
        const run = spawnSync(pulumi, [...args, "--non-interactive"], {
            cwd: work, encoding: "utf8", timeout: 60000,
            env: {
                ...process.env,
                PULUMI_HOME: path.join(work, ".pulumi-home"),
                PULUMI_BACKEND_URL: `file://${path.join(work, ".state")}`,
                PULUMI_CONFIG_PASSPHRASE: "offline only",
                PULUMI_SKIP_UPDATE_CHECK: "true",
                PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
            },
        });
        return { status: run.status, out: `${run.stdout}${run.stderr}`, stdout: run.stdout };
    }

    beforeEach(() => {
        // A copy of the project files: `stack init` writes the passphrase salt into the stack file.
        work = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-cli-"));
        fs.mkdirSync(path.join(work, ".state"));
        for (const file of ["Pulumi.yaml", ...listStacks().map((s) => `Pulumi.${s}.yaml`)]) fs.copyFileSync(path.join(REPO_ROOT, file), path.join(work, file));
    });

    afterEach(() => fs.rmSync(work, { recursive: true, force: true }));

    it(`is the pinned release`, () => {
        const run = cli("version");
        expect(run.status, run.out).to.equal(0);
        expect(run.stdout.trim()).to.match(/^v3\.\d+\.\d+$/);
    });

    for (const stack of listStacks()) {
        it(`reads Pulumi.yaml and Pulumi.${stack}.yaml, every key as the offline plan reads it`, () => {
            const init = cli("stack", "init", stack, "--secrets-provider", "passphrase");
            expect(init.status, init.out).to.equal(0);
            const run = cli("config", "--json", "-s", stack);
            expect(run.status, run.out).to.equal(0);
            const read = JSON.parse(run.stdout) as Record<string, CliConfigValue>;
            const offline = stackFileConfig(stack);
            // The CLI lists the stack file's keys; the offline reader adds Pulumi.yaml's defaults.
            const defaultsOnly = Object.keys(projectDefaults()).filter((k) => !(k in read));
            expect(Object.keys(read).sort()).to.deep.equal(Object.keys(offline).filter((k) => !defaultsOnly.includes(k)).sort());
            for (const [key, seen] of Object.entries(read)) {
                const isObject = seen.objectValue !== undefined;
                expect(asProgramSees(offline[key], isObject), key).to.deep.equal(asProgramSees(seen.value, isObject));
            }
        });
    }

    it("refuses a Pulumi.yaml whose config declares a type it does not know, naming the key", () => {
        // The check above is live only if the CLI validates the project: show it refusing one.
        const projectFile = path.join(work, "Pulumi.yaml");
        fs.writeFileSync(projectFile, fs.readFileSync(projectFile, "utf8").replace(/^( {2}local:\n {4}type:) object$/m, "$1 objekt"));
        const run = cli("config", "-s", "dev");
        expect(run.status).to.not.equal(0);
        expect(run.out).to.match(/#\/config\/local\/type: value must be one of/);
    });
});
