// The run lock as a file in a plain cache directory (the local target, tests): created with
// O_EXCL, kept alive by touching its mtime, taken over once the mtime is older than the stale
// limit. Liveness by mtime works across hosts sharing the directory, unlike a pid.
// Not for the gcsfuse mount: there O_EXCL is checked only at close (see ./bucket).
import * as fs from "fs";
import * as path from "path";
import { newOwner } from "./holder";
import { HeldLock, LOCK, LockHeldError, LockLostError, LockOptions } from "./types";

function ownerOf(file: string): string | undefined {
    try {
        return (JSON.parse(fs.readFileSync(file, "utf8")) as { owner?: string }).owner;
    } catch {
        return undefined;
    }
}

export function acquireFileLock(dir: string, opts: LockOptions): HeldLock {
    const file = path.join(dir, LOCK);
    const owner = newOwner();
    let taken = false;
    for (let tries = 0; tries < 3 && !taken; tries++) {
        try {
            fs.writeFileSync(file, JSON.stringify({ owner, startedAt: new Date().toISOString() }), { flag: "wx" });
            taken = true;
            break;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
        let mtime: number;
        try {
            mtime = fs.statSync(file).mtimeMs;
        } catch {
            continue; // released meanwhile
        }
        const holder = ownerOf(file);
        if (Date.now() - mtime < opts.staleSeconds * 1000) {
            throw new LockHeldError(`another sync holds ${file} (${holder ?? "unreadable"}, last heartbeat ${new Date(mtime).toISOString()})`);
        }
        // Stale: move it aside under a name of our own, then check we moved the one judged stale.
        const aside = `${file}.stale-${owner.replace(/\W/g, "_")}`;
        try {
            fs.renameSync(file, aside);
        } catch {
            continue;
        }
        if (ownerOf(aside) !== holder) {
            // We moved a fresh lock another contender had just taken: put it back and yield.
            try {
                fs.linkSync(aside, file);
            } catch {
                // someone created a new one meanwhile; the displaced holder's heartbeat notices
            }
            fs.rmSync(aside, { force: true });
            throw new LockHeldError(`another sync took over the stale ${file} first`);
        }
        fs.rmSync(aside, { force: true });
    }
    if (!taken) throw new LockHeldError(`could not take ${file}: it kept changing hands`);

    let lost: string | undefined;
    const check = () => {
        if (lost === undefined && ownerOf(file) !== owner) lost = `${file} now belongs to ${ownerOf(file) ?? "nobody"}`;
    };
    const timer = setInterval(() => {
        check();
        if (lost === undefined) {
            const now = new Date();
            try {
                fs.utimesSync(file, now, now);
            } catch {
                check(); // removed under us: lost
            }
        }
    }, opts.heartbeatSeconds * 1000);
    timer.unref();
    return {
        async verify() {
            check();
            if (lost !== undefined) throw new LockLostError(`lost the lock: ${lost}`);
        },
        async release() {
            clearInterval(timer);
            check();
            if (lost === undefined) fs.rmSync(file, { force: true });
        },
    };
}
