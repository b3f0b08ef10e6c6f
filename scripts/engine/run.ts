// The real Pulumi engine offline (scripts/engine.sh, `npm run engine`), run from TypeScript: a
// command in a project folder against a file:// backend, and what `preview --json` prints.
import { spawnSync } from "child_process";
import * as path from "path";

const ENGINE = path.join(__dirname, "..", "engine.sh");

export interface EngineRun { status: number | null; stdout: string; stderr: string; seconds: number }

/** A step of `pulumi preview --json` (pkg/backend/display/json.go previewStep). */
export interface PreviewStep {
    op: string;
    urn: string;
    provider?: string;
    oldState?: StateResource;
    newState?: StateResource;
    diffReasons?: string[];
    replaceReasons?: string[];
    detailedDiff?: Record<string, { kind: string; inputDiff?: boolean }> | null;
}

/** A resource as the state holds it (apitype.ResourceV3), as `preview --json` prints it. */
export interface StateResource {
    urn: string;
    custom?: boolean;
    id?: string;
    type: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
    parent?: string;
    provider?: string;
    protect?: boolean;
    retainOnDelete?: boolean;
    dependencies?: string[];
    propertyDependencies?: Record<string, string[]>;
    [key: string]: unknown;
}

export interface PreviewDiagnostic { urn?: string; prefix?: string; message: string; severity: string }

export interface PreviewJson {
    steps?: PreviewStep[];
    diagnostics?: PreviewDiagnostic[];
    changeSummary?: Record<string, number>;
    [key: string]: unknown;
}

export interface Preview { run: EngineRun; json: PreviewJson }

/** `npm run engine -- <args>` run in `cwd` (the project folder, Pulumi.yaml's), with `env` added. */
export function runEngine(args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): EngineRun {
    const started = Date.now();
    const run = spawnSync("bash", [ENGINE, "--cwd", opts.cwd, ...args, "--non-interactive"], {
        encoding: "utf8", timeout: opts.timeoutMs ?? 300000, maxBuffer: 256 * 1024 * 1024, env: { ...process.env, ...opts.env },
    });
    if (run.error !== undefined) throw new Error(`npm run engine -- ${args.join(" ")}: ${run.error.message}`);
    return { status: run.status, stdout: run.stdout, stderr: run.stderr, seconds: (Date.now() - started) / 1000 };
}

/** Runs and requires exit 0, with the output's tail in the error otherwise. */
export function engineOk(args: string[], opts: { cwd: string; env?: Record<string, string> }): EngineRun {
    const run = runEngine(args, opts);
    if (run.status !== 0) throw new Error(`npm run engine -- ${args.join(" ")} exited ${run.status}:\n${run.stdout.slice(-4000)}\n${run.stderr.slice(-4000)}`);
    return run;
}

/** `preview --json` of a stack, parsed whatever the exit status. */
export function previewJson(stack: string, extra: string[], opts: { cwd: string; env?: Record<string, string> }): Preview {
    const run = runEngine(["preview", "-s", stack, "--json", ...extra], opts);
    let json: PreviewJson;
    try {
        json = JSON.parse(run.stdout) as PreviewJson;
    } catch {
        throw new Error(`preview -s ${stack} ${extra.join(" ")} printed no JSON (exit ${run.status}):\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
    }
    return { run, json };
}

/** `<type>::<name>` of a URN (a component and its image may share a name, never a type too). */
export function resourceKey(urn: string): string {
    const parts = urn.split("::");
    return `${parts[2]?.split("$").pop() ?? ""}::${parts[3] ?? ""}`;
}

/** Steps whose op is not `same`, as `op <type>::<name>`. */
export function changes(preview: PreviewJson): string[] {
    return (preview.steps ?? []).filter((s) => s.op !== "same").map((s) => `${s.op} ${resourceKey(s.urn)}`).sort();
}
