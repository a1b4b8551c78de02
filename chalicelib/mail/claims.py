"""Each shopper e-mail claimed before it is sent, so it goes out once although its event arrives at least once.

An e-mail is the item `{order_id}#{kind}` of the mail table (models.MailModel). Sending it is:

1. claim: ONE conditional UpdateItem that succeeds only when the item does not exist yet, or is still
   `sending` under a lease that has run out (its sender crashed between claim and send, or after the
   send but before step 3). It sets `sending`, a new lease and claim id, and adds the digest of a new
   link token (the e-mail's link to the order page carries the token; only its digest is stored);
2. send, through the transport;
3. mark it `sent`, conditioned on still holding the claim.

A claim that finds the e-mail `sent` is a duplicate: nothing is sent. One that finds it `sending` under
a live lease raises `InFlight`: the message is retried later (SQS), when it finds it sent, or the lease
run out and takes it over. A send that fails lets go of the claim at once (its lease ends now), and the
error goes back to the queue, which retries and finally dead-letters the message.

At-least-once in one window only: a sender that stops after the transport took the message and before
step 3 leaves a `sending` item whose lease runs out, and the redelivery sends it again. Neither SES nor
SMTP can be asked whether a message went out, and a lost confirmation or refund notice is worse than a
rare second copy (docs/decisions/0029-shopper-e-mails.md).
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib import digests
from chalicelib.models import MailModel

SENDING, SENT = "sending", "sent"
TOKEN_BYTES = 32  # as the order token (chalicelib/orders.py)


class Claimed(enum.Enum):
    NEW = "new"  # the first claim of this e-mail
    TAKEN_OVER = "taken_over"  # a claim whose lease had run out: its sender stopped before marking it sent
    ALREADY_SENT = "already_sent"


class InFlight(Exception):
    """Another notifier holds a live claim on this e-mail: retry the message after its lease."""


@dataclass(frozen=True)
class Claim:
    tenant_id: str
    mail_id: str
    claim_id: str
    token: str  # the order page link's token, for this attempt's message only
    outcome: Claimed


def mail_id(order_id: str, kind: str) -> str:
    return f"{order_id}#{kind}"


def claim(tenant_id: str, order_id: str, kind: str, event_id: str, lease_seconds: int, now: datetime) -> Claim:
    """Claim the e-mail `kind` of the order for `lease_seconds`; `outcome` ALREADY_SENT when it went out before.

    Raises InFlight while another claim's lease runs.
    """
    key = mail_id(order_id, kind)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    claim_id = secrets.token_hex(8)
    unclaimed = MailModel.mail_id.does_not_exist()
    abandoned = (MailModel.state == SENDING) & (MailModel.lease_expires_at < now)
    item = MailModel(tenant_id, key)
    try:
        item.update(  # PynamoDB asks for the item as updated (ALL_NEW) and sets it on `item`
            actions=[
                MailModel.state.set(SENDING),
                MailModel.lease_expires_at.set(now + timedelta(seconds=lease_seconds)),
                MailModel.claim_id.set(claim_id),
                MailModel.attempts.add(1),
                MailModel.event_id.set(event_id),
                MailModel.token_hashes.add({digests.digest(token)}),
            ],
            condition=unclaimed | abandoned,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        current = MailModel.get(tenant_id, key, consistent_read=True)
        if current.state == SENT:
            return Claim(tenant_id, key, "", "", Claimed.ALREADY_SENT)
        raise InFlight(f"{key} is being sent under another claim until {current.lease_expires_at}") from None
    # attempts is 1 after the first claim (DynamoDB's ADD starts from 0): more means an earlier one lapsed.
    return Claim(tenant_id, key, claim_id, token, Claimed.NEW if item.attempts == 1 else Claimed.TAKEN_OVER)


def mark_sent(held: Claim, message_id: str, now: datetime) -> bool:
    """Record the e-mail as sent; False when the claim was lost meanwhile (its lease ran out and another
    notifier took it over: the e-mail went out twice, which the log says)."""
    try:
        MailModel(held.tenant_id, held.mail_id).update(
            actions=[
                MailModel.state.set(SENT),
                MailModel.sent_at.set(now),
                MailModel.message_id.set(message_id),
                MailModel.lease_expires_at.remove(),
            ],
            condition=MailModel.claim_id == held.claim_id,
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def release(held: Claim) -> None:
    """Let go of a claim whose send failed: its lease ends now, so the retried message can claim it at once."""
    try:
        MailModel(held.tenant_id, held.mail_id).update(
            actions=[MailModel.lease_expires_at.set(datetime.fromtimestamp(0, UTC))],
            condition=(MailModel.claim_id == held.claim_id) & (MailModel.state == SENDING),
        )
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise  # the lease runs out by itself anyway


def token_opens(tenant_id: str, order_id: str, token: str) -> bool:
    """True when `token` is the link token of one of the order's e-mails (a Query of its few items)."""
    hashes: set[str] = set()
    for item in MailModel.query(
        tenant_id,
        MailModel.mail_id.startswith(f"{order_id}#"),
        attributes_to_get=["token_hashes"],
    ):
        hashes |= set(item.token_hashes or ())
    return digests.matches(token, hashes)
