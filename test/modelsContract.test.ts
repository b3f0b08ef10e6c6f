// The stack config's `models` list and the sync program's are one contract: one schema, owned by
// the sync program, that both entry points apply. So are the cache's prefixes and the bucket's lifecycle.
import { expect } from "chai";
import { modelCacheLifecycle } from "../components/gcp/modelCache";
import { modelCacheEnv } from "../contract/modelCache";
import { stackConfigSchema } from "../stacks/schema";
import { modelList, parseModels } from "../images/model-sync/src/models";
import { hubRepoDir } from "../images/model-sync/src/sources/huggingface";
import { planUrl } from "../images/model-sync/src/sources/url";
import { LOCK } from "../images/model-sync/src/lock";
import { MANIFEST, MARKER, STAGING, STATE } from "../images/model-sync/src/store";
import { ONE_SERVICE } from "./support/plan";

const sha = "a".repeat(64);
const entries: [string, unknown, boolean][] = [
    ["a pinned Hub model", { name: "bge-m3", source: "huggingface", repo: "BAAI/bge-m3", revision: "5617a9f61b028005a4858fdac845db406aefb181" }, true],
    ["a Hub model with include globs", { name: "bge-m3", source: "huggingface", repo: "BAAI/bge-m3", revision: "main", include: ["*.json"] }, true],
    ["an Ollama model", { name: "llama", source: "ollama", model: "llama3.2", tag: "1b" }, true],
    ["a URL model", { name: "w", source: "url", url: "https://example.com/w.bin", sha256: sha, path: "w.bin" }, true],
    ["a Hub model with a size hint", { name: "bge-m3", source: "huggingface", repo: "BAAI/bge-m3", revision: "main", sizeGiB: 2.2 }, true],
    ["an Ollama model with a size hint", { name: "llama", source: "ollama", model: "llama3.2", tag: "1b", sizeGiB: 1.3 }, true],
    ["a URL model with a size hint", { name: "w", source: "url", url: "https://example.com/w.bin", sha256: sha, path: "w.bin", sizeGiB: 0.5 }, true],
    ["a zero size hint", { name: "llama", source: "ollama", model: "llama3.2", tag: "1b", sizeGiB: 0 }, false],
    ["a size hint as text", { name: "llama", source: "ollama", model: "llama3.2", tag: "1b", sizeGiB: "1.3" }, false],
    ["an unknown source", { name: "x", source: "s3" }, false],
    ["a Hub repo without owner", { name: "x", source: "huggingface", repo: "bge", revision: "main" }, false],
    ["an Ollama model without tag", { name: "x", source: "ollama", model: "llama3.2" }, false],
    ["a short sha256", { name: "x", source: "url", url: "https://example.com/w", sha256: "abc", path: "w" }, false],
    ["a path escaping the cache", { name: "x", source: "url", url: "https://example.com/w", sha256: sha, path: "../w" }, false],
    ["an unknown field", { name: "x", source: "ollama", model: "m", tag: "t", extra: 1 }, false],
    ["an Ollama model in a namespace", { name: "x", source: "ollama", model: "acme/embed", tag: "v1" }, true],
    ["an Ollama model on the default host", { name: "x", source: "ollama", model: "registry.ollama.ai/library/llama3.2", tag: "1b" }, true],
    // ollama types/model/name.go: host/namespace/model; a fourth part lands where Ollama never looks.
    ["an Ollama name with a third slash", { name: "x", source: "ollama", model: "registry.ollama.ai/a/b/c", tag: "1b" }, false],
    ["an Ollama name on another host", { name: "x", source: "ollama", model: "example.com/a/b", tag: "1b" }, false],
    ["an Ollama namespace with a dot", { name: "x", source: "ollama", model: "a.b/c", tag: "1b" }, false],
    ["an Ollama model with '..'", { name: "x", source: "ollama", model: "a..b", tag: "1b" }, false],
    ["an uppercase name", { name: "X", source: "ollama", model: "m", tag: "t" }, false],
    // Where two copies of the schema once disagreed: both entry points now answer alike.
    ["a name with a double hyphen", { name: "bge--m3", source: "ollama", model: "m", tag: "t" }, false],
    ["a URL model over plain http", { name: "w", source: "url", url: "http://example.com/w.bin", sha256: sha, path: "w.bin" }, false],
    ["a URL model over http to this machine", { name: "w", source: "url", url: "http://127.0.0.1:8080/w.bin", sha256: sha, path: "w.bin" }, true],
];

/** Whether the stack loader accepts a one-model list (on the local target, which needs no project). */
function stackAccepts(entry: unknown): boolean {
    return stackConfigSchema.safeParse({ target: "local", services: ONE_SERVICE, models: [entry] }).success;
}

/** Whether the sync program's CLI parser accepts it as MODELS_JSON. */
function syncAccepts(entry: unknown): boolean {
    try {
        parseModels(JSON.stringify([entry]), "MODELS_JSON");
        return true;
    } catch {
        return false;
    }
}

describe("models list contract (stack config and sync program)", () => {
    it("is one schema: the stack's models key is the sync program's list", () => {
        const models = stackConfigSchema.shape.models;
        expect(models.unwrap(), "a second copy in stacks/ would drift").to.equal(modelList);
    });

    for (const [what, entry, valid] of entries) {
        it(`${valid ? "both accept" : "both reject"} ${what}`, () => {
            expect(stackAccepts(entry), "stack config").to.equal(valid);
            expect(syncAccepts(entry), "sync program").to.equal(valid);
        });
    }
});

// The bucket's lifecycle names the cache's top-level prefixes; the sync program decides them.
describe("cache layout contract (bucket lifecycle and sync program)", () => {
    const rules = modelCacheLifecycle({ hierarchicalNamespace: false, revisionRetentionDays: 14, stagingRetentionDays: 1 });
    type Rule = { condition: { withState?: string; daysSinceNoncurrentTime: number; matchesPrefixes?: string[] } };
    const noncurrent = (rules as Rule[]).filter((r) => r.condition.withState === "ARCHIVED");
    const daysKept = (object: string) => noncurrent.filter((r) => (r.condition.matchesPrefixes ?? [""]).some((p) => object.startsWith(p))).map((r) => r.condition.daysSinceNoncurrentTime);
    const env = modelCacheEnv("");

    it("keeps superseded manifests and markers for the rollback window, and nothing else that long", () => {
        for (const object of [MANIFEST, MARKER]) expect(daysKept(object), object).to.deep.equal([14]);
    });

    it("drops superseded model files, staged downloads and sync files after a day", () => {
        const written = [
            `${hubRepoDir("BAAI/bge-m3")}/snapshots/${"a".repeat(40)}/model.safetensors`,
            planUrl({ name: "w", source: "url", url: "https://example.com/w.bin", sha256: "b".repeat(64), path: "w.bin" }).files[0].path,
            `${env.OLLAMA_MODELS.slice(1)}/blobs/sha256-${"c".repeat(64)}`,
            `${env.SENTENCE_TRANSFORMERS_HOME.slice(1)}/x/config.json`,
            `${STAGING}/run/bge-m3/model.safetensors`,
            LOCK,
            STATE,
        ];
        for (const object of written) expect(daysKept(object), object).to.deep.equal([1]);
    });
});
