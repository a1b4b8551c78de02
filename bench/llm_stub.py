"""An OpenAI-compatible Chat Completions server on loopback for the up-sell figures.

mode "answer": waits `delay` seconds, then chooses the first three candidates of the prompt's
data block (so the answer passes validation and the up-sell's source is "llm").
mode "hang":   never answers (the connection is held until stop() or HANG_LIMIT_SECONDS).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chalicelib.upsell.prompt import DATA_CLOSE, DATA_OPEN

HANG_LIMIT_SECONDS = 15


def choose(messages: list[dict[str, str]]) -> str:
    text = messages[-1]["content"]
    data = json.loads(text.split(DATA_OPEN, 1)[1].split(DATA_CLOSE, 1)[0])
    picks = [{"product_id": c["product_id"], "reason": "Goes well with your cart."} for c in data["candidates"][:3]]
    return json.dumps({"suggestions": picks})


class BenchLLM:
    def __init__(self, delay: float = 0.2) -> None:
        self.mode = "answer"
        self.delay = delay
        self.calls = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with stub._lock:
                    stub.calls += 1
                if stub.mode == "hang":
                    stub.release.wait(HANG_LIMIT_SECONDS)
                    self.close_connection = True
                    return
                time.sleep(stub.delay)
                completion = {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "bench"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": choose(body["messages"])},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                payload = json.dumps(completion).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="bench-llm", daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> BenchLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
