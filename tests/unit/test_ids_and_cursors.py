import pytest

from chalicelib import cursors, ids
from chalicelib.errors import BadRequest
from chalicelib.ids import is_product_id, is_ulid, new_ulid


def test_ulids_sort_by_time():
    earlier, later = new_ulid(now_ms=1_700_000_000_000), new_ulid(now_ms=1_700_000_000_001)
    assert is_ulid(earlier)
    assert is_ulid(later)
    assert earlier < later


def test_ulids_are_unique_within_a_millisecond():
    assert len({new_ulid(now_ms=1) for _ in range(1000)}) == 1000


def test_cursor_round_trip():
    assert cursors.decode(cursors.encode("tent-2p"), is_product_id) == "tent-2p"


@pytest.mark.parametrize("cursor", ["not-base64!", "e30", cursors.encode("../etc/passwd"), "eyJrIjoxfQ"])
def test_foreign_cursors_are_rejected(cursor):
    with pytest.raises(BadRequest):
        cursors.decode(cursor, is_product_id)


@pytest.mark.parametrize(
    ("check", "valid"),
    [(ids.is_ulid, "01ARZ3NDEKTSV4RRFFQ69G5FAV"), (ids.is_tenant_id, "acme"), (ids.is_product_id, "mug-blue")],
)
def test_an_id_with_a_trailing_newline_is_not_an_id(check, valid):
    assert check(valid)
    assert not check(valid + "\n")
    assert not check(valid + "\n" + "x")
