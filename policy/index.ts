// The warmstart policy pack: `pulumi preview --policy-pack policy` (after `npm ci --prefix policy`).
import { PolicyPack } from "@pulumi/policy";
import { warmstartPolicies } from "./policies";

new PolicyPack("warmstart", { enforcementLevel: "mandatory", policies: warmstartPolicies() });
