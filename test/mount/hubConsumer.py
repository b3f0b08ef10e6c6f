"""Reads the model cache the way a service does, with huggingface_hub, and reports what it got.

argv[1]: JSON {"snapshots": [{"repo", "revision"}], "downloads": [{"repo", "file", "revision"?}]}
(a download without "revision" asks for the default branch, as hf_hub_download(repo, file) does).
The cache and the offline switch come from the environment (HF_HUB_CACHE, HF_HUB_OFFLINE), as the
entrypoint sets them. Prints one JSON object: each call's path or error, the sha256 of each
downloaded file, the files of each snapshot, and scan_cache_dir()'s repos and warnings.
"""
import hashlib
import json
import os
import sys

import huggingface_hub
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download


def error_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def files_under(root: str) -> list:
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    request = json.loads(sys.argv[1])
    out = {"version": huggingface_hub.__version__, "cache": os.environ.get("HF_HUB_CACHE"), "snapshots": [], "downloads": []}
    for s in request["snapshots"]:
        try:
            path = snapshot_download(s["repo"], revision=s["revision"])
            out["snapshots"].append({**s, "path": path, "files": files_under(path)})
        except Exception as exc:  # reported, so the test shows the library's own message
            out["snapshots"].append({**s, "error": error_of(exc)})
    for d in request["downloads"]:
        try:
            kwargs = {"revision": d["revision"]} if "revision" in d else {}
            path = hf_hub_download(d["repo"], d["file"], **kwargs)
            out["downloads"].append({**d, "path": path, "sha256": sha256_of(path)})
        except Exception as exc:
            out["downloads"].append({**d, "error": error_of(exc)})
    info = scan_cache_dir()
    out["scan"] = {
        "warnings": [str(w) for w in info.warnings],
        "repos": sorted(
            (
                {
                    "repo": repo.repo_id,
                    "revisions": sorted(r.commit_hash for r in repo.revisions),
                    "refs": {ref: rev.commit_hash for rev in repo.revisions for ref in rev.refs},
                    "files": {r.commit_hash: sorted(str(f.file_path.relative_to(r.snapshot_path)) for f in r.files) for r in repo.revisions},
                }
                for repo in info.repos
            ),
            key=lambda r: r["repo"],
        ),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
