"""The two function zips: each under 10 MB and without boto3/botocore; deployment.zip without stripe
and what only it needs, payments.zip without openai and what only it needs; each imports with only
the Lambda runtime's libraries beside it, with bytecode for cold start and the request paths.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scripts.deploy import DeployError, dependencies, packaging
from tests.packaging.infra import REGION, STAGE
from tests.stripe_stub import StripeStub

# --- the deployment zip -------------------------------------------------------------------------

LAMBDA_RUNTIME_LIBRARIES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3")
# Each function zip: the SDK it ships, and the one it leaves out with what only that one needs (decision 20).
ZIPS = {"deployment.zip": ("openai", "stripe"), "payments.zip": ("stripe", "openai")}
ONLY_NEEDED_BY = {
    "stripe": {"stripe", "requests", "charset-normalizer", "urllib3", "certifi"},
    "openai": {"openai", "jiter", "anyio", "httpx2", "httpcore2", "h11", "sniffio", "truststore"},
}


def zip_named(packaged: packaging.Package, name: str) -> Path:
    (path,) = [path for path in packaged.zips if path.name == name]
    return path


def distributions_in(zip_path: Path) -> set[str]:
    """The canonical names of the distributions installed in a zip, from its .dist-info directories."""
    from packaging.utils import canonicalize_name

    with zipfile.ZipFile(zip_path) as archive:
        infos = {name.split("/", 1)[0] for name in archive.namelist() if ".dist-info/" in name}
    return {canonicalize_name(info.removesuffix(".dist-info").rsplit("-", 1)[0]) for info in infos}


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_ships_no_aws_sdk_and_fits_the_target(packaged: packaging.Package, name: str) -> None:
    zip_path = zip_named(packaged, name)
    shipped, left_out = ZIPS[name]
    with zipfile.ZipFile(zip_path) as archive:
        top = {name.split("/", 1)[0] for name in archive.namelist()}
    assert not top & {"boto3", "botocore", "s3transfer"}
    assert {"app.py", "chalicelib", "pynamodb", "aws_lambda_powertools", "pydantic_core", shipped} <= top
    assert left_out not in top
    # Issue 14's target; measured 8.67 MB (deployment) and 8.95 MB (payments). Lambda's own limit is 50 MB.
    assert zip_path.stat().st_size < 10_000_000
    assert packaging.unpacked_bytes(zip_path) < 40_000_000  # measured 28 and 32 MB; Lambda's limit is 250 MB
    with zipfile.ZipFile(zip_path) as archive:
        binaries = [n for n in archive.namelist() if n.endswith(".so")]
    assert binaries
    assert all("x86_64-linux-gnu" in n for n in binaries), binaries  # manylinux cp311 wheels


def test_each_zip_leaves_out_what_only_the_other_sdk_needs(packaged: packaging.Package) -> None:
    """deployment.zip has no stripe nor what only stripe needs; payments.zip no openai nor what only
    openai needs; both have everything else (idna and typing-extensions, needed by both SDKs, stay in
    both), and the same app code."""
    api, payments = (distributions_in(zip_named(packaged, name)) for name in ZIPS)
    assert not api & ONLY_NEEDED_BY["stripe"]
    assert not payments & ONLY_NEEDED_BY["openai"]
    assert ONLY_NEEDED_BY["openai"] <= api
    assert ONLY_NEEDED_BY["stripe"] <= payments
    assert api - ONLY_NEEDED_BY["openai"] == payments - ONLY_NEEDED_BY["stripe"]
    assert {"idna", "typing-extensions", "pydantic", "aws-lambda-powertools", "pynamodb"} <= api & payments
    # What packaging computes from the wheels' metadata is that: no list of it is written down anywhere.
    from packaging.requirements import Requirement

    bundled, vendored = packaging.lambda_requirements()
    roots = [Requirement(pin) for pin in bundled + vendored]
    for name, (shipped, _) in ZIPS.items():
        with zipfile.ZipFile(zip_named(packaged, name)) as archive:
            installed = dependencies.read_distributions(archive)
        assert dependencies.only_needed_by(installed, roots, shipped) == ONLY_NEEDED_BY[shipped], name
    with (
        zipfile.ZipFile(zip_named(packaged, "deployment.zip")) as api_zip,
        zipfile.ZipFile(zip_named(packaged, "payments.zip")) as payments_zip,
    ):
        app_code = {n for n in api_zip.namelist() if n.startswith(("app.py", "__pycache__/app.", "chalicelib/"))}
        assert app_code == {
            n for n in payments_zip.namelist() if n.startswith(("app.py", "__pycache__/app.", "chalicelib/"))
        }
        # The sources byte for byte (the .pyc files name the directory they were compiled in).
        for path in sorted(name for name in app_code if not name.endswith(".pyc")):
            assert api_zip.read(path) == payments_zip.read(path), path


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_ships_only_runtime_code(packaged: packaging.Package, name: str) -> None:
    """The app's own code in the zip is app.py and chalicelib, and none of it reads the repository's
    other directories (they are not in the zip: tests/data, bench/, ...)."""
    with zipfile.ZipFile(zip_named(packaged, name)) as archive:
        names = archive.namelist()
        own = {
            name: archive.read(name).decode()
            for name in names
            if name.startswith("chalicelib/") and not name.endswith(".pyc")  # sources, not their bytecode
        }
    assert not {name.split("/", 1)[0] for name in names} & {"tests", "bench", "support", "scripts", "data", "docs"}
    assert "chalicelib/upsell/__init__.py" in own
    for name, source in own.items():
        assert not any(part in source for part in ("tests/", "bench/")), name


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_imports_with_only_the_lambda_runtime_beside_it(
    packaged: packaging.Package, tmp_path: Path, name: str
) -> None:
    """Lambda's sys.path is the package plus the runtime's boto3/botocore: the app must import (without
    openai, which is imported on the first LLM call) and answer /health through the handler. The SDK
    the zip ships imports and makes a real call over HTTP (a loopback stand-in answers it) through the
    client the app builds, and builds an HTTPS client (its trust store is in the zip); the one it
    leaves out does not import."""
    import botocore

    from support.llm_stub import StubLLM, answer

    code = tmp_path / "task"
    with zipfile.ZipFile(zip_named(packaged, name)) as archive:
        archive.extractall(code)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(botocore.__file__).parent.parent
    for library in LAMBDA_RUNTIME_LIBRARIES:
        (runtime / library).symlink_to(site / library)
    script = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import app
assert "openai" not in sys.modules, "openai imported at cold start"
leaked = sorted({m.__file__.split("/site-packages/")[0] for m in list(sys.modules.values())
                 if getattr(m, "__file__", None) and "/site-packages/" in m.__file__})
event = {"resource": "/health", "path": "/health", "httpMethod": "GET", "headers": {"Host": "x"},
         "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
         "requestContext": {"resourcePath": "/health", "httpMethod": "GET", "path": "/api/health",
                            "stage": "api", "requestId": "r1", "identity": {"sourceIp": "127.0.0.1"}}}
response = app.app(event, None)
spec_event = json.loads(json.dumps(event).replace("/health", "/openapi.yaml"))
spec = app.app(spec_event, None)  # chalicelib/openapi.yaml is a symlink in git: it must ship as a file
sdks = {}
for sdk in ("openai", "stripe"):
    try:
        __import__(sdk)
        sdks[sdk] = "imports"
    except ModuleNotFoundError as missing:
        sdks[sdk] = f"missing {missing.name}"
from chalicelib import clients
if sdks.get("openai") == "imports":
    llm = clients.llm(sys.argv[3], "sk-zip", 5.0)
    reply = llm.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    call = reply.choices[0].message.content
    clients.llm("https://llm.example.invalid/v1", "sk-zip", 5.0)._client  # TLS context and trust store
else:
    from chalicelib.payments import stripe_gateway
    customer = stripe_gateway.client("sk_test_zip", sys.argv[4]).v1.customers.create({"metadata": {"order_id": "o1"}})
    call = customer.metadata["order_id"]
    stripe_gateway.client("sk_test_zip", None)  # api.stripe.com over HTTPS: the SDK's own client and CA bundle
leaked = sorted({m.__file__.split("/site-packages/")[0] for m in list(sys.modules.values())
                 if getattr(m, "__file__", None) and "/site-packages/" in m.__file__})
print(json.dumps({"status": response["statusCode"], "body": response["body"], "leaked": leaked,
                  "spec": [spec["statusCode"], spec["body"][:8]], "sdks": sdks, "call": call}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION, "CARTWISE_STAGE": STAGE, "PYTHONNOUSERSITE": "1"}
    llm = StubLLM().start()
    try:
        llm.script(answer("from the zip"))
        with StripeStub() as stripe_api:
            result = subprocess.run(
                [sys.executable, "-I", "-S", "-c", script, str(code), str(runtime), llm.base_url, stripe_api.url],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
    finally:
        llm.stop()
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["leaked"] == []  # -S: nothing came from the venv's site-packages
    assert (answer["status"], json.loads(answer["body"])) == (200, {"status": "ok"})
    assert answer["spec"] == [200, "openapi:"]
    shipped, left_out = ZIPS[name]
    assert answer["sdks"] == {shipped: "imports", left_out: f"missing {left_out}"}
    assert answer["call"] == {"openai": "from the zip", "stripe": "o1"}[shipped]


@pytest.mark.parametrize("name", ZIPS)
def test_the_zip_ships_bytecode_for_cold_start_and_request_paths(
    packaged: packaging.Package, tmp_path: Path, name: str
) -> None:
    """Lambda's code directory is read-only: without .pyc files in the zip every cold start compiles
    every module. Importing the app and what requests import (the request schemas, the up-sell's
    computing modules) compiles nothing from the zip; openai and stripe, imported on a process's first
    LLM call and first payment, ship as sources only (decision 19), each in the zip of its functions."""
    shipped, _ = ZIPS[name]
    code = tmp_path / "task"
    with zipfile.ZipFile(zip_named(packaged, name)) as archive:
        archive.extractall(code)
        names = set(archive.namelist())
    assert {"app.py", "__pycache__/app.cpython-311.pyc", "chalicelib/checkout.py"} <= names  # sources kept
    assert "chalicelib/__pycache__/checkout.cpython-311.pyc" in names
    assert f"{shipped}/__init__.py" in names
    assert not [name for name in names if name.startswith(f"{shipped}/") and name.endswith(".pyc")]
    header = (code / "__pycache__" / "app.cpython-311.pyc").read_bytes()[:8]
    assert header[:4] == importlib.util.MAGIC_NUMBER  # Python 3.11's, the runtime's
    assert int.from_bytes(header[4:8], "little") == 0b01  # hash-based, unchecked: no source mtime check
    script = """
import importlib, json, sys
import importlib._bootstrap_external as loaders
compiled = []
original = loaders.SourceLoader.source_to_code
def counting(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return original(self, data, path, *args, **kwargs)
loaders.SourceLoader.source_to_code = counting
sys.path.insert(0, sys.argv[1])
def imports(*names):
    compiled.clear()
    for name in names:
        importlib.import_module(name)
    return [p for p in compiled if p.startswith(sys.argv[1])]
# the up-sell's computing modules are imported when an answer is first computed
hot = imports("app", "chalicelib.api.schemas", *("chalicelib.upsell." + name
              for name in ("candidates", "fallback", "llm", "prompt", "validation")))
files = [getattr(m, "__file__", None) or "" for m in list(sys.modules.values())]
loaded = [f for f in files if f.startswith(sys.argv[1])]
print(json.dumps({"hot": hot, "loaded": len(loaded), "sdk": len(imports(sys.argv[2]))}))
"""
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": REGION, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(code) + "/", shipped], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["hot"] == []
    assert answer["loaded"] > 150  # app, chalicelib, pynamodb, pydantic, Powertools' Logger ... all from the zip
    assert answer["sdk"] > 0  # compiled from sources on its first import in a process


def test_requirements_split_keeps_botocore_out() -> None:
    bundled, vendored = packaging.lambda_requirements()
    assert vendored == ["pynamodb==6.1.0"]
    assert not any(pin.split("==")[0].lower() in packaging.RUNTIME_PROVIDED for pin in bundled)
    assert {pin.split("==")[0] for pin in bundled} >= {"aws-lambda-powertools", "openai"}


def test_a_vendored_package_with_other_dependencies_is_refused(tmp_path: Path) -> None:
    info = tmp_path / "thing-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Name: thing\nRequires-Dist: botocore>=1\nRequires-Dist: tomli; python_version < '3.11'\n"
    )
    packaging.check_vendored_dependencies(tmp_path)  # botocore is provided; tomli is not needed on 3.11
    (info / "METADATA").write_text("Name: thing\nRequires-Dist: botocore>=1\nRequires-Dist: requests\n")
    with pytest.raises(DeployError, match="requests"):
        packaging.check_vendored_dependencies(tmp_path)


def test_package_size_script_reports_both_zips(capsys: pytest.CaptureFixture[str], packaged: packaging.Package) -> None:
    from scripts import package_size

    report = package_size.report(packaged)
    assert list(report["zips"]) == ["deployment.zip", "payments.zip"]
    for name, (shipped, _) in ZIPS.items():
        zipped = report["zips"][name]
        assert zipped["zip_bytes"] == zip_named(packaged, name).stat().st_size
        assert zipped["unpacked_bytes"] == packaging.unpacked_bytes(zip_named(packaged, name))
        assert {entry["name"] for entry in zipped["largest"][:2]} == {"pydantic_core", shipped}
    package_size.print_report(report)
    printed = capsys.readouterr().out
    for name, zipped in report["zips"].items():
        assert f"{name}: {zipped['zip_bytes'] / 1e6:.2f} MB zipped" in printed
