// What every real preview of the suite is held to: the diagnostics it may print, the policy pack
// attached with each stack's config.
import * as fs from "fs";
import * as path from "path";
import { PreviewDiagnostic, PreviewJson, resourceKey } from "../../scripts/engine/run";
import { REPO_ROOT } from "../../scripts/evaluate";
import { policyConfigFor } from "../../scripts/policyConfig";
import type { EngineProject } from "./engineProject";

export const GCP_STACKS = ["dev", "prod", "platform"] as const;

/** Diagnostics a preview may print, each with why it is expected. */
export const EXPECTED_DIAGNOSTICS: { pattern: RegExp; why: string }[] = [
    // The language host is built from source and put on the engine's PATH (scripts/engine.sh).
    { pattern: /^warning: using pulumi-language-nodejs from \$PATH at /, why: "the language host built by npm run tools" },
    // @pulumi/policy server.js: a policy reading a value unknown at preview is skipped with this
    // advisory; on a first preview no image digest is known yet (see the deploy-by-digest test).
    { pattern: /can't run policy 'deploy-by-digest' during preview/, why: "image digests are known only once the images are built" },
];

/** Warnings and errors the test did not name. */
export function unexpectedDiagnostics(preview: PreviewJson): string[] {
    return (preview.diagnostics ?? [])
        .filter((d: PreviewDiagnostic) => /warning|error/.test(d.severity))
        .filter((d) => !EXPECTED_DIAGNOSTICS.some((e) => e.pattern.test(d.message)))
        .map((d) => `${d.severity} ${d.urn ? resourceKey(d.urn) : ""}: ${d.message.trim()}`);
}

/** The policy pack's config for a stack (npm run policy-config), as a file the CLI reads. */
export function policyArgs(project: EngineProject, stack: string): string[] {
    const file = path.join(project.dir, `policy-config.${stack}.json`);
    fs.writeFileSync(file, JSON.stringify(policyConfigFor(stack)));
    return ["--policy-pack", path.join(REPO_ROOT, "policy"), "--policy-pack-config", file];
}

/** Fails with the command to run when the policy pack's packages are not installed. */
export function requirePolicyPack(): void {
    if (!fs.existsSync(path.join(REPO_ROOT, "policy", "node_modules", "@pulumi", "policy"))) {
        throw new Error("the policy pack's packages are not installed: run npm ci --prefix policy");
    }
}

