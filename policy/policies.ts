// The rules as CrossGuard policies, all mandatory. The policy config names the services a stack
// made public (`npm run policy-config -- <stack>` writes it from the stack file).
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { PolicyConfig, resourceRules, stackRules } from "./rules";

const configSchema = {
    properties: {
        publicServices: { type: "array" as const, items: { type: "string" as const }, default: [] as string[] },
    },
};

function configOf(args: { getConfig<T extends object>(): T }): PolicyConfig {
    const cfg = args.getConfig<Partial<PolicyConfig>>();
    return { publicServices: cfg.publicServices ?? [] };
}

export function warmstartPolicies(): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [
        ...resourceRules.map((rule): ResourceValidationPolicy => ({
            name: rule.name,
            description: rule.description,
            enforcementLevel: "mandatory",
            configSchema,
            validateResource: (args, reportViolation) => {
                for (const message of rule.check({ type: args.type, name: args.name, props: args.props }, configOf(args))) reportViolation(message);
            },
        })),
        ...stackRules.map((rule): StackValidationPolicy => ({
            name: rule.name,
            description: rule.description,
            enforcementLevel: "mandatory",
            configSchema,
            validateStack: (args, reportViolation) => {
                const resources = args.resources.map((r) => ({ type: r.type, name: r.name, props: r.props }));
                for (const message of rule.checkStack(resources, configOf(args))) reportViolation(message);
            },
        })),
    ];
}
