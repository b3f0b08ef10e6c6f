"""Embeddings over HTTP.

POST /embed {"texts": ["..."]} -> {"model": ..., "embeddings": [[...], ...]}
GET /healthz -> 200 once the model is loaded, 503 while it loads.

The model loads from HF_HUB_CACHE, which the base image's entrypoint points at the shared cache
when it is complete, or at a local directory otherwise (then it downloads at start).
"""
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_NAME = os.environ.get("EMBEDDING_MODEL", "BAAI/bge-m3")
MAX_TEXTS = int(os.environ.get("MAX_TEXTS", "64"))
state = {"model": None, "error": None}


def load_model() -> None:
    try:
        from sentence_transformers import SentenceTransformer

        device = "cuda" if _cuda_available() else "cpu"
        state["model"] = SentenceTransformer(MODEL_NAME, device=device, cache_folder=os.environ.get("HF_HUB_CACHE"))
        print(json.dumps({"severity": "INFO", "message": "model loaded", "model": MODEL_NAME, "device": device}), flush=True)
    except Exception as exc:  # reported by /healthz, so the startup probe fails visibly
        state["error"] = repr(exc)
        print(json.dumps({"severity": "ERROR", "message": "model failed to load", "model": MODEL_NAME, "error": repr(exc)}), flush=True)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path != "/healthz":
            return self._send(404, {"error": "not found"})
        if state["model"] is not None:
            return self._send(200, {"status": "ok", "model": MODEL_NAME})
        return self._send(503, {"status": "loading" if state["error"] is None else "failed", "error": state["error"]})

    def do_POST(self) -> None:
        if self.path != "/embed":
            return self._send(404, {"error": "not found"})
        if state["model"] is None:
            return self._send(503, {"error": "model not loaded"})
        try:
            length = int(self.headers.get("Content-Length", "0"))
            texts = json.loads(self.rfile.read(length) or b"{}").get("texts")
        except (ValueError, AttributeError):
            return self._send(400, {"error": "body must be JSON: {\"texts\": [\"...\"]}"})
        if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
            return self._send(400, {"error": "texts must be a non-empty list of strings"})
        if len(texts) > MAX_TEXTS:
            return self._send(413, {"error": f"at most {MAX_TEXTS} texts per request"})
        vectors = state["model"].encode(texts, normalize_embeddings=True)
        return self._send(200, {"model": MODEL_NAME, "embeddings": vectors.tolist()})

    def log_message(self, *args) -> None:  # Cloud Run logs requests itself
        pass


if __name__ == "__main__":
    threading.Thread(target=load_model, daemon=True).start()
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
