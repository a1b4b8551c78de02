"""The stand-in for LocalStack's Lambda init (cloud/images/rapid_init.py), on loopback, without Docker.

`make test-cloud` runs it in every Lambda container; here it runs as a process between a fake
LocalStack (an HTTP server recording what the init posts back) and a fake runtime speaking the
Lambda Runtime API, so its side of both protocols is checked in `make test`: readiness, a response
with its logs, a function error, a runtime that exits, a timeout, and a runtime that never starts.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from scripts.local_stack import HOST, free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
INIT = REPO / "cloud" / "images" / "rapid_init.py"
RUNTIME_ID = "runtime-1"

# A runtime as awslambdaric behaves, reduced: the payload says what the "function" does.
FAKE_RUNTIME = r"""
import json, os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
if os.environ.get("FAIL_INIT"):
    body = json.dumps({"errorType": "Runtime.ImportModuleError", "errorMessage": "No module named 'app'"}).encode()
    urllib.request.urlopen(urllib.request.Request(api + "/init/error", data=body, method="POST"))
    sys.exit(1)
print("runtime started", flush=True)
while True:
    with urllib.request.urlopen(api + "/invocation/next") as answer:
        request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(answer.read())
    print("handling", event["do"], answer.headers["Lambda-Runtime-Invoked-Function-Arn"], flush=True)
    if event["do"] == "exit":
        sys.exit(3)
    if event["do"] == "sleep":
        time.sleep(60)
    if event["do"] == "raise":
        outcome, body = "error", {"errorType": "ValueError", "errorMessage": "bad", "stackTrace": []}
    else:
        outcome, body = "response", {"echo": event, "env": sorted(k for k in os.environ if k.startswith("LOCALSTACK_"))}
    url = f"{api}/invocation/{request_id}/{outcome}"
    urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")).read()
"""


class FakeLocalStack(ThreadingHTTPServer):
    def __init__(self) -> None:
        self.posts: queue.Queue[tuple[str, bytes]] = queue.Queue()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.posts.put((self.path, body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        super().__init__((HOST, 0), Handler)

    def next_post(self, timeout: float = 10) -> tuple[str, bytes]:
        return self.posts.get(timeout=timeout)


@dataclass
class Init:
    process: subprocess.Popen[bytes]
    localstack: FakeLocalStack
    interop: str

    def invoke(self, request_id: str, payload: dict) -> tuple[str, str, bytes]:
        """An invocation as LocalStack sends one; returns (logs, outcome, body) as the init posts them back."""
        request = {
            "invoke-id": request_id,
            "invoked-function-arn": "arn:fn",
            "payload": json.dumps(payload),
            "trace-id": "t",
        }
        assert httpx.post(f"{self.interop}/invoke", json=request, timeout=10).text == "OK"
        logs_path, logs = self.localstack.next_post()
        assert logs_path == f"/invocations/{request_id}/logs"
        path, body = self.localstack.next_post()
        prefix = f"/invocations/{request_id}/"
        assert path.startswith(prefix), path
        return json.loads(logs)["logs"], path.removeprefix(prefix), body


def start_init(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], FakeLocalStack, int]:
    localstack = FakeLocalStack()
    threading.Thread(target=localstack.serve_forever, daemon=True).start()
    runtime = tmp_path / "runtime.py"
    runtime.write_text(FAKE_RUNTIME)
    interop_port = free_port()
    environment = {
        "PATH": os.environ["PATH"],
        "LOCALSTACK_RUNTIME_ENDPOINT": f"http://{HOST}:{localstack.server_address[1]}",
        "LOCALSTACK_RUNTIME_ID": RUNTIME_ID,
        "LOCALSTACK_INTEROP_PORT": str(interop_port),
        "CARTWISE_INIT_RUNTIME_API": f"{HOST}:{free_port()}",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "2",
        "LOCALSTACK_CHMOD_PATHS": json.dumps([{"path": str(tmp_path), "mode": "0700"}]),
        **env,
    }
    # The init with this interpreter (in the runtime image it is the image's own Python).
    command = [sys.executable, "-I", str(INIT), sys.executable, str(runtime)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, localstack, interop_port


@pytest.fixture
def init(tmp_path: Path) -> Iterator[Init]:
    process, localstack, interop_port = start_init(tmp_path)
    try:
        wait_for_port(HOST, interop_port, timeout=10, process=process)
        assert localstack.next_post() == (f"/status/{RUNTIME_ID}/ready", b"")
        yield Init(process, localstack, f"http://{HOST}:{interop_port}")
    finally:
        process.kill()
        process.wait()
        localstack.shutdown()


def test_an_invocation_is_answered_with_its_logs_first(init: Init, tmp_path: Path) -> None:
    logs, outcome, body = init.invoke("req-1", {"do": "echo"})
    assert outcome == "response"
    assert json.loads(body) == {"echo": {"do": "echo"}, "env": []}  # LocalStack's settings kept from the runtime
    lines = logs.splitlines()
    # What the runtime printed while it started comes first, as in CloudWatch before a cold START.
    assert lines[:2] == ["runtime started", "START RequestId: req-1 Version: $LATEST"]
    assert "handling echo arn:fn" in lines
    assert lines[-2] == "END RequestId: req-1"
    assert lines[-1].startswith("REPORT RequestId: req-1\tDuration: ")
    assert "Memory Size: 512 MB" in lines[-1]
    assert oct(tmp_path.stat().st_mode & 0o777) == "0o700"  # LOCALSTACK_CHMOD_PATHS applied
    assert init.invoke("req-2", {"do": "echo"})[1] == "response"  # the same runtime, warm


def test_a_function_error_goes_to_the_error_callback(init: Init) -> None:
    _, outcome, body = init.invoke("req-1", {"do": "raise"})
    assert (outcome, json.loads(body)["errorType"]) == ("error", "ValueError")


def test_a_runtime_that_exits_fails_its_invocation_and_is_started_again(init: Init) -> None:
    _, outcome, body = init.invoke("req-1", {"do": "exit"})
    assert (outcome, json.loads(body)["errorType"]) == ("error", "Runtime.ExitError")
    assert "exit status 3" in json.loads(body)["errorMessage"]
    assert init.invoke("req-2", {"do": "echo"})[1] == "response"


def test_an_invocation_over_the_timeout_is_answered_as_timed_out_and_the_runtime_replaced(init: Init) -> None:
    _, outcome, body = init.invoke("req-1", {"do": "sleep"})
    assert outcome == "error"
    assert json.loads(body)["errorMessage"].endswith("req-1 Task timed out after 2.00 seconds")
    assert init.invoke("req-2", {"do": "echo"})[1] == "response"


def test_a_runtime_that_fails_to_start_reports_the_environment_as_failed(tmp_path: Path) -> None:
    process, localstack, _ = start_init(tmp_path, FAIL_INIT="1")
    try:
        path, body = localstack.next_post()
        assert path == f"/status/{RUNTIME_ID}/error"
        assert json.loads(body)["errorType"] == "Runtime.ImportModuleError"
        assert process.wait(timeout=10) == 1  # the environment is discarded
    finally:
        process.kill()
        localstack.shutdown()
