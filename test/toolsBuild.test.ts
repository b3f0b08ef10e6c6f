// tools/build.sh (npm run tools) on a failing build: the run fails naming the tool, and nothing
// half-built lands in the cache to pass as built on the next run.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { REPO_ROOT } from "../scripts/evaluate";

describe("npm run tools, when a build fails", function () {
    this.timeout(60000);

    it("exits 1 naming the tool and its error, and leaves no tool folder for it", () => {
        const cache = fs.mkdtempSync(path.join(os.tmpdir(), "warmstart-tools-"));
        try {
            // The time provider builds from a vendored archive: with none where it looks, its
            // first step fails and every later step would still run if the failure were ignored.
            const run = spawnSync("bash", [path.join(REPO_ROOT, "tools", "build.sh"), "time-provider"], {
                encoding: "utf8", env: { ...process.env, WARMSTART_TOOLS: cache, WARMSTART_VENDOR: path.join(cache, "no-vendor") },
            });
            expect(run.status, run.stdout + run.stderr).to.equal(1);
            expect(run.stderr).to.include(`missing ${path.join(cache, "no-vendor")}/pulumi-time-`);
            expect(run.stderr).to.include("not built: time-provider");
            expect(fs.readdirSync(cache).filter((f) => f.startsWith("time-provider"))).to.deep.equal([]);
        } finally {
            fs.rmSync(cache, { recursive: true, force: true });
        }
    });
});
