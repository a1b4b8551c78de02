"""The running API (`chalice local` on the local stack) held to docs/openapi.yaml by schemathesis."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx

from support.delivery import check_out
from tests.api.test_openapi import ACME_ADMIN_KEY, SPEC


def test_running_api_conforms_to_the_spec(local_stack, tmp_path):
    """Generated requests for every operation: documented status codes and bodies, and never a 5xx."""
    base = f"{local_stack.api_url}/tenants/acme"
    with httpx.Client(timeout=30) as http:
        item = {"items": [{"product_id": "fuel-canister", "quantity": 1}]}
        open_cart = http.post(f"{base}/carts", json=item).json()["cart_id"]
        ordered_cart = http.post(f"{base}/carts", json=item).json()["cart_id"]
        order_id = check_out(http, "acme", ordered_cart, base=local_stack.api_url).json()["order"]["order_id"]
    config = tmp_path / "schemathesis.toml"
    # Fixed ids let generated requests reach real carts and orders, not only 404s.
    # TRACE is left out of the unexpected methods: chalice local's http.server answers it
    # with its own 501 (API Gateway answers 403), which says nothing about the app.
    config.write_text(
        f"""
[parameters]
tenant_id = "acme"
cart_id = "{open_cart}"
order_id = "{order_id}"

[phases.coverage]
unexpected-methods = ["GET", "PUT", "POST", "DELETE", "PATCH"]
"""
    )
    # positive_data_acceptance is excluded: this API is stateful, so a schema-valid
    # request is rightly refused by state (a closed cart, short stock, a reused key, a
    # cursor the API never issued), which that check cannot know.
    result = subprocess.run(
        [
            Path(sys.executable).with_name("st"),
            "--config-file",
            config,
            "run",
            SPEC,
            "--url",
            local_stack.api_url,
            "--header",
            f"X-Api-Key: {ACME_ADMIN_KEY}",
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            "--max-examples",
            "25",
            # One worker: CPython 3.11.7's ast.parse is not thread-safe ("AST constructor
            # recursion depth mismatch" inside hypothesis with two workers).
            "--workers",
            "1",
            "--seed",
            "20261121",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    # Generated PUTs of acme's up-sell settings wrote its switch and holdout share: follow the global
    # flag and hold nothing out again, as the session's other tests expect of acme.
    with httpx.Client(timeout=30) as http:
        restored = http.put(
            f"{base}/upsell/settings",
            json={"enabled": None, "holdout_percent": 0},
            headers={"X-Api-Key": ACME_ADMIN_KEY},
        )
        assert restored.status_code == 200, restored.text
    summary = result.stdout[-6000:]
    assert result.returncode == 0, summary
    counts = re.search(r"^\s*(\d+) generated, (\d+) passed", summary, re.MULTILINE)
    assert counts, summary
    generated, passed = int(counts[1]), int(counts[2])
    assert generated >= 300, summary
    assert passed == generated, summary
