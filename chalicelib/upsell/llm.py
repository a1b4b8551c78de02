"""One Chat Completions call to any OpenAI-compatible server, inside a hard time budget.

`openai` is imported (through clients.llm) only when a call is actually made: the import
costs about half a second of cold start, and most requests never need it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalicelib import clients
from chalicelib.config import Settings

API_KEY_MAX_AGE_SECONDS = 300  # a rotated SecureString key is picked up within five minutes
NO_API_KEY = "no-key"  # local OpenAI-compatible servers need none; the client insists on one
DEADLINE_GRACE_SECONDS = 0.2  # lets the HTTP client report its own timeout before the guard fires

MIN_CALL_SECONDS = 0.1  # with less time left than this, the request is not sent at all

T = TypeVar("T")


@dataclass(frozen=True)
class Reply:
    status: str  # "ok" | "timeout" | "rate_limited" | "http_error" | "connection_error" | "config_error" | "error"
    raw: str | None  # the model's message content, as received
    error: str | None
    latency_ms: float

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class DeadlineExceeded(TimeoutError):
    pass


def is_configured(settings: Settings) -> bool:
    """The LLM is used only when LLM_BASE_URL names a server (https://api.openai.com/v1 for OpenAI)."""
    return bool(settings.llm_base_url)


def api_key(settings: Settings) -> str:
    """SecureString named by LLM_API_KEY_PARAMETER, else OPENAI_API_KEY, else a placeholder."""
    if settings.llm_api_key_parameter:
        return str(
            clients.parameters().get(settings.llm_api_key_parameter, decrypt=True, max_age=API_KEY_MAX_AGE_SECONDS)
        )
    return settings.openai_api_key or NO_API_KEY


def request_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {"model": settings.llm_model, "temperature": 0, "max_tokens": 400}
    if settings.llm_json_mode:
        options["response_format"] = {"type": "json_object"}
    return options


def complete(messages: list[dict[str, str]], settings: Settings, deadline: float) -> Reply:
    """Ask the model before `deadline` (time.monotonic); any failure becomes a Reply with a status."""
    started = time.monotonic()

    def elapsed_ms() -> float:
        return round((time.monotonic() - started) * 1000, 1)

    try:
        key = api_key(settings)
        client = clients.llm(settings.llm_base_url, key, settings.llm_timeout_seconds)
    except Exception as exc:  # noqa: BLE001 - a missing key or client is a fallback, not an error page
        return Reply("config_error", None, _describe(exc), elapsed_ms())

    budget = deadline - time.monotonic()  # building the client may have cost the `openai` import
    if budget < MIN_CALL_SECONDS:
        return Reply("timeout", None, "time budget spent before the request", elapsed_ms())

    def call() -> Any:
        return client.chat.completions.create(messages=messages, timeout=budget, **request_options(settings))

    try:
        completion = run_with_deadline(call, budget + DEADLINE_GRACE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - classified below; the caller falls back
        return Reply(_classify(exc), None, _describe(exc), elapsed_ms())
    choices = getattr(completion, "choices", None) or []
    content = choices[0].message.content if choices and choices[0].message else None
    return Reply("ok", content, None, elapsed_ms())


def run_with_deadline(fn: Callable[[], T], seconds: float) -> T:
    """Run fn in a daemon thread and stop waiting after `seconds`.

    The HTTP timeouts apply per connect/read, so a server trickling bytes could outlast
    them; this guard makes the budget hard. An abandoned call ends on its own timeout.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name="upsell-llm", daemon=True).start()
    if not done.wait(seconds):
        raise DeadlineExceeded(f"no answer within {seconds:.2f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _classify(exc: BaseException) -> str:
    import openai  # already imported: the client was built

    if isinstance(exc, (DeadlineExceeded, openai.APITimeoutError)):
        return "timeout"
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APIStatusError):
        return "http_error"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    return "error"


def _describe(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (HTTP {status})" if status else text
