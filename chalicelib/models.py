"""PynamoDB models: one table per entity, partition key tenant_id.

Table names resolve from settings when a model is first used, so importing this
module reads no environment and creates no client.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    ListAttribute,
    MapAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import TableConnection
from pynamodb.constants import NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, IncludeProjection
from pynamodb.models import Model

from chalicelib import clients
from chalicelib.config import get_settings
from chalicelib.lifecycle import OrderStatus


class DecimalAttribute(Attribute[Decimal]):
    """A DynamoDB Number kept as Decimal (NumberAttribute would round-trip through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(value)

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class CountAttribute(Attribute[int]):
    """A DynamoDB Number that counts units (stock, quantities): an int, where NumberAttribute says float."""

    attr_type = NUMBER

    def serialize(self, value: int) -> str:
        return str(int(value))

    def deserialize(self, value: str) -> int:
        return int(value)


class TableName:
    """Descriptor for Meta.table_name that asks the settings on each access."""

    def __init__(self, entity: str) -> None:
        self.entity = entity

    def __get__(self, instance: Any, owner: Any) -> str:
        return get_settings().table_name(self.entity)


class TableMeta:
    """Shared Meta. Timeouts and retries are those of clients.dynamodb(), which every model uses
    (CartwiseModel), so the Meta's connection settings (timeouts, max_pool_connections) go unused.

    `max_retry_attempts` is the exception: PynamoDB's BatchWrite (Model.batch_write(), as in
    scripts/provision.py) reads it from the Meta, not the connection, to bound its resends of the
    items DynamoDB leaves unprocessed: 2 resends them once (PynamoDB's default, 3, twice).
    """

    billing_mode = "PAY_PER_REQUEST"
    max_retry_attempts = 2


class CartwiseModel(Model):
    """Base model: every table talks through the process's one PynamoDB connection, clients.dynamodb().

    PynamoDB gives each model its own connection and so its own botocore session and client
    (0.15-0.25 s each on the first request of a process); the table connection it builds is pointed
    at the shared connection instead. When clients.reset() has replaced that connection (tests move
    between moto and the local stack), the table connection is rebuilt, so it also picks up the
    table name of the current settings.
    """

    @classmethod
    def _get_connection(cls) -> TableConnection:
        shared = clients.dynamodb()
        if cls._connection is not None and cls._connection.connection is not shared:
            cls._connection = None
        table = super()._get_connection()
        if table.connection is not shared:
            with contextlib.suppress(ValueError):  # the shared connection knows this table already
                shared.add_meta_table(table.get_meta_table())
            table.connection = shared
        return table


class PromoCode(MapAttribute):
    code = UnicodeAttribute()
    rate = DecimalAttribute()


class TenantsByPaymentMode(GlobalSecondaryIndex["TenantModel"]):
    """The tenants of one payment mode, by id: the hold sweeper's list of the shops that take cards
    (or did: an on-delivery tenant that keeps a Stripe publishable key may still have card orders
    awaiting payment), read without a scan. Projects the publishable key to tell them apart."""

    class Meta:
        index_name = "by-payment-mode"
        projection = IncludeProjection(["stripe_publishable_key"])

    payment_mode = UnicodeAttribute(hash_key=True)
    tenant_id = UnicodeAttribute(range_key=True)


class TenantModel(CartwiseModel):
    class Meta(TableMeta):
        table_name = TableName("tenants")

    tenant_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    currency = UnicodeAttribute()
    vat_rate = DecimalAttribute()
    promo_codes = ListAttribute(of=PromoCode, default=list)
    api_key_hashes = UnicodeSetAttribute(default=set)
    # "on_delivery": orders are confirmed at once; "stripe": paid by card, their units held meanwhile.
    payment_mode = UnicodeAttribute(default="on_delivery")
    by_payment_mode = TenantsByPaymentMode()
    # Public: the browser's Stripe.js needs it. The secret key and webhook signing secret live in SSM
    # (chalicelib/payments/), never here.
    stripe_publishable_key = UnicodeAttribute(null=True)
    # Units ordered per product, top-K only (chalicelib/counters.py), kept by chalicelib/orders_stream.py:
    # the up-sell's "best sellers" without reading the catalogue.
    best_sellers: MapAttribute[str, Any] = MapAttribute(null=True)
    # Abuse limits this tenant sets apart from the defaults (chalicelib/limits.py): name -> number.
    limits: MapAttribute[str, Any] = MapAttribute(null=True)
    # Countries served and shipping methods (chalicelib/shipping.py checks what is written here).
    shipping: MapAttribute[str, Any] = MapAttribute(null=True)
    # The operator's console highlights a product whose sellable stock is at or below this (absent: the default).
    low_stock_threshold = CountAttribute(null=True)
    # The shop's sender of shopper e-mails: {"from": "Acme Outdoor <orders@acme.example>", "reply_to": ...}
    # (chalicelib/tenants.py checks it; in the cloud the address must be a verified SES identity).
    mail: MapAttribute[str, Any] = MapAttribute(null=True)


def category_key(tenant_id: str, category: str) -> str:
    """The category index's partition: one per tenant and category (tenant ids cannot hold a '/')."""
    return f"{tenant_id}/{category}"


class ProductsByCategory(GlobalSecondaryIndex["ProductModel"]):
    """A category's products in id order, so a filtered page reads only that category's items."""

    class Meta:
        index_name = "by-category"
        projection = AllProjection()

    category_key = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)


class ProductModel(CartwiseModel):
    class Meta(TableMeta):
        table_name = TableName("products")

    tenant_id = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    category = UnicodeAttribute()
    category_key = UnicodeAttribute(null=True)  # category_key(tenant_id, category), set by every writer
    by_category = ProductsByCategory()
    price = DecimalAttribute()
    stock = CountAttribute(default=0)  # sellable
    reserved = CountAttribute(default=0)  # held by orders awaiting payment
    sold = CountAttribute(default=0)  # taken by confirmed orders; a cancel gives it back to `stock`
    # Annotated: PynamoDB types a list of UnicodeAttribute as holding attributes, not strings.
    tags: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)
    complements: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)
    co_purchases: MapAttribute[str, Any] = MapAttribute(default=dict)  # product_id -> orders together, top-K


class CartLine(MapAttribute):
    product_id = UnicodeAttribute()
    quantity = CountAttribute()
    # "upsell" when the line was added from a suggestion set the cart was shown (else absent), with
    # that set's id and its answer's source (llm | fallback): the up-sell's attribution (decision 30).
    source = UnicodeAttribute(null=True)
    upsell_set_id = UnicodeAttribute(null=True)
    upsell_source = UnicodeAttribute(null=True)


class StoredSuggestion(MapAttribute):
    product_id = UnicodeAttribute()
    name = UnicodeAttribute()
    price = DecimalAttribute()
    reason = UnicodeAttribute()


class UpsellMemo(MapAttribute):
    """The up-sell answer for the cart's content, so the LLM is paid once per content (chalicelib/upsell/memo.py)."""

    content_key = UnicodeAttribute()  # the cart's products and the flag state it answers
    computed_at = UTCDateTimeAttribute()
    source = UnicodeAttribute()  # llm | fallback | holdout
    suggestions = ListAttribute(of=StoredSuggestion, default=list)
    set_id = UnicodeAttribute(null=True)  # the id a suggestion added from this answer carries


class OfferedSet(MapAttribute):
    """A suggestion set the cart was shown: what `upsell_set_id` is checked against (the last few kept)."""

    set_id = UnicodeAttribute()
    source = UnicodeAttribute()  # llm | fallback
    product_ids: ListAttribute[Any] = ListAttribute(of=UnicodeAttribute, default=list)


class CartModel(CartwiseModel):
    class Meta(TableMeta):
        table_name = TableName("carts")
        # The up-sell stats count what changed (an answer kept, a suggestion added): old and new images.
        stream_view_type = "NEW_AND_OLD_IMAGES"

    tenant_id = UnicodeAttribute(hash_key=True)
    cart_id = UnicodeAttribute(range_key=True)
    lines = ListAttribute(of=CartLine, default=list)
    promo_code = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="open")
    order_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute(null=True)
    version = VersionAttribute()
    upsell = UpsellMemo(null=True)  # written without bumping `version`: it never races an edit
    offered_sets = ListAttribute(of=OfferedSet, null=True)  # written with `upsell`, newest last
    # Where the order goes: {"email", "address": {...}, "method": id}, set by PUT .../delivery.
    delivery: MapAttribute[str, Any] = MapAttribute(null=True)


class OrderLine(MapAttribute):
    product_id = UnicodeAttribute()
    name = UnicodeAttribute()
    unit_price = DecimalAttribute()
    quantity = CountAttribute()
    line_total = DecimalAttribute()
    source = UnicodeAttribute(null=True)  # "upsell": the cart's line came from a suggestion (decision 30)
    upsell_source = UnicodeAttribute(null=True)  # llm | fallback: the suggestion's answer


class OrderTotals(MapAttribute):
    subtotal = DecimalAttribute()
    discount = DecimalAttribute()
    net = DecimalAttribute()
    vat_rate = DecimalAttribute()
    vat = DecimalAttribute()
    total = DecimalAttribute()
    shipping = DecimalAttribute(null=True)  # absent on orders placed before shipping was priced


class PaymentDispute(MapAttribute):
    """A dispute (chargeback) of the order's payment, as Stripe reported it (charge.dispute.created)."""

    dispute_id = UnicodeAttribute()
    reason = UnicodeAttribute()  # Stripe's: fraudulent, product_not_received, duplicate, ...
    status = UnicodeAttribute()  # Stripe's at the time: warning_needs_response, needs_response, ...
    amount = CountAttribute()  # minor units
    disputed_at = UTCDateTimeAttribute()


class RefundFailure(MapAttribute):
    """A refund of the order's payment that failed after Stripe accepted it (charge.refund.updated)."""

    refund_id = UnicodeAttribute()
    reason = UnicodeAttribute()  # Stripe's failure_reason: expired_or_canceled_card, lost_or_stolen_card, unknown
    amount = CountAttribute()  # minor units
    failed_at = UTCDateTimeAttribute()


def status_key(tenant_id: str, status: str) -> str:
    """The status index's partition: one per tenant and status."""
    return f"{tenant_id}/{status}"


class OrdersByStatus(GlobalSecondaryIndex["OrderModel"]):
    """A tenant's orders of one status, newest first (ULIDs sort by time): the admin list's filter."""

    class Meta:
        index_name = "by-status"
        projection = AllProjection()

    status_key = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)


# The one partition every order awaiting payment was queued in before each tenant had its own
# (decision 28): the sweeper still reads it, for orders placed before that change.
SHARED_HOLD_QUEUE = "pending"


def hold_queue(tenant_id: str) -> str:
    """A tenant's partition of the pending-holds index (tenant ids cannot hold a '/')."""
    return f"{tenant_id}/holds"


class PendingHolds(GlobalSecondaryIndex["OrderModel"]):
    """Orders awaiting payment by when their hold lapses, one partition per tenant: what the sweeper reads.

    Sparse: only an order in `pending_payment` carries `hold_queue` (hold_queue(tenant_id)); every
    transition out of it removes the attribute, and the order leaves the index. A partition per
    tenant lets the sweeper take tenants in turns, so one tenant's thousands of lapsed holds never
    queue another tenant's behind them (decision 28).
    """

    class Meta:
        index_name = "pending-holds"
        projection = AllProjection()

    hold_queue = UnicodeAttribute(hash_key=True)
    hold_expires_at = UTCDateTimeAttribute(range_key=True)


class OrderModel(CartwiseModel):
    class Meta(TableMeta):
        table_name = TableName("orders")
        stream_view_type = "NEW_IMAGE"

    tenant_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute(range_key=True)
    cart_id = UnicodeAttribute()
    status = UnicodeAttribute(default=OrderStatus.CONFIRMED.value)
    status_key = UnicodeAttribute(null=True)  # status_key(tenant_id, status), set with every status
    by_status = OrdersByStatus()
    hold_queue = UnicodeAttribute(null=True)  # hold_queue(tenant_id) while pending_payment, else absent
    hold_expires_at = UTCDateTimeAttribute(null=True)  # when an unpaid order's units go back on sale
    pending_holds = PendingHolds()
    lines = ListAttribute(of=OrderLine)
    totals = OrderTotals()
    promo_code = UnicodeAttribute(null=True)
    currency = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    # The cart's delivery as it was checked out: address and the method's name, price and days.
    delivery: MapAttribute[str, Any] = MapAttribute(null=True)
    idempotency_key = UnicodeAttribute(null=True)
    # SHA-256 of the order tokens handed out (the checkout's answer and its replays); never the tokens.
    token_hashes = UnicodeSetAttribute(default=set)
    created_at = UTCDateTimeAttribute()
    cancelled_at = UTCDateTimeAttribute(null=True)
    expired_at = UTCDateTimeAttribute(null=True)
    # Card payments (chalicelib/payments/): the one PaymentIntent this order may ever be charged
    # through, set once; and the refund's reason ("requested_by_admin", "stock_released", ...).
    payment_provider = UnicodeAttribute(null=True)  # "stripe" for a card tenant's order, else absent
    payment_intent_id = UnicodeAttribute(null=True)
    # The Stripe Customer its cards are set up for (the first card setup), set once: a card saved to
    # another customer (another order's) is refused.
    stripe_customer_id = UnicodeAttribute(null=True)
    card_attempts = UnicodeSetAttribute(null=True)  # ids of its card attempts (chalicelib/payments/ caps them)
    # The client's count of unpaid orders holding stock this order adds to while pending (chalicelib/limits.py).
    hold_counter = UnicodeAttribute(null=True)
    paid_at = UTCDateTimeAttribute(null=True)
    refunded_at = UTCDateTimeAttribute(null=True)
    refund_reason = UnicodeAttribute(null=True)
    # Fulfilment (admin): the carrier's tracking, set once with `shipped`; then `delivered`.
    carrier = UnicodeAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)
    tracking_url = UnicodeAttribute(null=True)
    shipped_at = UTCDateTimeAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)
    # What Stripe reported afterwards, for the operators: a dispute of the payment, a refund that failed.
    dispute = PaymentDispute(null=True)
    refund_failure = RefundFailure(null=True)
    co_purchases_counted_at = UTCDateTimeAttribute(null=True)  # set once by chalicelib/orders_stream.py
    # The cart's arm of the up-sell comparison at checkout: "treated", "holdout", or absent (up-sell off).
    upsell_arm = UnicodeAttribute(null=True)
    # Set once when a refund of the order has been taken off the up-sell stats (chalicelib/upsell/stats.py).
    upsell_refund_counted_at = UTCDateTimeAttribute(null=True)


class IdempotencyKeyModel(CartwiseModel):
    """An Idempotency-Key a tenant's client used, and what it did, kept apart from carts and products.

    Written in the same transaction as the effect it records, so a key exists exactly when its
    effect does. `fingerprint` names the operation and its request; `order_id` (checkout) or
    `result` (a JSON snapshot, stock adjustment) is what a replay answers with.
    """

    class Meta(TableMeta):
        table_name = TableName("idempotency")

    tenant_id = UnicodeAttribute(hash_key=True)
    idempotency_key = UnicodeAttribute(range_key=True)
    fingerprint = UnicodeAttribute()
    order_id = UnicodeAttribute(null=True)
    result = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()


class LimitCounterModel(CartwiseModel):
    """A per-client abuse counter of a tenant (chalicelib/limits.py): requests in a time window,
    card attempts in an hour, unpaid orders holding stock. Read and written by its key only, and
    deleted by DynamoDB once it has expired."""

    class Meta(TableMeta):
        table_name = TableName("limits")

    tenant_id = UnicodeAttribute(hash_key=True)
    counter = UnicodeAttribute(range_key=True)  # "{kind}#{client}[#{window}]"
    hits = CountAttribute(default=0)
    expires_at = TTLAttribute()


class UpsellStatsModel(CartwiseModel):
    """The up-sell's figures of a tenant (chalicelib/upsell/stats.py), kept by the tables' streams.

    `entry` "day#YYYY-MM-DD": one item per tenant and UTC day, its counters added to (ADD), so the
    stats route reads one Query of at most 90 items whatever the traffic. `entry` "fact#...": the
    mark of one counted fact (a cart shown on a day, a suggestion added), written in the same
    transaction as its counts so a redelivered stream record counts nothing; they expire.
    """

    class Meta(TableMeta):
        table_name = TableName("stats")

    tenant_id = UnicodeAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)
    carts_shown = CountAttribute(null=True)
    carts_holdout = CountAttribute(null=True)
    suggestions_added = CountAttribute(null=True)
    orders_treated = CountAttribute(null=True)
    orders_holdout = CountAttribute(null=True)
    revenue_treated = DecimalAttribute(null=True)
    revenue_holdout = DecimalAttribute(null=True)
    upsell_revenue = DecimalAttribute(null=True)
    # The same split by the answer's source, where one applies (a set shown, a suggestion added, its revenue).
    carts_shown_llm = CountAttribute(null=True)
    carts_shown_fallback = CountAttribute(null=True)
    suggestions_added_llm = CountAttribute(null=True)
    suggestions_added_fallback = CountAttribute(null=True)
    upsell_revenue_llm = DecimalAttribute(null=True)
    upsell_revenue_fallback = DecimalAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # facts only: kept well past the streams' 24 h of redelivery


class MailModel(CartwiseModel):
    """One e-mail to a shopper, `{order_id}#{kind}`, claimed before it is sent (chalicelib/mail/claims.py).

    `sending` with a lease while a notifier sends it, `sent` once the transport took it: the claim's
    condition makes each e-mail go out once however often its event arrives. The links the e-mails
    carry open the order page with a token of their own, kept here as digests (never the tokens).
    """

    class Meta(TableMeta):
        table_name = TableName("mail")

    tenant_id = UnicodeAttribute(hash_key=True)
    mail_id = UnicodeAttribute(range_key=True)  # "{order_id}#{kind}": an order's e-mails share a prefix
    state = UnicodeAttribute()  # "sending" (claimed, leased) or "sent"
    lease_expires_at = UTCDateTimeAttribute(null=True)  # while sending: when another notifier may take over
    claim_id = UnicodeAttribute(null=True)  # the current claim's, so only its holder marks it sent or lets go
    attempts = CountAttribute(default=0)
    event_id = UnicodeAttribute(null=True)  # the order event that claimed it last
    token_hashes = UnicodeSetAttribute(default=set)  # SHA-256 of each attempt's link token
    message_id = UnicodeAttribute(null=True)  # what the transport answered (SES MessageId, the Message-ID)
    sent_at = UTCDateTimeAttribute(null=True)


ALL_MODELS: tuple[type[Model], ...] = (
    TenantModel,
    ProductModel,
    CartModel,
    OrderModel,
    IdempotencyKeyModel,
    LimitCounterModel,
    UpsellStatsModel,
    MailModel,
)
