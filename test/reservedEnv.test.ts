import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { REPO_ROOT } from "../scripts/evaluate";
import { parseStackConfig, StackConfigError } from "../stacks/load";
import { RESERVED_ENV } from "../stacks/schema";
import { devConfigWith, evaluateWith, Plan } from "./support/plan";

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), "utf8");

/** Variables the model-cache contract has the graph set in every service (its Environment table). */
function contractServiceEnv(): string[] {
    const section = /## Environment\n([\s\S]*?)(\n## |$)/.exec(read("docs/model-cache-contract.md"))?.[1] ?? "";
    return [...section.matchAll(/^\| `([A-Z_][A-Z0-9_]*)` \| ([^|]*)\|/gm)].filter(([, , inServices]) => !inServices.trim().startsWith("unset")).map(([, name]) => name);
}

/** Variables the CUDA bases' entrypoint exports over whatever the service had. */
function entrypointExports(): string[] {
    return [...read("images/cuda-base/entrypoint.sh").matchAll(/^\s*export ([A-Z_][A-Z0-9_]*)=/gm)].map(([, name]) => name);
}

/** Variables the graph itself puts on service containers, with every service's own env emptied. */
async function graphServiceEnv(stack: string): Promise<string[]> {
    const services = (JSON.parse(devConfigWith({}, stack)["warmstart:services"]) as Record<string, unknown>[]).map((s) => ({ ...s, env: {} }) as Record<string, unknown>);
    const plan: Plan = await evaluateWith({ "warmstart:services": services }, stack);
    const names = new Set<string>();
    for (const r of plan.resources) {
        if (r.type === "gcp:cloudrunv2/service:Service") {
            for (const c of (r.inputs.template as { containers: { envs?: { name: string }[] }[] }).containers) for (const e of c.envs ?? []) names.add(e.name);
        }
        // Local service containers (not the registries or the sync): `NAME=value` strings.
        if (r.type === "docker:index/container:Container" && services.some((s) => r.name === `${String(s.name)}-container`)) {
            for (const e of (r.inputs.envs as string[] | undefined) ?? []) names.add(e.split("=")[0]);
        }
    }
    return [...names];
}

describe("reserved service environment", function () {
    this.timeout(60000);
    let derived: Map<string, string>;
    before(async () => {
        derived = new Map<string, string>();
        for (const name of contractServiceEnv()) derived.set(name, "docs/model-cache-contract.md");
        for (const name of entrypointExports()) derived.set(name, "images/cuda-base/entrypoint.sh");
        for (const stack of ["dev", "local"]) for (const name of await graphServiceEnv(stack)) if (!derived.has(name)) derived.set(name, `the ${stack} graph`);
    });

    it("finds the contract's variables in each source", () => {
        expect(contractServiceEnv()).to.include.members(["MODEL_CACHE_PATH", "HF_HUB_CACHE"]);
        expect(entrypointExports()).to.include("HF_HUB_CACHE");
    });

    it("reserves exactly the variables the contract, the entrypoint and the graph set", () => {
        const missing = [...derived].filter(([name]) => !RESERVED_ENV.includes(name)).map(([name, from]) => `${name} (set by ${from})`);
        expect(missing, "set by warmstart but not reserved").to.deep.equal([]);
        expect(RESERVED_ENV.filter((name) => !derived.has(name)), "reserved but set by nothing").to.deep.equal([]);
    });

    it("rejects a service that sets any of them, naming the variable", () => {
        for (const name of derived.keys()) {
            const services = [{ name: "api", context: "images/services/api", base: "runtime", env: { [name]: "/elsewhere" } }];
            let problems: string[] = [];
            try {
                parseStackConfig({ project: "my-project", services });
            } catch (err) {
                expect(err).to.be.instanceOf(StackConfigError);
                problems = (err as StackConfigError).problems;
            }
            expect(problems, name).to.have.length(1);
            expect(problems[0]).to.match(new RegExp(`^warmstart:services\\[0\\]\\.env\\.${name}: is set by warmstart itself`));
        }
    });
});
