// The end-to-end stack's configuration: the local target on the run's rig (its ports, its
// upstream, its model server), a small Debian base instead of CUDA, one service that reads its
// model from the cache, one `url` model. Written as a config file for `--config-file`, so no
// Pulumi.<stack>.yaml joins the project's stacks.
import { createHash } from "crypto";
import * as fs from "fs";
import { stringify } from "yaml";

/** The one service; it reads MODEL_NAME from the published manifest. */
export const SERVICE = "reader";
export const MODEL = "e2e-model";

export interface E2eModel {
    /** The file's name on the model server. */
    file: string;
    /** What the stack says its sha256 is (the truth, or a lie). */
    sha256: string;
}

export interface E2eConfigArgs {
    proxyPort: number;
    pushPort: number;
    firstServicePort: number;
    upstream: string;
    modelServer: string;
    /** The service's build context, relative to the repository. */
    serviceContext: string;
    model: E2eModel;
}

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

export function e2eConfig(args: E2eConfigArgs): Record<string, unknown> {
    return {
        "warmstart:target": "local",
        "warmstart:namePrefix": "ws",
        "warmstart:local": {
            proxyPort: args.proxyPort, pushPort: args.pushPort, firstServicePort: args.firstServicePort,
            upstream: args.upstream, proxyTtl: "168h",
        },
        // The runtime stage of a Debian Dockerfile carrying the real entrypoint (its context).
        "warmstart:bases": [{ name: "runtime", kind: "runtime", context: "images/cuda-base", dockerfile: "test/engine/stack/base.Dockerfile" }],
        "warmstart:services": [{ name: SERVICE, context: args.serviceContext, base: "runtime", cpu: "1", memory: "1Gi", env: { MODEL_NAME: MODEL } }],
        "warmstart:models": [{ name: MODEL, source: "url", url: `${args.modelServer}/${args.model.file}`, sha256: args.model.sha256, path: "model.bin" }],
    };
}

/** Writes the stack's config file, keeping what the CLI added to it (the passphrase's salt). */
export function writeConfigFile(file: string, config: Record<string, unknown>): void {
    const kept: Record<string, unknown> = {};
    if (fs.existsSync(file)) {
        const text = fs.readFileSync(file, "utf8");
        const salt = /^encryptionsalt: (.*)$/m.exec(text);
        if (salt !== null) kept.encryptionsalt = salt[1];
    }
    fs.writeFileSync(file, stringify({ ...kept, config }));
}
