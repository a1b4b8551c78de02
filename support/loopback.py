"""Threaded HTTP servers on loopback: the LLM stub, the fault proxy and the bench's stats endpoint."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class QuietHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, no access log on stderr, and one way to read and to answer."""

    protocol_version = "HTTP/1.1"

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send(
        self,
        status: int,
        payload: bytes,
        headers: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        headers = dict(headers or {})
        self.send_response(status)
        if "content-type" not in {name.lower() for name in headers}:
            headers["Content-Type"] = content_type
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LoopbackServer:
    """Serves `handler` on `host` (127.0.0.1) at `port` (0: a free one) from a daemon thread."""

    def __init__(
        self, handler: type[BaseHTTPRequestHandler], name: str, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.host = host
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.server.server_port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
