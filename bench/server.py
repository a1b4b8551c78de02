"""`chalice local` for the benchmark, with botocore timing hooks in the app's process.

    python -m bench.server --port 8000 --stats-port 8100      (the local stack's environment)

The server is built by the function `chalice local` itself calls (chalice.cli.create_local_server:
the same config, stage, route validation and LocalDevServer), after support.instrument's hooks are
registered on the app's botocore session and its middleware is put outermost. A second small
server on --stats-port answers GET /requests with the records so far (and forgets them).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from support.instrument import Recorder
from support.loopback import LoopbackServer, QuietHandler

REPO = Path(__file__).resolve().parent.parent
STAGE = "dev"


def serve_stats(recorder: Recorder, host: str, port: int) -> None:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self.send(200, json.dumps(recorder.take()).encode())

    LoopbackServer(Handler, "bench-stats", host, port).start()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stats-port", type=int, required=True)
    args = parser.parse_args(argv)

    from chalice.cli import create_local_server
    from chalice.cli.factory import CLIFactory

    from chalicelib import clients

    recorder = Recorder()
    recorder.install(clients.botocore_session())  # before any client exists, so every client has the hooks
    import app as app_module

    app_module.app.middleware_handlers.insert(0, (recorder.middleware, "http"))
    serve_stats(recorder, args.host, args.stats_port)
    # As `chalice local` does: stdout logging, then the CLI's own server factory.
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    factory = CLIFactory(project_dir=str(REPO), environ=os.environ)
    create_local_server(factory, args.host, args.port, STAGE).serve_forever()


if __name__ == "__main__":
    main()
