#!/var/lang/bin/python3 -I
"""Stand-in for LocalStack's Lambda init (`/var/rapid/init`), standard library only.

LocalStack downloads its init, a Go binary, from GitHub the first time a function is created; where
`make test-cloud` runs GitHub is unreachable and the binary cannot be built (its Go modules are not
reachable either), so cloud/run.py puts this program where LocalStack looks for the binary, and
LocalStack copies it into every Lambda container as the container's entrypoint. It runs with the
runtime image's Python and speaks the same two protocols as the Go init:

- to LocalStack: `POST /invoke` on LOCALSTACK_INTEROP_PORT (9563) takes an invocation
  (`invoke-id`, `invoked-function-arn`, `payload`, `trace-id`) and answers at once; the result goes
  back to LOCALSTACK_RUNTIME_ENDPOINT as `/invocations/<id>/logs` (START, the function's output, END,
  REPORT), then `/invocations/<id>/response` or `/invocations/<id>/error`. `/status/<runtime id>/ready`
  when the runtime first asks for work, `/status/<runtime id>/error` when it cannot start;
- to the runtime (the image's bootstrap, or the command given as arguments): the Lambda Runtime API
  on 127.0.0.1:9001 (`invocation/next`, `invocation/<id>/response`, `invocation/<id>/error`,
  `init/error`), as AWS_LAMBDA_RUNTIME_API.

Like the Go init, an invocation that outlives the function's timeout is answered with "Task timed
out after N.00 seconds", and the runtime is then started again, as is a runtime that exits. Unlike it:
no extensions API, no X-Ray daemon, no hot reloading, and the runtime runs as root (the Go init drops
to a user of its own). See docs/decisions/0023-cloud-rehearsal-stand-ins.md.
"""

from __future__ import annotations

import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

API_PREFIX = "/2018-06-01/runtime"
# The address of the Runtime API is the Go init's; the variable exists for tests/stack/test_lambda_init.py.
RUNTIME_API = os.environ.get("CARTWISE_INIT_RUNTIME_API", "127.0.0.1:9001")
BOOTSTRAP_CANDIDATES = ("/var/task/bootstrap", "/opt/bootstrap", "/var/runtime/bootstrap")
# What the Go init removes from the runtime's environment (and this program's own setting).
LOCALSTACK_ONLY = (
    "LOCALSTACK_RUNTIME_ENDPOINT",
    "LOCALSTACK_RUNTIME_ID",
    "LOCALSTACK_INTEROP_PORT",
    "LOCALSTACK_RUNTIME_TRACING_PORT",
    "LOCALSTACK_USER",
    "LOCALSTACK_CODE_ARCHIVES",
    "LOCALSTACK_HOT_RELOADING_PATHS",
    "LOCALSTACK_ENABLE_XRAY_TELEMETRY",
    "LOCALSTACK_INIT_LOG_LEVEL",
    "LOCALSTACK_POST_INVOKE_WAIT_MS",
    "LOCALSTACK_FUNCTION_ACCOUNT_ID",
    "LOCALSTACK_MAX_PAYLOAD_SIZE",
    "LOCALSTACK_CHMOD_PATHS",
    "CARTWISE_INIT_RUNTIME_API",
    "HOSTNAME",
    "HOME",
)


def post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})  # noqa: S310 - LocalStack's http URL
    # LocalStack is reached directly, never through a proxy the function's environment may name.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        answer.read()


class Invocation:
    def __init__(self, request: dict) -> None:
        self.id: str = request["invoke-id"]
        self.arn: str = request.get("invoked-function-arn", "")
        self.payload: bytes = (request.get("payload") or "").encode()
        self.trace_id: str = request.get("trace-id", "")
        self.started = time.monotonic()
        self.finished = threading.Lock()  # held by whoever answers LocalStack for it, once
        self.timer: threading.Timer | None = None


class Init:
    def __init__(self, bootstrap: list[str]) -> None:
        self.bootstrap = bootstrap
        self.endpoint = os.environ["LOCALSTACK_RUNTIME_ENDPOINT"].rstrip("/")
        self.runtime_id = os.environ["LOCALSTACK_RUNTIME_ID"]
        self.version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.timeout = int(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self.env = {key: value for key, value in os.environ.items() if key not in LOCALSTACK_ONLY}
        self.env["AWS_LAMBDA_RUNTIME_API"] = RUNTIME_API
        self.pending: queue.Queue[Invocation] = queue.Queue()
        self.invocations: dict[str, Invocation] = {}
        self.current: Invocation | None = None
        self.ready = False  # the runtime asked for work once: LocalStack was told it is ready
        self.init_error_sent = False
        self.logs: list[str] = []
        self.logs_lock = threading.Lock()
        self.process: subprocess.Popen[bytes] | None = None
        self.process_lock = threading.Lock()

    # ---- logs: the runtime's output, collected per invocation and echoed (docker logs) ----

    def log(self, text: str) -> None:
        with self.logs_lock:
            self.logs.append(text)
        sys.stdout.write(text)
        sys.stdout.flush()

    def take_logs(self) -> str:
        with self.logs_lock:
            text, self.logs = "".join(self.logs), []
        return text

    def read_output(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in iter(process.stdout.readline, b""):
            self.log(line.decode("utf-8", "replace"))

    def drain_output(self) -> None:
        """Let the reader take what the runtime wrote before it answered (at most 50 ms)."""
        process = self.process
        if process is None or process.stdout is None:
            return
        deadline = time.monotonic() + 0.05
        while time.monotonic() < deadline:
            readable, _, _ = select.select([process.stdout], [], [], 0)
            if not readable:
                return
            time.sleep(0.001)

    # ---- the runtime process ----

    def start_runtime(self) -> None:
        with self.process_lock:
            process = subprocess.Popen(  # noqa: S603 - the bootstrap the image or LocalStack names
                self.bootstrap,
                env=self.env,
                cwd="/var/task" if os.path.isdir("/var/task") else None,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            self.process = process
        threading.Thread(target=self.read_output, args=(process,), daemon=True).start()
        threading.Thread(target=self.watch_runtime, args=(process,), daemon=True).start()

    def watch_runtime(self, process: subprocess.Popen[bytes]) -> None:
        code = process.wait()
        if process is not self.process:
            return  # replaced after a timeout; that path answered already
        if not self.ready:
            if not self.init_error_sent:
                error = {
                    "errorType": "Runtime.ExitError",
                    "errorMessage": f"Runtime exited with error: exit status {code}",
                }
                self.log(f"INIT_REPORT Status: error Error Type: Runtime.ExitError (exit status {code})\n")
                self.send_status("error", json.dumps(error).encode())
            os._exit(1)  # the environment never started: LocalStack discards it
        current = self.current
        if current is not None:
            message = f"RequestId: {current.id} Error: Runtime exited with error: exit status {code}"
            self.finish(current, json.dumps({"errorType": "Runtime.ExitError", "errorMessage": message}).encode(), True)
        self.start_runtime()  # the next invocation finds a runtime, as on AWS (which starts one again)

    def send_status(self, status: str, body: bytes = b"") -> None:
        post(f"{self.endpoint}/status/{self.runtime_id}/{status}", body)

    # ---- invocations ----

    def invoke(self, request: dict) -> None:
        invocation = Invocation(request)
        self.invocations[invocation.id] = invocation
        self.log(f"START RequestId: {invocation.id} Version: {self.version}\n")
        self.pending.put(invocation)

    def next_invocation(self) -> Invocation:
        if not self.ready:
            self.ready = True
            self.send_status("ready")
        invocation = self.pending.get()
        self.current = invocation
        invocation.timer = threading.Timer(self.timeout, self.time_out, args=(invocation,))
        invocation.timer.daemon = True
        invocation.timer.start()
        return invocation

    def time_out(self, invocation: Invocation) -> None:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        error = {"errorMessage": f"{now} {invocation.id} Task timed out after {self.timeout}.00 seconds"}
        if not self.finish(invocation, json.dumps(error).encode(), True):
            return
        with self.process_lock:
            stuck, self.process = self.process, None
        if stuck is not None:
            stuck.kill()
        self.start_runtime()

    def finish(self, invocation: Invocation, body: bytes, is_error: bool) -> bool:
        """Answer LocalStack for an invocation (logs first, as the Go init does); False if answered already."""
        if not invocation.finished.acquire(blocking=False):
            return False
        if invocation.timer is not None:
            invocation.timer.cancel()
        if self.current is invocation:
            self.current = None
        self.invocations.pop(invocation.id, None)
        self.drain_output()
        elapsed = min((time.monotonic() - invocation.started) * 1000, self.timeout * 1000)
        self.log(f"END RequestId: {invocation.id}\n")
        self.log(
            f"REPORT RequestId: {invocation.id}\tDuration: {elapsed:.2f} ms\tBilled Duration: {elapsed:.0f} ms\t"
            f"Memory Size: {self.memory} MB\tMax Memory Used: {self.memory} MB\t\n"
        )
        base = f"{self.endpoint}/invocations/{invocation.id}"
        post(f"{base}/logs", json.dumps({"logs": self.take_logs()}).encode())
        post(f"{base}/{'error' if is_error else 'response'}", body)
        return True


def handler_class(init: Init) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the runtime client holds one connection

        def log_message(self, format: str, *args: object) -> None:
            pass

        def body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", (headers or {}).get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self) -> None:
            if self.path != f"{API_PREFIX}/invocation/next":
                self.answer(404, b'{"errorMessage": "not found"}')
                return
            invocation = init.next_invocation()
            deadline = int((time.time() + init.timeout) * 1000)
            headers = {
                "Lambda-Runtime-Aws-Request-Id": invocation.id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": invocation.arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            }
            self.answer(200, invocation.payload, headers)

        def do_POST(self) -> None:
            body = self.body()
            if self.path == "/invoke":  # LocalStack, on the interop port
                self.answer(200, b"OK", {"Content-Type": "text/plain"})
                init.invoke(json.loads(body))
                return
            if self.path == f"{API_PREFIX}/init/error":
                self.answer(202, b'{"status": "OK"}')
                if not init.init_error_sent:
                    init.init_error_sent = True
                    init.send_status("error", body)
                return
            parts = self.path.removeprefix(f"{API_PREFIX}/invocation/").split("/")
            invocation = init.invocations.get(parts[0]) if len(parts) == 2 else None
            if invocation is None or parts[1] not in ("response", "error"):
                self.answer(400, b'{"errorMessage": "unknown invocation", "errorType": "InvalidRequestID"}')
                return
            self.answer(202, b'{"status": "OK"}')
            init.finish(invocation, body, parts[1] == "error")

    return Handler


def serve(address: tuple[str, int], init: Init) -> None:
    server = ThreadingHTTPServer(address, handler_class(init))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()


def chmod_paths(spec: str) -> None:
    for entry in json.loads(spec or "[]"):
        try:
            os.chmod(entry["path"], int(entry["mode"], 8))
        except OSError as exc:
            print(f"init: could not chmod {entry['path']}: {exc}", file=sys.stderr)


def bootstrap_command(arguments: list[str]) -> list[str]:
    if arguments:
        return arguments
    for candidate in BOOTSTRAP_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return [candidate]
    raise SystemExit(f"init: no bootstrap in {', '.join(BOOTSTRAP_CANDIDATES)}")


def main() -> None:
    chmod_paths(os.environ.get("LOCALSTACK_CHMOD_PATHS", "[]"))
    init = Init(bootstrap_command(sys.argv[1:]))

    def stop(signum: int, frame: object) -> None:
        process = init.process
        if process is not None:
            process.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = RUNTIME_API.rsplit(":", 1)
    serve((host, int(port)), init)
    interop_port = int(os.environ.get("LOCALSTACK_INTEROP_PORT", "9563"))
    serve(
        ("0.0.0.0", interop_port),  # noqa: S104 - LocalStack calls in over the container's network
        init,
    )
    init.start_runtime()
    threading.Event().wait()


if __name__ == "__main__":
    main()
