"""Browser tests: Debian's Chromium, driven by Playwright, against the real local stack.

The session's one stack (DynamoDB Local or locked moto, a moto server for S3 and SSM, `chalice local`,
on free ports; tests/conftest.py) serves them, with the storefront published to its emulated S3 bucket; every
test gets a fresh browser context (so an empty localStorage). Tests buy disjoint products, so they
do not depend on each other's stock. Screenshots go to test-artifacts/ (gitignored), also one of
every failing test's page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from scripts.chromium import CHROMIUM_ARGS, ensure_chromium
from scripts.local_stack import LocalStack
from tests.browser.harness import TIMEOUT_MS, Shop

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def stack(local_stack: LocalStack) -> LocalStack:
    """The session's one local stack (tests/conftest.py), which the API and docs tests also use."""
    return local_stack


@pytest.fixture(scope="session")
def shop(stack: LocalStack) -> Iterator[Shop]:
    shop = Shop(stack)
    yield shop
    shop.http.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Installs Debian's chromium with apt when it is missing; never `playwright install`.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=ensure_chromium(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


CALL_FAILED = pytest.StashKey[bool]()


def new_page(browser: Browser, request: pytest.FixtureRequest, **context_options: Any) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB", **context_options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    if request.node.stash.get(CALL_FAILED, False):
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"failed-{request.node.name}.png", full_page=True)
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    yield from new_page(browser, request, viewport={"width": 1280, "height": 900})


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    yield from new_page(
        browser, request, viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True, has_touch=True
    )


@pytest.fixture
def upsell_flag(shop: Shop) -> Iterator[Any]:
    """Set the global up-sell flag for one test; it is switched back on (provisioning's default) after."""
    yield shop.set_upsell_flag
    shop.set_upsell_flag(True)
