"""`python -m scripts.tenants`: create tenants idempotently, issue and rotate admin keys (moto, through the API)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from chalicelib import api_keys, digests
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
