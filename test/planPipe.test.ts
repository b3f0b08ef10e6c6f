// `npm run plan` into a pipe whose reader is slow to drain: a pipe holds 64 KiB, so anything the
// plan leaves queued when it exits is lost (prod's JSON is larger). Each format must arrive whole.
import { spawn } from "child_process";
import { expect } from "chai";
import { FORMATS, render, stackCostOptions } from "../scripts/plan";
import { evaluateStack, REPO_ROOT } from "../scripts/evaluate";

const STACK = "prod";

/** stdout of `npm run plan -- STACK --format F` as a reader sees it that takes one byte, then waits a second. */
function throughSlowReader(format: string): Promise<{ status: number | null; out: Buffer; err: string }> {
    // dd reads exactly one byte (so the plan has started writing), then the reader stops reading.
    const pipeline = `set -o pipefail; npm run -s plan -- ${STACK} --format ${format} | { dd bs=1 count=1 2>/dev/null; sleep 1; cat; }`;
    return new Promise((resolve, reject) => {
        const child = spawn("bash", ["-c", pipeline], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        let err = "";
        child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
        child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, out: Buffer.concat(out), err }));
    });
}

describe("npm run plan through a slow pipe", function () {
    this.timeout(180000);

    it(`delivers every format of ${STACK} whole (${FORMATS.join(", ")})`, async () => {
        const plan = await evaluateStack(STACK);
        // The runs go two at a time: each evaluates the stack, and the reader holds it a second.
        const runs: Record<string, Awaited<ReturnType<typeof throughSlowReader>>> = {};
        for (let i = 0; i < FORMATS.length; i += 2) {
            const batch = FORMATS.slice(i, i + 2);
            const results = await Promise.all(batch.map(throughSlowReader));
            batch.forEach((format, j) => (runs[format] = results[j]));
        }
        let larger = 0;
        for (const format of FORMATS) {
            const expected = Buffer.from(await render(plan, format, stackCostOptions(STACK)));
            const run = runs[format];
            expect(run.status, `${format}: ${run.err}`).to.equal(0);
            expect(run.out.length, `${format}: bytes through the pipe`).to.equal(expected.length);
            expect(run.out.equals(expected), format).to.equal(true);
            if (expected.length > 65536) larger++;
        }
        // Only a document larger than the pipe's buffer can be cut: at least one must be.
        expect(larger, "formats larger than a pipe's 64 KiB").to.be.at.least(1);
    });
});
