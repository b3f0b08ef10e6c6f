// Records what the program asks the engine for: every registration and read the mock monitor
// receives, with its parent, dependencies, inputs and all the resource options it carries.
import * as pulumi from "@pulumi/pulumi";
import * as settings from "@pulumi/pulumi/runtime/settings";

/** Resource options as the engine receives them; options left at their defaults are omitted. */
export type RecordedOptions = Record<string, unknown>;

export interface PlannedResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    /** URN of the parent, undefined for top-level resources. */
    parent?: string;
    /** URNs this resource depends on, sorted: explicit dependsOn and the resources its inputs come from. */
    dependencies: string[];
    /** Explicit dependsOn the inputs do not already imply, in declared order (a component expands to its children). */
    dependsOn: string[];
    /** protect, retainOnDelete, customTimeouts, ignoreChanges, replaceOnChanges, aliases, provider, … */
    options: RecordedOptions;
    inputs: Record<string, unknown>;
    /** Mocked state after creation: inputs plus the computed outputs the mocks fill in. */
    state: Record<string, unknown>;
}

type Struct = Parameters<typeof pulumi.runtime.deserializeProperties>[0];
type Message = { toObject(): Record<string, unknown> };

interface ReadRequest extends Message {
    getType(): string;
    getName(): string;
    getParent(): string;
    getProperties(): Struct;
    getDependenciesList(): string[];
}

interface RegisterRequest extends Message {
    getObject(): Struct;
    getType(): string;
    getName(): string;
    getParent(): string;
    getCustom(): boolean;
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(cb: (deps: { getUrnsList(): string[] }) => void): void };
    getDeletebeforereplacedefined(): boolean;
}

/** Request fields that are not resource options: identity, inputs, graph edges, protocol capabilities. */
const NOT_OPTIONS = new Set([
    "type", "name", "parent", "custom", "object", "id", "properties", "dependenciesList", "propertydependenciesMap",
    "acceptsecrets", "acceptresources", "acceptsByteString", "supportspartialvalues", "supportsresultreporting", "aliasspecs",
    "sourceposition", "stacktrace", "parentstacktracehandle", "deletebeforereplacedefined",
]);

/** Request field -> the ResourceOptions name a reader knows; a field not listed keeps its own name. */
const OPTION_NAMES: Record<string, string> = {
    protect: "protect",
    retainondelete: "retainOnDelete",
    provider: "provider",
    providersMap: "providers",
    deletebeforereplace: "deleteBeforeReplace",
    ignorechangesList: "ignoreChanges",
    version: "version",
    additionalsecretoutputsList: "additionalSecretOutputs",
    aliasesList: "aliases",
    aliasurnsList: "aliases",
    importid: "import",
    customtimeouts: "customTimeouts",
    replaceonchangesList: "replaceOnChanges",
    plugindownloadurl: "pluginDownloadURL",
    pluginchecksumsMap: "pluginChecksums",
    deletedwith: "deletedWith",
    replaceWithList: "replaceWith",
    replacementTrigger: "replacementTrigger",
    transformsList: "transforms",
    hooks: "hooks",
    hidediffsList: "hideDiffs",
    envvarmappingsMap: "envVarMappings",
    stateMigrationsList: "stateMigrations",
    packageref: "packageRef",
    remote: "remote",
};

const FIELD_NAMES: Record<string, string> = { pb_delete: "delete", parenturn: "parent", noparent: "noParent" };

const isMapField = (key: string) => key.endsWith("Map");

/** A stable form: defaults dropped, keys sorted, protobuf maps as objects, lists sorted. */
function normalise(value: unknown, asMap = false): unknown {
    if (value === undefined || value === null || value === "" || value === false) return undefined;
    if (Array.isArray(value)) {
        if (asMap) {
            const entries = (value as [string, unknown][]).map(([k, v]) => [k, normalise(v)] as const).filter(([, v]) => v !== undefined);
            return entries.length === 0 ? undefined : Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
        }
        const items = value.map((v) => normalise(v)).filter((v) => v !== undefined);
        return items.length === 0 ? undefined : items.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    }
    if (typeof value === "object") {
        const entries = Object.entries(value as Record<string, unknown>)
            .map(([k, v]) => [FIELD_NAMES[k] ?? k.replace(/(List|Map)$/, ""), normalise(v, isMapField(k))] as const)
            .filter(([, v]) => v !== undefined)
            .sort(([a], [b]) => a.localeCompare(b));
        return entries.length === 0 ? undefined : Object.fromEntries(entries);
    }
    return value;
}

/** Every resource option a monitor request carries, under its ResourceOptions name. */
function recordedOptions(request: Message & { getDeletebeforereplacedefined?(): boolean }): RecordedOptions {
    const fields = request.toObject();
    const out: RecordedOptions = {};
    for (const [field, raw] of Object.entries(fields)) {
        if (NOT_OPTIONS.has(field)) continue;
        // deleteBeforeReplace is an option only when it was set (the field alone cannot tell), and
        // then false counts too: it overrides a provider that asks to delete first.
        if (field === "deletebeforereplace") {
            if (request.getDeletebeforereplacedefined?.() === true) out.deleteBeforeReplace = raw === true;
            continue;
        }
        // Structured aliases: the spec (name, type, parent…) or the URN, whichever is set.
        const value = field === "aliasesList" ? (raw as { spec?: unknown; urn?: string }[]).map((a) => a.spec ?? a.urn) : raw;
        const option = normalise(value, isMapField(field));
        if (option === undefined) continue;
        const name = OPTION_NAMES[field] ?? field.replace(/(List|Map)$/, "");
        out[name] = Array.isArray(out[name]) && Array.isArray(option) ? normalise([...(out[name] as unknown[]), ...option]) : option;
    }
    return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** Explicit dependencies: the request's list starts with them, in declared order; the inputs' follow. */
function explicitDependencies(request: RegisterRequest): string[] {
    const fromInputs = new Set<string>();
    request.getPropertydependenciesMap().forEach((deps) => deps.getUrnsList().forEach((urn) => fromInputs.add(urn)));
    return [...new Set(request.getDependenciesList())].filter((urn) => !fromInputs.has(urn));
}

export interface Recording {
    /** Everything registered or read so far, in the order the program asked. */
    readonly resources: PlannedResource[];
    /** Waits until every registration (and those it started) has been answered. */
    settle(): Promise<void>;
}

type Callback = (err: unknown, resp?: { getUrn(): string; getObject?(): Struct }) => void;

/**
 * The engine's answer to a second registration of a URN (pulumi/pulumi
 * sdk/go/common/diag/errors.go, GetDuplicateResourceURNError); the mock monitor accepts it.
 */
export function duplicateUrnError(urn: string): Error {
    return new Error(`Duplicate resource URN '${urn}'; try giving it a unique name`);
}

/** Patches the mock monitor set up by `setMocks` so that it records what it receives. */
export function recordMonitor(): Recording {
    const pending: Promise<void>[] = [];
    const resources: PlannedResource[] = [];
    const answered = new Set<string>();
    /** Refuses a URN answered before, as the engine does; otherwise records it on the entry. */
    const claim = (entry: PlannedResource, urn: string): Error | undefined => {
        if (answered.has(urn)) return duplicateUrnError(urn);
        answered.add(urn);
        entry.urn = urn;
        return undefined;
    };
    const monitor = settings.getMonitor() as unknown as {
        registerResource: (req: RegisterRequest, cb: Callback) => Promise<void>;
        readResource: (req: ReadRequest, cb: Callback) => Promise<void>;
    };
    const register = monitor.registerResource.bind(monitor);
    const read = monitor.readResource.bind(monitor);
    // Reads (a StackReference) are recorded too: a reviewer should see what a stack reads.
    monitor.readResource = (req, callback) => {
        const entry: PlannedResource = {
            urn: "", type: req.getType(), name: req.getName(), custom: true, parent: req.getParent() || undefined,
            dependencies: [...new Set(req.getDependenciesList())].sort(), dependsOn: [], options: recordedOptions(req),
            inputs: pulumi.runtime.deserializeProperties(req.getProperties()) as Record<string, unknown>, state: {},
        };
        resources.push(entry);
        const done = read(req, (err, resp) => {
            const duplicate = !err && resp ? claim(entry, resp.getUrn()) : undefined;
            callback(err ?? duplicate, duplicate === undefined ? resp : undefined);
        });
        pending.push(done);
        return done;
    };
    monitor.registerResource = (req, callback) => {
        const entry: PlannedResource = {
            urn: "",
            type: req.getType(),
            name: req.getName(),
            custom: req.getCustom(),
            parent: req.getParent() || undefined,
            dependencies: [...new Set(req.getDependenciesList())].sort(),
            dependsOn: explicitDependencies(req),
            options: recordedOptions(req),
            inputs: pulumi.runtime.deserializeProperties(req.getObject()) as Record<string, unknown>,
            state: {},
        };
        resources.push(entry);
        const done = register(req, (err, resp) => {
            const duplicate = !err && resp ? claim(entry, resp.getUrn()) : undefined;
            if (!err && resp && duplicate === undefined) entry.state = pulumi.runtime.deserializeProperties(resp.getObject!()) as Record<string, unknown>;
            callback(err ?? duplicate, duplicate === undefined ? resp : undefined);
        });
        pending.push(done);
        return done;
    };
    return {
        resources,
        settle: async () => {
            // Registrations can start more registrations (a component's children): wait until quiet.
            let seen = -1;
            while (seen !== pending.length) {
                seen = pending.length;
                await Promise.all(pending);
                for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
            }
        },
    };
}
