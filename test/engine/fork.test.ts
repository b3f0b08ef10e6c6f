// The README's "Forking a stack per project", run as written: each block's commands, read from the
// README itself, in a fresh copy of the project on a fresh file backend where no stack exists yet,
// with the real Pulumi CLI. Only `pulumi up` is left out: it would reach GCP.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { REPO_ROOT } from "../../scripts/evaluate";
import { listStacks, stackFileConfig } from "../../scripts/offline/stackFiles";
import { flatToRaw, parseStackConfig } from "../../stacks/load";
import { requireTool } from "../support/tools";

const SECTION = "## Forking a stack per project";

/** The README's fork blocks: each a list of commands (comments dropped, `a && b` as two). */
function forkBlocks(): string[][] {
    const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
    const start = readme.indexOf(SECTION);
    expect(start, `a "${SECTION}" section in README.md`).to.be.greaterThan(0);
    const section = readme.slice(start + SECTION.length).split(/\n## /)[0];
    return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
        m[1].split("\n").map((line) => line.replace(/(^|\s)#.*$/, "").trim()).filter(Boolean).flatMap((line) => line.split("&&").map((c) => c.trim())));
}

/** The project's files as a clone has them (tracked, and new ones not ignored), in a fresh folder. */
function freshCopy(into: string): void {
    const files = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
    for (const file of files) {
        if (!fs.existsSync(path.join(REPO_ROOT, file))) continue;
        fs.mkdirSync(path.dirname(path.join(into, file)), { recursive: true });
        fs.copyFileSync(path.join(REPO_ROOT, file), path.join(into, file));
    }
    // What `npm ci` would install, shared rather than installed again.
    for (const modules of ["node_modules", "images/model-sync/node_modules"]) fs.symlinkSync(path.join(REPO_ROOT, modules), path.join(into, modules));
}

describe("forking a stack as the README says, on a fresh backend", function () {
    this.timeout(300000);
    const pulumi = requireTool("pulumi");
    const blocks = forkBlocks();
    let work = "";
    let home = "";

    beforeEach(() => {
        home = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-fork-"));
        work = path.join(home, "warmstart");
        fs.mkdirSync(path.join(home, "state"));
        freshCopy(work);
    });

    afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

    /** The environment of a newcomer's shell: the CLI on PATH, offline, a backend with no stack in it. */
    const env = () => ({
        ...process.env,
        PATH: `${path.dirname(pulumi)}:${path.dirname(process.execPath)}:${process.env.PATH ?? ""}`,
        PULUMI_HOME: path.join(home, "pulumi-home"),
        PULUMI_BACKEND_URL: `file://${path.join(home, "state")}`,
        PULUMI_CONFIG_PASSPHRASE: "offline only",
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    });

    const run = (command: string) => {
        const done = spawnSync("sh", ["-c", command], { cwd: work, env: env(), encoding: "utf8", timeout: 180000 });
        return { status: done.status, stdout: done.stdout, out: `${done.stdout}${done.stderr}` };
    };

    it("has the two blocks, single-stack and on a platform", () => {
        expect(blocks.length).to.equal(2);
        for (const block of blocks) expect(block[0]).to.match(/^cp Pulumi\.\S+\.yaml Pulumi\.\S+\.yaml$/);
    });

    blocks.forEach((block, i) => {
        it(`runs block ${i + 1} (${block[0]}) with the real CLI, writing only the new stack's file`, () => {
            const [, from, stack] = /^cp Pulumi\.(\S+)\.yaml Pulumi\.(\S+)\.yaml$/.exec(block[0])!;
            const before = Object.fromEntries(listStacks(work).map((s) => [s, fs.readFileSync(path.join(work, `Pulumi.${s}.yaml`), "utf8")]));
            const sets: [string, string][] = [];
            for (const command of block) {
                if (command.startsWith("pulumi up")) {
                    // Deploying needs GCP: the command must at least name the new stack.
                    expect(command, "the deploy step").to.equal(`pulumi up -s ${stack}`);
                    continue;
                }
                const set = /^pulumi config set -s (\S+) (\S+) (\S+)$/.exec(command);
                if (command.startsWith("pulumi config set")) {
                    expect(set, `${command}: names the stack with -s`).not.to.equal(null);
                    expect(set![1]).to.equal(stack);
                    sets.push([set![2], set![3]]);
                }
                const done = run(command);
                expect(done.status, `${command}\n${done.out}`).to.equal(0);
                if (command.startsWith("npm run plan")) expect(done.stdout).to.match(new RegExp(`^stack ${stack}: \\d+ resources$`, "m"));
            }

            // The new stack's config, as the CLI hands it to the program, holds what the block set.
            const read = run(`pulumi config --json -s ${stack}`);
            expect(read.status, read.out).to.equal(0);
            const values = JSON.parse(read.stdout) as Record<string, { value: string }>;
            for (const [key, value] of sets) expect(values[key.includes(":") ? key : `warmstart:${key}`]?.value, key).to.equal(value);

            // No other stack's file changed; the new one is the copy with the block's values.
            for (const [s, text] of Object.entries(before)) expect(fs.readFileSync(path.join(work, `Pulumi.${s}.yaml`), "utf8"), `Pulumi.${s}.yaml`).to.equal(text);
            const parsed = (s: string) => parseStackConfig(flatToRaw(stackFileConfig(s, work)));
            const expected = flatToRaw({ ...stackFileConfig(from, work), ...Object.fromEntries(sets.map(([k, v]) => [k.includes(":") ? k : `warmstart:${k}`, v])) });
            expect(parsed(stack)).to.deep.equal(parseStackConfig(expected));
        });
    });

    it("leaves a stack file the CLI rewrote (salt, quoted booleans) read as before", () => {
        const block = blocks[0];
        const [, from, stack] = /^cp Pulumi\.(\S+)\.yaml Pulumi\.(\S+)\.yaml$/.exec(block[0])!;
        for (const command of block.slice(0, 2)) expect(run(command).status, command).to.equal(0);
        const original = fs.readFileSync(path.join(work, `Pulumi.${from}.yaml`), "utf8");
        const rewritten = fs.readFileSync(path.join(work, `Pulumi.${stack}.yaml`), "utf8");
        // What the README says the CLI does to the file.
        expect(rewritten).to.match(/^encryptionsalt: /m);
        expect(original).to.match(/^ {2}warmstart:deletionProtection: false$/m);
        expect(rewritten).to.match(/^ {2}warmstart:deletionProtection: "false"$/m);
        const readme = fs.readFileSync(path.join(REPO_ROOT, "README.md"), "utf8");
        expect(readme).to.include("`pulumi stack init` adds an `encryptionsalt:` line");
        expect(readme).to.include("`deletionProtection: false` back quoted, as `\"false\"`");
        // The offline plan and the program read both forms alike.
        const config = (s: string) => parseStackConfig(flatToRaw(stackFileConfig(s, work)));
        expect(config(stack).deletionProtection).to.equal(false);
        expect(config(stack)).to.deep.equal(config(from));
    });
});
