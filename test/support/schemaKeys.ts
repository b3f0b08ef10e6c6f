// The keys of the stack schema as its JSON Schema lists them, for tests that walk every key.
import { z } from "zod";
import { stackConfigSchema } from "../../stacks/schema";

/** A node of the JSON Schema zod writes for the stack schema (the parts the tests read). */
export type JsonSchema = {
    type?: string;
    properties?: Record<string, JsonSchema>;
    items?: JsonSchema;
    oneOf?: JsonSchema[];
    anyOf?: JsonSchema[];
    enum?: unknown[];
    const?: unknown;
    minimum?: number;
    maximum?: number;
    exclusiveMinimum?: number;
    exclusiveMaximum?: number;
    minItems?: number;
};

/** The stack schema as JSON Schema, as a stack file's author writes it (input side). */
export const stackJsonSchema = (): JsonSchema => z.toJSONSchema(stackConfigSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;

/** Every key path of the schema with its node, written as the docs write them: `services[].gpu.type`. */
export function keyNodes(schema: JsonSchema, prefix = ""): [string, JsonSchema][] {
    const out: [string, JsonSchema][] = [];
    for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        const here = `${prefix}${key}`;
        out.push([here, sub]);
        out.push(...keyNodes(sub, `${here}.`));
        for (const variant of [sub.items, ...(sub.items?.oneOf ?? []), ...(sub.items?.anyOf ?? [])]) {
            if (variant !== undefined) out.push(...keyNodes(variant, `${here}[].`));
        }
    }
    return out;
}

/** Every key path of the schema, once each. */
export const keyPaths = (schema: JsonSchema): string[] => [...new Set(keyNodes(schema).map(([p]) => p))];
