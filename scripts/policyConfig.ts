// `npm run policy-config -- <stack>`: the policy pack's config for a stack, from its stack file:
// the Cloud Run services it marks `public: true`. Pass it with `--policy-pack-config`.
import { cloudRunName, stackPrefix } from "../components/shared/naming";
import { parseFlatConfig } from "../stacks/load";
import { stackFileConfig } from "./evaluate";

export function policyConfigFor(stack: string): Record<string, { publicServices: string[] }> {
    const cfg = parseFlatConfig(stackFileConfig(stack));
    const prefix = stackPrefix(cfg.namePrefix, stack);
    return { "no-public-members": { publicServices: cfg.services.filter((s) => s.public).map((s) => cloudRunName(prefix, s.name)) } };
}

if (require.main === module) {
    const stack = process.argv[2];
    if (stack === undefined) {
        console.error("usage: npm run policy-config -- <stack>");
        process.exit(2);
    }
    console.log(JSON.stringify(policyConfigFor(stack), null, 2));
}
