"""What a function package can leave out with one requirement, read from the installed metadata
(scripts/deploy/dependencies.py, decision 20)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from packaging.requirements import Requirement

from scripts.deploy import dependencies


def installed(tmp_path: Path, packages: dict[str, list[str]]) -> dict[str, dependencies.Distribution]:
    """A zip with one module and a .dist-info per package (name -> its Requires-Dist lines), read back."""
    path = tmp_path / "package.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, requires in packages.items():
            module, info = name.replace("-", "_"), f"{name.replace('-', '_')}-1.0.dist-info"
            archive.writestr(f"{module}/__init__.py", "")
            metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
            archive.writestr(f"{info}/METADATA", metadata + "".join(f"Requires-Dist: {r}\n" for r in requires))
            record = f"{module}/__init__.py,,\n{info}/METADATA,,\n{info}/RECORD,,\n../../bin/{module},,\n"
            archive.writestr(f"{info}/RECORD", record)
    with zipfile.ZipFile(path) as archive:
        return dependencies.read_distributions(archive)


def test_a_requirement_leaves_out_what_no_other_needs(tmp_path: Path) -> None:
    found = installed(
        tmp_path,
        {
            "payments-sdk": ["http-client>=2", "shared-typing"],
            "http-client": ["Char_Detect", "tls-roots"],
            "char-detect": [],
            "tls-roots": [],
            "llm-sdk": ["shared-typing", "fast-json"],
            "fast-json": [],
            "shared-typing": [],
            "orm": ["botocore>=1"],  # provided by the runtime, so not in the package
        },
    )
    roots = [Requirement(pin) for pin in ("orm==6.1", "payments-sdk==16.1", "llm-sdk==3.5")]
    assert dependencies.only_needed_by(found, roots, "payments-sdk") == {
        "payments-sdk",
        "http-client",
        "char-detect",  # Requires-Dist spells it Char_Detect: names are compared canonical
        "tls-roots",
    }
    assert dependencies.only_needed_by(found, roots, "llm-sdk") == {"llm-sdk", "fast-json"}
    assert dependencies.closure(found, roots) == set(found)
    # RECORD's files inside the package, not those installed beside it (../../bin).
    assert found["tls-roots"].files == {
        "tls_roots/__init__.py",
        "tls_roots-1.0.dist-info/METADATA",
        "tls_roots-1.0.dist-info/RECORD",
    }


def test_markers_are_judged_for_lambda_and_extras_only_when_asked_for(tmp_path: Path) -> None:
    found = installed(
        tmp_path,
        {
            "sdk": [
                "win-only; sys_platform == 'win32'",
                "old-backport; python_version < '3.11'",
                "async-stack; extra == 'async'",
            ],
            "app-lib": ["sdk[async]"],
            "win-only": [],
            "old-backport": [],
            "async-stack": [],
        },
    )
    assert dependencies.closure(found, [Requirement("sdk")]) == {"sdk"}
    assert dependencies.closure(found, [Requirement("app-lib")]) == {"app-lib", "sdk", "async-stack"}
    # sdk's async extra is needed by app-lib alone: without app-lib, both go.
    roots = [Requirement("sdk"), Requirement("app-lib")]
    assert dependencies.only_needed_by(found, roots, "app-lib") == {"app-lib", "async-stack"}
