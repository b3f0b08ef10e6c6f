// Starts bench/fileServer.ts as its own process (as `npm run bench:sync` and its test run it) and
// waits for the port it listens on.
import { spawn } from "child_process";
import * as path from "path";

export interface FileServer {
    /** http://127.0.0.1:<port>, serving DIR's files at /<name>, and /__bytes, /__cpu. */
    base: string;
    kill: () => void;
}

export async function startFileServer(dir: string): Promise<FileServer> {
    const child = spawn(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(__dirname, "fileServer.ts"), dir], { cwd: path.resolve(__dirname, ".."), stdio: ["ignore", "pipe", "inherit"] });
    try {
        const port = await new Promise<string>((resolve, reject) => {
            child.stdout.once("data", (b: Buffer) => resolve(b.toString().trim()));
            child.once("exit", (code) => reject(new Error(`file server exited (${code})`)));
        });
        return { base: `http://127.0.0.1:${port}`, kill: () => child.kill() };
    } catch (err) {
        child.kill();
        throw err;
    }
}
