// `npm run engine:baseline -- <stack>`: gives a stack the state its current config would leave
// after an `up`, without a cloud account, so that a preview after a config change shows the real
// provider's day-two plan (its Diff: update, replace, delete-before-replace).
//
// The state is built from what the real preview says each resource will have and imported with
// `pulumi stack import`: each resource's checked inputs from `preview --json`, and the outputs
// its provider planned from the update plan the same preview saves (`--save-plan`: a bridged
// provider's defaults such as `deletionPolicy`, its label maps, a build context's hash; the JSON
// prints no outputs). What only the API computes (ids, emails, digests, timestamps) is unknown at
// preview: it is filled with values of the shape GCP gives them. The program is then planned
// again against the imported state, until its preview has no changes — or a change stays, which
// is a perpetual diff and is reported.
//
// What such a state proves: the update/replace decisions of the provider and the engine for a
// config change. What it cannot: that the API returns what was planned (a field GCP normalises
// would be a perpetual diff only a real refresh shows).
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { isDeepStrictEqual } from "util";
import { evaluateStack } from "../evaluate";
import { mockState } from "../offline/mocks";
import { stackFileConfig } from "../offline/stackFiles";
import { changes, Preview, PreviewJson, PreviewStep, previewJson, engineOk, resourceKey, StateResource } from "./run";

/** How the engine prints a value unknown at preview (sdk/go/common/resource/plugin UnknownStringValue). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Planning rounds before a change that keeps coming back is called a perpetual diff. */
const MAX_ROUNDS = 6;

const hash = (text: string, length = 64) => createHash("sha256").update(text).digest("hex").slice(0, length);

/** A deterministic UUID for a provider's id, from its URN. */
function uuidOf(urn: string): string {
    const h = hash(urn, 32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

type Props = Record<string, unknown>;

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== UNKNOWN ? v : undefined);

/**
 * The id GCP would give a resource, in the provider's format where a day-two Diff may read it
 * (the bridge passes the id to the upstream resource as its `id` attribute).
 */
function idOf(r: StateResource, props: Props): string {
    const project = str(props.project) ?? "project";
    const location = str(props.location) ?? str(props.region) ?? "region";
    const name = str(props.name) ?? r.urn.split("::").pop()!;
    switch (r.type) {
        case "gcp:storage/bucket:Bucket": return name;
        case "gcp:serviceaccount/account:Account": return `projects/${project}/serviceAccounts/${str(props.email) ?? name}`;
        case "gcp:cloudrunv2/service:Service": return `projects/${project}/locations/${location}/services/${name}`;
        case "gcp:cloudrunv2/job:Job": return `projects/${project}/locations/${location}/jobs/${name}`;
        case "gcp:cloudscheduler/job:Job": return `projects/${project}/locations/${location}/jobs/${name}`;
        // pulumi-time: a sleep's id is the time it was created (RFC 3339).
        case "time:index/sleep:Sleep": return "2026-01-01T00:00:00Z";
        case "gcp:artifactregistry/repository:Repository": return `projects/${project}/locations/${location}/repositories/${str(props.repositoryId) ?? name}`;
        default: return str(props.id) ?? name;
    }
}

/** A value the API computes, of the shape it has; `known` are the resource's known properties. */
function computedValue(r: StateResource, key: string, known: Props): unknown {
    const name = r.urn.split("::").pop()!;
    const project = str(known.project) ?? "project";
    switch (key) {
        case "email": return `${str(known.accountId) ?? name}@${project}.iam.gserviceaccount.com`;
        case "member": return `serviceAccount:${str(known.accountId) ?? name}@${project}.iam.gserviceaccount.com`;
        case "digest": return `sha256:${hash(`${r.urn}:digest`)}`;
        case "ref": {
            const tags = Array.isArray(known.tags) ? known.tags.filter((t): t is string => typeof t === "string") : [];
            return `${tags[0] ?? name}@sha256:${hash(`${r.urn}:digest`)}`;
        }
        case "etag": return hash(`${r.urn}:etag`, 16);
        case "contextHash": return hash(`${r.urn}:context`);
        case "uid": return uuidOf(`${r.urn}:uid`);
        case "uri": return `https://${str(known.name) ?? name}-${hash(r.urn, 10)}.a.run.app`;
        case "url": return r.type === "gcp:storage/bucket:Bucket" ? `gs://${str(known.name) ?? name}` : `https://${name}.example`;
        case "selfLink": return `https://www.googleapis.com/${name}`;
        case "uniqueId": return String(BigInt(`0x${hash(r.urn, 15)}`));
        // Status lists and maps the API fills (terraform-provider-google: Computed only), of a
        // Cloud Run service or job and an alert policy: their entries are the API's, the shape is
        // what a Diff reads (left out, the next plan marks them unknown: an update).
        case "conditions": case "terminalConditions": case "latestCreatedExecutions": case "trafficStatuses": case "urls": case "creationRecords": return [];
        case "effectiveAnnotations": return {};
        default:
            if (/Time$|Timestamp$/.test(key)) return "2026-01-01T00:00:00Z";
            if (/^(id|name)$/.test(key)) return idOf(r, known);
            // A value of unknown shape (a string, or a block the provider decodes as an object) is
            // left out, as an attribute the API has not set.
            return undefined;
    }
}

/**
 * `value` with every unknown replaced: by the previous state's value at the same place (what a
 * computed attribute keeps across an update), else by a value of the API's shape.
 */
function fill(r: StateResource, value: unknown, previous: unknown, key: string, known: Props): unknown {
    if (value === UNKNOWN) return previous !== undefined && previous !== UNKNOWN ? previous : computedValue(r, key, known);
    // An unknown element of a list prints as null (a list the provider holds has no null element).
    if (Array.isArray(value)) return value.map((v, i) => fill(r, v === null ? UNKNOWN : v, Array.isArray(previous) ? previous[i] : undefined, key, known));
    if (value !== null && typeof value === "object") {
        const prev = previous !== null && typeof previous === "object" ? previous as Props : {};
        return Object.fromEntries(Object.entries(value as Props).map(([k, v]) => [k, fill(r, v, prev[k], k, { ...known, ...(value as Props) })]));
    }
    return value;
}

/** Outputs a provider requires in its state though a preview of a create leaves them out. */
const REQUIRED_OUTPUTS: Record<string, string[]> = {
    // pulumi-docker-build internal.ImageState: its Diff refuses a state without them.
    "docker-build:index:Image": ["contextHash", "ref", "digest"],
};

/**
 * Outputs a preview plans empty that an `up` always sets: a pushed image has a digest, and its
 * ref names it (pulumi-docker-build image.go Create: a dry run without a build leaves both empty).
 */
const SET_BY_UP: Record<string, (planned: Props) => Props> = {
    "docker-build:index:Image": (planned) => (planned.push === true && !str(planned.digest) ? { digest: UNKNOWN, ref: UNKNOWN } : {}),
};

/** The state of one resource after an `up` that did what the preview planned (`planned`: the outputs its provider planned). */
function settled(r: StateResource, previous: StateResource | undefined, providerIds: Map<string, string>, planned: Props | undefined): StateResource {
    const inputs = fill(r, r.inputs ?? {}, previous?.inputs, "", r.inputs ?? {}) as Props;
    const asPlanned = { ...r.outputs, ...planned };
    const plannedOutputs = { ...asPlanned, ...SET_BY_UP[r.type]?.(asPlanned) };
    const missing = Object.fromEntries((REQUIRED_OUTPUTS[r.type] ?? []).filter((k) => plannedOutputs[k] === undefined).map((k) => [k, UNKNOWN]));
    // The planned outputs over the inputs and what the provider computes from them (as the
    // offline mocks compute it: emails, URLs, digests); an unknown keeps what the state held before.
    const name = r.urn.split("::").pop()!;
    const computed = r.custom ? mockState(r.type, name, inputs) : {};
    const outputs = fill(r, { ...computed, ...inputs, ...missing, ...plannedOutputs }, previous?.outputs, "", { ...inputs, ...plannedOutputs }) as Props;
    // GCS answers a bucket's location in capitals; the provider ignores case, but not when the
    // state holds it otherwise (ForceNew: a replacement). terraform-provider-google storage bucket.
    if (r.type === "gcp:storage/bucket:Bucket" && typeof outputs.location === "string") outputs.location = outputs.location.toUpperCase();
    const isProvider = r.type.startsWith("pulumi:providers:");
    const id = !r.custom ? undefined : isProvider ? providerIds.get(r.urn)! : previous?.id ?? idOf(r, outputs);
    const providerUrn = r.provider?.slice(0, r.provider.lastIndexOf("::"));
    const provider = providerUrn === undefined ? undefined : `${providerUrn}::${providerIds.get(providerUrn)}`;
    const state: StateResource = { ...r, inputs, outputs, ...(id !== undefined ? { id } : {}), ...(provider !== undefined ? { provider } : {}) };
    // What only an operation records (an error from a failed create, a pending operation) is not kept.
    delete state.initErrors;
    return state;
}

/** Resources in the order a state must list them: each after its parent, provider and dependencies. */
function inStateOrder(resources: StateResource[]): StateResource[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const done = new Set<string>();
    const out: StateResource[] = [];
    const visit = (r: StateResource) => {
        if (done.has(r.urn)) return;
        done.add(r.urn);
        const provider = r.provider?.slice(0, r.provider.lastIndexOf("::"));
        const before = [r.parent, provider, ...(r.dependencies ?? []), ...Object.values(r.propertyDependencies ?? {}).flat()];
        for (const urn of before) if (urn !== undefined && byUrn.has(urn)) visit(byUrn.get(urn)!);
        out.push(r);
    };
    resources.forEach(visit);
    return out;
}

/**
 * The Docker engine address the build provider configures itself with: it reads DOCKER_HOST when
 * the engine starts it (its CheckConfig), and a state naming another address is a new provider,
 * which replaces every image. scripts/engine.sh decides the address the same way: DOCKER_HOST,
 * else the default engine if it answers, else the dockerd it starts beside the tools.
 */
export function engineDockerHost(): string {
    if (process.env.DOCKER_HOST) return process.env.DOCKER_HOST;
    if (spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], { timeout: 10000 }).status === 0) return "";
    const home = spawnSync("bash", [path.join(__dirname, "..", "..", "tools", "build.sh"), "--pulumi-home"], { encoding: "utf8" }).stdout.trim();
    return `unix://${path.dirname(home)}/docker-engine/docker.sock`;
}

/**
 * The default providers the resources name (`preview --json` lists no step for them): each with
 * the inputs the engine gives it, its package's stack config and the version its name carries.
 */
function defaultProviders(refs: string[], config: Record<string, string>, ids: Map<string, string>): StateResource[] {
    return [...new Set(refs)].map((urn) => {
        const [, pkg] = urn.split("::")[2].split("pulumi:providers:");
        // default_<version>[_<download URL>], as the engine names a default provider.
        const version = /::default_(\d+)_(\d+)_(\d+)(?:_github_\/(.+))?$/.exec(urn);
        const inputs: Props = Object.fromEntries(Object.entries(config).filter(([k]) => k.startsWith(`${pkg}:`)).map(([k, v]) => [k.slice(pkg.length + 1), v]));
        if (version !== null) inputs.version = `${version[1]}.${version[2]}.${version[3]}`;
        if (version?.[4] !== undefined) inputs.pluginDownloadURL = `github://${version[4]}`;
        if (pkg === "docker-build") inputs.host = engineDockerHost();
        return { urn, custom: true, id: ids.get(urn)!, type: `pulumi:providers:${pkg}`, inputs, outputs: inputs };
    });
}

/** `planned` with each value unknown at preview taken from `fallback` at the same place. */
function knownOr(planned: unknown, fallback: unknown): unknown {
    if (planned === undefined || planned === UNKNOWN) return fallback;
    if (Array.isArray(planned)) return planned.map((v, i) => knownOr(v, Array.isArray(fallback) ? fallback[i] : undefined));
    if (planned !== null && typeof planned === "object") {
        const from = fallback !== null && typeof fallback === "object" ? fallback as Props : {};
        return Object.fromEntries(Object.entries(planned as Props).map(([k, v]) => [k, knownOr(v, from[k])]));
    }
    return planned;
}

/**
 * The deployment `pulumi stack import` reads, from the resources of a preview, the previous state
 * and the stack's outputs (as the update plan has them; where it cannot know one, as the offline plan computes it).
 */
export function deploymentFrom(preview: PreviewJson, previous: StateResource[] = [], stackOutputs: Props = {}, plan: UpdatePlan = {}, secretsProvider?: Props): { version: number; deployment: Props } {
    const before = new Map(previous.map((r) => [r.urn, r]));
    const steps = (preview.steps ?? []).filter((s): s is PreviewStep & { newState: StateResource } => s.newState !== undefined && s.op !== "delete" && s.op !== "discard" && s.op !== "read-discard" && s.op !== "delete-replaced");
    const refOf = (provider: string) => provider.slice(0, provider.lastIndexOf("::"));
    // A resource of the state the preview names no step for (none with --show-sames, but for a
    // delete) stays as the state has it; the providers are rebuilt from the resources that stay.
    const stepped = new Set(steps.map((s) => s.urn));
    const gone = new Set((preview.steps ?? []).filter((s) => s.op === "delete" || s.op === "delete-replaced").map((s) => s.urn));
    const kept = previous.filter((r) => !stepped.has(r.urn) && !gone.has(r.urn) && !r.type.startsWith("pulumi:providers:"));
    const providerUrns = [...new Set([...steps.map((s) => s.newState), ...kept].flatMap((r) => (r.provider ? [refOf(r.provider)] : [])))];
    const providerIds = new Map(providerUrns.map((urn) => [urn, before.get(urn)?.id ?? uuidOf(urn)]));
    const providers = defaultProviders(providerUrns, (preview.config ?? {}) as Record<string, string>, providerIds);
    const planned = steps.map((s) => settled(s.newState, before.get(s.urn), providerIds, plan.resourcePlans?.[s.urn]?.state));
    const resources = [...kept, ...planned]
        .map((r) => (r.type === "pulumi:pulumi:Stack" ? { ...r, outputs: knownOr(plan.resourcePlans?.[r.urn]?.state, stackOutputs) as Props } : r));
    // The planned outputs carry the provider's secrets (label maps) encrypted by the stack's own
    // secrets provider, which the deployment names so that the import reads them.
    return { version: 3, deployment: { manifest: { time: new Date(0).toISOString(), magic: "", version: "" }, ...(secretsProvider ? { secrets_providers: secretsProvider } : {}), resources: inStateOrder([...providers, ...resources]) } };
}

/** An update plan as `preview --save-plan` writes it (apitype.DeploymentPlanV1): each resource's planned outputs. */
export interface UpdatePlan {
    resourcePlans?: Record<string, { steps?: string[]; state?: Props }>;
}

/** `preview --json` of a stack together with the update plan it saves (an experimental flag of the CLI). */
function previewWithPlan(stack: string, opts: { cwd: string; env?: Record<string, string> }): { preview: Preview; plan: UpdatePlan } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-plan-"));
    try {
        const file = path.join(dir, "plan.json");
        // --show-sames: an unchanged resource's step too, with its options as the program now
        // gives them (an `up` writes a changed `protect` or `retainOnDelete` to the state).
        const preview = previewJson(stack, ["--save-plan", file, "--show-sames"], { ...opts, env: { ...opts.env, PULUMI_EXPERIMENTAL: "true" } });
        const plan = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) as UpdatePlan : {};
        return { preview, plan };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** The passphrase secrets provider of a stack, with the salt its stack file holds (`stack init` writes it). */
function passphraseProvider(stack: string, cwd: string): Props | undefined {
    const file = path.join(cwd, `Pulumi.${stack}.yaml`);
    const salt = fs.existsSync(file) ? /^encryptionsalt:\s*(\S+)\s*$/m.exec(fs.readFileSync(file, "utf8"))?.[1] : undefined;
    return salt === undefined ? undefined : { type: "passphrase", state: { salt } };
}

/** What `stack export` holds: the resources of the current state. */
function exported(stack: string, opts: { cwd: string; env?: Record<string, string> }): StateResource[] {
    const run = engineOk(["stack", "export", "-s", stack], opts);
    return ((JSON.parse(run.stdout) as { deployment?: { resources?: StateResource[] } }).deployment?.resources ?? []);
}

export interface Baseline {
    /** Planning rounds it took. */
    rounds: number;
    /** The program's preview against the final state. */
    final: Preview;
    /** `op <type>::<name>` of every change of an input, or replacement, that stayed: perpetual diffs. */
    perpetual: string[];
    /**
     * `<type>::<name>: <properties>` of updates that stayed on outputs alone (no input changed):
     * values the provider computes on create (e.g. a label set it adds, a build context's hash)
     * that a preview does not print, so this state cannot hold them. A day-two plan shows them too.
     */
    outputsOnly: string[];
    seconds: number;
}

/**
 * An update or replacement whose inputs are those the state holds: what changes is an output the
 * provider computes. (The inputs are compared here: a bridged provider's detailed diff marks
 * every property `inputDiff: false`, an input's change too.)
 */
export function outputsOnly(step: PreviewStep): boolean {
    return (step.op === "update" || step.op === "replace") && step.oldState !== undefined && step.newState !== undefined
        && isDeepStrictEqual(step.oldState.inputs ?? {}, step.newState.inputs ?? {});
}

/** Changes other than updates (or replacements, each of several steps) of outputs alone. */
export function inputChanges(preview: PreviewJson): PreviewStep[] {
    const residual = new Set((preview.steps ?? []).filter(outputsOnly).map((s) => s.urn));
    // A stack reference is read on every preview: a read is no change.
    return (preview.steps ?? []).filter((s) => s.op !== "same" && s.op !== "read" && !residual.has(s.urn));
}

const described = (steps: PreviewStep[]) => steps.map((s) => `${s.op} ${resourceKey(s.urn)}`).sort();

/**
 * Imports, into `stack`, the state its current config would leave after an `up`; then previews
 * the unchanged program against it. `opts` says where the project and its backend are.
 */
export async function makeBaseline(stack: string, opts: { cwd: string; env?: Record<string, string>; log?: (line: string) => void }): Promise<Baseline> {
    const started = Date.now();
    const log = opts.log ?? (() => undefined);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-baseline-")), `${stack}.json`);
    // What the program exports, as the offline plan computes it from the same stack file.
    const stackOutputs = (await evaluateStack(stack, { config: stackFileConfig(stack, opts.cwd) })).outputs;
    try {
        let { preview, plan } = previewWithPlan(stack, opts);
        let rounds = 0;
        while (rounds < MAX_ROUNDS) {
            if (preview.run.status !== 0) throw new Error(`preview -s ${stack} failed (exit ${preview.run.status}):\n${(preview.json.diagnostics ?? []).map((d) => `${d.severity} ${d.urn ?? ""}: ${d.message}`).join("\n")}\n${preview.run.stderr.slice(-3000)}`);
            // A stack reference is read on every preview: a read is no change.
            const changed = changes(preview.json).filter((c) => !c.startsWith("read "));
            if (rounds > 0 && changed.length === 0) break;
            rounds++;
            log(`round ${rounds}: ${changed.length} change(s) to settle`);
            // The current state, if any: what an `up` keeps of a resource the preview cannot know.
            fs.writeFileSync(file, JSON.stringify(deploymentFrom(preview.json, exported(stack, opts), stackOutputs, plan, passphraseProvider(stack, opts.cwd))));
            engineOk(["stack", "import", "-s", stack, "--file", file, "--force"], opts);
            ({ preview, plan } = previewWithPlan(stack, opts));
        }
        const residual = (preview.json.steps ?? []).filter(outputsOnly).map((s) => `${s.op} ${resourceKey(s.urn)}: ${Object.keys(s.detailedDiff ?? {}).sort().join(", ")}`).sort();
        return { rounds, final: preview, perpetual: described(inputChanges(preview.json)), outputsOnly: residual, seconds: (Date.now() - started) / 1000 };
    } finally {
        fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
}
