"""A bounded asyncio + httpx load driver for loopback: shoppers that browse, fill a cart and check out.

Each shopper has its own keep-alive connection, opened one after another before the clock starts,
so the timed window measures requests, not TCP handshakes (see burst_connect for those). Every
request is recorded with its route, status and latency; every order placed with its lines.
"""

from __future__ import annotations

import asyncio
import math
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from support.delivery import delivery

TENANT = "acme"


@dataclass
class Sample:
    route: str
    status: int
    seconds: float


@dataclass
class Run:
    seconds: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    ordered: Counter[str] = field(default_factory=Counter)  # product_id -> units in confirmed orders
    orders: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # transport errors by type
    upsell_sources: Counter[str] = field(default_factory=Counter)  # source of the checkout's up-sell block


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarise(samples: list[Sample], seconds: float) -> dict[str, dict[str, Any]]:
    routes: dict[str, list[Sample]] = {}
    for sample in samples:
        routes.setdefault(sample.route, []).append(sample)
    table = {}
    for route, items in sorted(routes.items()):
        latencies = [s.seconds * 1000 for s in items]
        table[route] = {
            "requests": len(items),
            "per_s": round(len(items) / seconds, 1),
            "statuses": dict(sorted(Counter(str(s.status) for s in items).items())),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p95_ms": round(percentile(latencies, 95), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies), 1),
        }
    return table


class Shopper:
    def __init__(self, base_url: str, run: Run, rng: random.Random) -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url, timeout=30, limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)
        )
        self.run = run
        self.rng = rng

    async def call(self, route: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            self.run.errors[type(exc).__name__] += 1
            return None
        self.run.samples.append(Sample(route, response.status_code, time.perf_counter() - started))
        return response

    async def checkout_once(self, first: str, second: str | None) -> httpx.Response | None:
        """Create a cart with `first`, add `second`, set the delivery, check out; returns the checkout answer."""
        created = await self.call(
            "POST /carts", "POST", f"/tenants/{TENANT}/carts", json={"items": [{"product_id": first, "quantity": 1}]}
        )
        if created is None or created.status_code != 201:
            return None
        cart = f"/tenants/{TENANT}/carts/{created.json()['cart_id']}"
        if second is not None:
            await self.call("PUT /carts/{id}/items/{id}", "PUT", f"{cart}/items/{second}", json={"quantity": 1})
        await self.deliver(cart)
        response = await self.call(
            "POST /carts/{id}/checkout",
            "POST",
            f"{cart}/checkout",
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        self._count_order(response)
        return response

    async def deliver(self, cart: str) -> None:
        """The delivery step a checkout needs (else 422 DELIVERY_REQUIRED): acme's shopper, to DE by standard."""
        await self.call("PUT /carts/{id}/delivery", "PUT", f"{cart}/delivery", json=delivery(TENANT))

    def _count_order(self, response: httpx.Response | None) -> None:
        if response is not None and response.status_code == 201:
            answer = response.json()
            self.run.orders += 1
            self.run.upsell_sources[answer["upsell"]["source"]] += 1
            for line in answer["order"]["items"]:
                self.run.ordered[line["product_id"]] += line["quantity"]

    async def browse_and_buy(self, hot: list[str], limited: str) -> None:
        """One visit: the product list, one product page, a cart (hot product, maybe the limited one), its
        delivery, the cart page, checkout."""
        await self.call("GET /products", "GET", f"/tenants/{TENANT}/products", params={"limit": 20})
        first = self.rng.choice(hot)
        await self.call("GET /products/{id}", "GET", f"/tenants/{TENANT}/products/{first}")
        second = limited if self.rng.random() < 0.5 else self.rng.choice([p for p in hot if p != first])
        created = await self.call(
            "POST /carts", "POST", f"/tenants/{TENANT}/carts", json={"items": [{"product_id": first, "quantity": 1}]}
        )
        if created is None or created.status_code != 201:
            return
        cart = f"/tenants/{TENANT}/carts/{created.json()['cart_id']}"
        await self.call("PUT /carts/{id}/items/{id}", "PUT", f"{cart}/items/{second}", json={"quantity": 1})
        await self.deliver(cart)
        await self.call("GET /carts/{id}", "GET", cart)
        response = await self.call(
            "POST /carts/{id}/checkout", "POST", f"{cart}/checkout", headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        self._count_order(response)

    async def close(self) -> None:
        await self.http.aclose()


async def _crowd(base_url: str, size: int, seed: int, work: Callable[[Shopper], Awaitable[None]]) -> Run:
    """Run `work` for `size` shoppers at once; connections are opened (one at a time) before the clock starts."""
    run = Run()
    crowd = [Shopper(base_url, run, random.Random(seed + i)) for i in range(size)]
    for shopper in crowd:
        await shopper.http.get("/health")
    started = time.perf_counter()
    await asyncio.gather(*(work(shopper) for shopper in crowd))
    run.seconds = time.perf_counter() - started
    for shopper in crowd:
        await shopper.close()
    return run


async def _shop(base_url: str, shoppers: int, seconds: float, hot: list[str], limited: str, seed: int) -> Run:
    deadline: list[float] = []  # set by the first visit, once every connection is open

    async def visit(shopper: Shopper) -> None:
        if not deadline:
            deadline.append(time.monotonic() + seconds)
        while time.monotonic() < deadline[0]:
            await shopper.browse_and_buy(hot, limited)

    return await _crowd(base_url, shoppers, seed, visit)


def shop(base_url: str, shoppers: int, seconds: float, hot: list[str], limited: str, seed: int = 7) -> Run:
    """`shoppers` concurrent visitors for `seconds` (each finishes the visit it is in)."""
    return asyncio.run(_shop(base_url, shoppers, seconds, hot, limited, seed))


async def _checkouts(base_url: str, count: int, concurrency: int, products: list[str], seed: int) -> Run:
    remaining = [count]

    async def work(shopper: Shopper) -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            first, second = shopper.rng.sample(products, 2)
            await shopper.checkout_once(first, second)

    return await _crowd(base_url, concurrency, seed, work)


def checkouts(base_url: str, count: int, concurrency: int, products: list[str], seed: int = 11) -> Run:
    """`count` cart-and-checkout flows (two products each), `concurrency` at a time."""
    return asyncio.run(_checkouts(base_url, count, concurrency, products, seed))


def burst_connect(host: str, port: int, count: int = 50) -> list[float]:
    """Open `count` TCP connections at the same instant; the seconds each connect() took.

    A listen backlog smaller than the burst makes the kernel drop SYNs, and the client's retry
    comes one second later: connect times of about 1 s and more.
    """
    barrier = threading.Barrier(count)
    times: list[float] = [0.0] * count
    sockets: list[socket.socket] = []

    def connect(index: int) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(10)
        barrier.wait()
        started = time.perf_counter()
        try:
            sock.connect((host, port))
        except OSError:
            times[index] = float("inf")
        else:
            times[index] = time.perf_counter() - started
        sockets.append(sock)

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sock in sockets:
        sock.close()
    return times
