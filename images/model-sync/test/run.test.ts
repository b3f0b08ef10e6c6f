// `npm run sync` (scripts/run.mjs): builds the program only when what it is built from changed,
// judged by content, then runs the compiled program. Tried on a copy of the package, so the
// builds it provokes never touch this package's own dist/.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { SETTINGS } from "../src/settings";

const PKG = path.resolve(__dirname, "..");
const BUILDING = "dist/ is not the build of these sources, compiling it";

/** A package directory with the given files, the launcher, and this package's node_modules (its tsc). */
function packageWith(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "model-sync-pkg-"));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
    fs.cpSync(path.join(PKG, "scripts"), path.join(dir, "scripts"), { recursive: true });
    fs.symlinkSync(path.join(PKG, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

const launch = (dir: string, ...args: string[]) => spawnSync(process.execPath, [path.join(dir, "scripts/run.mjs"), ...args], { encoding: "utf8" });

describe("npm run sync: build when the sources changed, then run the compiled program", function () {
    this.timeout(120000);

    describe("the sync program", () => {
        let copy: string;
        before(() => {
            const read = (f: string) => fs.readFileSync(path.join(PKG, f), "utf8");
            const sources = fs.readdirSync(path.join(PKG, "src"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts")).map((f) => `src/${f}`);
            copy = packageWith(Object.fromEntries(["tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json", ...sources].map((f) => [f, read(f)])));
        });
        after(() => fs.rmSync(copy, { recursive: true, force: true }));

        it("is built on a fresh checkout, then prints its usage on --help and exits 0", () => {
            const first = launch(copy, "--help");
            expect(first.stderr).to.include(BUILDING);
            expect(first.status, first.stderr).to.equal(0);
            expect(first.stdout).to.match(/^Usage: model-sync --models FILE --dest DIR/);
            for (const s of Object.values(SETTINGS)) expect(first.stdout).to.include(s.env);
            expect(first.stdout).to.match(/Exit codes:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}75 /);
        });

        it("then runs without a build, and passes the program's exit code on", () => {
            const before = fs.statSync(path.join(copy, "dist/cli.js"));
            const empty = path.join(copy, "models.json");
            fs.writeFileSync(empty, "[]");
            const dest = path.join(copy, "cache");
            const synced = launch(copy, "--models", empty, "--dest", dest);
            expect(synced.stderr).not.to.include(BUILDING);
            expect(synced.status, synced.stderr).to.equal(0);
            expect(synced.stdout).to.include('"message":"sync finished"');
            expect(fs.existsSync(path.join(dest, ".done"))).to.equal(true);
            expect(launch(copy, "--models", empty).status, "no --dest: bad input").to.equal(2);
            const after = fs.statSync(path.join(copy, "dist/cli.js"));
            expect([after.ino, after.mtimeMs], "dist/ untouched").to.deep.equal([before.ino, before.mtimeMs]);
        });
    });

    // The rules on a one-file package, which compiles in a fraction of the program's time.
    describe("when it builds", () => {
        let dir: string;
        const cli = () => path.join(dir, "src/cli.ts");
        const built = () => fs.readFileSync(path.join(dir, "dist/cli.js"), "utf8");
        beforeEach(() => {
            dir = packageWith({
                "package.json": '{ "name": "launched", "private": true }\n',
                "package-lock.json": '{ "name": "launched", "lockfileVersion": 3, "packages": {} }\n',
                "tsconfig.json": '{ "compilerOptions": { "target": "ES2022", "module": "commonjs", "lib": ["ES2022", "DOM"], "types": [], "strict": true } }\n',
                "tsconfig.build.json": '{ "extends": "./tsconfig.json", "compilerOptions": { "rootDir": "src", "outDir": "dist" }, "include": ["src/**/*.ts"] }\n',
                "src/cli.ts": "// version 1\nexport async function main(argv: string[]): Promise<number> {\n    console.log(argv.join(' '));\n    return Number(argv[0] ?? 0);\n}\n",
            });
            expect(launch(dir, "0").stderr).to.include(BUILDING);
        });
        afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

        it("rebuilds when a source changes, and again when a checkout restores the older source with an older mtime", () => {
            const original = fs.readFileSync(cli(), "utf8");
            const { mtime } = fs.statSync(cli());
            fs.writeFileSync(cli(), original.replace("version 1", "version 2"));
            const changed = launch(dir, "3", "args");
            expect(changed.stderr).to.include(BUILDING);
            expect([changed.status, changed.stdout], "the new build ran").to.deep.equal([3, "3 args\n"]);
            expect(built()).to.include("version 2");

            fs.writeFileSync(cli(), original);
            const older = new Date(mtime.getTime() - 86_400_000);
            fs.utimesSync(cli(), older, older); // older than the build it must replace
            expect(launch(dir).stderr).to.include(BUILDING);
            expect(built()).to.include("version 1");
            expect(launch(dir).stderr, "and then not again").not.to.include(BUILDING);
        });

        it("rebuilds when the build config changes", () => {
            const config = path.join(dir, "tsconfig.build.json");
            fs.writeFileSync(config, fs.readFileSync(config, "utf8").replace('"outDir": "dist"', '"outDir": "dist", "removeComments": true'));
            expect(launch(dir).stderr).to.include(BUILDING);
            expect(built()).not.to.include("version 1");
        });

        it("rebuilds when dist/ was written by another build, from other sources", () => {
            const original = fs.readFileSync(cli(), "utf8");
            fs.writeFileSync(cli(), original.replace("version 1", "version 2"));
            // What `npm run build` does: tsc alone, which leaves the launcher's record as it was.
            const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: dir, encoding: "utf8" });
            expect(tsc.status, tsc.stdout).to.equal(0);
            fs.writeFileSync(cli(), original);
            expect(launch(dir).stderr).to.include(BUILDING);
            expect(built()).to.include("version 1");
        });

        it("keeps the previous build, and runs nothing, when the sources do not compile", () => {
            fs.writeFileSync(cli(), `${fs.readFileSync(cli(), "utf8")}\nexport const broken: number = "text";\n`);
            const failed = launch(dir, "0", "ran");
            expect(failed.status).to.equal(1);
            expect(failed.stdout, "nothing ran").to.equal("");
            expect(failed.stderr).to.match(/error TS2322[\s\S]*the build failed \(tsc exited \d+\), dist\/ is unchanged/);
            expect(built()).to.include("version 1");
            expect(fs.readdirSync(dir).filter((e) => e.startsWith(".dist-")), "no build left half made").to.deep.equal([]);
        });
    });
});
