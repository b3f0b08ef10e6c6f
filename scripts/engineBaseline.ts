// `npm run engine:baseline -- <stack>`: the state this stack's current config would leave after
// an `up`, imported into the engine's backend (scripts/engine/baseline.ts says how, and what such
// a state proves). Then change the stack file and `npm run engine -- preview -s <stack>` shows
// the real provider's day-two plan. Exits 1 when the unchanged program still plans a change.
import { makeBaseline } from "./engine/baseline";
import { engineOk } from "./engine/run";
import { REPO_ROOT } from "./offline/stackFiles";

async function main(argv: string[]): Promise<number> {
    const stack = argv[0];
    if (stack === undefined || argv.length > 1) {
        console.error("usage: npm run engine:baseline -- <stack>");
        return 2;
    }
    const opts = { cwd: REPO_ROOT, log: (line: string) => console.error(line) };
    engineOk(["stack", "select", "--create", stack, "--secrets-provider", "passphrase"], opts);
    const baseline = await makeBaseline(stack, opts);
    if (baseline.perpetual.length > 0) {
        console.error(`stack ${stack}: the unchanged program still plans changes after ${baseline.rounds} rounds (perpetual diffs):\n${baseline.perpetual.map((c) => `  ${c}`).join("\n")}`);
        return 1;
    }
    console.log(`stack ${stack}: baseline imported in ${baseline.rounds} round(s), ${baseline.seconds.toFixed(1)} s; the unchanged program changes no input`);
    if (baseline.outputsOnly.length > 0) console.log(`updates of provider-computed outputs this state cannot hold (every plan shows them):\n${baseline.outputsOnly.map((c) => `  ${c}`).join("\n")}`);
    return 0;
}

main(process.argv.slice(2)).then((code) => (process.exitCode = code), (err: unknown) => {
    console.error((err as Error).message);
    process.exitCode = 1;
});
