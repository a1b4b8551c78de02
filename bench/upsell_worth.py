"""Does the up-sell earn anything? (`make bench` section 11, issue 27's honest comparison)

A seeded population of shoppers at globex, the on-delivery demo shop (its orders are confirmed at
checkout and count as sales at once, so no card step stands between a cart and the figures), with
the up-sell on for the tenant and 20 % of carts held out through the admin settings route. Each
shopper fills a cart with 1-2 products and opens the cart page's up-sell (`GET …/upsell`); a treated
shopper adds each suggestion with a probability that depends on its relevance (a complement of a
cart product, else its rank); some shoppers then set the delivery and check out. The model is the
bench's stub: it answers with the first candidates, or fails (a 500) for a seeded share of calls so
the fallback answers those carts: both sources are counted.

The simulation writes down what happened (its ground truth: carts shown and held out, suggestions
added, orders and revenue per arm, up-sell revenue, by source, per UTC day). The stats route is
then polled until its figures equal that truth or a bound passes: they must be EQUAL, counts and
money, not close. The uplift (average order value and conversion, treated against holdout) is
printed with 95 % confidence intervals from scipy (Welch's t interval of the difference of means)
and statsmodels (Newcombe's interval of the difference of two proportions).

Shopper behaviour is an assumption of the simulation, not a measurement: treated and held-out
shoppers check out with the same base probability, and one who added a suggestion a little more
often (ENGAGED_CHECKOUT); the uplift printed is what the pipe reports for that behaviour, with the
uncertainty 200 carts leave.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import confint_proportions_2indep

from support.delivery import checkout_key, deliver
from support.llm_stub import Reply, error, pick_first_candidates

TENANT = "globex"  # on delivery: an order is a sale when it is placed
DATA = json.loads((Path(__file__).resolve().parent.parent / "data" / "tenants" / f"{TENANT}.json").read_text())
ADMIN_KEY = DATA["demo_admin_key"]
CARTS = 200
HOLDOUT_PERCENT = 20
SEED = 27
STOCK = 100_000  # units added to each product: the demo shop's few would sell out over 200 carts
LLM_FAILURE_SHARE = 0.25  # model calls the stub fails: those carts get the fallback's answer
BASE_CHECKOUT = 0.45  # the share of shoppers who check out, in either arm
ENGAGED_CHECKOUT = 0.55  # a treated shopper who added a suggestion
ACCEPT_COMPLEMENT = 0.35  # a suggestion the shop lists as a complement of a cart product
ACCEPT_BY_RANK = (0.2, 0.12, 0.06)  # any other suggestion, by its place in the answer
SETTLE_SECONDS = 180.0  # how long the stream may take to count everything
POLL_SECONDS = 0.5
COUNTS = ("carts_shown", "carts_holdout", "suggestions_added", "orders_treated", "orders_holdout")
MONEY = ("revenue_treated", "revenue_holdout", "upsell_revenue")
SPLIT = ("carts_shown", "suggestions_added", "upsell_revenue")
SOURCES = ("llm", "fallback")
COMPLEMENTS = {p["product_id"]: set(p["complements"]) for p in DATA["products"]}


def _empty_day() -> dict[str, Any]:
    return {
        **dict.fromkeys(COUNTS, 0),
        **dict.fromkeys(MONEY, Decimal("0.00")),
        "by_source": {
            s: {"carts_shown": 0, "suggestions_added": 0, "upsell_revenue": Decimal("0.00")} for s in SOURCES
        },
    }


@dataclass
class Truth:
    """What the simulated shoppers did, per UTC day, in the stats route's terms."""

    days: dict[date, dict[str, Any]] = field(default_factory=lambda: defaultdict(_empty_day))
    order_totals: dict[str, list[Decimal]] = field(default_factory=lambda: {"treated": [], "holdout": []})
    carts: dict[str, int] = field(default_factory=lambda: {"treated": 0, "holdout": 0})
    upsell_get_ms: list[float] = field(default_factory=list)

    def add(self, name: str, amount: int | Decimal = 1, source: str | None = None) -> None:
        day = self.days[datetime.now(UTC).date()]
        day[name] += amount
        if source in SOURCES and name in SPLIT:
            day["by_source"][source][name] += amount

    def shaped(self) -> dict[str, dict[str, Any]]:
        """Each day as the route shapes it: money as "0.00" strings."""
        return {day.isoformat(): _money_as_text(figures) for day, figures in sorted(self.days.items())}


def _money_as_text(figures: dict[str, Any]) -> dict[str, Any]:
    return {
        key: _money_as_text(value)
        if isinstance(value, dict)
        else (f"{value:.2f}" if isinstance(value, Decimal) else value)
        for key, value in figures.items()
    }


def flaky_model(rng: random.Random) -> Callable[[dict[str, Any]], Reply]:
    """The stub model: the first candidates, or a 500 for LLM_FAILURE_SHARE of calls (seeded)."""
    answering = pick_first_candidates(delay=0.0)

    def reply(body: dict[str, Any]) -> Reply:
        return error(500, "bench: model down") if rng.random() < LLM_FAILURE_SHARE else answering(body)

    return reply


def accept_probability(product_id: str, rank: int, in_cart: set[str]) -> float:
    """How likely a shopper adds a suggestion: a complement of what is in the cart most, then by rank."""
    if any(product_id in COMPLEMENTS.get(item, ()) for item in in_cart):
        return ACCEPT_COMPLEMENT
    return ACCEPT_BY_RANK[min(rank, len(ACCEPT_BY_RANK) - 1)]


def prepare(http: httpx.Client) -> None:
    """Plenty of stock for every product (a stock delta, as an operator adds units), the up-sell on for
    the tenant and 20 % of its carts held out, through the admin routes."""
    for product in DATA["products"]:
        answer = http.post(
            f"/tenants/{TENANT}/products/{product['product_id']}/stock", json={"delta": STOCK}, headers=checkout_key()
        )
        assert answer.status_code == 200, answer.text
    settings = {"enabled": True, "holdout_percent": HOLDOUT_PERCENT}
    answer = http.put(f"/tenants/{TENANT}/upsell/settings", json=settings)
    assert answer.status_code == 200, answer.text


def shop(http: httpx.Client, rng: random.Random, truth: Truth) -> None:
    """One shopper: a cart, its up-sell, maybe suggestions added, maybe a checkout."""
    products = [p["product_id"] for p in DATA["products"]]
    picked = rng.sample(products, rng.choice((1, 2)))
    items = [{"product_id": pid, "quantity": rng.choice((1, 1, 2))} for pid in picked]
    created = http.post(f"/tenants/{TENANT}/carts", json={"items": items})
    assert created.status_code == 201, created.text
    cart_id = created.json()["cart_id"]
    cart = f"/tenants/{TENANT}/carts/{cart_id}"
    started = time.perf_counter()
    answer = http.get(f"{cart}/upsell")
    truth.upsell_get_ms.append((time.perf_counter() - started) * 1000)
    assert answer.status_code == 200, answer.text
    upsell = answer.json()
    source = upsell["source"]
    assert source in (*SOURCES, "holdout"), upsell
    arm = "holdout" if source == "holdout" else "treated"
    truth.carts[arm] += 1
    truth.add("carts_holdout" if arm == "holdout" else "carts_shown", source=source)
    added: set[str] = set()
    for rank, suggestion in enumerate(upsell["suggestions"]):
        product_id = suggestion["product_id"]
        if product_id in picked or rng.random() >= accept_probability(product_id, rank, set(picked)):
            continue
        body = {"quantity": 1, "upsell_set_id": upsell["set_id"]}
        put = http.put(f"{cart}/items/{product_id}", json=body)
        assert put.status_code == 200, put.text
        added.add(product_id)
        truth.add("suggestions_added", source=source)
    if rng.random() >= (ENGAGED_CHECKOUT if added else BASE_CHECKOUT):
        return
    deliver(http, TENANT, cart_id)
    placed = http.post(f"{cart}/checkout", headers=checkout_key())
    assert placed.status_code == 201, placed.text
    order = placed.json()["order"]
    total = Decimal(order["totals"]["total"])
    truth.order_totals[arm].append(total)
    truth.add(f"orders_{arm}")
    truth.add(f"revenue_{arm}", total)
    for line in order["items"]:
        if line["product_id"] in added:
            truth.add("upsell_revenue", Decimal(line["line_total"]), source=source)


def stats_days(http: httpx.Client, window: int) -> dict[str, dict[str, Any]]:
    answer = http.get(f"/tenants/{TENANT}/upsell/stats", params={"days": window})
    assert answer.status_code == 200, answer.text
    return {day.pop("date"): day for day in answer.json()["days"]}


def differences(truth: dict[str, dict[str, Any]], route: dict[str, dict[str, Any]]) -> list[str]:
    """Every figure the route reports other than the truth (for the days the shoppers shopped)."""
    found = []
    for day, expected in truth.items():
        reported = route.get(day, {})
        for name in (*COUNTS, *MONEY):
            if reported.get(name) != expected[name]:
                found.append(f"{day} {name}: truth {expected[name]}, route {reported.get(name)}")
        for source in SOURCES:
            for name in SPLIT:
                want, got = expected["by_source"][source][name], reported.get("by_source", {}).get(source, {}).get(name)
                if got != want:
                    found.append(f"{day} {source} {name}: truth {want}, route {got}")
    return found


def settle(http: httpx.Client, truth: dict[str, dict[str, Any]]) -> tuple[list[str], float, dict[str, Any]]:
    """Poll the stats route until it equals the truth (or SETTLE_SECONDS pass): what still differs,
    how long it took, and the route's days as last read."""
    first = min(date.fromisoformat(day) for day in truth)
    window = (datetime.now(UTC).date() - first).days + 1
    started = time.monotonic()
    while True:
        route = stats_days(http, window)
        found = differences(truth, route)
        waited = time.monotonic() - started
        if not found or waited > SETTLE_SECONDS:
            return found, round(waited, 1), route
        time.sleep(POLL_SECONDS)


def summed(days: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The days' counts and money added up (as text: money "0.00"), for the table."""
    total: dict[str, Any] = {name: 0 for name in COUNTS} | {name: Decimal("0.00") for name in MONEY}
    for day in days:
        for name in total:
            total[name] += Decimal(str(day.get(name, 0))) if name in MONEY else int(day.get(name, 0))
    return {name: f"{value:.2f}" if name in MONEY else str(value) for name, value in total.items()}


def uplift(truth: Truth) -> dict[str, Any]:
    """Average order value and conversion, treated against held out, with 95 % intervals of the difference."""
    treated = [float(t) for t in truth.order_totals["treated"]]
    holdout = [float(t) for t in truth.order_totals["holdout"]]
    orders_t, orders_h = len(treated), len(holdout)
    carts_t, carts_h = truth.carts["treated"], truth.carts["holdout"]
    aov: dict[str, Any] = {"treated": _mean(treated), "holdout": _mean(holdout)}
    if orders_t >= 2 and orders_h >= 2:
        welch = scipy_stats.ttest_ind(treated, holdout, equal_var=False)
        interval = welch.confidence_interval(confidence_level=0.95)
        aov |= {
            "difference": round(statistics.fmean(treated) - statistics.fmean(holdout), 2),
            "ci95": [round(float(interval.low), 2), round(float(interval.high), 2)],
            "p_value": round(float(welch.pvalue), 4),
        }
    low, high = confint_proportions_2indep(orders_t, carts_t, orders_h, carts_h, method="newcomb", compare="diff")
    conversion = {
        "treated": round(orders_t / carts_t, 4),
        "holdout": round(orders_h / carts_h, 4),
        "difference": round(orders_t / carts_t - orders_h / carts_h, 4),
        "ci95": [round(float(low), 4), round(float(high), 4)],
    }
    return {"aov": aov, "conversion": conversion}


def _mean(values: list[float]) -> float | None:
    return round(statistics.fmean(values), 2) if values else None


@contextmanager
def orders_stream(env: Mapping[str, str], log_dir: Path) -> Iterator[None]:
    """The stream poller as `make run` runs it: the carts' and orders' streams to the app's handler."""
    from scripts.local_stack import start_orders_stream

    poller = start_orders_stream(env, log_dir=log_dir)
    try:
        yield
    finally:
        poller.stop()


def phase_upsell_worth(
    api_url: str, llm: Any, env: Mapping[str, str], log_dir: Path, carts: int = CARTS
) -> dict[str, Any]:
    """Run the shoppers against the bench's API (`llm`: the bench's stub model) with the stream poller
    counting, then hold the stats route to the truth."""
    rng = random.Random(SEED)
    llm.otherwise = flaky_model(random.Random(SEED + 1))
    truth = Truth()
    admin = {"X-Api-Key": ADMIN_KEY}
    with (
        orders_stream(env, log_dir),
        httpx.Client(base_url=api_url, timeout=30) as http,
        httpx.Client(base_url=api_url, timeout=30, headers=admin) as admin_http,
    ):
        prepare(admin_http)
        started = time.monotonic()
        for _ in range(carts):
            shop(http, rng, truth)
        shopping_s = time.monotonic() - started
        expected = truth.shaped()
        left, waited, route = settle(admin_http, expected)
        admin_http.put(f"/tenants/{TENANT}/upsell/settings", json={"enabled": None, "holdout_percent": 0})
    get_ms = sorted(truth.upsell_get_ms)
    return {
        "tenant": TENANT,
        "carts": carts,
        "holdout_percent": HOLDOUT_PERCENT,
        "seed": SEED,
        "shopping_s": round(shopping_s, 1),
        "truth": expected,
        "route": {day: route.get(day) for day in expected},
        "truth_totals": summed(expected.values()),
        "route_totals": summed(route.get(day, {}) for day in expected),
        "differences": left,
        "settled_after_s": waited,
        "upsell_get_p50_ms": round(statistics.median(get_ms), 1),
        **uplift(truth),
    }
