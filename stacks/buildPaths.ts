// The build contexts and Dockerfiles a stack names, checked on this machine before anything is
// registered: the builder reads them relative to where Pulumi runs the program (the project
// root), and a missing one would otherwise fail mid-`up`, after other images were pushed.
import * as fs from "fs";
import * as path from "path";
import type { StackConfig } from "./schema";

/** The Dockerfile an image builds from: the one named, else `<context>/Dockerfile`. */
export function dockerfileOf(context: string, dockerfile?: string): string {
    return dockerfile ?? `${context}/Dockerfile`;
}

/** A path the stack builds from that is not there: the config key that names it, and why. */
export interface MissingBuildPath {
    key: (string | number)[];
    message: string;
}

interface BuildPath {
    key: (string | number)[];
    path: string;
    kind: "directory" | "file";
    /** Where the path comes from when the key does not name it itself. */
    origin?: string;
}

/** What this stack builds: bases unless it is a project (its platform builds them), services and the sync unless it is a platform. */
function buildPaths(cfg: StackConfig): BuildPath[] {
    const paths: BuildPath[] = [];
    if (cfg.layer !== "project") {
        cfg.bases.forEach((base, i) => {
            paths.push({ key: ["bases", i, "context"], path: base.context, kind: "directory" });
            paths.push({ key: ["bases", i, "dockerfile"], path: base.dockerfile, kind: "file" });
        });
    }
    if (cfg.layer !== "platform") {
        cfg.services.forEach((svc, i) => {
            paths.push({ key: ["services", i, "context"], path: svc.context, kind: "directory" });
            paths.push({ key: ["services", i, "dockerfile"], path: dockerfileOf(svc.context, svc.dockerfile), kind: "file", origin: svc.dockerfile === undefined ? "the default, <context>/Dockerfile" : undefined });
        });
        paths.push({ key: ["sync", "context"], path: cfg.sync.context, kind: "directory" });
        paths.push({ key: ["sync", "context"], path: dockerfileOf(cfg.sync.context), kind: "file", origin: "the sync's Dockerfile, <context>/Dockerfile" });
    }
    return paths;
}

function isKind(file: string, kind: BuildPath["kind"]): boolean {
    try {
        const stat = fs.statSync(file);
        return kind === "directory" ? stat.isDirectory() : stat.isFile();
    } catch {
        return false;
    }
}

/** The build paths of `cfg` that are not under `root` as the kind the builder needs; one per key. */
export function missingBuildPaths(cfg: StackConfig, root: string): MissingBuildPath[] {
    const missing: MissingBuildPath[] = [];
    const reported = new Set<string>();
    for (const entry of buildPaths(cfg)) {
        const key = entry.key.join(".");
        // A missing context makes its default Dockerfile missing too: name the context only.
        if (reported.has(key) || isKind(path.resolve(root, entry.path), entry.kind)) continue;
        reported.add(key);
        const origin = entry.origin !== undefined ? ` (${entry.origin})` : "";
        missing.push({ key: entry.key, message: `no ${entry.kind} ${entry.path}${origin} in the project root ${root}` });
    }
    return missing;
}
