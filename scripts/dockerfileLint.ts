// Rules every Dockerfile under images/ follows, checked with a real Dockerfile parser.
// `npm run lint:dockerfiles` prints violations; the tests run the same rules.
import * as fs from "fs";
import * as path from "path";
import { DockerfileParser, Instruction } from "dockerfile-ast";

export interface Violation {
    file: string;
    line: number;
    rule: string;
    message: string;
}

/** Package-manager commands whose downloads belong in a BuildKit cache mount, not in a layer. */
const PACKAGE_INSTALL = /\b(apt-get|apt)\s+(-\S+\s+)*(install|update)\b|\bpip3?\s+(-\S+\s+)*(install|wheel)\b|\buv\s+(pip\s+install|sync)\b|\bnpm\s+(ci|install)\b|\b(yarn|pnpm)\s+install\b/;

/** Files that declare dependencies: copied before the source so edits do not reinstall. */
const DEPENDENCY_MANIFEST = /(^|\/)(requirements[^/]*\.txt|package(-lock)?\.json|npm-shrinkwrap\.json|pyproject\.toml|poetry\.lock|uv\.lock|Pipfile(\.lock)?|yarn\.lock|pnpm-lock\.yaml)$/;

/** Fetching weights at build time bakes them into an image: the cache exists to avoid that. */
const MODEL_DOWNLOAD = /huggingface-cli\s+download|\bhf\s+download\b|snapshot_download|hf_hub_download|from_pretrained\(|SentenceTransformer\(|ollama\s+pull|(curl|wget)\b[^\n]*(huggingface\.co|hf\.co|ollama\.(ai|com)|registry\.ollama)/;

const ROOT_USERS = new Set(["root", "0", "0:0", "root:root"]);

const line = (i: Instruction) => i.getRange().start.line + 1;

/** Lints one Dockerfile's text; `contextDir` (when given) is checked for a .dockerignore. */
export function lintDockerfile(text: string, file: string, contextDir?: string): Violation[] {
    const out: Violation[] = [];
    const add = (rule: string, at: number, message: string) => out.push({ file, line: at, rule, message });
    const dockerfile = DockerfileParser.parse(text);
    const instructions = dockerfile.getInstructions();
    const froms = dockerfile.getFROMs();

    // The builder pulls a `# syntax=` frontend from Docker Hub itself, before the build and past the
    // registry cache (REGISTRY_MIRROR applies to FROM lines only), so an offline builder fails at
    // once; the Dockerfile frontend built into BuildKit already has cache mounts and COPY --chmod.
    const syntax = dockerfile.getDirectives().find((d) => d.getName().toLowerCase() === "syntax");
    if (syntax !== undefined) {
        add("no-syntax-directive", syntax.getRange().start.line + 1, "drop the `# syntax=` directive: the builder would pull its frontend from Docker Hub past the registry cache; BuildKit's built-in Dockerfile frontend has cache mounts and COPY --chmod");
    }

    // Stages: instructions grouped under their FROM.
    const stages: { name?: string; from: Instruction; image: string; body: Instruction[] }[] = [];
    for (const ins of instructions) {
        if (ins.getKeyword() === "FROM") {
            const from = froms.find((f) => f.getRange().start.line === ins.getRange().start.line)!;
            stages.push({ name: from.getBuildStage()?.toLowerCase(), from: ins, image: from.getImage() ?? "", body: [] });
        } else if (stages.length > 0) {
            stages[stages.length - 1].body.push(ins);
        }
    }

    const declared = new Set(dockerfile.getInitialARGs().map((a) => a.getProperty()?.getName()).filter((n): n is string => n !== undefined));
    for (const stage of stages) {
        for (const match of stage.image.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) {
            if (!declared.has(match[1])) add("from-arg-declared", line(stage.from), `FROM uses $${match[1]}: declare \`ARG ${match[1]}\` before the first FROM`);
        }
    }

    for (const ins of instructions) {
        const keyword = ins.getKeyword();
        const content = ins.getArgumentsContent() ?? "";
        if (keyword === "RUN") {
            const mounts = (ins as unknown as { getFlags(): { getName(): string; getValue(): string | null }[] }).getFlags()
                .filter((f) => f.getName() === "mount")
                .map((f) => f.getValue() ?? "");
            if (PACKAGE_INSTALL.test(content) && !mounts.some((m) => /(^|,)type=cache(,|$)/.test(m))) {
                add("cache-mount", line(ins), "package-manager RUN without `--mount=type=cache,...`: downloads end up in the layer and are fetched again on every build");
            }
            if (MODEL_DOWNLOAD.test(content)) {
                add("no-model-download", line(ins), "models are not baked into images: list them in the stack's `models` and let the sync job put them in the cache");
            }
        }
        if (keyword === "ADD") {
            for (const arg of ins.getArguments().map((a) => a.getValue())) {
                if (/^(https?:\/\/|git@)/.test(arg)) add("no-add-url", line(ins), `ADD of a URL (${arg}): fetch it in a RUN with a checksum, or COPY it from the context`);
            }
        }
    }

    for (const stage of stages) {
        let sourceCopiedAt: number | undefined;
        for (const ins of stage.body) {
            if (ins.getKeyword() !== "COPY") continue;
            const flags = (ins as unknown as { getFlags(): { getName(): string }[] }).getFlags().map((f) => f.getName());
            if (flags.includes("from")) continue;
            const sources = ins.getArguments().map((a) => a.getValue()).slice(0, -1);
            if (sources.every((s) => DEPENDENCY_MANIFEST.test(s))) {
                if (sourceCopiedAt !== undefined) add("manifests-first", line(ins), `dependency manifest copied after the source (line ${sourceCopiedAt}): copy it first so source edits keep the install layer`);
            } else if (sources.some((s) => DEPENDENCY_MANIFEST.test(s))) {
                add("manifests-first", line(ins), "dependency manifests copied together with source: copy them alone, before the source");
            } else {
                sourceCopiedAt ??= line(ins);
            }
        }
    }

    // The final stage must end as a non-root user, set in it or inherited from a stage of this file.
    const userOf = (stage: (typeof stages)[number] | undefined, seen = new Set<string>()): string | undefined => {
        if (stage === undefined) return undefined;
        const users = stage.body.filter((i) => i.getKeyword() === "USER");
        if (users.length > 0) return (users[users.length - 1].getArgumentsContent() ?? "").trim();
        const parent = stages.find((s) => s.name !== undefined && s.name === stage.image.toLowerCase());
        if (parent === undefined || seen.has(parent.name!)) return undefined;
        return userOf(parent, seen.add(parent.name!));
    };
    const final = stages[stages.length - 1];
    if (final !== undefined) {
        const user = userOf(final);
        if (user === undefined) add("non-root-final", line(final.from), "the final stage sets no USER: end with `USER app` (or another non-root user)");
        else if (ROOT_USERS.has(user)) add("non-root-final", line(final.from), `the final stage runs as ${user}: end with a non-root USER`);
    }

    if (contextDir !== undefined && !fs.existsSync(path.join(contextDir, ".dockerignore"))) {
        add("dockerignore", 1, `no .dockerignore in ${contextDir}: the whole directory would be sent to the builder`);
    }
    return out;
}

/** Every Dockerfile under `root` (skipping node_modules), relative paths. */
export function findDockerfiles(root: string): string[] {
    const found: string[] = [];
    const walk = (dir: string) => {
        for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
            if (entry.name === "node_modules" || entry.name === "dist") continue;
            const full = path.join(dir, entry.name);
            if (entry.isDirectory()) walk(full);
            else if (entry.name === "Dockerfile" || entry.name.endsWith(".Dockerfile")) found.push(full);
        }
    };
    walk(root);
    return found.sort();
}

/** Lints every Dockerfile under `root`, each with its own directory as the build context. */
export function lintTree(root: string): Violation[] {
    return findDockerfiles(root).flatMap((file) => lintDockerfile(fs.readFileSync(file, "utf8"), path.relative(process.cwd(), file), path.dirname(file)));
}

if (require.main === module) {
    const violations = lintTree(path.resolve(__dirname, "..", "images"));
    for (const v of violations) console.error(`${v.file}:${v.line}: [${v.rule}] ${v.message}`);
    console.log(`${findDockerfiles(path.resolve(__dirname, "..", "images")).length} Dockerfiles, ${violations.length} violations`);
    process.exit(violations.length > 0 ? 1 : 0);
}
