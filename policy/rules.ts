// The rules of the warmstart policy pack, as plain functions over a resource's type and inputs,
// so the pack (index.ts) and the offline tests run exactly the same checks.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { cpuCount, memoryMiB } from "./units";

export interface ResourceLike {
    type: string;
    name: string;
    props: Record<string, any>;
}

/** Policy config: what a stack explicitly made public (`services[].public: true`). */
export interface PolicyConfig {
    /** Cloud Run service names whose `allUsers` invoker grant is intended. */
    publicServices: string[];
}

export interface ResourceRule {
    name: string;
    description: string;
    /** Violation messages, each saying what to change; empty when the resource complies. */
    check(resource: ResourceLike, config: PolicyConfig): string[];
}

export interface StackRule {
    name: string;
    description: string;
    checkStack(resources: ResourceLike[], config: PolicyConfig): string[];
}

const SERVICE = "gcp:cloudrunv2/service:Service";
const JOB = "gcp:cloudrunv2/job:Job";
const BUCKET = "gcp:storage/bucket:Bucket";
const PUBLIC_MEMBERS = ["allUsers", "allAuthenticatedUsers"];

/** Cloud Run's pod template of a service or a job. */
function podTemplate(r: ResourceLike): Record<string, any> | undefined {
    if (r.type === SERVICE) return r.props.template;
    if (r.type === JOB) return r.props.template?.template;
    return undefined;
}

function memoryGiB(memory: string | undefined): number {
    const mib = memoryMiB(memory);
    return Number.isNaN(mib) ? 0 : mib / 1024;
}

export const resourceRules: ResourceRule[] = [
    {
        name: "bucket-uniform-access",
        description: "Buckets use uniform bucket-level access (IAM only, no object ACLs).",
        check: (r) => (r.type === BUCKET && r.props.uniformBucketLevelAccess !== true
            ? [`bucket ${r.name}: set uniformBucketLevelAccess: true so access is governed by IAM alone`] : []),
    },
    {
        name: "bucket-public-access-prevention",
        description: "Buckets enforce public access prevention.",
        check: (r) => (r.type === BUCKET && r.props.publicAccessPrevention !== "enforced"
            ? [`bucket ${r.name}: set publicAccessPrevention: "enforced" (it is ${JSON.stringify(r.props.publicAccessPrevention ?? "inherited")})`] : []),
    },
    {
        name: "no-public-members",
        description: "No allUsers or allAuthenticatedUsers member, except the invoker of a service the stack marks public.",
        check: (r, config) => {
            const members: string[] = [...(typeof r.props.member === "string" ? [r.props.member] : []), ...(Array.isArray(r.props.members) ? r.props.members : [])];
            const open = members.filter((m) => PUBLIC_MEMBERS.includes(m));
            if (open.length === 0) return [];
            const intended = r.type === "gcp:cloudrunv2/serviceIamMember:ServiceIamMember" && r.props.role === "roles/run.invoker" && config.publicServices.includes(r.props.name);
            return intended ? [] : [`${r.type.split(":").pop()} ${r.name}: grants ${open.join(", ")}; remove it, or mark the service public with services[].public: true`];
        },
    },
    {
        name: "no-project-level-broad-roles",
        description: "No owner, editor or storage role granted at project, folder or organisation level.",
        check: (r) => {
            if (!/^gcp:(projects|folders|organizations)\/iam(member|binding|policy):/i.test(r.type)) return [];
            const roles: string[] = typeof r.props.role === "string" ? [r.props.role] : [];
            if (r.type.endsWith(":IAMPolicy")) roles.push(...String(r.props.policyData ?? "").match(/roles\/[A-Za-z.]+/g) ?? []);
            const broad = roles.filter((role) => /^roles\/(owner|editor|storage\.)/.test(role));
            return broad.length > 0 ? [`${r.name}: ${broad.join(", ")} at ${r.type.split(":")[1].split("/")[0]} level; grant a narrower role on the one resource instead (e.g. modelCache.grantRead)`] : [];
        },
    },
    {
        name: "dedicated-service-account",
        description: "Cloud Run services and jobs run as a dedicated service account, never the default compute account.",
        check: (r) => {
            const pod = podTemplate(r);
            if (pod === undefined) return [];
            if (pod.serviceAccount === undefined || pod.serviceAccount === "") return [`${r.name}: set a dedicated serviceAccount; without one it runs as the project's default compute account`];
            return /-compute@developer\.gserviceaccount\.com$/.test(pod.serviceAccount) ? [`${r.name}: runs as the default compute account ${pod.serviceAccount}; give it a dedicated account`] : [];
        },
    },
    {
        name: "gcs-volumes-need-gen2",
        description: "Cloud Storage volumes need the second-generation execution environment.",
        check: (r) => {
            const pod = podTemplate(r);
            const gcs = (pod?.volumes ?? []).some((v: any) => v?.gcs !== undefined);
            return gcs && pod!.executionEnvironment !== "EXECUTION_ENVIRONMENT_GEN2" ? [`${r.name}: mounts a Cloud Storage volume; set executionEnvironment: EXECUTION_ENVIRONMENT_GEN2`] : [];
        },
    },
    {
        name: "service-cache-mounts-read-only",
        description: "Services mount the model cache read-only: only the sync job writes it.",
        check: (r) => {
            if (r.type !== SERVICE) return [];
            return (r.props.template?.volumes ?? []).filter((v: any) => v?.gcs !== undefined && v.gcs.readOnly !== true)
                .map((v: any) => `${r.name}: volume ${v.name} mounts bucket ${v.gcs.bucket} read-write; set gcs.readOnly: true`);
        },
    },
    {
        name: "deploy-by-digest",
        description: "Cloud Run deploys images by digest, so a rebuilt image is a visible change.",
        check: (r) => {
            const pod = podTemplate(r);
            // An image unknown at preview is not checked here: reading it throws CrossGuard's UnknownValueError.
            return (pod?.containers ?? []).filter((c: any) => !/@sha256:[0-9a-f]{64}$/.test(String(c?.image)))
                .map((c: any) => `${r.name}: image ${c.image} is not pinned; deploy <image>@sha256:<digest> (ServiceImage.ref)`);
        },
    },
    {
        name: "buildkit-registry-cache",
        description: "Every BuildKit image reads and writes a registry cache, in max mode.",
        check: (r) => {
            if (r.type !== "docker-build:index:Image") return [];
            const out: string[] = [];
            if (!(r.props.cacheFrom ?? []).some((c: any) => c?.registry?.ref)) out.push(`${r.name}: add cacheFrom: [{registry: {ref}}] so builds start warm`);
            if (!(r.props.cacheTo ?? []).some((c: any) => c?.registry?.ref && c.registry.mode === "max")) out.push(`${r.name}: add cacheTo: [{registry: {ref, mode: "max"}}] so every layer is cached`);
            return out;
        },
    },
    {
        name: "gpu-minimums",
        description: "GPU services meet Cloud Run's minimums: 4 vCPU, 16 GiB, CPU always allocated, an accelerator.",
        check: (r) => {
            if (r.type !== SERVICE) return [];
            const tmpl = r.props.template ?? {};
            const out: string[] = [];
            for (const c of tmpl.containers ?? []) {
                const limits = c?.resources?.limits ?? {};
                if (limits["nvidia.com/gpu"] === undefined) continue;
                if (!(cpuCount(limits.cpu) >= 4)) out.push(`${r.name}: a GPU needs at least 4 vCPU (cpu is ${limits.cpu})`);
                if (memoryGiB(limits.memory) < 16) out.push(`${r.name}: a GPU needs at least 16Gi memory (memory is ${limits.memory})`);
                if (c.resources.cpuIdle !== false) out.push(`${r.name}: a GPU needs CPU always allocated: set resources.cpuIdle: false`);
                if (tmpl.nodeSelector?.accelerator === undefined) out.push(`${r.name}: a GPU needs nodeSelector.accelerator (nvidia-l4)`);
            }
            return out;
        },
    },
    {
        name: "bucket-grants-are-object-roles",
        description: "Bucket grants are object roles (objectViewer, objectUser), never bucket administration.",
        check: (r) => (/^gcp:storage\/bucketIAM(Member|Binding):/.test(r.type) && /^roles\/storage\.(admin|legacyBucketOwner)$/.test(r.props.role ?? "")
            ? [`${r.name}: ${r.props.role} administers the bucket; grant roles/storage.objectViewer (read) or roles/storage.objectUser (write)`] : []),
    },
];

export const stackRules: StackRule[] = [
    {
        name: "scheduler-is-not-the-writer",
        description: "Cloud Scheduler calls the Run API as its own account, not as the job's writer account.",
        checkStack: (resources) => {
            const writers = new Set(resources.filter((r) => r.type === JOB).map((r) => r.props.template?.template?.serviceAccount).filter(Boolean));
            return resources
                .filter((r) => r.type === "gcp:cloudscheduler/job:Job" && writers.has(r.props.httpTarget?.oauthToken?.serviceAccountEmail))
                .map((r) => `${r.name}: calls the Run API as ${r.props.httpTarget.oauthToken.serviceAccountEmail}, the job's own writer account; use a scheduler account holding run.invoker on the job only`);
        },
    },
];

/** Runs every rule over a stack's resources: violations as `rule: message`. */
export function evaluatePolicies(resources: ResourceLike[], config: PolicyConfig): { rule: string; message: string }[] {
    return [
        ...resourceRules.flatMap((rule) => resources.flatMap((r) => rule.check(r, config).map((message) => ({ rule: rule.name, message })))),
        ...stackRules.flatMap((rule) => rule.checkStack(resources, config).map((message) => ({ rule: rule.name, message }))),
    ];
}
