"""`python -m scripts.tenants`: create tenants idempotently, issue and rotate admin keys (moto, through the API)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from chalicelib import api_keys, digests, tenants
from chalicelib.models import TenantModel
from scripts.tenants import main
from tests.admin import ACME_KEY, admin

CREATE = [
    "create",
    "--tenant-id",
    "initech",
    "--name",
    "Initech Supplies",
    "--currency",
    "GBP",
    "--vat-rate",
    "0.175",
    "--promo",
    "SUMMER10=0.10",
    "--promo",
    "staff25=0.25",
]


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_create_makes_a_tenant_with_settings_and_prints_its_key_once(api, capsys):
    code, out, err = run(capsys, *CREATE)
    assert code == 0
    assert "tenant initech created" in err
    key = out.strip()
    assert out.count("\n") == 1  # stdout is the key and nothing else, for `KEY=$(...)`
    assert api_keys.tenant_of(key) == "initech"
    assert key not in err

    record = TenantModel.get("initech")
    assert (record.name, record.currency, record.vat_rate) == ("Initech Supplies", "GBP", Decimal("0.175"))
    assert {p.code: p.rate for p in record.promo_codes} == {"STAFF25": Decimal("0.25"), "SUMMER10": Decimal("0.10")}
    assert record.api_key_hashes == {digests.digest(key)}

    assert api.get("/tenants/initech/orders", headers=admin(key)).data == {"items": [], "next_cursor": None}
    assert api.get("/tenants/initech/products").data == {"items": [], "next_cursor": None}
    cart_id = api.post("/tenants/initech/carts").data["cart_id"]
    cart = api.put(f"/tenants/initech/carts/{cart_id}/promo", {"code": "staff25"}).data
    assert (cart["currency"], cart["promo_code"], cart["totals"]["vat_rate"]) == ("GBP", "STAFF25", "0.175")


def test_create_again_updates_settings_and_keeps_the_key(api, capsys):
    _, out, _ = run(capsys, *CREATE)
    key = out.strip()
    code, out, err = run(
        capsys, "create", "--tenant-id", "initech", "--name", "Initech", "--currency", "EUR", "--promo", "NEW5=0.05"
    )
    assert (code, out) == (0, "")
    assert "tenant initech updated" in err
    assert "already has an admin key" in err
    record = TenantModel.get("initech")
    assert (record.name, record.currency, record.vat_rate) == ("Initech", "EUR", Decimal("0.20"))
    assert [p.code for p in record.promo_codes] == ["NEW5"]
    assert api.get("/tenants/initech/orders", headers=admin(key)).status_code == 200


def test_create_on_a_demo_tenant_keeps_its_catalogue_and_key(api, capsys):
    code, out, _ = run(capsys, "create", "--tenant-id", "acme", "--name", "Acme", "--currency", "EUR")
    assert (code, out) == (0, "")
    assert api.get("/tenants/acme/products/tent-2p").status_code == 200
    assert api.get("/tenants/acme/orders", headers=admin(ACME_KEY)).status_code == 200


def test_rotate_key_revokes_the_old_key(api, capsys):
    code, out, err = run(capsys, "rotate-key", "--tenant-id", "acme")
    new_key = out.strip()
    assert code == 0
    assert "other keys revoked" in err
    assert api.get("/tenants/acme/orders", headers=admin(new_key)).status_code == 200
    assert api.get("/tenants/acme/orders", headers=admin(ACME_KEY)).status_code == 401
    assert TenantModel.get("acme").api_key_hashes == {digests.digest(new_key)}


def test_rotate_key_keep_existing_allows_a_switch_over(api, capsys):
    _, out, _ = run(capsys, "rotate-key", "--tenant-id", "acme", "--keep-existing")
    new_key = out.strip()
    assert api.get("/tenants/acme/orders", headers=admin(new_key)).status_code == 200
    assert api.get("/tenants/acme/orders", headers=admin(ACME_KEY)).status_code == 200
    _, newest, _ = run(capsys, "rotate-key", "--tenant-id", "acme")
    assert api.get("/tenants/acme/orders", headers=admin(new_key)).status_code == 401
    assert api.get("/tenants/acme/orders", headers=admin(newest.strip())).status_code == 200


def test_rotate_key_of_an_unknown_tenant_fails_and_creates_nothing(aws, capsys):
    code, out, err = run(capsys, "rotate-key", "--tenant-id", "nobody")
    assert (code, out) == (1, "")
    assert "does not exist" in err
    with pytest.raises(TenantModel.DoesNotExist):
        TenantModel.get("nobody")


@pytest.mark.parametrize(
    "argv",
    [
        ["create", "--tenant-id", "Bad_Id", "--name", "x", "--currency", "EUR"],
        ["create", "--tenant-id", "ok", "--name", "x", "--currency", "euro"],
        ["create", "--tenant-id", "ok", "--name", "x", "--currency", "EUR", "--vat-rate", "1.5"],
        ["create", "--tenant-id", "ok", "--name", "x", "--currency", "EUR", "--vat-rate", "abc"],
        ["create", "--tenant-id", "ok", "--name", "x", "--currency", "EUR", "--promo", "SUMMER10"],
        ["create", "--tenant-id", "ok", "--name", "x", "--currency", "EUR", "--promo", "SUMMER10=0"],
        ["create", "--tenant-id", "ok", "--name", "x", "--currency", "EUR", "--promo", "BAD CODE=0.1"],
        ["create", "--tenant-id", "ok", "--name", " ", "--currency", "EUR"],
        ["create", "--tenant-id", "ok", "--currency", "EUR"],
    ],
)
def test_invalid_arguments_exit_2_and_write_nothing(aws, capsys, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    with pytest.raises(TenantModel.DoesNotExist):
        TenantModel.get("ok")


# set-payment: the demo globex pays on delivery and has no Stripe keys; acme's are the seeded demo ones.
PK, SK, WHSEC = "pk_live_globex123", "sk_live_globex456", "whsec_globex789"
SET_STRIPE = ["set-payment", "--tenant-id", "globex", "--mode", "stripe"]


def stripe_secrets(tenant: str) -> dict[str, tuple[str, str]]:
    """The tenant's Stripe parameters in SSM: name -> (type, value)."""
    from chalicelib import clients

    names = [f"/cartwise/dev/tenants/{tenant}/stripe/{name}" for name in ("secret_key", "webhook_secret")]
    found = clients.ssm().get_parameters(Names=names, WithDecryption=True)["Parameters"]
    return {p["Name"].rsplit("/", 1)[1]: (p["Type"], p["Value"]) for p in found}


def payment_of(tenant: str) -> tuple[str, str | None]:
    record = TenantModel.get(tenant, consistent_read=True)
    return record.payment_mode, record.stripe_publishable_key


def with_secrets(monkeypatch, secret_key: str | None = SK, webhook_secret: str | None = WHSEC) -> None:
    for name, value in (("STRIPE_SECRET_KEY", secret_key), ("STRIPE_WEBHOOK_SECRET", webhook_secret)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


def test_set_payment_stores_the_secrets_from_the_environment_and_switches_to_stripe(aws, capsys, monkeypatch):
    from chalicelib import tenants

    tenants.get_tenant("globex")  # cached on_delivery: the switch must not wait for the cache
    with_secrets(monkeypatch)
    code, out, err = run(capsys, *SET_STRIPE, "--publishable-key", PK)

    assert (code, out) == (0, "")
    assert SK not in err
    assert WHSEC not in err
    assert stripe_secrets("globex") == {"secret_key": ("SecureString", SK), "webhook_secret": ("SecureString", WHSEC)}
    assert payment_of("globex") == ("stripe", PK)
    assert tenants.get_tenant("globex").payment_mode == "stripe"


def test_set_payment_reads_the_secrets_from_stdin_in_any_order(aws, capsys, monkeypatch):
    with_secrets(monkeypatch, None, None)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{WHSEC}\n\n  {SK}  \n"))
    code, _, _ = run(capsys, *SET_STRIPE, "--publishable-key", PK, "--secrets-from-stdin")

    assert code == 0
    assert {name: value for name, (_, value) in stripe_secrets("globex").items()} == {
        "secret_key": SK,
        "webhook_secret": WHSEC,
    }


def test_stored_keys_are_kept_and_on_delivery_only_switches_the_mode(aws, capsys, monkeypatch):
    with_secrets(monkeypatch)
    run(capsys, *SET_STRIPE, "--publishable-key", PK)
    with_secrets(monkeypatch, None, None)

    assert run(capsys, "set-payment", "--tenant-id", "globex", "--mode", "on_delivery")[0] == 0
    assert payment_of("globex") == ("on_delivery", PK)
    assert run(capsys, *SET_STRIPE)[0] == 0  # back to stripe with the keys stored before
    assert payment_of("globex") == ("stripe", PK)
    with_secrets(monkeypatch, "rk_live_rotated", None)
    assert run(capsys, *SET_STRIPE)[0] == 0  # a new (restricted) secret key replaces the old one
    assert stripe_secrets("globex") == {
        "secret_key": ("SecureString", "rk_live_rotated"),
        "webhook_secret": ("SecureString", WHSEC),
    }


@pytest.mark.parametrize(
    ("publishable", "secret_key", "webhook_secret", "reason"),
    [
        (None, SK, WHSEC, "--publishable-key"),
        (PK, None, WHSEC, "STRIPE_SECRET_KEY"),
        (PK, SK, None, "STRIPE_WEBHOOK_SECRET"),
        (PK, "pk_live_not_a_secret", WHSEC, "not sk_... or rk_..."),
        (PK, SK, "whsec-with-a-dash", "not whsec_"),
        ("pk_test_globex123", SK, WHSEC, "must both be test keys or both live keys"),
    ],
)
def test_stripe_mode_is_refused_without_every_key_of_the_right_shape(
    aws, capsys, monkeypatch, publishable, secret_key, webhook_secret, reason
):
    with_secrets(monkeypatch, secret_key, webhook_secret)
    argv = SET_STRIPE + (["--publishable-key", publishable] if publishable else [])
    code, out, err = run(capsys, *argv)

    assert (code, out) == (1, "")
    assert "nothing changed" in err
    assert reason in err
    assert SK not in err
    assert WHSEC not in err
    assert "whsec-with-a-dash" not in err
    assert stripe_secrets("globex") == {}
    assert payment_of("globex") == ("on_delivery", None)


def test_set_payment_of_an_unknown_tenant_fails_and_stores_no_secret(aws, capsys, monkeypatch):
    with_secrets(monkeypatch)
    code, _, err = run(capsys, "set-payment", "--tenant-id", "nobody", "--mode", "stripe", "--publishable-key", PK)

    assert code == 1
    assert "does not exist" in err
    assert stripe_secrets("nobody") == {}
    with pytest.raises(TenantModel.DoesNotExist):
        TenantModel.get("nobody")


@pytest.mark.parametrize(
    "argv",
    [
        ["set-payment", "--tenant-id", "globex", "--mode", "card"],
        ["set-payment", "--tenant-id", "globex", "--mode", "stripe", "--publishable-key", "sk_live_globex456"],
        # Secrets are never arguments: shell history and `ps` would show them.
        ["set-payment", "--tenant-id", "globex", "--mode", "stripe", "--secret-key", "sk_live_globex456"],
    ],
)
def test_set_payment_rejects_bad_arguments(aws, argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert payment_of("globex") == ("on_delivery", None)


def test_provisioning_stores_the_demo_keys_as_set_payment_does_and_makes_acme_the_card_shop(aws):
    import json

    from tests.admin import DATA

    demo = json.loads((DATA / "acme.json").read_text())["payment"]
    assert demo["mode"] == "stripe"
    assert payment_of("acme") == ("stripe", demo["publishable_key"])
    assert payment_of("globex") == ("on_delivery", None)
    assert stripe_secrets("acme") == {
        "secret_key": ("SecureString", demo["secret_key"]),
        "webhook_secret": ("SecureString", demo["webhook_secret"]),
    }
    assert demo["publishable_key"].startswith("pk_test_")
    assert demo["secret_key"].startswith("sk_test_")


def test_set_mail_sets_the_shops_sender_and_refuses_what_could_inject_a_header(api, capsys):
    from chalicelib.models import TenantModel

    code, out, err = run(
        capsys,
        "set-mail",
        "--tenant-id",
        "acme",
        "--from",
        "Acme Shop <shop@acme.example>",
        "--reply-to",
        "help@acme.example",
    )
    assert (code, err) == (0, "")
    assert out == "from: Acme Shop <shop@acme.example>\nreply-to: help@acme.example\n"
    assert TenantModel.get("acme", consistent_read=True).mail.as_dict() == {
        "from": "Acme Shop <shop@acme.example>",
        "reply_to": "help@acme.example",
    }
    assert tenants.get_tenant("acme", fresh=True).mail == tenants.MailSender(
        "Acme Shop <shop@acme.example>", "help@acme.example"
    )
    for refused in ("Eve <eve@evil.example>\r\nBcc: victim@example.com", "a@x.example, b@y.example", "nobody"):
        code, out, err = run(capsys, "set-mail", "--tenant-id", "acme", "--from", refused)
        assert (code, out) == (1, "")
        assert err.startswith("nothing changed: ")
    assert TenantModel.get("acme", consistent_read=True).mail.as_dict()["from"] == "Acme Shop <shop@acme.example>"
    code, _, err = run(capsys, "set-mail", "--tenant-id", "nobody", "--from", "x@y.example")
    assert (code, err) == (1, "nothing changed: Tenant 'nobody' does not exist.\n")
    # No reply-to: replies go to the sender (the attribute is left out).
    assert run(capsys, "set-mail", "--tenant-id", "acme", "--from", "shop@acme.example")[0] == 0
    assert TenantModel.get("acme", consistent_read=True).mail.as_dict() == {"from": "shop@acme.example"}
