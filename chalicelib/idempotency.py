"""Idempotency keys: a key belongs to the tenant and is remembered for KEY_LIFETIME.

A key is claimed inside the transaction that performs its effect (checkout, stock adjustment),
so it costs no extra round trip on the happy path and exists exactly when its effect does. A
request whose transaction fails on the claim, or that finds its cart already closed, looks the
key up: same fingerprint → replay the recorded outcome; another fingerprint → 422.
See docs/decisions/0009-tenant-scoped-idempotency-keys.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.transactions import TransactWrite

from chalicelib import contention
from chalicelib.errors import CartwiseError, IdempotencyKeyReused, Unavailable
from chalicelib.models import IdempotencyKeyModel

# The contract promises at least 24 h; DynamoDB's TTL deletes the record some time after that.
KEY_LIFETIME = timedelta(hours=24)

Outcome = TypeVar("Outcome")


@dataclass(frozen=True)
class KeyUse:
    """One request under an Idempotency-Key: the tenant's key, the operation and what defines the request.

    Keys are kept per operation (`checkout#K`, `adjust_stock#K`), so a shopper's checkout can
    neither probe nor take the key an operator uses for a stock adjustment.
    """

    tenant_id: str
    operation: str
    key: str
    fingerprint: str

    @classmethod
    def of(cls, tenant_id: str, operation: str, key: str, **request: Any) -> KeyUse:
        body = json.dumps({"operation": operation, **request}, sort_keys=True, default=str)
        return cls(tenant_id, operation, key, hashlib.sha256(body.encode()).hexdigest())

    @property
    def record_key(self) -> str:
        return f"{self.operation}#{self.key}"


def claim(
    transaction: TransactWrite, use: KeyUse, now: datetime, *, order_id: str | None = None, result: str | None = None
) -> None:
    """Add the key's record to `transaction`; the transaction fails if the key is live already."""
    record = IdempotencyKeyModel(
        use.tenant_id,
        use.record_key,
        fingerprint=use.fingerprint,
        order_id=order_id,
        result=result,
        created_at=now,
        expires_at=_whole_second_at_or_after(now + KEY_LIFETIME),
    )
    transaction.save(record, condition=_free(now), return_values="ALL_OLD")


def remember(use: KeyUse, now: datetime, lifetime: timedelta = KEY_LIFETIME) -> None:
    """Record the key on its own, for an effect that is idempotent by itself (a Stripe event applied
    through status-conditioned transitions); a live record of it is left as it is."""
    record = IdempotencyKeyModel(
        use.tenant_id,
        use.record_key,
        fingerprint=use.fingerprint,
        created_at=now,
        expires_at=_whole_second_at_or_after(now + lifetime),
    )
    try:
        record.save(condition=_free(now))
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _whole_second_at_or_after(moment: datetime) -> datetime:
    # The TTL attribute keeps whole seconds (truncating), which would cut the promised lifetime short.
    return moment if not moment.microsecond else moment.replace(microsecond=0) + timedelta(seconds=1)


def _free(now: datetime) -> Condition:
    # A lapsed record may linger until DynamoDB's TTL sweep deletes it; it no longer holds the key.
    return IdempotencyKeyModel.idempotency_key.does_not_exist() | (IdempotencyKeyModel.expires_at <= now)


class KeyTaken(Exception):
    """A transaction failed because its Idempotency-Key is recorded already."""


def raise_if_key_taken(exc: TransactWriteError) -> None:
    """Raise KeyTaken if the cancelled transaction's claim is what failed.

    A failed claim returns the record it found (ALL_OLD), which tells it from the other actions.
    """
    for reason in exc.cancellation_reasons:
        item = reason.raw_item if reason and reason.code == "ConditionalCheckFailed" else None
        if item and "idempotency_key" in item and "fingerprint" in item:
            raise KeyTaken from None


def recorded(use: KeyUse, now: datetime) -> IdempotencyKeyModel | None:
    """The live record of this same request; None if the key is free; 422 if it did something else."""
    try:
        record = IdempotencyKeyModel.get(use.tenant_id, use.record_key, consistent_read=True)
    except IdempotencyKeyModel.DoesNotExist:
        return None
    if record.expires_at <= now:
        return None
    if record.fingerprint != use.fingerprint:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request.")
    return record


def perform(
    attempt: Callable[[], Outcome | None],
    replay: Callable[[], Outcome | None],
    refusals: tuple[type[CartwiseError], ...],
    attempts: int = contention.ATTEMPTS,
) -> tuple[Outcome, bool]:
    """Run `attempt` until it commits (True) or its key's earlier outcome is replayed (False).

    `attempt` returns None to be retried on fresh reads (it lost a race), raises KeyTaken when its
    claim failed, or raises one of `refusals`. A refusal may only mean that a same-key request won
    the race (it closed the cart, took the stock), so `replay` is asked before it is answered.
    """
    caught: tuple[type[Exception], ...] = (*refusals, KeyTaken)
    for _ in contention.attempts(attempts):
        try:
            outcome = attempt()
        except caught as refusal:
            replayed = replay()
            if replayed is not None:
                return replayed, False
            if not isinstance(refusal, KeyTaken):
                raise
            outcome = None  # the key's record lapsed just now: the key is free again
        if outcome is not None:
            return outcome, True
    replayed = replay()  # a same-key request may have won every race this one lost
    if replayed is not None:
        return replayed, False
    raise Unavailable("The resource is contended, please retry.")
