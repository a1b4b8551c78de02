"""Per-request accounting of AWS calls with botocore event hooks.

Handlers registered on the process's one botocore session (chalicelib.clients.botocore_session)
reach every client built afterwards: PynamoDB's DynamoDB connection, boto3's SSM client, the
Powertools provider. An HTTP middleware (outermost, so it sees what the client waits for,
minus chalice local's own HTTP handling) opens a record per request in a context variable,
which the up-sell's flag thread inherits (chalicelib/upsell/flags.py runs it in a copy of the
request's context); the hooks add to the record of the context they run in:

- calls:    API calls per "service.Operation" (provide-client-params, once per call)
- attempts: HTTP attempts per "service.Operation" (before-send, once per try, retries included)
- wait_s:   time on the wire per service, from before-send to before-parse (the request is out,
            the answer is read; a retry's backoff sleep is not in it)
- sdk_s:    time inside botocore per service, provide-client-params to after-call (serialising,
            signing, parsing and backoff included, so sdk_s - wait_s is botocore's own CPU)
- items_read: DynamoDB items read per "service.Operation" (GetItem's item, BatchGetItem's
            responses, Query's ScannedCount: what DynamoDB reads and bills, not what it returns)
- total_s, cpu_s: the request's wall time and the serving thread's CPU time
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import Counter
from typing import Any


class Recorder:
    def __init__(self) -> None:
        self._current: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
            "bench_record", default=None
        )
        self._local = threading.local()  # per-thread timing of the call in flight
        self._lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []

    # --- botocore hooks ---------------------------------------------------------------------------

    def install(self, session: Any) -> None:
        session.register("provide-client-params", self._call_started, unique_id="bench-call-started")
        session.register("before-send", self._sent, unique_id="bench-sent")
        session.register("before-parse", self._answered, unique_id="bench-answered")
        session.register("after-call", self._call_ended, unique_id="bench-call-ended")
        session.register("after-call-error", self._call_ended, unique_id="bench-call-failed")

    def _record(self) -> dict[str, Any] | None:
        return self._current.get()

    @staticmethod
    def _names(event_name: str) -> tuple[str, str]:
        _, service, operation = [*event_name.split("."), "", ""][:3]
        return service, f"{service}.{operation}"

    def _call_started(self, event_name: str, **_: Any) -> None:
        record = self._record()
        if record is not None:
            record["calls"][self._names(event_name)[1]] += 1
            self._local.call_started = time.perf_counter()

    def _sent(self, event_name: str, **_: Any) -> None:
        record = self._record()
        if record is not None:
            record["attempts"][self._names(event_name)[1]] += 1
            self._local.sent = time.perf_counter()

    def _answered(self, event_name: str, **_: Any) -> None:
        record = self._record()
        sent = getattr(self._local, "sent", None)
        if record is not None and sent is not None:
            record["wait_s"][self._names(event_name)[0]] += time.perf_counter() - sent
            self._local.sent = None

    def _call_ended(self, event_name: str, parsed: Any = None, **_: Any) -> None:
        record = self._record()
        started = getattr(self._local, "call_started", None)
        if record is not None and started is not None:
            service, operation = self._names(event_name)
            record["sdk_s"][service] += time.perf_counter() - started
            self._local.call_started = None
            read = items_read(parsed) if service == "dynamodb" and isinstance(parsed, dict) else 0
            if read:
                record["items_read"][operation] += read

    # --- the HTTP middleware ----------------------------------------------------------------------

    def middleware(self, event: Any, get_response: Any) -> Any:
        record: dict[str, Any] = {
            "method": event.method,
            "route": event.path,
            "status": None,
            "calls": Counter(),
            "attempts": Counter(),
            "wait_s": Counter(),
            "sdk_s": Counter(),
            "items_read": Counter(),
        }
        token = self._current.set(record)
        started, cpu_started = time.perf_counter(), time.thread_time()
        try:
            response = get_response(event)
            record["status"] = response.status_code
            return response
        finally:
            record["total_s"] = time.perf_counter() - started
            record["cpu_s"] = time.thread_time() - cpu_started
            self._current.reset(token)
            with self._lock:
                self.requests.append(record)

    def take(self) -> list[dict[str, Any]]:
        """The records so far (JSON-ready), forgetting them."""
        with self._lock:
            records, self.requests = self.requests, []
        counters = ("calls", "attempts", "wait_s", "sdk_s", "items_read")
        return [{**r, **{k: dict(r[k]) for k in counters}} for r in records]


def items_read(parsed: dict[str, Any]) -> int:
    """Items a DynamoDB answer says were read: GetItem's item, BatchGetItem's, a Query's scanned ones."""
    if "Item" in parsed:
        return 1
    if "Responses" in parsed and isinstance(parsed["Responses"], dict):
        return sum(len(items) for items in parsed["Responses"].values())
    return int(parsed.get("ScannedCount", 0))
