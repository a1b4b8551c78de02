"""The order lifecycle's one table: its rows, the events they publish, and the docs' state diagram."""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest

from chalicelib import lifecycle
from chalicelib.api.schemas import OrderListQuery
from chalicelib.lifecycle import OrderStatus, Transition

REPO = Path(__file__).resolve().parents[2]


def diagram_edges() -> set[tuple[str, str, str | None]]:
    """(from, to, units moved) of docs/architecture.md's order state diagram, `[*]` for the start."""
    text = (REPO / "docs" / "architecture.md").read_text()
    diagram = re.search(r"```mermaid\nstateDiagram-v2\n(.*?)```", text, re.DOTALL)
    assert diagram, "docs/architecture.md has no order state diagram"
    edges = set()
    for source, target, label in re.findall(r"^\s*(\S+) --> (\w+): (.*)$", diagram[1], re.MULTILINE):
        moves = re.findall(r"(stock|reserved|sold) ([\u2212+])q", label)  # the docs write U+2212, a minus sign
        taken = next((name for name, sign in moves if sign == "\u2212"), None)
        given = next((name for name, sign in moves if sign == "+"), None)
        edges.add((source, target, f"{taken}->{given}" if moves else None))
    return edges


def test_the_docs_state_diagram_is_the_lifecycle_table() -> None:
    expected = {
        (row.source.value, row.target.value, "->".join(row.units) if row.units else None)
        for row in lifecycle.TRANSITIONS
    } | {("[*]", status, "->".join(units)) for status, units in lifecycle.CREATED_UNITS.items()}
    assert diagram_edges() == expected


def test_each_status_entered_publishes_one_event_named_for_it() -> None:
    for row in lifecycle.TRANSITIONS:
        assert row.event == f"order_{row.target.value}"
        assert row.stamp == f"{row.target.value}_at"
    assert lifecycle.EVENTS == {
        "paid": "order_paid",
        "cancelled": "order_cancelled",
        "expired": "order_expired",
        "refunded": "order_refunded",
        "shipped": "order_shipped",
        "delivered": "order_delivered",
    }


def test_units_move_only_between_counters_and_every_unit_ends_somewhere() -> None:
    counters = {lifecycle.STOCK, lifecycle.RESERVED, lifecycle.SOLD}
    for row in lifecycle.TRANSITIONS:
        assert row.units is None or (set(row.units) <= counters and row.units[0] != row.units[1]), row
    # Where an order's units are in each status: every move takes them from there.
    where = {status: units[1] for status, units in lifecycle.CREATED_UNITS.items()}
    where |= {
        OrderStatus.PAID: lifecycle.SOLD,
        OrderStatus.CANCELLED: lifecycle.STOCK,
        OrderStatus.EXPIRED: lifecycle.STOCK,
    }
    where[OrderStatus.REFUNDED] = lifecycle.STOCK
    where |= {OrderStatus.SHIPPED: lifecycle.SOLD, OrderStatus.DELIVERED: lifecycle.SOLD}
    for row in lifecycle.TRANSITIONS:
        if row.units is not None:
            assert (where[row.source], where[row.target]) == row.units, row


def test_a_move_without_a_row_is_refused() -> None:
    assert lifecycle.transition("paid", OrderStatus.REFUNDED) == Transition(
        OrderStatus.PAID, OrderStatus.REFUNDED, ("sold", "stock"), "refunded_at", "order_refunded", "refund"
    )
    assert lifecycle.can_move("confirmed", OrderStatus.CANCELLED)
    for source, target in [("paid", OrderStatus.CANCELLED), ("refunded", OrderStatus.PAID), ("x", OrderStatus.PAID)]:
        assert not lifecycle.can_move(source, target)
        with pytest.raises(lifecycle.InvalidTransition):
            lifecycle.transition(source, target)


def test_the_orders_list_filters_by_exactly_the_lifecycles_statuses() -> None:
    (literal, _) = typing.get_args(typing.get_type_hints(OrderListQuery)["status"])
    assert set(typing.get_args(literal)) == {status.value for status in OrderStatus}
