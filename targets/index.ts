// The targets a stack may name in `warmstart:target`, one entry each.
import type { StackConfig } from "../stacks/schema";
import { gcpTarget } from "./gcp";
import { localTarget } from "./local";
import type { Target } from "./target";

export const TARGETS: Record<StackConfig["target"], Target> = {
    gcp: gcpTarget,
    local: localTarget,
};

export type { Target } from "./target";
