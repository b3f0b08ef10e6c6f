// What the providers would answer offline: ids, computed outputs, function results and the
// outputs of referenced stacks, deterministic so that plans are stable from run to run.
import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";

/** Outputs of the stacks a StackReference may read, by fully qualified stack name. */
export type StackOutputs = Record<string, Record<string, unknown>>;

function fakeDigest(seed: unknown): string {
    return `sha256:${createHash("sha256").update(JSON.stringify(seed)).digest("hex")}`;
}

/**
 * Outputs a provider computes on create. Image digests hash the build inputs, so a changed
 * base version yields a new base digest and, through BASE_IMAGE, a new service digest.
 */
export function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    switch (type) {
        case "docker-build:index:Image": {
            const digest = fakeDigest(inputs);
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

/** Provider-computed state to force, by resource name (e.g. a failed container's exit code). */
export type StateOverrides = Record<string, Record<string, unknown>>;

/** Mocks whose ids (`${type}::${name}-id`) make implicit edges assertable. */
export function mocksFor(stackReferences: StackOutputs, overrides: StateOverrides = {}): pulumi.runtime.Mocks {
    return {
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
            throw new Error(`no offline answer for the function ${args.token}`);
        },
    };
}
