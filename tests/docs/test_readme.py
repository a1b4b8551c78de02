"""The commands of the README and of every page under docs/, run as written against the local stack,
so the docs cannot rot.

Every ```sh block of README.md and of docs/**/*.md is either runnable locally (info string
`sh test=<group>`, optionally `after=<group>` to run another group's blocks first in the same shell) or
a cloud block (`sh cloud`); the README's quickstart and the pages in NOT_YET_MARKED are the only
exceptions. A group's blocks live on one page and run in page order. Local groups run with bash
(`set -euo pipefail`) from the repository root, in a bare environment (PATH=/usr/local/bin:/usr/bin:/bin,
HOME, LANG: nothing from this process, so a block must set what it needs), with the fixed local URLs
(:8000, :4566, :8001) swapped for the session stack's free ports. Their stdout is read as a stream of
JSON documents, HTTP status lines (`HTTP 201`) and bare status codes, and checked figure by figure.
Cloud blocks need AWS, so they are checked offline: make targets (make -n), aws operations and options
(botocore's service models), tenants CLI arguments. The configuration tables of docs/operations.md are
held to the code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import struct
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import jmespath
import pytest
from botocore import xform_name
from botocore.session import Session

from chalicelib import config
from scripts.local_stack import free_port, start_chalice_local
from support.llm_stub import StubLLM, suggestions
from tests.conftest import TENT_AND_TWO_HEADLAMPS_SUMMER10

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
OPERATIONS = REPO / "docs" / "operations.md"  # the configuration tables and the operator's commands
# Every page whose ```sh blocks are collected: the README first, then docs/ in path order.
PAGES = [README, *sorted((REPO / "docs").rglob("*.md"))]
# Pages whose plain ```sh blocks are shown, not yet run or checked; mark them (test= or cloud) and
# drop the page from this set. A page listed here without a plain sh block fails the check below.
NOT_YET_MARKED = {"docs/deploy.md", "docs/upsell.md"}
BARE_PATH = "/usr/local/bin:/usr/bin:/bin"
GLOBAL_FLAG = "/cartwise/dev/flags/UPSELL_ENABLED"
ACME_OVERRIDE = "/cartwise/dev/tenants/acme/flags/UPSELL_ENABLED"
LOCAL_GROUPS = {"checkout", "shell", "flag", "keys", "stock", "llm-log"}
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")
# aws CLI options that are not members of an operation's input shape.
AWS_GLOBAL_OPTIONS = {"--query", "--output", "--region", "--endpoint-url", "--profile", "--no-cli-pager", "--debug"}


@dataclass(frozen=True)
class Block:
    lang: str
    attrs: dict[str, str]
    body: str
    page: str = ""  # the page's path from the repository root ("" for text given directly)


@dataclass(frozen=True)
class Status:
    code: int


@dataclass
class Run:
    stdout: str
    stderr: str
    outputs: list[Any] = field(default_factory=list)


def parse_blocks(text: str, page: str = "") -> list[Block]:
    """The fenced blocks of one Markdown text, in order."""
    found = []
    for match in FENCE.finditer(text):
        words = match.group("info").split()
        lang = words[0] if words else ""
        attrs = dict(word.split("=", 1) if "=" in word else (word, "") for word in words[1:])
        found.append(Block(lang, attrs, match.group("body"), page))
    return found


def readme_blocks(text: str | None = None) -> list[Block]:
    """The README's blocks (or those of `text`)."""
    return parse_blocks(README.read_text(), "README.md") if text is None else parse_blocks(text)


def doc_blocks() -> list[Block]:
    """The blocks of the README and of every page under docs/, page by page."""
    return [block for page in PAGES for block in parse_blocks(page.read_text(), page.relative_to(REPO).as_posix())]


def group_script(group: str) -> str:
    """The blocks of one group in page order, after the blocks of the group it names in `after=`."""
    blocks = [block for block in doc_blocks() if block.attrs.get("test") == group]
    assert blocks, f"no page has a ```sh test={group} block"
    pages = {block.page for block in blocks}
    assert len(pages) == 1, f"the blocks of group {group} are spread over {sorted(pages)}: keep a group on one page"
    afters = {block.attrs.get("after") for block in blocks}
    assert len(afters) == 1, f"the blocks of group {group} disagree on after=: {afters}"
    after = afters.pop()
    prefix = group_script(after) if after else ""
    return prefix + "".join(block.body for block in blocks)


def localise(script: str, stack: Any, replacements: dict[str, str] | None = None) -> str:
    """Point the docs' fixed local URLs (and the venv) at the session stack."""
    fixed = {
        "http://127.0.0.1:8000": stack.api_url,
        "http://127.0.0.1:4566": stack.aws_url,
        "http://127.0.0.1:8001": stack.dynamodb_url,
        "source .venv/bin/activate": f"source {shlex.quote(sys.prefix)}/bin/activate",
        **(replacements or {}),
    }
    for old, new in fixed.items():
        script = script.replace(old, new)
    return script


def parse_outputs(text: str) -> list[Any]:
    """stdout as a list of JSON documents and Status lines (`HTTP 201`), in order."""
    decoder = json.JSONDecoder()
    outputs: list[Any] = []
    position = 0
    status_line = re.compile(r"HTTP (\d{3})\n")
    space = re.compile(r"\s*")
    while True:
        position = space.match(text, position).end()
        if position >= len(text):
            return outputs
        status = status_line.match(text, position)
        if status:
            outputs.append(Status(int(status.group(1))))
            position = status.end()
            continue
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"unexpected output at {position}: {text[position : position + 200]!r}") from exc
        outputs.append(value)


def run_bash(script: str, suffix: str = "") -> Run:
    env = {"PATH": BARE_PATH, "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
    result = subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script + suffix],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n--- script\n{script}\n--- stderr\n{result.stderr}"
    return Run(result.stdout, result.stderr, parse_outputs(result.stdout))


def ssm_client(stack: Any) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=stack.aws_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def parameter(ssm: Any, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


@pytest.fixture
def global_flag_on(local_stack: Any) -> Iterator[Any]:
    """The global flag on for one test; its value before and no acme override afterwards."""
    ssm = ssm_client(local_stack)
    before = parameter(ssm, GLOBAL_FLAG)
    ssm.put_parameter(Name=GLOBAL_FLAG, Value="true", Type="String", Overwrite=True)
    yield ssm
    if before is not None:
        ssm.put_parameter(Name=GLOBAL_FLAG, Value=before, Type="String", Overwrite=True)
    with contextlib.suppress(ssm.exceptions.ParameterNotFound):
        ssm.delete_parameter(Name=ACME_OVERRIDE)


@pytest.fixture
def demo_catalogue(local_stack: Any, stack_aws: None) -> None:
    """acme as `make run` seeds it, which is what the README assumes.

    The session stack is shared: other tests buy, restock and (schemathesis, with the admin key)
    rewrite acme's products. Re-seeding rewrites the tenant and its 16 demo products (prices, stock,
    reserved; the units sold are kept) and touches nothing else. It refuses to overwrite units held
    by orders awaiting payment (acme takes cards, and the README's checkout leaves one awaiting its
    payment), so acme's are cancelled first, with the admin key, as an operator would.
    """
    from chalicelib.models import OrderModel
    from scripts.provision import load_tenant_files, seed_tenant
    from tests.admin import ACME_KEY

    awaiting = OrderModel.query("acme", consistent_read=True, filter_condition=OrderModel.hold_queue.exists())
    with httpx.Client(base_url=local_stack.api_url, timeout=30) as http:
        for order in awaiting:
            cancel = http.post(f"/tenants/acme/orders/{order.order_id}/cancel", headers={"X-Api-Key": ACME_KEY})
            assert cancel.status_code in (200, 409), cancel.text  # 409: paid or lapsed meanwhile
    (acme,) = [data for data in load_tenant_files() if data["tenant_id"] == "acme"]
    seed_tenant(acme)


# ---- the blocks themselves ----


def test_every_sh_block_is_run_locally_or_checked_as_cloud():
    blocks = [block for block in doc_blocks() if block.lang == "sh"]
    groups = {block.attrs["test"] for block in blocks if "test" in block.attrs}
    assert groups == LOCAL_GROUPS, "a new test= group needs its assertions in this file"
    unmarked = [block for block in blocks if "test" not in block.attrs and "cloud" not in block.attrs]
    # The README's quickstart: `make run` is what the tests stand in for, `make test` and `make test-fast` run them.
    assert [commands(block.body) for block in unmarked if block.page == "README.md"] == [
        [["make", "run"], ["make", "test"], ["make", "test-fast"]]
    ]
    elsewhere = {block.page for block in unmarked if block.page != "README.md"}
    assert elsewhere <= NOT_YET_MARKED, f"mark their sh blocks test=<group> or cloud: {elsewhere - NOT_YET_MARKED}"
    assert elsewhere >= NOT_YET_MARKED, f"marked now, drop from NOT_YET_MARKED: {NOT_YET_MARKED - elsewhere}"


def test_blocks_are_collected_from_the_readme_and_every_docs_page():
    pages = {path.relative_to(REPO).as_posix() for path in PAGES}
    assert pages >= {"README.md", "docs/operations.md", "docs/testing.md", "docs/decisions/README.md"}
    assert PAGES[0] == README
    where = {block.attrs["test"]: block.page for block in doc_blocks() if "test" in block.attrs}
    # The tour stays on the front door; the operator's commands moved to operations.md and keep running.
    assert where == {
        "checkout": "README.md",
        "shell": "docs/operations.md",
        "flag": "docs/operations.md",
        "keys": "docs/operations.md",
        "stock": "docs/operations.md",
        "llm-log": "docs/operations.md",
    }


def test_block_parsing_and_output_parsing():
    text = "```sh test=a after=b\necho 1\n```\n\n```sh cloud\nmake x\n```\n"
    assert readme_blocks(text) == [
        Block("sh", {"test": "a", "after": "b"}, "echo 1\n"),
        Block("sh", {"cloud": ""}, "make x\n"),
    ]
    assert [block.page for block in parse_blocks(text, "docs/x.md")] == ["docs/x.md", "docs/x.md"]
    assert parse_outputs('{"a": 1}\nHTTP 201\n{"b": [2]}200\n401\n') == [{"a": 1}, Status(201), {"b": [2]}, 200, 401]
    with pytest.raises(AssertionError, match="unexpected output"):
        parse_outputs("not json")


def test_checkout_walkthrough(local_stack, demo_catalogue):
    run = run_bash(localise(group_script("checkout"), local_stack))
    products, cart, promo_cart, delivered, created, status_created, replayed, status_replayed, orders, error = (
        run.outputs
    )

    assert len(products["items"]) == 3
    assert isinstance(products["next_cursor"], str)

    assert [(line["product_id"], line["quantity"], line["line_total"]) for line in cart["items"]] == [
        ("tent-2p", 1, "129.00"),
        ("headlamp", 2, "49.98"),
    ]
    assert cart["totals"] == {
        "subtotal": "178.98",
        "discount": "0.00",
        "net": "178.98",
        "shipping": "0.00",
        "vat_rate": "0.20",
        "vat": "35.80",
        "total": "214.78",
    }
    totals = TENT_AND_TWO_HEADLAMPS_SUMMER10
    assert promo_cart["promo_code"] == "SUMMER10"
    assert promo_cart["totals"] == totals
    # Standard shipping is free over 50.00 and the net is 161.08: the totals stay those above.
    address = {"name": "Ada Lovelace", "line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"}
    method = {"id": "standard", "name": "Standard", "price": "4.90", "days": {"min": 2, "max": 4}}
    assert delivered["delivery"] == {
        "email": "ada@example.com",
        "address": {**address, "country": "DE"},
        "method": method,
    }
    assert delivered["totals"] == totals

    assert status_created == Status(201)
    order = created["order"]
    assert order["totals"] == totals
    # acme takes cards: the order awaits its payment, its units held for ORDER_HOLD_SECONDS (900 by default).
    assert (order["status"], order["currency"], order["promo_code"]) == ("pending_payment", "EUR", "SUMMER10")
    publishable_key = json.loads((REPO / "data" / "tenants" / "acme.json").read_text())["payment"]["publishable_key"]
    assert order["payment"] == {"provider": "stripe", "status": "requires_payment", "publishable_key": publishable_key}
    held = datetime.fromisoformat(order["hold_expires_at"]) - datetime.fromisoformat(order["created_at"])
    assert held == timedelta(seconds=900)
    # The checkout answers the holder of its token: the delivery's e-mail, its address and method as sold.
    assert (order["email"], order["delivery"], order["fulfilment"]) == (
        "ada@example.com",
        {"address": {**address, "country": "DE"}, "method": method},
        None,
    )
    assert [step["event"] for step in order["timeline"]] == ["created"]
    assert order["cart_id"] == cart["cart_id"]
    # An answer with suggestions also names its set (what adding one of them passes along).
    with_set = {"set_id"} if created["upsell"]["suggestions"] else set()
    assert set(created["upsell"]) == {"enabled", "source", "suggestions"} | with_set

    assert status_replayed == Status(200)
    assert replayed["order"] == order

    assert orders["items"][0] == {**order, "email": "ada@example.com"}
    assert error == {
        "error": {
            "code": "OUT_OF_STOCK",
            "message": "Not enough stock for: water-filter",
            "details": {"items": [{"product_id": "water-filter", "requested": 1, "available": 0}]},
        }
    }


def test_flag_toggle(local_stack, demo_catalogue, global_flag_on):
    ssm = global_flag_on  # on, so the README's first command is a real flip
    run = run_bash(localise(group_script("flag"), local_stack))
    put_off, upsell_off, put_on, upsell_on, put_override, upsell_override = run.outputs

    for put in (put_off, put_on, put_override):
        assert set(put) == {"Version", "Tier"}
    disabled = {"enabled": False, "source": "disabled", "suggestions": []}
    assert upsell_off == disabled
    assert upsell_on["enabled"] is True
    assert upsell_on["source"] == "fallback"
    suggested = [suggestion["product_id"] for suggestion in upsell_on["suggestions"]]
    # The stove's two hints first; a third only once the shop has best sellers (orders counted).
    assert set(suggested[:2]) == {"cook-set", "fuel-canister"}
    assert len(suggested) <= 3
    assert "camp-stove" not in suggested
    assert upsell_override == disabled

    # Left as the README says: the global flag on, no acme override, so acme follows it again.
    assert parameter(ssm, GLOBAL_FLAG) == "true"
    assert parameter(ssm, ACME_OVERRIDE) is None


def test_key_rotation(local_stack):
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=local_stack.dynamodb_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    table = "cartwise-dev-tenants"
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"tenant_id": {"S": "initech"}}), "initech exists"

    print_keys = '\necho "{\\"keys\\": [\\"$KEY\\", \\"$NEW\\"]}"\n'  # test only: which keys the README issued
    run = run_bash(localise(group_script("keys"), local_stack), suffix=print_keys)
    listing, new_status, old_status, keys = run.outputs
    assert listing == {"items": [], "next_cursor": None}
    assert (new_status, old_status) == (200, 401)
    assert "tenant initech created" in run.stderr

    old_key, new_key = keys["keys"]
    for key in (old_key, new_key):
        assert re.fullmatch(r"cw_initech_[A-Za-z0-9_-]{43}", key)
    assert old_key != new_key
    stored = dynamodb.get_item(TableName=table, Key={"tenant_id": {"S": "initech"}}, ConsistentRead=True)["Item"]
    assert stored["api_key_hashes"]["SS"] == [hashlib.sha256(new_key.encode()).hexdigest()]
    assert stored["currency"]["S"] == "EUR"


def test_stock_adjustments(local_stack, demo_catalogue):
    """docs/operations.md: an adjustment with its key, the same again (applied once), one without a
    key and a PUT that sets an existing product's stock (both 400, nothing written)."""
    from chalicelib.models import ProductModel

    run = run_bash(localise(group_script("stock"), local_stack))
    adjusted, again, keyless, put = run.outputs

    assert (adjusted["product_id"], adjusted["stock"]) == ("headlamp", 50)  # 30 seeded, 20 added
    assert again == adjusted
    assert keyless["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    assert (put["error"]["code"], [f["field"] for f in put["error"]["details"]["fields"]]) == ("BAD_REQUEST", ["stock"])
    headlamp = ProductModel.get("acme", "headlamp", consistent_read=True)
    assert (headlamp.stock, headlamp.name) == (50, adjusted["name"])


def test_llm_log_line(local_stack, demo_catalogue, global_flag_on, tmp_path):
    """The README's grep finds the line an LLM call writes to chalice local's log (scripted LLM server)."""
    stub = StubLLM().start()
    port = free_port()
    chalice = start_chalice_local(port, {**local_stack.env, "LLM_BASE_URL": stub.base_url}, log_dir=tmp_path)
    try:
        api = f"http://127.0.0.1:{port}/tenants/acme"
        with httpx.Client(timeout=30) as http:
            cart = http.post(f"{api}/carts", json={"items": [{"product_id": "camp-stove", "quantity": 1}]}).json()
            stub.script(suggestions(("fuel-canister", "The stove runs on these canisters.")))
            upsell = http.get(f"{api}/carts/{cart['cart_id']}/upsell").json()
        assert upsell["source"] == "llm"
        assert upsell["suggestions"][0]["product_id"] == "fuel-canister"

        run = run_bash(localise(group_script("llm-log"), local_stack, {".local/logs/": f"{tmp_path}/"}))
    finally:
        chalice.stop()
        stub.stop()
    (line,) = run.outputs
    assert line["message"] == "Up-sell LLM call"
    assert (line["tenant_id"], line["cart_id"], line["model"]) == ("acme", cart["cart_id"], "gpt-4o-mini")
    assert (line["outcome"], line["source"]) == ("accepted", "llm")
    assert "error" not in line  # Powertools leaves out fields whose value is None
    assert "fuel-canister" in line["raw_response"]
    assert [message["role"] for message in line["prompt"]] == ["system", "user"]
    assert line["latency_ms"] >= 0


# ---- configuration tables against the code ----


def table_rows(heading: str, page: Path = OPERATIONS) -> list[list[str]]:
    """The rows (cells stripped) of the first Markdown table under a heading of a page."""
    section = page.read_text().split(f"\n{heading}\n", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("|"):
            rows.append([cell.strip() for cell in line.strip("|").split("|")])
        elif rows:
            break
    return rows[2:]  # without the header and the |---| line


def test_environment_table_lists_every_variable_the_code_reads_with_its_default():
    rows = table_rows("### Environment variables")
    documented = {}
    for row in rows:
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0]):
            documented[name] = row[1]

    source = (REPO / "chalicelib" / "config.py").read_text()
    reads = re.findall(r'env\.get\("([A-Z_]+)"(?:, f?"([^"]*)")?\)', source)
    assert len(reads) >= 13
    chalice_config = json.loads((REPO / ".chalice" / "config.json").read_text())
    stage_names = {
        name
        for scope in [chalice_config, *chalice_config["stages"].values()]
        for name in scope.get("environment_variables", {})
    }
    read_by_libraries = {
        "POWERTOOLS_LOG_LEVEL",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    code_names = {name for name, _ in reads} | stage_names
    assert code_names <= set(documented), f"undocumented: {code_names - set(documented)}"
    assert set(documented) <= code_names | read_by_libraries, f"not read: {set(documented) - code_names}"
    for name, default in reads:
        assert documented[name] == (f"`{default}`" if default else "unset"), name
    for name, value in chalice_config["environment_variables"].items():
        assert documented[name] == f"`{value}`" or f"`{name}={value}`" in OPERATIONS.read_text(), name
    for stage, settings in chalice_config["stages"].items():
        for name, value in settings.get("environment_variables", {}).items():
            assert f"`{name}={value}`" in OPERATIONS.read_text(), (stage, name)


def test_table_prefix_row_names_every_table_of_the_models():
    from chalicelib.models import ALL_MODELS

    (row,) = [row for row in table_rows("### Environment variables") if row[0] == "`CARTWISE_TABLE_PREFIX`"]
    (names,) = re.findall(r"`\{prefix\}-\{stage\}-\{([a-z,]+)\}`", row[2])
    entities = [vars(model.Meta)["table_name"].entity for model in ALL_MODELS]
    assert names.split(",") == entities


def test_ssm_table_names_the_parameters_the_code_reads(monkeypatch):
    from chalicelib.upsell import flags

    monkeypatch.setenv("CARTWISE_STAGE", "{stage}")
    config.reset()
    try:
        names = flags.parameter_names("{tenant_id}")
    finally:
        config.reset()
    documented = " ".join(row[0] for row in table_rows("### SSM parameters"))
    for name in names:
        assert f"`{name}`" in documented
    prod = json.loads((REPO / ".chalice" / "config.json").read_text())["stages"]["prod"]
    assert f"`{prod['environment_variables']['LLM_API_KEY_PARAMETER']}`" in documented


# ---- cloud blocks, offline ----


def commands(script: str) -> list[list[str]]:
    """The commands of a block: backslash continuations joined, comments dropped, env assignments stripped."""
    found = []
    for line in script.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words and ENV_ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words:
            found.append(words)
    return found


def check_aws_command(words: list[str]) -> None:
    """The service, operation and every option exist in botocore's model; --query compiles."""
    service, operation, *options = words[1:]
    model = Session().get_service_model(service)
    names = {xform_name(name, "-"): name for name in model.operation_names}
    assert operation in names, f"aws {service} has no operation {operation}"
    members = {f"--{xform_name(member, '-')}" for member in model.operation_model(names[operation]).input_shape.members}
    flags = [word for word in options if word.startswith("--")]
    for flag in flags:
        assert flag in members | AWS_GLOBAL_OPTIONS, f"aws {service} {operation} has no option {flag}"
    if "--query" in options:
        jmespath.compile(options[options.index("--query") + 1])


def check_cloud_command(words: list[str]) -> str:
    program = words[0]
    if program == "make":
        result = subprocess.run(["make", "-n", *words[1:]], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{' '.join(words)}: {result.stderr}"
    elif program == "aws":
        check_aws_command(words)
    elif program.endswith("python") and words[1:3] == ["-m", "scripts.tenants"]:
        from scripts import tenants

        tenants.parser().parse_args(words[3:])
    else:
        raise AssertionError(f"no offline check for {' '.join(words)}")
    return program


def test_cloud_blocks_name_real_targets_operations_and_arguments():
    checked = []
    for block in doc_blocks():
        if "cloud" in block.attrs:
            checked += [check_cloud_command(words) for words in commands(block.body)]
    # aws: 2 before; the shopper e-mails' dead-letter redrive (operations.md) 3, the SES sender and sandbox
    # (deploy.md) 4.
    assert sorted(checked) == [".venv/bin/python", ".venv/bin/python", *["aws"] * 9, "make", "make", "make"]


def test_the_offline_checks_catch_mistakes():
    for bad in (
        "aws ssm put-paramater --name x",
        "aws ssm put-parameter --name x --valeu y",
        "aws logs filter-log-events --log-group-name g --query 'events[-1'",
        "make deplyo STAGE=prod",
        ".venv/bin/python -m scripts.tenants rotate-key --tenant-id acme --force",
        "curl -s http://example.invalid",
    ):
        (words,) = commands(bad)
        with pytest.raises((AssertionError, SystemExit, jmespath.exceptions.ParseError)):
            check_cloud_command(words)


# ---- screenshot and links ----


def test_screenshot_is_a_small_png_of_the_storefront():
    assert "](docs/images/storefront.png)" in README.read_text()
    data = (REPO / "docs" / "images" / "storefront.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) < 300 * 1024
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 1040)
