"""Shared fixtures (a moto-backed AWS with the demo tenants seeded, a Chalice test client, the one
local stack of the session) and the test tiers.

A test's folder is its tier (tests/unit, api, stack, packaging, browser, docs) and its marker;
a test that uses a fixture of a heavier tier than its folder allows stops the collection, so
`make test-fast` (tests/unit and tests/api) never needs a server, a browser or a package.
"""

from __future__ import annotations

from collections.abc import Iterator
from json import dumps, loads
from pathlib import Path

import pytest
from chalice.test import Client
from moto import mock_aws

from chalicelib import clients, config, health, tenants

AWS_ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "CARTWISE_STAGE": "dev",
    # Every test shopper is 127.0.0.1: the per-client limits are off unless a test turns them on.
    "CLIENT_LIMITS": "off",
}


# acme: tent-2p 129.00 + 2 x headlamp 24.99 with SUMMER10, computed by hand with the contract's rule:
# subtotal 178.98; discount 17.898 -> 17.90; net 161.08; VAT 32.216 -> 32.22; total 193.30.
TENT_AND_TWO_HEADLAMPS_SUMMER10 = {
    "subtotal": "178.98",
    "discount": "17.90",
    "net": "161.08",
    "shipping": "0.00",
    "vat_rate": "0.20",
    "vat": "32.22",
    "total": "193.30",
}

# The folder is the tier. Each folder may use the fixtures of the tiers listed for it; a test that
# needs a heavier fixture (directly or through other fixtures) belongs in another folder, and
# collection stops saying so. `make test-fast` runs tests/unit and tests/api; `make test` runs all.
TIER_OF_FIXTURE = {
    "aws_env": "api",  # in-process moto (mock_aws), the Chalice test client
    "local_stack": "stack",  # DynamoDB Local, a moto server, localstripe and `chalice local`
    "localstripe_url": "stack",  # localstripe alone
    "started": "stack",  # servers a test starts itself
    "packaged": "packaging",  # `chalice package` of the app (scripts/deploy/packaging.py)
}
ALLOWED = {
    "unit": set(),
    "api": {"api"},
    "stack": {"api", "stack"},
    "packaging": {"api", "packaging"},
    "browser": {"api", "stack"},
    "docs": {"api", "stack", "packaging"},
}
TESTS = Path(__file__).resolve().parent


def tier(item: pytest.Item) -> str:
    folder = Path(item.path).relative_to(TESTS).parts[0]
    if folder not in ALLOWED:
        raise pytest.UsageError(f"{item.nodeid}: a test lives in its tier's folder, tests/{{{','.join(ALLOWED)}}}")
    needs = {TIER_OF_FIXTURE[name] for name in getattr(item, "fixturenames", ()) if name in TIER_OF_FIXTURE}
    if needs - ALLOWED[folder]:
        heavier = ", ".join(sorted(needs - ALLOWED[folder]))
        raise pytest.UsageError(f"{item.nodeid} uses {heavier} fixtures: move it out of tests/{folder}")
    return folder


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(tier(item))


_current_backend: list[str] = [""]


def reset_process_state(backend: str | None = None) -> None:
    """Forget cached settings and tenants; rebuild clients only when the backend changes.

    Clients created once keep working across moto tests (moto hooks every botocore client),
    and building them costs ~0.15 s each, so they are only dropped when tests switch between
    moto and the local stack, whose endpoints are fixed when a client is built.
    """
    if backend is None or backend != _current_backend[0]:
        clients.reset()
        _current_backend[0] = backend or ""
    config.reset()
    tenants.clear_cache()
    health.clear_cache()
    if clients.parameters.cache_info().currsize:  # values an earlier test read (the Stripe secrets)
        clients.parameters().clear_cache()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    # mock_aws ignores endpoint overrides; a leftover one would send calls elsewhere.
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_SSM",
        "AWS_ENDPOINT_URL_S3",
        "AWS_PROFILE",
    ):
        monkeypatch.delenv(name, raising=False)
    reset_process_state("api")
    yield
    reset_process_state("api")


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    """Moto with tables, flags and the two demo tenants."""
    from scripts.provision import provision

    with mock_aws():
        provision(seed=True, upsell_enabled="false")
        yield


class Api:
    """Thin JSON wrapper over Chalice's test client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def call(self, method: str, path: str, body=None, headers=None, raw: bytes | str | None = None, json=None):
        """`json` is `body` under the name requests and httpx use (support/delivery.py calls either)."""
        body = json if json is not None else body
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        payload = raw if raw is not None else (dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(path, headers=all_headers, body=payload)
        response.data = loads(response.body) if response.body else None
        return response

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.call("POST", path, body=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.call("PUT", path, body=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def acme_on_delivery(aws: None) -> None:
    """acme paid on delivery for this test (the demo data has it take cards): its checkouts are
    `confirmed` at once, their units sold, and counted by the orders stream at INSERT.

    Moto only: it is fresh for every test. On the session's stack (shared, and `chalice local` caches
    tenants), use globex or a tenant the test makes itself instead."""
    tenants.set_payment("acme", "on_delivery")


@pytest.fixture
def api(aws: None) -> Iterator[Api]:
    from app import app

    with Client(app) as client:
        yield Api(client)


def product_record(tenant_id: str, product_id: str):
    from chalicelib.models import ProductModel

    return ProductModel.get(tenant_id, product_id, consistent_read=True)


def set_stock(tenant_id: str, product_id: str, stock: int) -> None:
    from chalicelib.models import ProductModel

    ProductModel(tenant_id, product_id).update(actions=[ProductModel.stock.set(stock)])


def orders_of(tenant_id: str) -> list:
    from chalicelib.models import OrderModel

    return list(OrderModel.query(tenant_id, consistent_read=True))


@pytest.fixture
def started() -> Iterator[list]:
    """Servers a test starts itself (`scripts.local_stack.ChildProcess`): stopped after it, whatever happened."""
    processes: list = []
    yield processes
    for process in processes:
        process.stop()
    assert all(process.poll() is not None for process in processes)


@pytest.fixture(scope="session")
def localstripe_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of localstripe (a fake Stripe API and Stripe.js) on a free port, once per session.

    The session's local stack uses this one too. Its store is the session's: tests make their own
    customers and payments rather than expecting an empty one.
    """
    from scripts.local_stack import HOST, free_port, start_localstripe

    port = free_port()
    process = start_localstripe(port, log_dir=tmp_path_factory.mktemp("localstripe"))
    try:
        yield f"http://{HOST}:{port}"
    finally:
        process.stop()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory, localstripe_url: str):
    """DynamoDB Local + moto server + chalice local on free ports, provisioned and seeded, once per session,
    with STRIPE_API_BASE pointing the API (and any workers) at the session's localstripe."""
    from urllib.parse import urlparse

    from scripts.local_stack import LocalStack, free_port

    stack = LocalStack(
        dynamodb_port=free_port(),
        aws_port=free_port(),
        api_port=free_port(),
        stripe_port=urlparse(localstripe_url).port,
        smtp_port=free_port(),  # MailDev's, when a test starts it (tests/mail.py's MailPipe)
        mailbox_port=free_port(),
        localstripe=False,  # the session's own, started above
        client_limits=False,  # every test shopper is 127.0.0.1 (tests/stack/test_abuse.py turns them on)
        log_dir=tmp_path_factory.mktemp("local-stack-logs"),
    )
    with stack:
        yield stack


@pytest.fixture
def stack_aws(local_stack, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point this process's models, clients and Stripe calls at the local stack (for setup and assertions)."""
    for name in [n for n in list(__import__("os").environ) if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in local_stack.env.items():
        if name.startswith(("AWS_", "CARTWISE_")) or name in ("STRIPE_API_BASE", "CLIENT_LIMITS"):
            monkeypatch.setenv(name, value)
    reset_process_state("local-stack")
    yield
    reset_process_state("local-stack")
