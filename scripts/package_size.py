"""Size of the Lambda function packages: `python -m scripts.package_size [--stage prod] [--json]`.

Builds the packages as `make package` does (scripts/deploy/packaging.py; offline once the wheel cache is
filled) and reports, for each zip (deployment.zip for the API, the authorizer and the orders stream;
payments.zip for the payment routes and the hold sweeper: decision 20), its size, its unpacked size
and its largest top-level entries. For `make bench`: `measure()` returns the report as a dict.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

from scripts.deploy import DeployError, packaging

# Issue 14's target for each zip (Lambda's own limit is 50 MB zipped).
TARGET_BYTES = 10_000_000


def zip_report(zip_path: Path, top: int = 8) -> dict[str, Any]:
    zipped: Counter[str] = Counter()
    unpacked: Counter[str] = Counter()
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            name = info.filename.split("/", 1)[0]
            zipped[name] += info.compress_size
            unpacked[name] += info.file_size
    return {
        "zip_path": str(zip_path),
        "zip_bytes": zip_path.stat().st_size,
        "unpacked_bytes": sum(unpacked.values()),
        "largest": [
            {"name": name, "zip_bytes": size, "unpacked_bytes": unpacked[name]}
            for name, size in zipped.most_common(top)
        ],
    }


def report(built: packaging.Package, top: int = 8) -> dict[str, Any]:
    return {"zips": {path.name: zip_report(path, top) for path in built.zips}}


def measure(stage: str = "prod") -> dict[str, Any]:
    return {"stage": stage, **report(packaging.package(stage, quiet=True))}


def print_report(data: dict[str, Any]) -> None:
    print(
        f"function packages (target < {TARGET_BYTES / 1e6:.0f} MB each; Lambda limits: 50 MB zipped upload,"
        " 250 MB unpacked; boto3/botocore come from the runtime)"
    )
    for name, zipped in data["zips"].items():
        print(f"{name}: {zipped['zip_bytes'] / 1e6:.2f} MB zipped, {zipped['unpacked_bytes'] / 1e6:.1f} MB unpacked")
        for entry in zipped["largest"]:
            print(
                f"  {entry['name']:<32} {entry['zip_bytes'] / 1e6:6.2f} MB zipped"
                f" {entry['unpacked_bytes'] / 1e6:6.2f} MB"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        data = measure(args.stage)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print_report(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
