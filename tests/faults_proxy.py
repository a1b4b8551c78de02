"""A fault-injecting HTTP proxy in front of an AWS JSON API (DynamoDB Local, moto's SSM), on loopback.

The app's botocore clients are pointed at it (AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_SSM), so
botocore's real standard-mode retries run against real failures; botocore's Stubber cannot show
that. Every request is forwarded unchanged unless a rule matches its operation (the X-Amz-Target
header), and every attempt is counted per operation.

    proxy.fail("TransactWriteItems", THROTTLE)            # every call answered 400, never forwarded
    proxy.fail("GetItem", SERVER_ERROR, times=2)          # the next two calls answered 500
    proxy.fail("TransactWriteItems", APPLIED_THEN_ERROR, times=1)   # forwarded (it takes effect), then 500
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from support.loopback import LoopbackServer, QuietHandler

THROTTLE = "throttle"
SERVER_ERROR = "server_error"
APPLIED_THEN_ERROR = "applied_then_error"

# Hop-by-hop headers and the length, recomputed. Host is kept: it is part of the SigV4 signature.
DROPPED_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass
class Rule:
    kind: str
    times: int | None  # None: every matching call


def error_body(target: str, status: int) -> tuple[int, bytes]:
    """The error AWS answers, in the JSON 1.x shape botocore parses (__type names the code)."""
    if status == 400:
        code = "ThrottlingException" if target.startswith("AmazonSSM") else "ProvisionedThroughputExceededException"
        message = "Rate exceeded (injected by the fault proxy)"
    else:
        code, message = "InternalServerError", "Internal server error (injected by the fault proxy)"
    return status, json.dumps({"__type": f"com.amazonaws.fault#{code}", "message": message}).encode()


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rules: dict[str, Rule] = {}
        self.calls: dict[str, int] = {}  # operation -> attempts received
        self.faults: dict[str, int] = {}  # operation -> attempts answered with a fault
        self.lock = threading.Lock()
        proxy = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.read_body()
                target = self.headers.get("X-Amz-Target", "")
                kind = proxy._decide(target.rsplit(".", 1)[-1])
                if kind == THROTTLE:
                    self._answer(*error_body(target, 400), {})
                elif kind == SERVER_ERROR:
                    self._answer(*error_body(target, 500), {})
                else:
                    status, headers, payload = proxy._forward(self.command, self.path, self.headers, body)
                    if kind == APPLIED_THEN_ERROR:
                        self._answer(*error_body(target, 500), {})
                    else:
                        self._answer(status, payload, headers)

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send(status, payload, headers, content_type="application/x-amz-json-1.0")

        self.http = LoopbackServer(Handler, "fault-proxy")

    @property
    def url(self) -> str:
        return self.http.origin

    def start(self) -> FaultProxy:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    def fail(self, operation: str, kind: str, times: int | None = None) -> None:
        with self.lock:
            self.rules[operation] = Rule(kind, times)

    def heal(self) -> None:
        """No more faults; counts are kept."""
        with self.lock:
            self.rules.clear()

    def reset_counts(self) -> None:
        with self.lock:
            self.calls.clear()
            self.faults.clear()

    def _decide(self, operation: str) -> str | None:
        with self.lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1
            rule = self.rules.get(operation)
            if rule is None or rule.times == 0:
                return None
            if rule.times is not None:
                rule.times -= 1
            self.faults[operation] = self.faults.get(operation, 0) + 1
            return rule.kind

    def _forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=30)
        try:
            forwarded = {name: value for name, value in headers.items() if name.lower() not in DROPPED_HEADERS}
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            kept = {name: value for name, value in response.getheaders() if name.lower() not in DROPPED_HEADERS}
            return response.status, kept, payload
        finally:
            connection.close()
