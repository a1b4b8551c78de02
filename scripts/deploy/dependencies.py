"""Which distributions in a built package only one requirement needs, read from their own metadata.

Each installed distribution has a `<name>-<version>.dist-info` directory: its METADATA names what it
requires (Requires-Dist) and its RECORD lists every file it installed. Leaving a requirement out of a
package means leaving out the files of every distribution the others do not need as well
(decision 20): the transitive closure of all requirements minus the closure without that one.
"""

from __future__ import annotations

import csv
import email.parser
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

# Requires-Dist markers are judged for the Lambda runtime (python3.11 on Linux x86_64), not this machine.
LAMBDA_ENVIRONMENT = {
    "python_version": "3.11",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}
METADATA = re.compile(r"[^/]+\.dist-info/METADATA")


@dataclass(frozen=True)
class Distribution:
    name: str  # canonical: lower case, runs of -_. as one -
    requires: tuple[Requirement, ...]
    files: frozenset[str]  # paths in the package, from RECORD


def read_distributions(archive: zipfile.ZipFile) -> dict[str, Distribution]:
    """Every distribution installed at the top of the package, by canonical name."""
    present = set(archive.namelist())
    found: dict[str, Distribution] = {}
    for metadata_path in sorted(name for name in present if METADATA.fullmatch(name)):
        info = metadata_path.removesuffix("METADATA")
        metadata = email.parser.BytesHeaderParser().parsebytes(archive.read(metadata_path))
        record = archive.read(info + "RECORD").decode() if info + "RECORD" in present else ""
        # RECORD may name files installed outside the package (scripts in ../../bin): never in the zip.
        files = frozenset(row[0] for row in csv.reader(io.StringIO(record)) if row and row[0] in present)
        name = canonicalize_name(metadata["Name"])
        requires = tuple(Requirement(line) for line in metadata.get_all("Requires-Dist") or ())
        found[name] = Distribution(name, requires, files)
    return found


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**LAMBDA_ENVIRONMENT, "extra": extra}) for extra in ("", *extras))


def closure(distributions: dict[str, Distribution], roots: Iterable[Requirement]) -> set[str]:
    """The distributions `roots` need, themselves included. A requirement not installed in the package is
    skipped: the runtime provides it (botocore) or Lambda's platform never needs it."""
    extras_seen: dict[str, set[str]] = {}
    pending = list(roots)
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        extras = set(requirement.extras)
        if name not in distributions or (name in extras_seen and extras <= extras_seen[name]):
            continue
        extras_seen[name] = extras_seen.get(name, set()) | extras
        pending += [dependency for dependency in distributions[name].requires if _applies(dependency, extras)]
    return set(extras_seen)


def only_needed_by(distributions: dict[str, Distribution], roots: list[Requirement], left_out: str) -> set[str]:
    """What the package can do without when requirement `left_out` goes: it, and what no other root needs."""
    others = [root for root in roots if canonicalize_name(root.name) != canonicalize_name(left_out)]
    return closure(distributions, roots) - closure(distributions, others)
