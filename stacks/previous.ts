// What this stack's previous deploy exported: the program reads its own last outputs to refuse a
// config change GCP cannot make in place (a setting fixed when the resource was created).
import * as pulumi from "@pulumi/pulumi";

/** This stack's fully qualified name, `<org>/<project>/<stack>`. */
export function selfStackName(): string {
    return `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
}

/**
 * The named outputs of this stack's last successful deploy, read through a StackReference to
 * itself; on a first deploy the stack has no outputs and every value is undefined.
 */
export async function readPreviousOutputs(names: string[]): Promise<Record<string, unknown>> {
    const self = new pulumi.StackReference("previous-deploy", { name: selfStackName() });
    const out: Record<string, unknown> = {};
    for (const name of names) {
        const details = await self.getOutputDetails(name);
        out[name] = details.value ?? details.secretValue;
    }
    return out;
}
