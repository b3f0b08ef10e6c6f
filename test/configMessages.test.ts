// Every refusal of a stack file says what to write: a wrong-typed and an out-of-range value fed
// to every key of the schema, and no message the user sees may be the schema library's own text.
import { expect } from "chai";
import { z } from "zod";
// The models schema lives in the sync program's package, on its own copy of zod.
import { z as syncZod } from "../images/model-sync/node_modules/zod";
import { flatToRaw, parseStackConfig, StackConfigError } from "../stacks/load";
import { devConfigWith, expectRejected } from "./support/plan";
import { JsonSchema, keyNodes, stackJsonSchema } from "./support/schemaKeys";

/** What zod would print where neither a field nor the program's messages said anything. */
const LIBRARY_TEXT = "<the schema library's default text>";

/** The dev stack's config, with an entry of every kind in each list, so every list key has an element to break. */
function fullConfig(): Record<string, unknown> {
    const raw = flatToRaw(devConfigWith({})) as Record<string, unknown> & { registry?: Record<string, unknown>; models: unknown[] };
    raw.registry = { ...raw.registry, upstreams: [{ name: "nvcr", uri: "https://nvcr.io" }] };
    raw.models = [...raw.models, { name: "weights", source: "url", url: "https://example.com/w.bin", sha256: "a".repeat(64), path: "w.bin", sizeGiB: 1 }];
    return raw;
}

/** A copy of `raw` with the key at `path` (`services[].gpu.type`) set to `value` in the first entry that has it. */
function withValue(raw: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
    const copy = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
    const parts = path.split(".");
    let at: Record<string, unknown> = copy;
    parts.forEach((part, i) => {
        const last = i === parts.length - 1;
        const key = part.replace(/\[\]$/, "");
        if (last) {
            at[key] = value;
            return;
        }
        if (!part.endsWith("[]")) {
            at[key] = typeof at[key] === "object" && at[key] !== null ? at[key] : {};
            at = at[key] as Record<string, unknown>;
            return;
        }
        const list = at[key] as Record<string, unknown>[];
        const next = parts[i + 1].replace(/\[\]$/, "");
        // The entry of the variant that takes the next key (a url model for `sha256`).
        at = list.find((entry) => next in entry) ?? list[0];
    });
    return copy;
}

const TYPE_OF = (node: JsonSchema): string | undefined => node.type ?? (node.enum !== undefined || node.const !== undefined ? "string" : undefined);

/** A value of the wrong type for a node. */
function wrongType(node: JsonSchema): unknown {
    switch (TYPE_OF(node)) {
        case "string": return 12345;
        case "number": case "integer": return "many";
        case "boolean": return "yes";
        case "array": return "x";
        default: return "x";
    }
}

/** Values of the right type outside what the node takes. */
function outOfRange(node: JsonSchema): unknown[] {
    switch (TYPE_OF(node)) {
        case "string": return node.enum !== undefined || node.const !== undefined ? ["not-an-option"] : ["", "?? not valid ??"];
        case "number": case "integer": {
            const high = node.maximum !== undefined ? node.maximum + 1 : node.exclusiveMaximum;
            const low = node.minimum !== undefined ? node.minimum - 1 : node.exclusiveMinimum;
            return [high, low, TYPE_OF(node) === "integer" ? 1.5 : undefined].filter((v) => v !== undefined);
        }
        case "array": return [[null], ...(node.minItems !== undefined ? [[]] : [])];
        case "object": return [{ notAKey: 1 }];
        default: return [];
    }
}

describe("stack configuration refusals", () => {
    before(() => {
        for (const zod of [z, syncZod]) zod.config({ customError: () => LIBRARY_TEXT });
    });
    after(() => {
        for (const zod of [z, syncZod]) zod.config({ customError: undefined });
    });

    /** The problems a raw config is refused with, or [] when it is accepted. */
    const problemsOf = (raw: Record<string, unknown>): string[] => {
        try {
            parseStackConfig(raw);
            return [];
        } catch (err) {
            expect(err).to.be.instanceOf(StackConfigError);
            return (err as StackConfigError).problems;
        }
    };

    it("say what to write for a wrong-typed and an out-of-range value of every key", () => {
        const raw = fullConfig();
        expect(problemsOf(raw), "the config every case starts from").to.deep.equal([]);
        const nodes = keyNodes(stackJsonSchema()).filter(([, node]) => TYPE_OF(node) !== undefined);
        expect(nodes.length, "keys of the schema").to.be.greaterThan(80);
        const libraryTexts: string[] = [];
        let refusals = 0;
        for (const [path, node] of nodes) {
            const key = path === "project" ? "gcp:project" : `warmstart:${path}`;
            const wrong = problemsOf(withValue(raw, path, wrongType(node)));
            expect(wrong.length, `${key} = ${JSON.stringify(wrongType(node))} is refused`).to.be.greaterThan(0);
            for (const value of [wrongType(node), ...outOfRange(node)]) {
                const problems = problemsOf(withValue(raw, path, value));
                refusals += problems.length;
                libraryTexts.push(...problems.filter((p) => p.includes(LIBRARY_TEXT) || /: (Invalid (input|option|key|element)|Too (big|small))\b/.test(p)).map((p) => `${key} = ${JSON.stringify(value)}: ${p}`));
            }
        }
        expect(refusals).to.be.greaterThan(nodes.length * 2);
        expect(libraryTexts, `${libraryTexts.length} of ${refusals} refusals (${nodes.length} keys) in the schema library's words`).to.deep.equal([]);
    });

    describe("say what to write where the library's text stood", () => {
        const services = (fields: Record<string, unknown>) => {
            const list = JSON.parse(devConfigWith({})["warmstart:services"]) as Record<string, unknown>[];
            list[0] = { ...list[0], ...fields };
            return list;
        };

        it("a huggingface model without repo", async () => {
            const models = JSON.parse(devConfigWith({})["warmstart:models"]) as Record<string, unknown>[];
            delete models[0].repo;
            expect(await expectRejected({ "warmstart:models": models })).to.include("warmstart:models[0].repo: is required: it must be a Hub repository id such as BAAI/bge-m3 (value (not set))");
        });

        it("memory as a number", async () => {
            expect(await expectRejected({ "warmstart:services": services({ memory: 512 }) })).to.include("warmstart:services[0].memory: must be a size such as 512Mi or 16Gi, in quotes (YAML read the number 512) (value 512)");
        });

        it("a port out of range", async () => {
            expect(await expectRejected({ "warmstart:services": services({ port: 70000 }) })).to.include("warmstart:services[0].port: must be a whole number from 1 to 65535 (value 70000)");
        });

        it("deletion protection as a word", async () => {
            expect(await expectRejected({ "warmstart:deletionProtection": "yes" })).to.include('warmstart:deletionProtection: must be true or false, without quotes (YAML read the text "yes") (value "yes")');
        });

        it("a GPU service's CPU under the GPU minimum comes first, before the memory it makes too large", async () => {
            const message = await expectRejected({ "warmstart:services": services({ cpu: "0.5" }) });
            const problems = message.split("\n").filter((l) => l.startsWith("  - "));
            expect(problems[0]).to.equal('  - warmstart:services[0].cpu: must be at least 4 with a GPU (Cloud Run\'s minimum) (value "0.5")');
            expect(problems.slice(1).join("\n")).to.include("warmstart:services[0].memory:");
        });
    });
});
