// Evaluates the program offline: the stack's config from its stack file (offline/stackFiles),
// index.ts run under Pulumi's mock monitor (offline/mocks), and every registration recorded with
// its parent, dependencies, inputs and options (offline/recorder). `npm run plan` prints the
// result; the tests assert on it.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { DockerContainers, startOfflineDockerEngine } from "./offline/dockerEngine";
import { mocksFor, StackOutputs, StateOverrides } from "./offline/mocks";
import { PlannedResource, recordMonitor } from "./offline/recorder";
import { FlatConfig, PROJECT, REPO_ROOT, stackFileConfig } from "./offline/stackFiles";
import { parseFlatConfig } from "../stacks/load";
import { SELF_MANAGED_ORGANIZATION } from "../stacks/platformStack";

export { FlatConfig, listStacks, projectDefaults, REPO_ROOT, stackFileConfig } from "./offline/stackFiles";
export { DockerContainers } from "./offline/dockerEngine";
export { StackOutputs, StateOverrides } from "./offline/mocks";
export { PlannedResource, RecordedOptions } from "./offline/recorder";

export interface Plan {
    stack: string;
    resources: PlannedResource[];
    outputs: Record<string, unknown>;
}

/** The program failed; `registered` counts the resources it registered before failing. */
export class EvaluationError extends Error {
    constructor(readonly cause: unknown, readonly registered: number) {
        super(cause instanceof Error ? cause.message : String(cause));
        this.name = "EvaluationError";
    }
}

/** Forgets the program's modules so that the next import runs index.ts again (it runs at import). */
function forgetProgram(): void {
    const within = (dir: string) => `${path.sep}${dir}${path.sep}`;
    for (const id of Object.keys(require.cache)) {
        if (id.startsWith(REPO_ROOT) && !id.includes(within("node_modules")) && !id.includes(within("scripts"))) delete require.cache[id];
    }
}

/** Runs index.ts's async main (as Pulumi's Node runtime does); its result is the stack outputs. */
async function runProgram(): Promise<Record<string, unknown>> {
    const mod = (await import(path.join(REPO_ROOT, "index.ts"))) as { default?: unknown } | (() => Promise<Record<string, unknown>>);
    const main = typeof mod === "function" ? mod : mod.default;
    return typeof main === "function" ? await (main as () => Promise<Record<string, unknown>>)() : (mod as Record<string, unknown>);
}

async function resolveOutputs(program: Record<string, unknown>): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(program)) {
        if (key === "__esModule" || key === "default") continue;
        const output: pulumi.Output<unknown> = pulumi.output(value as pulumi.Input<string>);
        out[key] = await new Promise((resolve) => output.apply((v) => { resolve(v); return v; }));
    }
    return out;
}

/** The organization offline stacks live in (the local backend's). */
export const ORGANIZATION = SELF_MANAGED_ORGANIZATION;

/** The variables that point a Docker client at an engine: the offline engine's while the program runs. */
const DOCKER_CLIENT_ENV = ["DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"] as const;

/**
 * Runs index.ts for a stack config under mocks and records what it registers. The stack's own
 * previous outputs (read back by the program) are `previousOutputs`: none, a first deploy, unless
 * given. The Docker engine the program reads (the local target asks it about its sync container)
 * is an offline one that knows `docker`: none, unless given.
 */
export async function evaluate(stack: string, config: FlatConfig, opts: { stackReferences?: StackOutputs; previousOutputs?: Record<string, unknown>; state?: StateOverrides; docker?: DockerContainers; organization?: string } = {}): Promise<Plan> {
    const engine = await startOfflineDockerEngine(opts.docker);
    const clientEnv = Object.fromEntries(DOCKER_CLIENT_ENV.map((name) => [name, process.env[name]]));
    for (const name of DOCKER_CLIENT_ENV) delete process.env[name];
    process.env.DOCKER_HOST = engine.host;
    try {
        return await evaluateOnEngine(stack, config, opts);
    } finally {
        for (const name of DOCKER_CLIENT_ENV) {
            if (clientEnv[name] === undefined) delete process.env[name];
            else process.env[name] = clientEnv[name];
        }
        await engine.close();
    }
}

/**
 * The organization a stack is evaluated in: a project stack shares its platform stack's backend,
 * so it is in the organization its platformStack names; any other stack in the local backend's.
 */
export function organizationOf(config: FlatConfig): string {
    const platformStack = config[`${PROJECT}:platformStack`];
    return config[`${PROJECT}:layer`] === "project" && platformStack ? platformStack.split("/")[0] : ORGANIZATION;
}

async function evaluateOnEngine(stack: string, config: FlatConfig, opts: { stackReferences?: StackOutputs; previousOutputs?: Record<string, unknown>; state?: StateOverrides; organization?: string }): Promise<Plan> {
    pulumi.runtime.setAllConfig(config);
    const organization = opts.organization ?? organizationOf(config);
    const stackReferences = { ...opts.stackReferences, [`${organization}/${PROJECT}/${stack}`]: opts.previousOutputs ?? {} };
    await pulumi.runtime.setMocks(mocksFor(stackReferences, opts.state), PROJECT, stack, false, organization);
    const recording = recordMonitor();
    forgetProgram();
    // Pulumi's Node language host fails the run on an unhandled rejection, e.g. an apply that
    // threw feeding a resource input (which then never registers); so does this, instead of waiting.
    let failProgram: (err: unknown) => void = () => undefined;
    const programFailed = new Promise<never>((_, reject) => { failProgram = reject; });
    programFailed.catch(() => undefined);
    const otherListeners = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", failProgram);
    let outputs: Record<string, unknown>;
    try {
        const run = async () => {
            const resolved = await resolveOutputs(await runProgram());
            await recording.settle();
            return resolved;
        };
        outputs = await Promise.race([run(), programFailed]);
    } catch (err) {
        await Promise.race([recording.settle(), new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
        throw new EvaluationError(err, recording.resources.length);
    } finally {
        process.removeListener("unhandledRejection", failProgram);
        for (const listener of otherListeners) process.on("unhandledRejection", listener);
    }
    const resources = recording.resources.filter((r) => r.urn !== "").sort((a, b) => a.urn.localeCompare(b.urn));
    return { stack, resources, outputs };
}

/**
 * Evaluates a stack file of this repository. A project stack's platform stack is evaluated
 * first, from the stack file named like its last segment (`acme/warmstart/platform` ->
 * Pulumi.platform.yaml), and its outputs are what the project's StackReference reads.
 */
export async function evaluateStack(stack: string, opts: { config?: FlatConfig } = {}): Promise<Plan> {
    const config = opts.config ?? stackFileConfig(stack);
    const stackReferences: StackOutputs = {};
    const platformStack = config[`${PROJECT}:platformStack`];
    if (config[`${PROJECT}:layer`] === "project") {
        // Validated before the platform is looked up: an unset platformStack (Pulumi.yaml's empty
        // default) must be reported as the bad key it is, not as a stack file named "".
        try {
            parseFlatConfig(config);
        } catch (err) {
            throw new EvaluationError(err, 0);
        }
    }
    if (config[`${PROJECT}:layer`] === "project" && platformStack !== undefined && platformStack !== "") {
        const platformFile = platformStack.split("/").pop()!;
        if (platformFile === stack) throw new Error(`stack ${stack} names itself as its platform stack`);
        stackReferences[platformStack] = (await evaluateStack(platformFile)).outputs;
    }
    return evaluate(stack, config, { stackReferences });
}
