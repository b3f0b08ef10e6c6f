// npm run bench:preview — the real `pulumi preview` (npm run engine) of dev and prod against an
// empty TypeScript program's, in the same run and interleaved, as ratios. The program runs as
// Pulumi.yaml says (tsconfig.pulumi.json: transpile only); a type-checked dev preview
// (PULUMI_NODEJS_TRANSPILE_ONLY=false) is measured beside it, to show what the check costs.
// Goal: dev within 2x the empty program's transpile-only preview.
import * as os from "os";
import { EngineRun } from "../scripts/engine/run";
import { EngineProject } from "../test/engine/engineProject";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GOAL = 2;

/** An empty program with the project's runtime options, compiler settings and packages. */
const emptyProgram = () => new EngineProject("empty", { name: "empty", files: { "index.ts": "export {};\n" } });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(project: EngineProject, stack: string, env: Record<string, string> = {}): number {
    const run: EngineRun = project.run(["preview", "-s", stack], env);
    if (run.status !== 0) throw new Error(`preview of ${project.label}/${stack} exited ${run.status}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
    return run.seconds;
}

function main(): number {
    const empty = emptyProgram();
    const program = new EngineProject("bench");
    try {
        empty.initStack("bench");
        for (const stack of ["dev", "prod"]) program.initStack(stack);
        const cases: Record<string, () => number> = {
            "empty program": () => timed(empty, "bench"),
            dev: () => timed(program, "dev"),
            prod: () => timed(program, "prod"),
            "dev, type-checked": () => timed(program, "dev", { PULUMI_NODEJS_TRANSPILE_ONLY: "false" }),
        };
        // One warm-up round (plugins and the page cache), then the measured rounds, interleaved.
        for (const run of Object.values(cases)) run();
        const seconds: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
        for (let round = 0; round < RUNS; round++) for (const [name, run] of Object.entries(cases)) seconds[name].push(run());
        const base = median(seconds["empty program"]);
        console.log(`real previews, median of ${RUNS} (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, ${os.cpus().length} cores)`);
        for (const [name, xs] of Object.entries(seconds)) {
            console.log(`  ${name.padEnd(18)} ${median(xs).toFixed(2)} s  (${xs.map((x) => x.toFixed(2)).join(", ")})  ${(median(xs) / base).toFixed(2)}x the empty program`);
        }
        const ratio = median(seconds.dev) / base;
        console.log(`dev / empty program: ${ratio.toFixed(2)}x — goal ${GOAL}x: ${ratio <= GOAL ? "met" : "missed"}`);
        return 0;
    } finally {
        empty.dispose();
        program.dispose();
    }
}

process.exitCode = main();
