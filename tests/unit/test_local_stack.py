"""scripts/local_stack.py leaves no worker running when its start is cut short (a dummy worker, no AWS)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from scripts import local_stack

# Up and running, but never the ready line `_start_worker` waits for.
NEVER_READY = """
import time
print("warming up", flush=True)
time.sleep(600)
"""


@pytest.fixture
def children(monkeypatch: pytest.MonkeyPatch) -> list[local_stack.ChildProcess]:
    """Every ChildProcess local_stack starts during the test; killed after it, so none outlives a failure."""
    started: list[local_stack.ChildProcess] = []

    class Recorded(local_stack.ChildProcess):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(local_stack, "ChildProcess", Recorded)
    yield started
    for child in started:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


@pytest.fixture
def worker_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a worker `python -m never_ready` finds in tmp_path."""
    (tmp_path / "never_ready.py").write_text(NEVER_READY)
    return {**os.environ, "PYTHONPATH": str(tmp_path)}


def test_a_ctrl_c_while_waiting_for_a_worker_stops_it(children, worker_env, tmp_path, monkeypatch):
    def sleep(seconds: float) -> None:
        time.sleep(seconds)
        if "warming up" in children[0].output_tail():  # the worker runs: Ctrl-C now
            raise KeyboardInterrupt

    monkeypatch.setattr(local_stack, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))

    with pytest.raises(KeyboardInterrupt):
        local_stack._start_worker("never-ready", "never_ready", "Ready", worker_env, tmp_path, timeout=30)

    [worker] = children
    assert worker.poll() == -signal.SIGTERM  # stopped by _start_worker, not left for the stack that never saw it


def test_a_worker_that_never_gets_ready_is_stopped(children, worker_env, tmp_path):
    with pytest.raises(RuntimeError, match="never-ready did not start"):
        local_stack._start_worker("never-ready", "never_ready", "Ready", worker_env, tmp_path, timeout=1)

    [worker] = children
    assert worker.poll() == -signal.SIGTERM


def test_make_run_prints_the_mailbox_and_points_the_notifier_at_maildev():
    from scripts import prerequisites
    from scripts.local_stack import LocalStack, banner

    stack = LocalStack()
    assert stack.env["MAIL_SMTP_URL"] == "smtp://127.0.0.1:1025"
    assert stack.env["STOREFRONT_URL"] == "http://127.0.0.1:4566/cartwise-dev-storefront"
    text = banner(stack)
    assert "  Mailbox:     http://127.0.0.1:1080 (MailDev: the shoppers' e-mails; its REST API at /api/email)" in text
    assert "e-mails over smtp://127.0.0.1:1025" in text
    _, ports = prerequisites.make_run_ports()
    assert {1025, 1080} <= set(ports)
