"""An OpenAI-compatible Chat Completions server on loopback for the up-sell figures.

mode "answer": waits `delay` seconds, then chooses the first three candidates of the prompt's
data block (so the answer passes validation and the up-sell's source is "llm").
mode "hang":   never answers (the connection is held until stop() or HANG_LIMIT_SECONDS).
"""

from __future__ import annotations

import json
import threading
import time

from chalicelib.upsell.prompt import DATA_CLOSE, DATA_OPEN
from tests.loopback import LoopbackServer, QuietHandler
from tests.upsell_stub import completion

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

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.read_body())
                with stub._lock:
                    stub.calls += 1
                if stub.mode == "hang":
                    stub.release.wait(HANG_LIMIT_SECONDS)
                    self.close_connection = True
                    return
                time.sleep(stub.delay)
                self.send(200, json.dumps(completion(choose(body["messages"]), body.get("model", "bench"))).encode())

        self.http = LoopbackServer(Handler, "bench-llm")

    @property
    def base_url(self) -> str:
        return f"{self.http.origin}/v1"

    def start(self) -> BenchLLM:
        self.http.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.http.stop()
