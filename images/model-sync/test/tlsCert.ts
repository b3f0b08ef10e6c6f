// A throwaway self-signed certificate for loopback HTTPS servers, made by the openssl CLI (Node
// can use certificates but not make them).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export interface Cert {
    key: string;
    cert: string;
    /** The certificate as a file, for NODE_EXTRA_CA_CERTS. */
    certFile: string;
}

let made: Cert | undefined;

/** One certificate per test process, for localhost and 127.0.0.1. */
export function selfSignedCert(): Cert {
    if (made !== undefined) return made;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tls-"));
    const keyFile = path.join(dir, "key.pem");
    const certFile = path.join(dir, "cert.pem");
    const run = spawnSync("openssl", [
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", keyFile, "-out", certFile,
    ], { encoding: "utf8" });
    if (run.status !== 0) throw new Error(`openssl req failed (${run.error?.message ?? run.status}): ${run.stderr} — Debian: apt-get install -y openssl`);
    made = { key: fs.readFileSync(keyFile, "utf8"), cert: fs.readFileSync(certFile, "utf8"), certFile };
    return made;
}
