// registry: the pull-through cache's upstreams, cleanup and who may pull and push.
import { z } from "zod";
import { iamMember, resourceName } from "./common";

export const upstreamSchema = z.strictObject({
    /** Suffix of the remote repository id, e.g. `nvcr` makes `<prefix>-nvcr`. */
    name: resourceName,
    /** Registry URL the remote repository mirrors, e.g. `https://nvcr.io`. */
    uri: z.url({ protocol: /^https$/, error: "must be an https:// registry URL" }),
});

/** Repository-id suffixes RegistryCache uses itself. */
export const RESERVED_REPOSITORY_NAMES = ["dockerhub", "images", "buildcache"];

export const registrySchema = z.strictObject({
    /** Registries to mirror besides Docker Hub (always mirrored), one remote repository each. */
    upstreams: z.array(upstreamSchema).default([]),
    /** BuildKit cache manifests older than this are deleted. */
    cacheRetentionDays: z.number().int().min(1).max(365).default(14),
    /** The newest cache manifests kept whatever their age. */
    keepRecentCaches: z.number().int().min(1).max(100).default(5),
    /** Untagged image versions (superseded builds, stale mirrored copies) older than this are deleted. */
    untaggedRetentionDays: z.number().int().min(1).max(365).default(14),
    /** The newest versions of each image kept whatever their age or tags (rollback, older digests). */
    keepRecentVersions: z.number().int().min(1).max(100).default(5),
    /** Members that may pull our images, e.g. other projects' Cloud Run service agents (platform layer). */
    readers: z.array(iamMember).default([]),
    /** Members that may push images and caches, e.g. project stacks' deployers (platform layer). */
    writers: z.array(iamMember).default([]),
}).superRefine((registry, ctx) => {
    registry.upstreams.forEach((u, i) => {
        if (RESERVED_REPOSITORY_NAMES.includes(u.name)) {
            ctx.addIssue({ code: "custom", path: ["upstreams", i, "name"], message: `is taken by a repository warmstart creates (${RESERVED_REPOSITORY_NAMES.join(", ")})`, input: u.name });
        }
    });
});
