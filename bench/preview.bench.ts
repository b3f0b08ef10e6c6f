// npm run bench:preview — the real `pulumi preview` (npm run engine) of dev and prod against an
// empty TypeScript program's, in the same run and interleaved, as ratios. The program runs as
// Pulumi.yaml says (tsconfig.pulumi.json: transpiled by SWC, no type check). Beside it, dev
// transpiled by the TypeScript compiler (noCheck, no SWC) and dev type-checked (tsconfig.json),
// to show what each costs. Goal: dev within 2x the empty program's preview.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { EngineRun } from "../scripts/engine/run";
import { EngineProject } from "../test/engine/engineProject";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const GOAL = 2;

/** An empty program with the project's runtime options, compiler settings and packages. */
const emptyProgram = () => new EngineProject("empty", { name: "empty", files: { "index.ts": "export {};\n" } });

/**
 * One GCS bucket, with the same runtime: the floor of any program on GCP, which waits for the gcp
 * provider's plugin to start and configure itself (dev starts it, docker-build's and time's).
 */
const oneBucketProgram = () => new EngineProject("one-bucket", {
    name: "one-bucket",
    files: { "index.ts": "import * as gcp from \"@pulumi/gcp\";\nexport const bucket = new gcp.storage.Bucket(\"b\", { project: \"bench\", location: \"EU\" }).name;\n" },
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(project: EngineProject, stack: string, env: Record<string, string> = {}): number {
    const run: EngineRun = project.run(["preview", "-s", stack], env);
    if (run.status !== 0) throw new Error(`preview of ${project.label}/${stack} exited ${run.status}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-2000)}`);
    return run.seconds;
}

/** The program with Pulumi.yaml's `tsconfig` pointing at `tsconfig` (a file of the project's folder). */
function programWith(label: string, tsconfig: string, text?: string): EngineProject {
    const project = new EngineProject(label);
    if (text !== undefined) fs.writeFileSync(path.join(project.dir, tsconfig), text);
    const file = path.join(project.dir, "Pulumi.yaml");
    const yaml = fs.readFileSync(file, "utf8");
    if (!/^ {4}tsconfig: tsconfig\.pulumi\.json$/m.test(yaml)) throw new Error("Pulumi.yaml no longer sets runtime.options.tsconfig: tsconfig.pulumi.json");
    fs.writeFileSync(file, yaml.replace(/^( {4}tsconfig: )tsconfig\.pulumi\.json$/m, `$1${tsconfig}`));
    return project;
}

function main(): number {
    const empty = emptyProgram();
    const program = new EngineProject("bench");
    // The same settings without SWC: ts-node transpiles with the TypeScript compiler.
    const tsc = programWith("bench-tsc", "tsconfig.tsc.json", JSON.stringify({ extends: "./tsconfig.json", compilerOptions: { noCheck: true } }));
    // The build's settings: ts-node type-checks the program.
    const checked = programWith("bench-checked", "tsconfig.json");
    const oneBucket = oneBucketProgram();
    const projects = [empty, oneBucket, program, tsc, checked];
    try {
        empty.initStack("bench");
        oneBucket.initStack("bench");
        for (const stack of ["dev", "prod"]) program.initStack(stack);
        tsc.initStack("dev");
        checked.initStack("dev");
        const cases: Record<string, () => number> = {
            "empty program": () => timed(empty, "bench"),
            "one GCS bucket": () => timed(oneBucket, "bench"),
            dev: () => timed(program, "dev"),
            prod: () => timed(program, "prod"),
            "dev, tsc transpile": () => timed(tsc, "dev"),
            "dev, type-checked": () => timed(checked, "dev"),
        };
        // One warm-up round (plugins and the page cache), then the measured rounds, interleaved.
        for (const run of Object.values(cases)) run();
        const seconds: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
        for (let round = 0; round < RUNS; round++) for (const [name, run] of Object.entries(cases)) seconds[name].push(run());
        const base = median(seconds["empty program"]);
        console.log(`real previews, median of ${RUNS} (load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}, ${os.cpus().length} cores)`);
        for (const [name, xs] of Object.entries(seconds)) {
            console.log(`  ${name.padEnd(19)} ${median(xs).toFixed(2)} s  (${xs.map((x) => x.toFixed(2)).join(", ")})  ${(median(xs) / base).toFixed(2)}x the empty program`);
        }
        const ratio = median(seconds.dev) / base;
        console.log(`dev / empty program: ${ratio.toFixed(2)}x — goal ${GOAL}x: ${ratio <= GOAL ? "met" : "missed"}`);
        console.log(`dev / one GCS bucket: ${(median(seconds.dev) / median(seconds["one GCS bucket"])).toFixed(2)}x (the gcp provider's start is in both)`);
        return 0;
    } finally {
        for (const p of projects) p.dispose();
    }
}

process.exitCode = main();
