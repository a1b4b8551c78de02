"""The OpenAI-compatible Chat Completions server on loopback, for the up-sell tests and `make bench`.

A small threaded http.server on 127.0.0.1 (free port) answering POST /v1/chat/completions and
recording every request, so callers drive the real `openai` client path end to end. Each request
takes the next scripted reply (tests script them one by one); when none is scripted it gets
`otherwise(request body)`, by default a 500. `pick_first_candidates` answers like a model that
follows the prompt (the bench uses it, with a delay or a hang).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.upsell.prompt import DATA_CLOSE, DATA_OPEN
from support.loopback import LoopbackServer, QuietHandler

HANG_LIMIT_SECONDS = 30  # a hanging reply is released at stop() at the latest, or after this


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    hang: bool = False
    delay: float = 0.0  # seconds before answering


def completion(content: str, model: str = "stub-model") -> dict[str, Any]:
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"},
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def answer(content: str) -> Reply:
    """A 200 whose assistant message is `content` verbatim."""
    return Reply(200, json.dumps(completion(content)).encode())


def suggestions(*items: tuple[str, str]) -> Reply:
    """A 200 whose assistant message is {"suggestions": [{"product_id", "reason"}, ...]}."""
    payload = {"suggestions": [{"product_id": pid, "reason": reason} for pid, reason in items]}
    return answer(json.dumps(payload))


def error(status: int, message: str = "stub error") -> Reply:
    body = {"error": {"message": message, "type": "server_error", "code": None}}
    return Reply(status, json.dumps(body).encode())


def hang() -> Reply:
    return Reply(hang=True)


def unscripted(body: dict[str, Any]) -> Reply:
    return error(500, "no reply scripted")


def pick_first_candidates(delay: float = 0.0) -> Callable[[dict[str, Any]], Reply]:
    """Answers choosing the first three candidates of the prompt's data block, so they pass validation."""

    def reply(body: dict[str, Any]) -> Reply:
        text = body["messages"][-1]["content"]
        data = json.loads(text.split(DATA_OPEN, 1)[1].split(DATA_CLOSE, 1)[0])
        picks = [(c["product_id"], "Goes well with your cart.") for c in data["candidates"][:3]]
        return replace(suggestions(*picks), delay=delay)

    return reply


class StubLLM:
    def __init__(self, otherwise: Callable[[dict[str, Any]], Reply] = unscripted) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.otherwise = otherwise  # the reply when none is scripted; may be swapped while running
        self.release = threading.Event()
        stub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.read_body() or b"null")
                headers = {name.lower(): value for name, value in self.headers.items()}
                stub.requests.append({"path": self.path, "headers": headers, "body": body})
                reply = stub.replies.popleft() if stub.replies else stub.otherwise(body)
                if reply.hang:
                    stub.release.wait(HANG_LIMIT_SECONDS)
                    self.close_connection = True
                    return  # close without answering
                time.sleep(reply.delay)
                self.send(reply.status, reply.body, {"Retry-After": "0"} if reply.status == 429 else {})

        self.http = LoopbackServer(Handler, "stub-llm")

    @property
    def base_url(self) -> str:
        return f"{self.http.origin}/v1"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> StubLLM:
        self.http.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.http.stop()

    @property
    def prompts(self) -> list[list[dict[str, str]]]:
        return [request["body"]["messages"] for request in self.requests]
