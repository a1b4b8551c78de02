"""localstripe, the fake Stripe of `make run` and the tests (scripts/localstripe_server.py): where it listens,
where its store lives, and the webhooks provisioning registers for stripe-mode tenants."""

from __future__ import annotations

import json
import os
import pickle
import queue
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import stripe

from scripts.local_stack import HOST, ChildProcess, LocalStack, banner, free_port, start_localstripe
from scripts.localstripe_server import register_webhook, stripe_js_url, use_store_file

PAYS = "4242424242424242"
SECRET_KEY = "sk_test_cartwise_tests"
WEBHOOK_SECRET = "whsec_cartwise_tests"


def stripe_client(base_url: str, secret_key: str = SECRET_KEY) -> stripe.StripeClient:
    return stripe.StripeClient(secret_key, base_addresses={"api": base_url})


def paid_intent(base_url: str, card: str = PAYS, secret_key: str = SECRET_KEY) -> stripe.PaymentIntent:
    """A PaymentIntent confirmed with `card`, the way the storefront's Stripe.js would."""
    client = stripe_client(base_url, secret_key)
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": card, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    return client.v1.payment_intents.create(
        params={"amount": 19330, "currency": "eur", "payment_method": method.id, "confirm": True}
    )


def listening_addresses(port: int) -> set[str]:
    """The local addresses listening on `port`, from /proc/net/tcp and tcp6 (in hex, as Linux writes them)."""
    addresses = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                addresses.add(address)
    return addresses


def test_it_listens_on_ipv4_loopback_only(tmp_path: Path, started: list[ChildProcess]) -> None:
    port = free_port()
    started.append(start_localstripe(port, log_dir=tmp_path))

    # localstripe's own start() would listen on `::`, every interface of both families.
    assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1
    assert paid_intent(f"http://{HOST}:{port}").status == "succeeded"


def test_each_start_is_from_scratch_with_the_store_in_the_run_directory(
    tmp_path: Path, started: list[ChildProcess]
) -> None:
    port = free_port()
    url = f"http://{HOST}:{port}"
    started.append(start_localstripe(port, log_dir=tmp_path))
    customer = stripe_client(url).v1.customers.create(params={"email": "ada@example.com"})
    store = pickle.loads((tmp_path / "localstripe.pickle").read_bytes())  # noqa: S301 - localstripe's, just written
    assert f"customer:{customer.id}" in store
    started.pop().stop()

    started.append(start_localstripe(port, log_dir=tmp_path))
    with pytest.raises(stripe.InvalidRequestError) as error:
        stripe_client(url).v1.customers.retrieve(customer.id)
    assert error.value.http_status == 404


def test_the_store_never_touches_the_machine_wide_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from localstripe import resources

    # use_store_file patches the class; monkeypatch puts localstripe's own methods back afterwards.
    monkeypatch.setattr(resources.Store, "dump_to_disk", resources.Store.dump_to_disk)
    monkeypatch.setattr(resources.Store, "try_load_from_disk", resources.Store.try_load_from_disk)
    opened: list[str] = []
    real_open = open

    def recording_open(file, *args, **kwargs):  # localstripe's own methods call the builtin open()
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", recording_open)
    store_file = tmp_path / "run" / "localstripe.pickle"
    store_file.parent.mkdir()
    store_file.write_bytes(pickle.dumps({"customer:cus_left_over": "stale"}))

    use_store_file(store_file)
    store = resources.Store()
    store.try_load_from_disk()
    store["customer:cus_new"] = "new"
    del store["customer:cus_new"]

    assert "/tmp/localstripe.pickle" not in opened  # where localstripe itself keeps it
    assert pickle.loads(store_file.read_bytes()) == {}  # noqa: S301 - the left-over store was neither loaded nor kept


def test_a_busy_port_is_refused_by_name(tmp_path: Path, started: list[ChildProcess]) -> None:
    port = free_port()
    started.append(start_localstripe(port, log_dir=tmp_path / "first"))
    with pytest.raises(RuntimeError, match=f"cannot start localstripe: port {port} is already in use"):
        start_localstripe(port, log_dir=tmp_path / "second")


def test_it_serves_the_fake_stripe_js_that_the_storefront_config_names(localstripe_url: str) -> None:
    with urllib.request.urlopen(stripe_js_url(localstripe_url), timeout=5) as response:
        assert response.headers["Content-Type"].startswith("application/javascript")
        assert b"LOCALSTRIPE_BASE_API" in response.read()


def test_the_api_and_workers_get_stripe_api_base_next_to_the_callers_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORDER_HOLD_SECONDS", "60")
    monkeypatch.setenv("STRIPE_API_BASE", "https://api.stripe.com")  # the stack's own localstripe wins
    stack = LocalStack(stripe_port=18420)

    assert stack.env["STRIPE_API_BASE"] == stack.stripe_url == "http://127.0.0.1:18420"
    assert stack.env["ORDER_HOLD_SECONDS"] == "60"


def test_make_run_says_how_to_pay_next_to_the_admin_keys() -> None:
    stack = LocalStack(stripe_port=18420)
    stack.provision_output = "admin key for acme (X-Api-Key, local demo only): cw_acme_demo\n"
    text = banner(stack)

    assert "Stripe:      http://127.0.0.1:18420 (localstripe" in text
    assert text.index("cw_acme_demo") < text.index("4242424242424242  pays")
    assert "4000000000000341  is declined" in text
    assert "4000002760003184  asks for 3-D Secure" in text


def test_the_local_stack_points_the_api_and_storefront_at_localstripe(local_stack: LocalStack, stack_aws) -> None:
    from chalicelib import clients
    from chalicelib.config import get_settings

    assert os.environ["STRIPE_API_BASE"] == local_stack.stripe_url
    assert "stripe webhooks registered with" in local_stack.provision_output
    config = clients.s3().get_object(Bucket=get_settings().storefront_bucket, Key="config.js")["Body"].read()
    assert f'export const STRIPE_JS_URL = "{local_stack.stripe_url}/js.stripe.com/v3/";' in config.decode()


class Recorder(ThreadingHTTPServer):
    """An HTTP server standing in for the API's webhook route: it keeps every POST it gets."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[str, str, bytes]] = queue.Queue()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.received.put((self.path, self.headers["Stripe-Signature"], body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__((HOST, 0), Handler)
        self.url = f"http://{HOST}:{self.server_address[1]}"

    def event_about(self, intent_id: str, timeout: float = 15.0) -> tuple[str, str, bytes]:
        """The delivery about one PaymentIntent: localstripe sends every event to every webhook."""
        while True:
            path, signature, body = self.received.get(timeout=timeout)
            if json.loads(body)["data"]["object"].get("id") == intent_id:
                return path, signature, body


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_a_registered_webhook_gets_signed_events(localstripe_url: str, recorder: Recorder) -> None:
    register_webhook(localstripe_url, "test-direct", f"{recorder.url}/hook", WEBHOOK_SECRET)
    intent = paid_intent(localstripe_url)

    path, signature, body = recorder.event_about(intent.id)
    event = stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
    assert (path, event.type) == ("/hook", "payment_intent.succeeded")


def test_provisioning_registers_each_stripe_mode_tenants_webhook(
    aws: None, acme_on_delivery: None, localstripe_url: str, recorder: Recorder
) -> None:
    from chalicelib import tenants
    from scripts.provision import register_stripe_webhooks
    from scripts.tenants import configure_payment

    tenant = f"shop-{os.urandom(4).hex()}"
    tenants.save_tenant(tenant, "Shop", "EUR", tenants.Decimal("0.20"), {})
    configure_payment(tenant, "stripe", "pk_test_shop", SECRET_KEY, WEBHOOK_SECRET)

    # Both demo tenants are on delivery here, so only the new one is registered. (acme takes cards in
    # the demo data, but a webhook is registered under its tenant's id: registering acme's here would
    # point the session's localstripe, which the session's stack shares, at this recorder.)
    assert register_stripe_webhooks(localstripe_url, recorder.url) == [tenant]
    intent = paid_intent(localstripe_url)
    path, signature, body = recorder.event_about(intent.id)
    assert path == f"/tenants/{tenant}/payments/stripe/webhook"
    assert stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET).type == "payment_intent.succeeded"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, signature, "whsec_another_tenants")
