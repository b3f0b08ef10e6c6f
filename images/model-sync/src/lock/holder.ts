// Who holds a lock: what a lock records of the run that took it.
import { randomBytes } from "crypto";
import * as os from "os";

export function newOwner(): string {
    return `${os.hostname()}/${process.pid}/${randomBytes(6).toString("hex")}`;
}
