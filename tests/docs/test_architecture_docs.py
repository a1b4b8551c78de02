"""docs/architecture.md: five Mermaid diagrams that parse and stay true to the code; the decision index.

Parsing is checked by rendering with Mermaid's own CLI (scripts/check_mermaid.py: the pinned npm
package on Debian's Chromium, one mmdc process for all five diagrams); a broken diagram is shown to
fail. The data model must list exactly the tables, keys and attributes of chalicelib/models.py; the
order lifecycle exactly the statuses of the API, each move of units keeping stock + reserved + sold.
"""

from __future__ import annotations

import re
import typing
from pathlib import Path

import pytest
import yaml

from chalicelib import contention, orders_stream
from chalicelib.api.schemas import OrderListQuery
from chalicelib.models import ALL_MODELS
from chalicelib.upsell import candidates
from scripts import check_mermaid
from scripts.local_stack import DEFAULT_API_PORT, DEFAULT_AWS_PORT, DEFAULT_DYNAMODB_PORT

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"
DECISIONS = REPO / "docs" / "decisions"
SECTIONS = ("Orders and stock", "System context", "Checkout sequence", "Data model", "Local and cloud deployment")
KINDS = ("stateDiagram-v2", "flowchart", "sequenceDiagram", "erDiagram", "flowchart")


def diagrams() -> dict[str, str]:
    """Section heading -> the Mermaid block under it."""
    found = {}
    for section in ARCHITECTURE.read_text().split("\n## ")[1:]:
        heading, _, body = section.partition("\n")
        blocks = check_mermaid.blocks(body)
        if blocks:
            assert len(blocks) == 1, f"one diagram per section: {heading}"
            found[heading] = blocks[0]
    return found


def test_five_diagrams_of_the_right_kinds():
    found = diagrams()
    assert tuple(found) == SECTIONS
    assert tuple(block.split(None, 1)[0] for block in found.values()) == KINDS


def test_the_diagrams_render_with_mermaid(tmp_path):
    svgs = check_mermaid.render(list(diagrams().values()), tmp_path)
    assert [svg.name for svg in svgs] == [f"diagram-{n}.svg" for n in range(1, 6)]
    texts = [svg.read_text() for svg in svgs]
    assert all(text.lstrip().startswith("<svg") for text in texts)
    # Rendered, not just accepted: the labels are in the pictures.
    assert "pending_payment" in texts[0]
    assert "stock_released" in texts[0]
    assert "Shopper" in texts[1]
    assert "TransactWriteItems" in texts[2]
    assert "co_purchases_counted_at" in texts[3]
    assert "LocalStack" in texts[4]


def test_the_check_fails_on_a_broken_diagram_and_names_it(tmp_path):
    good = "flowchart LR\n  a --> b\n"
    broken = "flowchart LR\n  a --> \n  b -->> ((\n"
    with pytest.raises(check_mermaid.MermaidError, match="Parse error") as failure:
        check_mermaid.render([good, broken, good], tmp_path)
    assert failure.value.index == 2


def test_block_extraction():
    text = "# t\n```mermaid\nflowchart LR\n  a --> b\n```\n\n```sh\necho\n```\n````mermaid\nerDiagram\n````\n"
    assert check_mermaid.blocks(text) == ["flowchart LR\n  a --> b\n", "erDiagram\n"]


MINUS = "\u2212"  # the diagram writes a move out of a counter with the typeset minus sign


def transitions(state_diagram: str) -> list[tuple[str, str, str]]:
    """(from, to, label) of every `a --> b: label` line."""
    return re.findall(r"^\s*(\S+) --> (\S+?)(?::\s*(.*))?$", state_diagram, re.MULTILINE)


def test_the_order_lifecycle_is_the_apis_statuses_and_keeps_every_unit():
    lifecycle = transitions(diagrams()["Orders and stock"])
    states = {state for source, target, _ in lifecycle for state in (source, target)} - {"[*]"}
    (statuses, _) = typing.get_args(OrderListQuery.model_fields["status"].annotation)
    assert states == set(typing.get_args(statuses))
    order = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())["components"]["schemas"]["Order"]
    assert states == set(order["properties"]["status"]["enum"])
    # Each status the orders stream announces is reached by some transition.
    assert set(orders_stream.STATUS_EVENTS) <= {target for _, target, _ in lifecycle}
    for source, target, label in lifecycle:
        if target == "[*]":
            continue
        moves = re.findall(rf"(stock|reserved|sold) ([{MINUS}+])q", label)
        if "no move" in label:
            assert moves == [], label
        else:  # units leave one counter for another: stock + reserved + sold is unchanged
            assert sorted(sign for _, sign in moves) == ["+", MINUS], (source, target, label)
            assert moves[0][0] != moves[1][0], label


def entity_blocks(er: str) -> dict[str, list[list[str]]]:
    """ENTITY -> its attribute lines as [type, name, key?, ...] (comments dropped)."""
    entities = {}
    for name, body in re.findall(r"^\s*(\w+) \{\n(.*?)^\s*\}", er, re.MULTILINE | re.DOTALL):
        entities[name] = [re.sub(r'"[^"]*"', "", line).split() for line in body.strip().splitlines()]
    return entities


def test_data_model_is_the_pynamodb_models():
    entities = entity_blocks(diagrams()["Data model"])
    expected = {model.Meta.__dict__["table_name"].entity.upper(): model for model in ALL_MODELS}
    assert set(entities) == set(expected)
    for entity, model in expected.items():
        lines = entities[entity]
        assert {line[1] for line in lines} == set(model.get_attributes()), entity
        keys = {line[1] for line in lines if len(line) > 2 and line[2] == "PK"}
        assert keys == {model._hash_keyname, model._range_keyname} - {None}, entity
        assert lines[0][1] == "tenant_id", f"{entity}: the partition key comes first"


def test_diagrams_use_the_codes_names_and_figures():
    found = diagrams()
    _, context, sequence, _, deployment = (found[section] for section in SECTIONS)
    for actor in ("Shopper", "API client", "Operator", "LLM"):
        assert actor in context
    for service in ("API Gateway", "Lambda", "DynamoDB", "SSM Parameter Store", "S3", "EventBridge", "CloudWatch"):
        assert service in context

    for name in (
        "Idempotency-Key",
        "TransactWriteItems",
        "TransactionCanceledException",
        "409 OUT_OF_STOCK",
        "422 IDEMPOTENCY_KEY_REUSED",
        "409 CART_CLOSED",
        "409 PRICE_CHANGED",
        "UPSELL_ENABLED",
        "LLM_TIMEOUT_SECONDS (3 s)",
        "deterministic fallback",
        "201 order and upsell",
        f"{contention.ATTEMPTS} attempts",
        f"{candidates.MAX_CANDIDATES} at most",
    ):
        assert name in sequence, name

    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    localstack_version = compose["services"]["localstack"]["image"].rsplit(":", 1)[1]
    assert f"LocalStack {localstack_version}" in deployment
    for port in (DEFAULT_API_PORT, DEFAULT_DYNAMODB_PORT, DEFAULT_AWS_PORT):
        assert f":{port}" in deployment
    for function in ("APIHandler", "AdminKey", "OrderStream"):
        assert function in deployment


# ---- decision records ----


def decision_files() -> dict[int, Path]:
    files = sorted(DECISIONS.glob("[0-9][0-9][0-9][0-9]-*.md"))
    numbers = [int(path.name[:4]) for path in files]
    assert len(set(numbers)) == len(numbers), "two decision records share a number"
    return dict(zip(numbers, files, strict=True))


def test_every_decision_record_has_a_title_and_a_status():
    for number, path in decision_files().items():
        lines = path.read_text().splitlines()
        assert re.fullmatch(rf"# {number}\. \S.*", lines[0]), path.name
        assert any(re.fullmatch(r"Status: \S.*", line) for line in lines[1:5]), path.name


def test_the_decision_index_lists_every_record_with_its_title():
    index = (DECISIONS / "README.md").read_text()
    rows = re.findall(r"^\| \[(\d+)\]\((\d{4}-[^)]+\.md)\) \| (.+?) \| (\w+) \|", index, re.MULTILINE)
    files = decision_files()
    assert [int(number) for number, *_ in rows] == sorted(files)
    for number, target, title, status in rows:
        path = files[int(number)]
        assert target == path.name
        text = path.read_text()
        assert text.splitlines()[0] == f"# {number}. {title}"
        assert re.search(rf"^Status: {status}\b", text, re.MULTILINE), path.name
