"""The end-to-end service: answers /healthz, and /model with what it read of its model.

It finds MODEL_NAME in the cache's published manifest.json, reads the model's file from the
read-only mount, and reports the sha256 of the bytes it read, the revision it found and the
manifest's revision: a test compares them with what it served to the sync.
"""
import hashlib
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CACHE = os.environ.get("MODEL_CACHE_PATH", "/models")


def read_model():
    with open(os.path.join(CACHE, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    model = next(m for m in manifest["models"] if m["name"] == os.environ["MODEL_NAME"])
    first = model["files"][0]
    with open(os.path.join(CACHE, model["path"], first["path"]), "rb") as f:
        data = f.read()
    return {
        "manifestRevision": manifest["revision"],
        "modelRevision": model["revision"],
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
    }


# Read once at start, as a real service loads its weights: a new model needs a new container.
LOADED = read_model()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/healthz":
            body = b"ok"
        elif self.path == "/model":
            body = json.dumps(LOADED).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
