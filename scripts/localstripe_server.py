"""Run localstripe (a fake, stateful Stripe API with a fake Stripe.js) on loopback, from an empty store.

    python -m scripts.localstripe_server --port 8420 --store .local/logs/localstripe.pickle

`make run` and the tests start it through scripts/local_stack.py, docker-compose.yml in a container
(`--host 0.0.0.0`: the container's own network, published on the host's loopback only).
localstripe's own entry point is not used: it binds `::` (every interface), and it pickles its store
to /tmp/localstripe.pickle, shared by every run on the machine and loaded again at the next start.
Here it listens on 127.0.0.1 unless told otherwise, starts empty every time and keeps its store in
the file given (the run's own directory).

One behaviour is made Stripe's (`save_cards_set_up_for_a_customer`): a SetupIntent for a customer
that succeeds saves its card to that customer, which the API checks before it charges a card.

Webhooks are configured at run time, not here: `POST /_config/webhooks/{id}` with form fields `url`
and `secret` (see `register_webhook`). localstripe sends every event to every registered webhook.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import socket
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
# The path where localstripe serves its fake Stripe.js; Stripe's real one is https://js.stripe.com/v3/.
STRIPE_JS_PATH = "/js.stripe.com/v3/"


def use_store_file(path: Path) -> None:
    """Make localstripe keep its store in `path` (empty at first) instead of /tmp/localstripe.pickle."""
    from localstripe import resources

    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)

    def dump_to_disk(store: Any) -> None:
        with path.open("wb") as file:
            pickle.dump(store, file, protocol=pickle.HIGHEST_PROTOCOL)

    def try_load_from_disk(store: Any) -> None:
        """Never load: every run starts from scratch."""

    resources.Store.dump_to_disk = dump_to_disk
    resources.Store.try_load_from_disk = try_load_from_disk


SETUP_CONFIRM = ("POST", "/v1/setup_intents/{id}/confirm")


def save_cards_set_up_for_a_customer() -> None:
    """Stripe attaches the PaymentMethod of a SetupIntent that succeeded to the SetupIntent's customer
    (that is what setting a card up for a customer means); localstripe leaves it attached to none.
    Its confirm route is wrapped to do what Stripe does. Before the server module is imported: it
    builds its routes from `extra_apis` then."""
    from localstripe import resources

    [index] = [i for i, (method, url, _) in enumerate(resources.extra_apis) if (method, url) == SETUP_CONFIRM]
    confirm = resources.extra_apis[index][2]

    def confirm_and_save(**data: Any) -> Any:
        setup = confirm(**data)
        if setup.status == "succeeded" and setup.customer and setup.payment_method:
            card = resources.PaymentMethod._api_retrieve(setup.payment_method)
            if card.customer is None:
                card.customer = setup.customer
        return setup

    resources.extra_apis[index] = (*SETUP_CONFIRM, confirm_and_save)


def serve(port: int, store: Path, host: str = HOST) -> None:
    """Serve localstripe's aiohttp app on host:port (IPv4) until SIGINT or SIGTERM."""
    from aiohttp import web

    use_store_file(store)
    save_cards_set_up_for_a_customer()
    from localstripe import server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # localstripe logs each request and each webhook delivery on aiohttp's access logger.
    access_log = logging.getLogger("aiohttp.access")
    access_log.setLevel(logging.INFO)
    access_log.addHandler(logging.StreamHandler())
    web.run_app(server.app, sock=sock, access_log=access_log)


def stripe_js_url(base_url: str) -> str:
    """Where a localstripe at `base_url` serves its fake Stripe.js (it talks back to that localstripe)."""
    return f"{base_url.rstrip('/')}{STRIPE_JS_PATH}"


def register_webhook(base_url: str, webhook_id: str, url: str, secret: str, timeout: float = 10.0) -> None:
    """Have localstripe send its events to `url`, signed with `secret`; the same id again replaces it."""
    body = urllib.parse.urlencode({"url": url, "secret": secret}).encode()
    request = urllib.request.Request(f"{base_url.rstrip('/')}/_config/webhooks/{urllib.parse.quote(webhook_id)}", body)
    with urllib.request.urlopen(request, timeout=timeout):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=HOST, help="the IPv4 address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True, help="the file localstripe pickles its store to")
    args = parser.parse_args(argv)
    serve(args.port, args.store, args.host)
    return 0


if __name__ == "__main__":
    sys.exit(main())
