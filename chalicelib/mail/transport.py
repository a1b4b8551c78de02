"""Where a finished message goes: Amazon SES in the cloud, an SMTP server when MAIL_SMTP_URL is set
(MailDev under `make run`). Both take the same MIME message and answer an id for it; both raise when
the message was not taken, so the notifier lets go of its claim and the queue retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from chalicelib import clients
from chalicelib.config import get_settings

if TYPE_CHECKING:
    from email.message import EmailMessage

SMTP_TIMEOUT_SECONDS = 10


class Transport(Protocol):
    def send(self, message: EmailMessage) -> str:
        """Hand the message over; its id at the transport. Raises when it was not taken."""
        ...


class SesTransport:
    """SES SendRawEmail with the MIME message: the From header's address must be a verified identity the
    function may send as (infra/template.yml). The v1 API, which SES keeps: it takes the same raw message
    as v2's SendEmail, and LocalStack's community SES (docker compose) implements it and keeps what it
    was sent, where it has no SES v2."""

    def send(self, message: EmailMessage) -> str:
        # The bare addresses (the names are in the headers, encoded): SES checks the sender's identity,
        # and sends only to the order's address whatever else a header might say.
        answer = clients.ses().send_raw_email(
            Source=message["From"].addresses[0].addr_spec,
            Destinations=[message["To"].addresses[0].addr_spec],
            RawMessage={"Data": message.as_bytes()},
        )
        return str(answer["MessageId"])


class SmtpTransport:
    """Plain SMTP to a local server (smtp://host:port); no TLS nor login: it is for MailDev and its like."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "smtp" or not parts.hostname:
            raise ValueError(f"MAIL_SMTP_URL must be smtp://host:port, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 25

    def send(self, message: EmailMessage) -> str:
        import smtplib  # only where SMTP is used (make run): the cloud's functions never load it

        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as server:
            refused = server.send_message(message)
        if refused:  # some recipients refused: for one recipient, that is the message not sent
            raise smtplib.SMTPRecipientsRefused(refused)
        return str(message["Message-ID"])


def configured() -> Transport:
    url = get_settings().mail_smtp_url
    return SmtpTransport(url) if url else SesTransport()
