// The floors of the program: what each folder may import. A lower floor never imports a higher
// one, so each can be read, tested and built without what stands on it.
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import * as ts from "typescript";

const REPO_ROOT = path.resolve(__dirname, "..");

/** Every .ts file under a folder of the repository, relative to its root. */
function sources(folder: string): string[] {
    return fs.readdirSync(path.join(REPO_ROOT, folder), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".ts") && !f.split(path.sep).includes("node_modules"))
        .map((f) => path.posix.join(folder, f.split(path.sep).join("/")));
}

/** The repository files a source imports (relative imports only, resolved as TypeScript does). */
function importsOf(file: string): string[] {
    const text = fs.readFileSync(path.join(REPO_ROOT, file), "utf8");
    const specifiers = ts.preProcessFile(text, true, true).importedFiles.map((i) => i.fileName).filter((s) => s.startsWith("."));
    return specifiers.map((s) => {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), s));
        const found = [`${target}.ts`, `${target}/index.ts`, target].find((t) => fs.existsSync(path.join(REPO_ROOT, t)) && fs.statSync(path.join(REPO_ROOT, t)).isFile());
        if (found === undefined) throw new Error(`${file} imports ${s}, which resolves to no file`);
        return found;
    });
}

/** `file -> imported` for every import of the folder's sources that lands in one of `forbidden`. */
function importsInto(folder: string, forbidden: string[]): string[] {
    return sources(folder).flatMap((file) => importsOf(file).filter((t) => forbidden.some((f) => t === f || t.startsWith(`${f}/`))).map((t) => `${file} -> ${t}`));
}

describe("import floors", () => {
    const above = (...floors: string[]) => floors;

    it("the sync program imports nothing outside its own folder (its image builds from that folder alone)", () => {
        const outside = sources("images/model-sync/src").flatMap((file) => importsOf(file).filter((t) => !t.startsWith("images/model-sync/")).map((t) => `${file} -> ${t}`));
        expect(outside).to.deep.equal([]);
    });

    it("the model-cache contract stands below the stack schema and the components", () => {
        expect(importsInto("contract", above("stacks", "components", "targets", "index.ts"))).to.deep.equal([]);
    });

    it("the stack schema imports no component or target (they read it)", () => {
        expect(importsInto("stacks", above("components", "targets", "index.ts"))).to.deep.equal([]);
    });

    it("the sync program's modules import no circle", () => {
        const graph = new Map(sources("images/model-sync/src").map((f) => [f, importsOf(f)]));
        const circles: string[] = [];
        const done = new Set<string>();
        // Depth first: an import back into the trail being walked closes a circle.
        const visit = (file: string, trail: string[]) => {
            const at = trail.indexOf(file);
            if (at >= 0) circles.push([...trail.slice(at), file].join(" -> "));
            if (at >= 0 || done.has(file)) return;
            for (const next of graph.get(file) ?? []) visit(next, [...trail, file]);
            done.add(file);
        };
        for (const file of graph.keys()) visit(file, []);
        expect(circles).to.deep.equal([]);
    });
});
