"""The compose stack as the journey sees it: the fixed URLs docker-compose.yml publishes.

Only compose/run.py runs these tests, after `docker compose up --wait`; `make test` never collects
them (pytest's testpaths is tests/). Chromium and the page fixture are the browser tests' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from scripts.local_stack import DEFAULT_API_PORT, DEFAULT_AWS_PORT, HOST
from tests.browser.conftest import browser, page, pytest_runtest_makereport  # noqa: F401 - fixtures and hook
from tests.browser.harness import Shop


@dataclass(frozen=True)
class ComposeStack:
    api_url: str = f"http://{HOST}:{DEFAULT_API_PORT}"
    aws_url: str = f"http://{HOST}:{DEFAULT_AWS_PORT}"


@pytest.fixture(scope="session")
def shop() -> Iterator[Shop]:
    shop = Shop(ComposeStack())
    yield shop
    shop.http.close()
