// local: the local Docker target's registry ports, upstream and model cache directory.
import { z } from "zod";

export const localSchema = z.strictObject({
    /** Host port of the Docker Hub pull-through cache (loopback). */
    proxyPort: z.number().int().min(1024).max(65535).default(5000),
    /** Host port of the registry images and build caches are pushed to (loopback). */
    pushPort: z.number().int().min(1024).max(65535).default(5001),
    /** Registry the proxy mirrors. */
    upstream: z.url({ protocol: /^https?$/, error: "must be an http(s):// registry URL" }).default("https://registry-1.docker.io"),
    /** How long the proxy keeps what it pulled (a Go duration). */
    proxyTtl: z.string().regex(/^\d+(h|m|s)$/, "must be a duration such as 168h").default("168h"),
    /** Host directory for the model cache instead of a Docker volume. */
    modelCacheHostPath: z.string().refine((p) => p.startsWith("/"), "must be an absolute path").optional(),
    /** Host port of the first service; the next ones count up from it. */
    firstServicePort: z.number().int().min(1024).max(65000).default(8080),
}).superRefine((local, ctx) => {
    if (local.proxyPort === local.pushPort) ctx.addIssue({ code: "custom", path: ["pushPort"], message: "must differ from local.proxyPort", input: local.pushPort });
});

/** The host ports the local target publishes services on: `firstServicePort` and up, one a service, in order. */
export function localServicePorts(local: { firstServicePort: number }, serviceCount: number): number[] {
    return Array.from({ length: serviceCount }, (_, i) => local.firstServicePort + i);
}
