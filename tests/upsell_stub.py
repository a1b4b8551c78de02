"""A scripted OpenAI-compatible server for the up-sell tests.

A small threaded http.server on 127.0.0.1 (free port) answering POST /v1/chat/completions
with one scripted reply per request, and recording every request it received, so the
tests drive the real `openai` client path end to end.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from tests.loopback import LoopbackServer, QuietHandler

HANG_LIMIT_SECONDS = 30  # a hanging reply is released at stop() at the latest, or after this


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    hang: bool = False


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


class StubLLM:
    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.release = threading.Event()
        stub = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = json.loads(self.read_body() or b"null")
                headers = {name.lower(): value for name, value in self.headers.items()}
                stub.requests.append({"path": self.path, "headers": headers, "body": body})
                reply = stub.replies.popleft() if stub.replies else error(500, "no reply scripted")
                if reply.hang:
                    stub.release.wait(HANG_LIMIT_SECONDS)
                    return  # close without answering
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
