// A plain URL with a required sha256: stored under its digest, so a new digest is a new directory.
import type { UrlModel } from "../models";
import { ModelPlan } from "./types";

export function planUrl(spec: UrlModel): ModelPlan {
    const root = `url/${spec.name}/${spec.sha256}`;
    return {
        name: spec.name,
        source: "url",
        revision: spec.sha256,
        root,
        immutableRoot: true,
        files: [{ path: `${root}/${spec.path}`, url: spec.url, sha256: spec.sha256 }],
        pointers: [],
    };
}
