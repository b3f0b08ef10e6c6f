// The engine runs the program without type-checking it (Pulumi.yaml runtime.options.tsconfig ->
// tsconfig.pulumi.json: `noCheck`, and ts-node transpiling with SWC): the check costs seconds on
// every preview (npm run bench:preview). A type error still
// fails before any preview: `npm run build` checks with tsconfig.json, first in test:engine and CI.
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import * as ts from "typescript";
import { REPO_ROOT } from "../../scripts/evaluate";
import { EngineProject } from "./engineProject";

const TYPE_ERROR = "const port: number = \"8080\";\nexport { port };\n";

describe("the program under the engine, transpiled only", function () {
    this.timeout(300000);
    let project: EngineProject;

    before(() => {
        project = new EngineProject("transpile", { name: "transpile-only", files: { "index.ts": TYPE_ERROR } });
        project.initStack("t");
    });

    after(() => project?.dispose());

    it("previews a program with a type error: the engine does not type-check", () => {
        const run = project.run(["preview", "-s", "t"]);
        expect(run.status, `${run.stdout}\n${run.stderr}`).to.equal(0);
        expect(run.stdout).to.not.include("TSError");
    });

    it("transpiles with SWC, which refuses to type-check", () => {
        // ts-node reads its own options from the tsconfig the engine is given; asking it to
        // type-check shows that SWC is the transpiler (ts-node: "'swc' implies 'transpileOnly'").
        const run = project.run(["preview", "-s", "t"], { PULUMI_NODEJS_TRANSPILE_ONLY: "false" });
        expect(run.status).to.not.equal(0);
        expect(run.stdout).to.include("Cannot enable 'swc' option with 'transpileOnly: false'");
    });

    it("while the build's tsconfig.json refuses that type error", () => {
        const file = path.join(project.dir, "index.ts");
        const read = ts.readConfigFile(path.join(REPO_ROOT, "tsconfig.json"), (f) => fs.readFileSync(f, "utf8"));
        const { options } = ts.parseJsonConfigFileContent(read.config, ts.sys, REPO_ROOT);
        const diagnostics = ts.getPreEmitDiagnostics(ts.createProgram([file], { ...options, noEmit: true }));
        expect(diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"))).to.include("Type 'string' is not assignable to type 'number'.");
    });

    it("and test:engine runs that build before any preview", () => {
        const scripts = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
        expect(scripts["pretest:engine"]).to.match(/^npm run -s build\b/);
        expect(scripts.build).to.equal("tsc --noEmit -p tsconfig.json");
    });
});
