"""A moto server that handles one request at a time.

Moto's DynamoDB transactions are not atomic under concurrency: each one copies the table, applies
its writes and restores the copy on failure, with no lock, so concurrent checkouts can oversell.
This server is the fallback for DynamoDB when Java (and so DynamoDB Local) is missing; one lock
around every request makes each transaction atomic at the cost of throughput.

Usage: python -m scripts.locked_moto_server --port 8001
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class SerializedApp:
    """WSGI middleware that holds one lock from the start of a request until its body is read.

    The body is read inside the lock because a WSGI app may produce it lazily, after returning.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            response = self.app(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                close = getattr(response, "close", None)
                if close is not None:
                    close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8001, help="port to bind (default: %(default)s)")
    args = parser.parse_args(argv)

    # Moto builds some URLs (SQS queue URLs, presigned URLs) from MOTO_PORT, as its own server does.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # Exit through SystemExit on SIGTERM so the server socket is closed cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    app = SerializedApp(DomainDispatcherApplication(create_backend_app))
    # Threaded so that waiting clients queue on the lock instead of on the listen backlog, and so
    # that werkzeug speaks HTTP/1.1 keep-alive, as moto's own server does.
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
