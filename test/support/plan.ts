// Helpers to evaluate the program under mocks and query what it registered.
import { expect } from "chai";
import { evaluate, EvaluationError, FlatConfig, Plan, PlannedResource, stackFileConfig } from "../../scripts/evaluate";

export { Plan, PlannedResource };

/** The smallest services list a stack takes (a stack must have a service unless it is a platform). */
export const ONE_SERVICE = [{ name: "api", context: "images/services/api", base: "runtime" }];

/** The dev stack's config with some keys replaced (objects given as values, not JSON). */
export function devConfigWith(overrides: Record<string, unknown>, stack = "dev"): FlatConfig {
    const config = stackFileConfig(stack);
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete config[key];
        else config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return config;
}

export async function evaluateWith(overrides: Record<string, unknown>, stack = "dev"): Promise<Plan> {
    return evaluate(stack, devConfigWith(overrides, stack));
}

/** Evaluates a config that must fail; returns the error after checking nothing was registered. */
export async function expectRejected(overrides: Record<string, unknown>): Promise<string> {
    try {
        await evaluate("dev", devConfigWith(overrides));
    } catch (err) {
        expect(err).to.be.instanceOf(EvaluationError);
        const e = err as EvaluationError;
        expect(e.registered, "resources registered before the config was rejected").to.equal(0);
        return e.message;
    }
    throw new Error(`config ${JSON.stringify(overrides)} was accepted`);
}

export function byType(plan: Plan, type: string): PlannedResource[] {
    return plan.resources.filter((r) => r.type === type);
}

export function one(plan: Plan, type: string, name: string): PlannedResource {
    const found = plan.resources.filter((r) => r.type === type && r.name === name);
    expect(found, `${type} ${name} (have: ${byType(plan, type).map((r) => r.name).join(", ") || "none"})`).to.have.length(1);
    return found[0];
}

/** Whether `from` depends on `to`, directly. */
export function dependsOn(from: PlannedResource, to: PlannedResource): boolean {
    return from.dependencies.includes(to.urn);
}

/** Reads a nested input by path, e.g. get(svc.inputs, "template.containers.0.image"). */
export function get(value: unknown, path: string): unknown {
    return path.split(".").reduce<unknown>((acc, key) => (acc === null || acc === undefined ? undefined : (acc as Record<string, unknown>)[key]), value);
}
