import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { expect } from "chai";
import { findDockerfiles, lintDockerfile, lintTree } from "../../scripts/dockerfileLint";
import { REPO_ROOT } from "../../scripts/evaluate";

const rules = (text: string, contextDir?: string) => lintDockerfile(text, "Dockerfile", contextDir).map((v) => v.rule);

/** A Dockerfile that follows every rule; each case below breaks exactly one. */
const GOOD = `ARG BASE_IMAGE
FROM \${BASE_IMAGE} AS app
WORKDIR /srv
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt
COPY app.py .
USER app
`;

describe("Dockerfile lint", () => {
    it("finds every Dockerfile under images/", () => {
        const files = findDockerfiles(path.join(REPO_ROOT, "images")).map((f) => path.relative(REPO_ROOT, f));
        expect(files).to.include.members([
            "images/cuda-base/Dockerfile",
            "images/services/embeddings/Dockerfile",
            "images/services/custom-ops/Dockerfile",
            "images/model-sync/Dockerfile",
        ]);
    });

    it("passes every Dockerfile in images/", () => {
        expect(lintTree(path.join(REPO_ROOT, "images"))).to.deep.equal([]);
    });

    it("passes the reference Dockerfile", () => {
        expect(rules(GOOD)).to.deep.equal([]);
    });

    const cases: [string, string, string][] = [
        ["a syntax directive (a frontend pulled past the registry cache)", `# syntax=docker/dockerfile:1.7\n${GOOD}`, "no-syntax-directive"],
        ["pip install without a cache mount", GOOD.replace("--mount=type=cache,target=/root/.cache/pip ", ""), "cache-mount"],
        ["apt-get install without a cache mount", GOOD.replace("USER app", "RUN apt-get update && apt-get install -y curl\nUSER app"), "cache-mount"],
        ["npm ci with a bind mount only", GOOD.replace("USER app", "RUN --mount=type=bind,source=.,target=/x npm ci\nUSER app"), "cache-mount"],
        ["the manifest copied after the source", GOOD.replace("COPY requirements.txt .\n", "").replace("COPY app.py .\n", "COPY app.py .\nCOPY requirements.txt .\n"), "manifests-first"],
        ["the manifest copied with the source", GOOD.replace("COPY requirements.txt .", "COPY requirements.txt app.py ."), "manifests-first"],
        ["ADD of a URL", GOOD.replace("USER app", "ADD https://example.com/model.bin /models/\nUSER app"), "no-add-url"],
        ["a Hub download at build time", GOOD.replace("USER app", "RUN huggingface-cli download BAAI/bge-m3\nUSER app"), "no-model-download"],
        ["an ollama pull at build time", GOOD.replace("USER app", "RUN ollama pull llama3.2:1b\nUSER app"), "no-model-download"],
        ["weights fetched with curl", GOOD.replace("USER app", "RUN curl -LO https://huggingface.co/BAAI/bge-m3/resolve/main/model.safetensors\nUSER app"), "no-model-download"],
        ["a final stage as root", GOOD.replace("USER app", "USER root"), "non-root-final"],
        ["a final stage with no USER", GOOD.replace("USER app\n", ""), "non-root-final"],
        ["a FROM variable never declared", GOOD.replace("ARG BASE_IMAGE\n", ""), "from-arg-declared"],
    ];
    for (const [what, text, rule] of cases) {
        it(`flags ${what} (${rule})`, () => {
            expect(rules(text)).to.deep.equal([rule]);
        });
    }

    it("accepts a final stage that inherits a non-root USER from a stage of the same file", () => {
        const text = `FROM debian:12 AS base\nUSER app\nFROM base AS final\nRUN true\n`;
        expect(rules(text)).to.deep.equal([]);
        expect(rules(text.replace("USER app", "USER 0"))).to.deep.equal(["non-root-final"]);
    });

    it("flags a context without .dockerignore, and passes one with it", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ctx-"));
        try {
            expect(rules(GOOD, dir)).to.deep.equal(["dockerignore"]);
            fs.writeFileSync(path.join(dir, ".dockerignore"), "*\n");
            expect(rules(GOOD, dir)).to.deep.equal([]);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    it("says where: file and line", () => {
        const [v] = lintDockerfile(GOOD.replace("USER app", "ADD https://example.com/x /x\nUSER app"), "images/x/Dockerfile");
        expect(v).to.include({ file: "images/x/Dockerfile", line: 7, rule: "no-add-url" });
        expect(v.message).to.include("https://example.com/x");
    });
});
