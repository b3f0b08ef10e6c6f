// Field types several sections share: names, paths, versions, Cloud Run's CPU and memory, cron.
import { Cron } from "croner";
import { z } from "zod";
import { CLOUD_RUN_REGIONS, cpuProblem } from "../cloudRun";

/**
 * A name that becomes part of GCP resource ids: lowercase, starts with a letter, no double
 * hyphen, at most `maxLength` characters (the message says the limit, and why when given).
 */
export function lowercaseName(maxLength: number, why = "") {
    const limit = `must be 1-${maxLength} characters of lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen${why}`;
    return z
        .string()
        .regex(new RegExp(`^[a-z]([a-z0-9-]{0,${maxLength - 2}}[a-z0-9])?$`), limit)
        .refine((s) => !s.includes("--"), "must not contain two hyphens in a row");
}

/** Names of bases, services, upstreams. */
export const resourceName = lowercaseName(30);

/**
 * A version written as a string. YAML reads an unquoted `3.10` as the number 3.1, so a number is
 * refused with the hint to quote it rather than with zod's bare type error.
 */
export const versionString = () => z.string({
    error: (issue) => (typeof issue.input === "number"
        ? "must be written in quotes, e.g. \"3.10\": YAML reads an unquoted version as a number, and 3.10 arrives as 3.1"
        : undefined),
});

export const version = (example: string) =>
    versionString().regex(/^\d+(\.\d+){1,2}$/, `must be a dotted version such as ${example}`);

export const relativePath = z
    .string()
    .min(1, "must not be empty")
    .refine((p) => !p.startsWith("/") && !p.split("/").includes(".."), "must be a path inside the repository (relative, no '..')");

export const gcpRegion = z.string().refine((r) => (CLOUD_RUN_REGIONS as readonly string[]).includes(r), "must be a region where Cloud Run runs, such as europe-west1 (see stacks/cloudRun.ts)");

/** A CPU value Cloud Run takes (stacks/cloudRun.ts); memory is checked against it where both are known. */
export const cpu = z.string().superRefine((value, ctx) => {
    const problem = cpuProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});
export const memory = z.string().regex(/^\d+(Mi|Gi)$/, "must be a size such as 512Mi or 16Gi");

export const timeZone = z.string().refine((tz) => {
    try {
        new Intl.DateTimeFormat("en-US", { timeZone: tz });
        return true;
    } catch {
        return false;
    }
}, "must be an IANA time zone such as Europe/Paris or Etc/UTC");

export const cron = z.string().superRefine((expr, ctx) => {
    if (expr.trim().split(/\s+/).length !== 5) {
        ctx.addIssue({ code: "custom", message: "must be a five-field cron expression such as '0 3 * * *' (Cloud Scheduler has no seconds field)" });
        return;
    }
    try {
        new Cron(expr, { paused: true });
    } catch (err) {
        ctx.addIssue({ code: "custom", message: `is not a valid cron expression: ${(err as Error).message}` });
    }
});

export const iamMember = z.string().regex(/^(user|group|serviceAccount|domain|principal|principalSet):.+$/, "must be an IAM member such as group:ml@example.com or serviceAccount:…");

/** A list whose entries' `name`s must be unique: the duplicate is named where it stands. */
export function uniqueNames<T extends z.ZodType<{ name: string }>>(entry: T) {
    return z.array(entry).superRefine((list, ctx) => {
        const seen = new Set<string>();
        list.forEach((item, i) => {
            if (seen.has(item.name)) ctx.addIssue({ code: "custom", path: [i, "name"], message: `duplicates the name '${item.name}'`, input: item.name });
            seen.add(item.name);
        });
    });
}
