// The stack config's `models` list and the sync program's are one contract: both schemas must
// accept and reject the same entries.
import { expect } from "chai";
import { modelSchema } from "../stacks/schema";
import { modelSpec } from "../images/model-sync/src/models";

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
    ["an uppercase name", { name: "X", source: "ollama", model: "m", tag: "t" }, false],
];

describe("models list contract (stack config and sync program)", () => {
    for (const [what, entry, valid] of entries) {
        it(`${valid ? "both accept" : "both reject"} ${what}`, () => {
            expect(modelSchema.safeParse(entry).success, "stack config").to.equal(valid);
            expect(modelSpec.safeParse(entry).success, "sync program").to.equal(valid);
        });
    }
});
