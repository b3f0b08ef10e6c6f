// The policy pack under the real CrossGuard: a program breaking each rule once
// (fixtures/policy-breaker) fails its preview, every rule named beside the resource that breaks it.
import * as fs from "fs";
import * as path from "path";
import { expect } from "chai";
import { resourceRules, stackRules } from "../../policy/rules";
import { EngineProject } from "./engineProject";
import { requirePolicyPack } from "./previewChecks";

const FIXTURE = path.join(__dirname, "fixtures", "policy-breaker", "index.ts");

describe("the policy pack under the real CrossGuard", function () {
    this.timeout(600000);
    let project: EngineProject;

    before(() => {
        requirePolicyPack();
        // The image's build context holds a Dockerfile: the build provider's Check reads it.
        project = new EngineProject("policy", { name: "policy-fixtures", files: { "index.ts": fs.readFileSync(FIXTURE, "utf8"), Dockerfile: "FROM scratch\n" } });
        project.initStack("fixtures");
        project.ok(["config", "set", "-s", "fixtures", "gcp:project", "policy-fixtures"]);
    });

    after(() => project?.dispose());

    it("fails a preview that breaks each rule, naming every rule with the resource that breaks it", () => {
        const run = project.run(["preview", "-s", "fixtures", "--policy-pack", path.join(__dirname, "..", "..", "policy")]);
        const out = `${run.stdout}\n${run.stderr}`;
        expect(run.status, out.slice(-3000)).to.not.equal(0);
        // No resource failed the provider's Check: the preview failed on the policies alone.
        expect(out).to.not.match(/error: .*(Missing required|Invalid|expected)/);
        expect(out).to.match(/❌ warmstart@v[0-9.]+/);
        // Each resource is named after the rule it breaks: `- [mandatory]  <rule>  (<type>: <rule>)`.
        for (const rule of resourceRules) expect(out, rule.name).to.match(new RegExp(`\\[mandatory\\]\\s+${rule.name}\\s+\\([^()]+: ${rule.name}\\)`));
        for (const rule of stackRules) expect(out, rule.name).to.match(new RegExp(`\\[mandatory\\]\\s+${rule.name}\\s`));
        const rules = [...resourceRules, ...stackRules].map((r) => r.name);
        console.log(`      ${rules.length} rules refused, ${run.seconds.toFixed(1)} s`);
    });
});
