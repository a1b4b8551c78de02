"""Cold start: what `import app` costs in a fresh interpreter, and what the first requests cost after it.

Every figure comes from fresh interpreters, interleaved (base, app, base, app, ...) so that a
busy machine slows both sides alike; the median is reported. CPU time (process_time) is what an
import costs; wall time is what a caller waits, including waiting for a CPU on a shared machine.
Bytecode is compiled once into a private cache (PYTHONPYCACHEPREFIX) before measuring, as an
installed environment has it, whatever PYTHONDONTWRITEBYTECODE says.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

BASE = "import chalice, boto3"
APP = "import app"
TIMED = (
    "import time; c = time.process_time(); w = time.perf_counter(); {statement}; "
    "print(time.process_time() - c, time.perf_counter() - w)"
)
# Loaded after `import app`: must be empty for openai and the heavy Powertools utilities.
WATCHED = ("openai", "aws_lambda_powertools.utilities.parameters", "aws_lambda_powertools.utilities.idempotency")
MODULES = (
    "import sys, json, app; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
    "('openai', 'pydantic', 'aws_lambda_powertools', 'pynamodb'))))"
)


def _env(cache: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPYCACHEPREFIX=cache, **(extra or {}))
    return env


def _timed(statement: str, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    result = subprocess.run(
        [sys.executable, "-c", TIMED.format(statement=statement)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    cpu, wall = result.stdout.split()
    return float(cpu), float(wall)


def import_ratio(runs: int = 21, cwd: Path = REPO) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        env = _env(cache)
        _timed(APP, env, cwd)  # compile everything once
        _timed(BASE, env, cwd)
        base, app = [], []
        for _ in range(runs):
            base.append(_timed(BASE, env, cwd))
            app.append(_timed(APP, env, cwd))
        loaded = json.loads(
            subprocess.run(
                [sys.executable, "-c", MODULES], cwd=cwd, env=env, capture_output=True, text=True, check=True
            ).stdout
        )
    base_cpu, app_cpu = statistics.median(c for c, _ in base), statistics.median(c for c, _ in app)
    base_wall, app_wall = statistics.median(w for _, w in base), statistics.median(w for _, w in app)
    return {
        "runs": runs,
        "base_cpu_s": round(base_cpu, 4),
        "app_cpu_s": round(app_cpu, 4),
        "ratio_cpu": round(app_cpu / base_cpu, 2),
        "base_wall_s": round(base_wall, 4),
        "app_wall_s": round(app_wall, 4),
        "ratio_wall": round(app_wall / base_wall, 2),
        "watched_modules_loaded": [m for m in loaded if m.startswith(WATCHED)],
        "pydantic_loaded": any(m.startswith("pydantic") for m in loaded),
        "powertools_utilities_loaded": sorted(
            {".".join(m.split(".")[:3]) for m in loaded if m.startswith("aws_lambda_powertools.utilities.")}
        ),
    }


FIRST_REQUESTS = r"""
import json, os, time
import botocore.session

sessions = [0]
original = botocore.session.Session.__init__
def counting(self, *args, **kwargs):
    sessions[0] += 1
    original(self, *args, **kwargs)
botocore.session.Session.__init__ = counting

started = time.perf_counter()
import app
figures = {"import_s": time.perf_counter() - started}
from chalice.test import Client
from support.delivery import checkout_key, delivery

with Client(app.app) as client:
    def call(name, method, path, body=None, keyed=False):
        headers = {"Content-Type": "application/json", **(checkout_key() if keyed else {})}
        started = time.perf_counter()
        payload = json.dumps(body) if body is not None else None
        response = getattr(client.http, method)(path, headers=headers, body=payload)
        figures[name] = time.perf_counter() - started
        assert response.status_code in (200, 201), (path, response.status_code, response.body)
        return json.loads(response.body)

    call("first_product_list_s", "get", "/tenants/acme/products")
    items = {"items": [{"product_id": os.environ["BENCH_PRODUCT"], "quantity": 1}]}
    shopper = delivery("acme")  # a checkout needs a delivery (and a key)
    cart = call("first_cart_s", "post", "/tenants/acme/carts", items)
    call("first_delivery_s", "put", f"/tenants/acme/carts/{cart['cart_id']}/delivery", shopper)
    call("first_checkout_s", "post", f"/tenants/acme/carts/{cart['cart_id']}/checkout", keyed=True)
    cart = call("warm_cart_s", "post", "/tenants/acme/carts", items)
    call("warm_delivery_s", "put", f"/tenants/acme/carts/{cart['cart_id']}/delivery", shopper)
    call("warm_checkout_s", "post", f"/tenants/acme/carts/{cart['cart_id']}/checkout", keyed=True)
figures["botocore_sessions"] = sessions[0]
print(json.dumps(figures))
"""


def first_requests(stack_env: dict[str, str], product_id: str, runs: int = 3, cwd: Path = REPO) -> dict[str, Any]:
    """A fresh interpreter imports the app and serves its first requests against the local stack
    (DynamoDB Local, SSM on moto), in-process like a Lambda invocation; medians of `runs`.
    Two carts of one `product_id` are bought per run."""
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        env = {k: v for k, v in _env(cache).items() if not k.startswith("AWS_")}
        # The stack's CLIENT_LIMITS too (off, as for every bench shopper): its acme card orders would
        # otherwise hold stock per client, and the fourth of a run's checkouts be 429.
        env.update({k: v for k, v in stack_env.items() if k.startswith(("AWS_", "CARTWISE_", "CLIENT_LIMITS"))})
        env.update(PYTHONPATH=str(cwd), BENCH_PRODUCT=product_id)
        for _ in range(runs + 1):
            result = subprocess.run(
                [sys.executable, "-c", FIRST_REQUESTS], cwd=cwd, env=env, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise RuntimeError(f"first-request measurement failed:\n{result.stderr[-3000:]}")
            results.append(json.loads(result.stdout.strip().splitlines()[-1]))
    results = results[1:]  # the first run compiled the bytecode
    return {key: round(statistics.median(r[key] for r in results), 4) for key in results[0]}


def packaged_import(zip_path: Path, runs: int = 21) -> dict[str, Any]:
    """`import app` from a function zip as Lambda runs it: code unpacked read-only, so Python can
    write no bytecode and uses what the zip ships (scripts/bytecode.py). Interleaved with `import
    chalice, boto3` from the venv (bytecode compiled once, as an installed environment has it)."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-task-") as task,
        tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache,
    ):
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(task)
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONPYCACHEPREFIX"},
            "PYTHONPATH": task,
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        base_env = _env(cache)
        _timed(BASE, base_env, REPO)  # compile the base once
        base, shipped = [], []
        for _ in range(runs):
            base.append(_timed(BASE, base_env, REPO))
            shipped.append(_timed(APP, env, Path(task)))
        pyc_files = sum(1 for p in Path(task).rglob("*.pyc"))
    base_cpu, zip_cpu = statistics.median(c for c, _ in base), statistics.median(c for c, _ in shipped)
    return {
        "runs": runs,
        "pyc_files_in_zip": pyc_files,
        "as_shipped_cpu_s": round(zip_cpu, 4),
        "as_shipped_wall_s": round(statistics.median(w for _, w in shipped), 4),
        "base_cpu_s": round(base_cpu, 4),
        "zip_to_base_cpu": round(zip_cpu / base_cpu, 2),
    }
