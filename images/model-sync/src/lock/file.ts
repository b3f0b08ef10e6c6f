// The run lock as a file in a plain cache directory (the local target, tests): created with
// O_EXCL, kept alive by touching its mtime, taken over once the mtime is older than the stale
// limit, or at once when its holder has provably ended (./holder). Liveness by mtime works across
// hosts sharing the directory, unlike a pid.
// Not for the gcsfuse mount: there O_EXCL is checked only at close (see ./bucket).
import * as fs from "fs";
import * as path from "path";
import { Holder, holderGone, newOwner, thisProcess } from "./holder";
import { HeldLock, LOCK, LockHeldError, LockLostError, LockOptions, LockRecord } from "./types";

function recordOf(file: string): Partial<LockRecord> | undefined {
    try {
        return JSON.parse(fs.readFileSync(file, "utf8")) as Partial<LockRecord>;
    } catch {
        return undefined;
    }
}

function ownerOf(file: string): string | undefined {
    return recordOf(file)?.owner;
}

export function acquireFileLock(dir: string, opts: LockOptions): HeldLock {
    const file = path.join(dir, LOCK);
    const self: Holder = opts.self ?? thisProcess(process.env);
    const owner = newOwner(self);
    const record: LockRecord & { startedAt: string } = { owner, ...self, startedAt: new Date().toISOString() };
    let taken = false;
    let tookOver: string | undefined;
    for (let tries = 0; tries < 3 && !taken; tries++) {
        try {
            fs.writeFileSync(file, JSON.stringify(record), { flag: "wx" });
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
        const held = recordOf(file);
        const holder = held?.owner;
        const gone = held === undefined ? undefined : holderGone(held, self);
        if (gone === undefined && Date.now() - mtime < opts.staleSeconds * 1000) {
            throw new LockHeldError(`another sync holds ${file} (${holder ?? "unreadable"}, last heartbeat ${new Date(mtime).toISOString()})`);
        }
        // Stale or ended: move it aside under a name of our own, then check we moved the one judged.
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
        tookOver = `${holder ?? "an unreadable lock"}: ${gone ?? `no heartbeat since ${new Date(mtime).toISOString()}`}`;
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
        tookOver,
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
