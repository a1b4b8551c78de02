"""The LLM call's hard deadline, its request options, and the lazy `openai` import."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from chalicelib.config import Settings
from chalicelib.upsell import llm

REPO = Path(__file__).resolve().parents[2]


def settings(**overrides):
    values = dict(
        stage="dev",
        table_prefix="cartwise",
        tenant_cache_seconds=60,
        cart_ttl_days=7,
        upsell_flag_max_age_seconds=0,
        llm_base_url="http://127.0.0.1:9/v1",
        llm_model="some-model",
        llm_timeout_seconds=3,
        llm_api_key_parameter=None,
        storefront_bucket="b",
    )
    return Settings(**{**values, **overrides})


def test_deadline_stops_waiting_for_a_call_that_does_not_return():
    release = threading.Event()
    started = time.monotonic()

    with pytest.raises(llm.DeadlineExceeded):
        llm.run_with_deadline(lambda: release.wait(10), 0.2)

    assert time.monotonic() - started < 1.0
    release.set()


def test_deadline_passes_results_and_errors_through():
    assert llm.run_with_deadline(lambda: 42, 1) == 42
    with pytest.raises(ZeroDivisionError):
        llm.run_with_deadline(lambda: 1 / 0, 1)


def test_request_asks_for_a_json_object_unless_switched_off():
    assert llm.request_options(settings()) == {
        "model": "some-model",
        "temperature": 0,
        "max_tokens": 400,
        "response_format": {"type": "json_object"},
    }
    assert "response_format" not in llm.request_options(settings(llm_json_mode=False))


def test_llm_is_used_only_with_a_base_url_and_the_key_falls_back_to_a_placeholder():
    assert llm.is_configured(settings())
    assert not llm.is_configured(settings(llm_base_url=None))
    assert llm.api_key(settings(openai_api_key="sk-env")) == "sk-env"
    assert llm.api_key(settings()) == llm.NO_API_KEY
    assert "sk-env" not in repr(settings(openai_api_key="sk-env"))


def test_openai_is_not_imported_until_an_llm_call_is_made():
    code = (
        "import sys, app, chalicelib.upsell, chalicelib.clients, chalicelib.checkout\n"
        "assert 'openai' not in sys.modules, 'openai imported at start-up'\n"
        "from chalicelib import clients\n"
        "clients.llm('http://127.0.0.1:9/v1', 'k', 1.0)\n"
        "assert 'openai' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
