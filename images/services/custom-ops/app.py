"""The fused bias + GELU op over HTTP, to show a CUDA extension built on the devel base.

POST /gelu {"input": [[...]], "bias": [...]} -> {"output": [[...]], "device": "cuda"|"cpu"}
GET /healthz -> 200

On a GPU the compiled extension runs; without one, the same maths runs in PyTorch on the CPU.
"""
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch

try:
    import fused_ops  # built in the Dockerfile's builder stage
except ImportError:  # a CPU-only build of torch cannot load it
    fused_ops = None

DEVICE = "cuda" if torch.cuda.is_available() and fused_ops is not None else "cpu"


def bias_gelu(x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    if DEVICE == "cuda":
        return fused_ops.fused_bias_gelu(x.cuda(), b.cuda()).cpu()
    return torch.nn.functional.gelu(x + b, approximate="tanh")


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/healthz":
            return self._send(200, {"status": "ok", "device": DEVICE})
        return self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/gelu":
            return self._send(404, {"error": "not found"})
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            x = torch.tensor(body["input"], dtype=torch.float32)
            b = torch.tensor(body["bias"], dtype=torch.float32)
        except (ValueError, KeyError, TypeError):
            return self._send(400, {"error": "body must be JSON: {\"input\": [[...]], \"bias\": [...]}"})
        if x.dim() == 0 or b.dim() != 1 or x.shape[-1] != b.shape[0]:
            return self._send(400, {"error": "bias must be a vector as long as the input's last dimension"})
        return self._send(200, {"output": bias_gelu(x, b).tolist(), "device": DEVICE})

    def log_message(self, *args) -> None:
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
