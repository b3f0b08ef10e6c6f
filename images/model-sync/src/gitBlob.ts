// Git's blob id: sha1("blob <size>\0" + content). The Hub lists it as `oid` for every file that
// is not in LFS, the only digest it gives for those, so it is what a small file is checked with.
import { createHash } from "crypto";
import * as fs from "fs";
import { pipeline } from "stream/promises";

export async function gitBlobSha1(file: string): Promise<string> {
    const { size } = await fs.promises.stat(file);
    const hash = createHash("sha1").update(`blob ${size}\0`);
    await pipeline(fs.createReadStream(file), hash);
    return hash.digest("hex");
}

/** Fails when the file is not the git blob `expected`. */
export async function verifyGitBlob(file: string, expected: string, source: string): Promise<void> {
    const got = await gitBlobSha1(file);
    if (got !== expected) throw new Error(`git blob mismatch for ${source}: got sha1 ${got}, expected ${expected}`);
}
