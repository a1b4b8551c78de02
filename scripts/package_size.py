"""Size of the Lambda deployment package: `python -m scripts.package_size [--stage prod] [--json]`.

Builds the package as `make package` does (scripts/deploy/packaging.py; offline once the wheel cache is
filled) and reports the zip's size, its unpacked size and the largest top-level entries. For
`make bench`: `measure()` returns the report as a dict.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import Counter
from typing import Any

from scripts.deploy import DeployError, packaging


def report(built: packaging.Package, top: int = 8) -> dict[str, Any]:
    zipped: Counter[str] = Counter()
    unpacked: Counter[str] = Counter()
    with zipfile.ZipFile(built.zip_path) as archive:
        for info in archive.infolist():
            name = info.filename.split("/", 1)[0]
            zipped[name] += info.compress_size
            unpacked[name] += info.file_size
    return {
        "zip_path": str(built.zip_path),
        "zip_bytes": built.zip_bytes,
        "unpacked_bytes": sum(unpacked.values()),
        "largest": [
            {"name": name, "zip_bytes": size, "unpacked_bytes": unpacked[name]}
            for name, size in zipped.most_common(top)
        ],
    }


def measure(stage: str = "prod") -> dict[str, Any]:
    return {"stage": stage, **report(packaging.package(stage, quiet=True))}


def print_report(data: dict[str, Any]) -> None:
    print(
        f"deployment package: {data['zip_bytes'] / 1e6:.1f} MB zipped, {data['unpacked_bytes'] / 1e6:.1f} MB unpacked"
        " (Lambda limits: 50 MB zipped upload, 250 MB unpacked; boto3/botocore come from the runtime)"
    )
    for entry in data["largest"]:
        print(
            f"  {entry['name']:<32} {entry['zip_bytes'] / 1e6:6.2f} MB zipped {entry['unpacked_bytes'] / 1e6:6.2f} MB"
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
