// Evaluates the program offline: the stack's config from Pulumi.yaml and Pulumi.<stack>.yaml,
// index.ts run under Pulumi's mock monitor, and every registration recorded with its parent,
// dependencies and inputs. `npm run plan` prints the result; the tests assert on it.
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";
import { parse as parseYaml } from "yaml";
import { flatToRaw, parseStackConfig } from "../stacks/load";

export const REPO_ROOT = path.resolve(__dirname, "..");
const PROJECT = "warmstart";

export interface PlannedResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    /** URN of the parent, undefined for top-level resources. */
    parent?: string;
    /** URNs this resource depends on: explicit dependsOn and the resources its inputs come from. */
    dependencies: string[];
    inputs: Record<string, unknown>;
    /** Resource options that decide what `pulumi destroy` may do. */
    protect?: boolean;
    retainOnDelete?: boolean;
    /** Mocked state after creation: inputs plus the computed outputs the mocks fill in. */
    state: Record<string, unknown>;
}

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

/** Stack config as the CLI hands it to the program: `ns:key` -> string (objects as JSON). */
export type FlatConfig = Record<string, string>;

/** Project-level defaults declared in Pulumi.yaml, as `warmstart:key` entries. */
export function projectDefaults(root = REPO_ROOT): FlatConfig {
    const project = parseYaml(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8")) as { config?: Record<string, { default?: unknown }> };
    const out: FlatConfig = {};
    for (const [key, decl] of Object.entries(project.config ?? {})) {
        if (decl?.default === undefined) continue;
        out[key.includes(":") ? key : `${PROJECT}:${key}`] = stringify(decl.default);
    }
    return out;
}

/** The config of `Pulumi.<stack>.yaml` over the project defaults. */
export function stackFileConfig(stack: string, root = REPO_ROOT): FlatConfig {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) {
        const known = listStacks(root).join(", ");
        throw new Error(`no stack file Pulumi.${stack}.yaml (stacks here: ${known || "none"})`);
    }
    const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const out = projectDefaults(root);
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        out[key.includes(":") ? key : `${PROJECT}:${key}`] = stringify(value);
    }
    return out;
}

/** Stack names with a `Pulumi.<stack>.yaml` in the repository. */
export function listStacks(root = REPO_ROOT): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

function stringify(value: unknown): string {
    return typeof value === "string" ? value : JSON.stringify(value);
}

function fakeDigest(seed: unknown): string {
    return `sha256:${createHash("sha256").update(JSON.stringify(seed)).digest("hex")}`;
}

/**
 * Outputs a provider computes on create. Image digests hash the build inputs, so a changed
 * base version yields a new base digest and, through BASE_IMAGE, a new service digest.
 */
function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "docker-build:index:Image": {
            const { registries: _credentials, ...buildInputs } = inputs;
            const digest = fakeDigest(buildInputs);
            const tags = (inputs.tags as string[] | undefined) ?? [];
            return { ...inputs, digest, ref: tags.length > 0 ? `${tags[0]}@${digest}` : digest };
        }
        case "gcp:serviceaccount/account:Account":
            return { ...inputs, email: `${String(inputs.accountId)}@${String(inputs.project)}.iam.gserviceaccount.com`, member: `serviceAccount:${String(inputs.accountId)}@${String(inputs.project)}.iam.gserviceaccount.com` };
        case "gcp:cloudrunv2/service:Service":
            return { ...inputs, uri: `https://${String(inputs.name)}-mock.${String(inputs.location)}.run.app` };
        case "gcp:monitoring/notificationChannel:NotificationChannel":
            return { ...inputs, name: `projects/${String(inputs.project)}/notificationChannels/${name}` };
        case "docker:index/container:Container":
            // An attached one-shot container ran to its end: the provider records its exit code.
            return inputs.attach === true ? { ...inputs, exitCode: 0 } : { ...inputs };
        case "gcp:storage/bucket:Bucket":
            return { ...inputs, url: `gs://${String(inputs.name ?? name)}` };
        default:
            return { ...inputs };
    }
}

/** Outputs of the stacks a StackReference may read, by fully qualified stack name. */
export type StackOutputs = Record<string, Record<string, unknown>>;

/** Provider-computed state to force, by resource name (e.g. a failed container's exit code). */
export type StateOverrides = Record<string, Record<string, unknown>>;

const mocksFor = (stackReferences: StackOutputs, overrides: StateOverrides = {}): pulumi.runtime.Mocks => ({
    newResource: (args) => {
        if (args.type === "pulumi:pulumi:StackReference") {
            const name = String(args.inputs.name);
            const outputs = stackReferences[name];
            if (outputs === undefined) throw new Error(`stack ${name} is not known offline (known: ${Object.keys(stackReferences).join(", ") || "none"})`);
            return { id: name, state: { name, outputs, secretOutputNames: [] } };
        }
        return { id: `${args.type}::${args.name}-id`, state: { ...mockState(args.type, args.name, args.inputs), ...overrides[args.name] } };
    },
    call: (args) => {
        if (args.token === "gcp:organizations/getClientConfig:getClientConfig") {
            return { accessToken: "<deployer-access-token>", project: "", region: "", zone: "", id: "client-config" };
        }
        throw new Error(`no offline answer for the function ${args.token}`);
    },
});

type Struct = Parameters<typeof pulumi.runtime.deserializeProperties>[0];

interface ReadRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProperties(): Struct;
}

interface RegisterRequest {
    getObject(): Struct;
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getDependenciesList(): string[];
    getProtect(): boolean;
    getRetainondelete(): boolean;
}

/** Runs index.ts for a stack config under mocks and records what it registers. */
export async function evaluate(stack: string, config: FlatConfig, opts: { preview?: boolean; stackReferences?: StackOutputs; state?: StateOverrides } = {}): Promise<Plan> {
    const pending: Promise<void>[] = [];
    const recorded: PlannedResource[] = [];

    pulumi.runtime.setAllConfig(config);
    await pulumi.runtime.setMocks(mocksFor(opts.stackReferences ?? {}, opts.state), PROJECT, stack, opts.preview ?? false);
    type Callback = (err: unknown, resp?: { getUrn(): string; getObject?(): Struct; getProperties?(): Struct }) => void;
    const monitor = settings.getMonitor() as unknown as {
        registerResource: (req: RegisterRequest, cb: Callback) => Promise<void>;
        readResource: (req: ReadRequest, cb: Callback) => Promise<void>;
    };
    const register = monitor.registerResource.bind(monitor);
    const read = monitor.readResource.bind(monitor);
    // Reads (a StackReference) are recorded too: a reviewer should see what a stack reads.
    monitor.readResource = (req, callback) => {
        const entry: PlannedResource = { urn: "", type: req.getType(), name: req.getName(), custom: true, parent: req.getParent() || undefined, dependencies: [], inputs: pulumi.runtime.deserializeProperties(req.getProperties()) as Record<string, unknown>, state: {} };
        recorded.push(entry);
        const done = read(req, (err, resp) => {
            if (!err && resp) entry.urn = resp.getUrn();
            callback(err, resp);
        });
        pending.push(done);
        return done;
    };
    monitor.registerResource = (req, callback) => {
        const inputs = pulumi.runtime.deserializeProperties(req.getObject()) as Record<string, unknown>;
        const entry: PlannedResource = {
            urn: "",
            type: req.getType(),
            name: req.getName(),
            custom: req.getCustom(),
            parent: req.getParent() || undefined,
            dependencies: [...new Set(req.getDependenciesList())].sort(),
            inputs,
            protect: req.getProtect() || undefined,
            retainOnDelete: req.getRetainondelete() || undefined,
            state: {},
        };
        recorded.push(entry);
        const done = register(req, (err, resp) => {
            if (!err && resp) {
                entry.urn = resp.getUrn();
                entry.state = pulumi.runtime.deserializeProperties(resp.getObject!()) as Record<string, unknown>;
            }
            callback(err, resp);
        });
        pending.push(done);
        return done;
    };

    // A fresh copy of the program per evaluation: index.ts runs at import.
    for (const id of Object.keys(require.cache)) {
        if (id.startsWith(REPO_ROOT) && !id.includes(`${path.sep}node_modules${path.sep}`) && !id.includes(`${path.sep}scripts${path.sep}`)) {
            delete require.cache[id];
        }
    }
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
        // index.ts exports an async main (as Pulumi's Node runtime runs it) whose result is the outputs.
        const run = async () => {
            const mod = (await import(path.join(REPO_ROOT, "index.ts"))) as { default?: unknown } | (() => Promise<Record<string, unknown>>);
            const main = typeof mod === "function" ? mod : mod.default;
            const program = typeof main === "function" ? await (main as () => Promise<Record<string, unknown>>)() : (mod as Record<string, unknown>);
            const resolved = await resolveOutputs(program);
            await settleRegistrations(pending);
            return resolved;
        };
        outputs = await Promise.race([run(), programFailed]);
    } catch (err) {
        await Promise.race([settleRegistrations(pending), new Promise((r) => setTimeout(r, 1000))]).catch(() => undefined);
        throw new EvaluationError(err, recorded.length);
    } finally {
        process.removeListener("unhandledRejection", failProgram);
        for (const listener of otherListeners) process.on("unhandledRejection", listener);
    }

    const resources = recorded.filter((r) => r.urn !== "").sort((a, b) => a.urn.localeCompare(b.urn));
    return { stack, resources, outputs };
}

/**
 * Evaluates a stack file of this repository. A project stack's platform stack is evaluated
 * first, from the stack file named like its last segment (`acme/warmstart/platform` ->
 * Pulumi.platform.yaml), and its outputs are what the project's StackReference reads.
 */
export async function evaluateStack(stack: string, opts: { preview?: boolean; config?: FlatConfig } = {}): Promise<Plan> {
    const config = opts.config ?? stackFileConfig(stack);
    const stackReferences: StackOutputs = {};
    const platformStack = config[`${PROJECT}:platformStack`];
    if (config[`${PROJECT}:layer`] === "project") {
        // Validated before the platform is looked up: an unset platformStack (Pulumi.yaml's empty
        // default) must be reported as the bad key it is, not as a stack file named "".
        try {
            parseStackConfig(flatToRaw(config));
        } catch (err) {
            throw new EvaluationError(err, 0);
        }
    }
    if (config[`${PROJECT}:layer`] === "project" && platformStack !== undefined && platformStack !== "") {
        const platformFile = platformStack.split("/").pop()!;
        if (platformFile === stack) throw new Error(`stack ${stack} names itself as its platform stack`);
        stackReferences[platformStack] = (await evaluateStack(platformFile, { preview: opts.preview })).outputs;
    }
    return evaluate(stack, config, { preview: opts.preview, stackReferences });
}

async function settleRegistrations(pending: Promise<void>[]): Promise<void> {
    // Registrations can start more registrations (a component's children): wait until quiet.
    let seen = -1;
    while (seen !== pending.length) {
        seen = pending.length;
        await Promise.all(pending);
        for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
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
