// The resource plugins the engine will load for this program: one line "<name> <version>" per
// provider SDK in package.json's dependencies, read from the SDK's own package.json (the engine
// asks for exactly that version). An SDK that names no version (a plugin server instead) is left
// out: the engine then takes any installed version. Used by scripts/engine.sh and the tests.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function providerPlugins(root) {
    const deps = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).dependencies ?? {};
    const plugins = [];
    for (const name of Object.keys(deps).sort()) {
        const pkg = JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8"));
        if (pkg.pulumi?.resource) plugins.push({ sdk: name, plugin: pkg.pulumi.name, version: pkg.pulumi.version });
    }
    return plugins;
}

if (import.meta.url === `file://${process.argv[1]}`) {
    for (const p of providerPlugins(process.argv[2] ?? process.cwd())) if (p.version) console.log(`${p.plugin} ${p.version}`);
}
