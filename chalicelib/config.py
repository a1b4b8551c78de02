"""Settings read from the environment on first use, never at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache


@dataclass(frozen=True)
class Settings:
    stage: str
    table_prefix: str
    tenant_cache_seconds: float
    cart_ttl_days: int
    upsell_flag_max_age_seconds: int
    llm_base_url: str | None
    llm_model: str
    llm_timeout_seconds: float
    llm_api_key_parameter: str | None
    storefront_bucket: str
    openai_api_key: str | None = field(default=None, repr=False)  # a secret: kept out of repr/logs
    llm_json_mode: bool = True
    event_bus_name: str = "cartwise-dev"
    order_hold_seconds: int = 900
    # localstripe's address under `make run` and in tests; None in the cloud (the SDK's own default).
    stripe_api_base: str | None = None
    # Per-client abuse limits (chalicelib/limits.py); "off" only for load tests from one address.
    client_limits: bool = True
    # Shopper e-mails (chalicelib/mail/): the storefront their links open; SMTP instead of SES when set
    # (MailDev under `make run`); how long a claimed e-mail is its sender's before another may send it.
    storefront_url: str = "http://127.0.0.1:4566/cartwise-dev-storefront"
    mail_smtp_url: str | None = None
    mail_lease_seconds: int = 60

    @property
    def mail_queue_name(self) -> str:
        """The notifier's queue (and, locally, the bus rule feeding it); infra/template.yml names it alike."""
        return f"{self.table_prefix}-{self.stage}-mail"

    @property
    def mail_dead_letter_queue_name(self) -> str:
        return f"{self.table_prefix}-{self.stage}-mail-dead-letters"

    def table_name(self, entity: str) -> str:
        return f"{self.table_prefix}-{self.stage}-{entity}"

    @property
    def parameter_prefix(self) -> str:
        return f"/cartwise/{self.stage}"

    def stripe_parameter(self, tenant_id: str, name: str) -> str:
        """A tenant's Stripe secret in SSM (SecureString): name is "secret_key" or "webhook_secret"."""
        return f"{self.parameter_prefix}/tenants/{tenant_id}/stripe/{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    stage = env.get("CARTWISE_STAGE", "dev")
    return Settings(
        stage=stage,
        table_prefix=env.get("CARTWISE_TABLE_PREFIX", "cartwise"),
        tenant_cache_seconds=float(env.get("TENANT_CACHE_SECONDS", "60")),
        cart_ttl_days=int(env.get("CART_TTL_DAYS", "7")),
        upsell_flag_max_age_seconds=int(env.get("UPSELL_FLAG_MAX_AGE_SECONDS", "0")),
        llm_base_url=env.get("LLM_BASE_URL") or None,
        llm_model=env.get("LLM_MODEL", "gpt-4o-mini"),
        llm_timeout_seconds=float(env.get("LLM_TIMEOUT_SECONDS", "3")),
        llm_api_key_parameter=env.get("LLM_API_KEY_PARAMETER") or None,
        storefront_bucket=env.get("STOREFRONT_BUCKET", f"cartwise-{stage}-storefront"),
        event_bus_name=env.get("EVENT_BUS_NAME", f"cartwise-{stage}"),
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        llm_json_mode=env.get("LLM_JSON_MODE", "true").strip().lower() != "false",
        order_hold_seconds=int(env.get("ORDER_HOLD_SECONDS", "900")),
        stripe_api_base=env.get("STRIPE_API_BASE") or None,
        client_limits=env.get("CLIENT_LIMITS", "on").strip().lower() != "off",
        storefront_url=env.get("STOREFRONT_URL", f"http://127.0.0.1:4566/cartwise-{stage}-storefront").rstrip("/"),
        mail_smtp_url=env.get("MAIL_SMTP_URL") or None,
        mail_lease_seconds=int(env.get("MAIL_LEASE_SECONDS", "60")),
    )


def reset() -> None:
    """Forget cached settings so tests can change the environment."""
    get_settings.cache_clear()
