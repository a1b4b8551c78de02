"""docs/architecture.md: four Mermaid diagrams that parse and stay true to the code; the decision index.

Parsing is checked by rendering with Mermaid's own CLI (scripts/check_mermaid.py: the pinned npm
package on Debian's Chromium, one mmdc process for all four diagrams); a broken diagram is shown to
fail. The data model must list exactly the tables, keys and attributes of chalicelib/models.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from chalicelib import checkout
from chalicelib.models import ALL_MODELS
from chalicelib.upsell import candidates
from scripts import check_mermaid
from scripts.local_stack import DEFAULT_API_PORT, DEFAULT_AWS_PORT, DEFAULT_DYNAMODB_PORT

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"
DECISIONS = REPO / "docs" / "decisions"
SECTIONS = ("System context", "Checkout sequence", "Data model", "Local and cloud deployment")
KINDS = ("flowchart", "sequenceDiagram", "erDiagram", "flowchart")


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


def test_four_diagrams_of_the_right_kinds():
    found = diagrams()
    assert tuple(found) == SECTIONS
    assert tuple(block.split(None, 1)[0] for block in found.values()) == KINDS


def test_the_diagrams_render_with_mermaid(tmp_path):
    svgs = check_mermaid.render(list(diagrams().values()), tmp_path)
    assert [svg.name for svg in svgs] == ["diagram-1.svg", "diagram-2.svg", "diagram-3.svg", "diagram-4.svg"]
    texts = [svg.read_text() for svg in svgs]
    assert all(text.lstrip().startswith("<svg") for text in texts)
    # Rendered, not just accepted: the labels are in the pictures.
    assert "Shopper" in texts[0]
    assert "TransactWriteItems" in texts[1]
    assert "co_purchases_counted_at" in texts[2]
    assert "LocalStack" in texts[3]


def test_the_check_fails_on_a_broken_diagram_and_names_it(tmp_path):
    good = "flowchart LR\n  a --> b\n"
    broken = "flowchart LR\n  a --> \n  b -->> ((\n"
    with pytest.raises(check_mermaid.MermaidError, match="Parse error") as failure:
        check_mermaid.render([good, broken, good], tmp_path)
    assert failure.value.index == 2


def test_block_extraction():
    text = "# t\n```mermaid\nflowchart LR\n  a --> b\n```\n\n```sh\necho\n```\n````mermaid\nerDiagram\n````\n"
    assert check_mermaid.blocks(text) == ["flowchart LR\n  a --> b\n", "erDiagram\n"]


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
    context, sequence, _, deployment = (found[section] for section in SECTIONS)
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
        f"{checkout.ATTEMPTS} attempts",
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
