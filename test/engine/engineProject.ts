// The program under the real engine (`npm run engine`, scripts/engine.sh) in a folder of its own:
// the stack files and Pulumi.yaml are copies (a test edits them, `stack init` writes a salt into
// them), everything else links to the repository. The backend is a file:// folder beside them.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseDocument } from "yaml";
import { REPO_ROOT } from "../../scripts/evaluate";
import { EngineRun, engineOk, Preview, previewJson, runEngine } from "../../scripts/engine/run";
import { listStacks } from "../../scripts/offline/stackFiles";

/** What the program reads besides the stack files, linked into the copy. */
const LINKED = ["index.ts", "components", "contract", "stacks", "targets", "scripts", "images", "policy", "node_modules", "package.json", "tsconfig.json", "tsconfig.pulumi.json"];

export class EngineProject {
    readonly dir: string;
    readonly backend: string;

    /**
     * This project's program, or with `program` another one: its files (`index.ts`, …) beside the
     * project's packages and compiler settings, and a Pulumi.yaml with the project's runtime.
     */
    constructor(readonly label: string, program?: { name: string; files: Record<string, string> }) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `warmstart-${label}-`));
        this.backend = path.join(this.dir, ".state");
        fs.mkdirSync(this.backend);
        if (program === undefined) {
            for (const name of LINKED) fs.symlinkSync(path.join(REPO_ROOT, name), path.join(this.dir, name));
            for (const file of ["Pulumi.yaml", ...listStacks().map((s) => `Pulumi.${s}.yaml`)]) fs.copyFileSync(path.join(REPO_ROOT, file), path.join(this.dir, file));
            return;
        }
        for (const name of ["node_modules", "package.json", "tsconfig.json", "tsconfig.pulumi.json"]) fs.symlinkSync(path.join(REPO_ROOT, name), path.join(this.dir, name));
        const runtime = fs.readFileSync(path.join(REPO_ROOT, "Pulumi.yaml"), "utf8").match(/^runtime:\n(?: {2}.*\n)+/m)?.[0];
        if (runtime === undefined) throw new Error("Pulumi.yaml has no runtime: block");
        fs.writeFileSync(path.join(this.dir, "Pulumi.yaml"), `name: ${program.name}\n${runtime}main: index.ts\n`);
        for (const [file, text] of Object.entries(program.files)) fs.writeFileSync(path.join(this.dir, file), text);
    }

    /** Where and how every command of this project runs: its folder, its own backend. */
    get opts(): { cwd: string; env: Record<string, string> } {
        return { cwd: this.dir, env: { PULUMI_BACKEND_URL: `file://${this.backend}`, PULUMI_CONFIG_PASSPHRASE: "engine tests" } };
    }

    run(args: string[], env: Record<string, string> = {}): EngineRun {
        return runEngine(args, { ...this.opts, env: { ...this.opts.env, ...env } });
    }

    ok(args: string[], env: Record<string, string> = {}): EngineRun {
        return engineOk(args, { ...this.opts, env: { ...this.opts.env, ...env } });
    }

    initStack(stack: string): void {
        this.ok(["stack", "init", stack, "--secrets-provider", "passphrase"]);
    }

    preview(stack: string, extra: string[] = []): Preview {
        return previewJson(stack, extra, this.opts);
    }

    /** Edits this copy's stack file: `edit` receives the `config:` map (`warmstart:services`, …). */
    editStack(stack: string, edit: (config: Record<string, unknown>) => void): void {
        const file = path.join(this.dir, `Pulumi.${stack}.yaml`);
        const doc = parseDocument(fs.readFileSync(file, "utf8"));
        const config = (doc.get("config") as { toJSON(): Record<string, unknown> }).toJSON();
        edit(config);
        doc.set("config", config);
        fs.writeFileSync(file, doc.toString());
    }

    /** Restores this copy's stack file from the repository (keeping the salt `stack init` wrote). */
    resetStack(stack: string): void {
        const file = path.join(this.dir, `Pulumi.${stack}.yaml`);
        const salt = parseDocument(fs.readFileSync(file, "utf8")).get("encryptionsalt");
        const doc = parseDocument(fs.readFileSync(path.join(REPO_ROOT, `Pulumi.${stack}.yaml`), "utf8"));
        if (salt !== undefined) doc.set("encryptionsalt", salt);
        fs.writeFileSync(file, doc.toString());
    }

    dispose(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
