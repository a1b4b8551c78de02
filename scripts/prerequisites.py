"""Check what `make run` needs before it creates the venv or installs anything.

    python3 -m scripts.prerequisites    # `make prerequisites`; `make run` runs it first

One line per problem, on stderr: what is missing or wrong and how to get it. Exit 1 if any is an
ERROR (`make run` would fail later, after minutes of installing), 0 otherwise; WARNING lines are
for what `make run` copes with. With no problem at all it prints one line of what it found.

- Python 3.11, the interpreter running this (the Makefile's PYTHON, which creates the venv).
- Java >= 11 for DynamoDB Local. No java on PATH is a WARNING: scripts/local_stack.py then serves
  DynamoDB with a locked moto server and says so. An older Java is an ERROR: local_stack falls back
  only when java is missing, so it would start DynamoDB Local on that Java and fail.
- Node at the version package.json's "engines" asks for, and npm: `npm ci` (the storefront's
  ESLint) and the install of DynamoDB Local need both.
- The fixed ports of scripts/local_stack.py free on its HOST: taken from there, not repeated here.

Standard library only, and importable by Pythons older than 3.11: it runs on the system Python
before any venv exists, and must be able to say that this Python is too old.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parent.parent

PYTHON_VERSION = (3, 11)  # pyproject's requires-python, CI's and the Lambda runtime's Python
# The README's minimum for DynamoDB Local, and the one local_stack's fallback warning names. (The jar
# amplify-dynamodb-simulator 2.9.30 brings, DynamoDB Local 1.25.1, is built for Java 8.)
JAVA_MINIMUM = 11
TOOL_TIMEOUT = 30.0  # seconds for `java -version` or `node --version`; a cold JVM takes a few

PYTHON_HELP = "https://www.python.org/downloads/ or your package manager, then `make run PYTHON=python3.11`"
JAVA_HELP = "apt-get install -y default-jre-headless, or https://adoptium.net"
NODE_HELP = "https://nodejs.org or your package manager"


class Problem(NamedTuple):
    level: str  # "ERROR" (make run would fail) or "WARNING" (make run copes)
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def error(message: str) -> Problem:
    return Problem("ERROR", message)


def warning(message: str) -> Problem:
    return Problem("WARNING", message)


def dotted(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def parse_java_version(output: str) -> str | None:
    """The version string of `java -version`'s output (it writes to stderr), e.g. "17.0.15" or "1.8.0_392".

    Searched, not read from the first line: a JAVA_TOOL_OPTIONS setting makes the JVM print
    "Picked up JAVA_TOOL_OPTIONS: ..." first. None when there is none, as with macOS's /usr/bin/java
    stub without a JDK ("Unable to locate a Java Runtime").
    """
    match = re.search(r'\bversion "([^"]+)"', output)
    return match.group(1) if match else None


def java_major(version: str) -> int | None:
    """The feature release of a Java version string: 8 for "1.8.0_392" (Java 8 and older count as 1.x), 17
    for "17.0.15", 21 for "21" (a .0 release names no minor), 22 for "22-ea"."""
    match = re.match(r"(\d+)(?:\.(\d+))?", version)
    if match is None:
        return None
    first, second = match.groups()
    return int(second) if first == "1" and second is not None else int(first)


def parse_node_version(output: str) -> tuple[int, int, int] | None:
    """(major, minor, patch) of `node --version`'s output, "v20.19.0"; None if it is not one."""
    match = re.fullmatch(r"v(\d+)\.(\d+)\.(\d+)", output.strip())
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def node_minimum(package_json: str) -> tuple[int, ...]:
    """The lowest Node package.json's "engines" allows, so the number lives in one place.

    Only the form ">=X.Y" or ">=X.Y.Z" is understood; anything else raises ValueError, which
    tests/unit/test_prerequisites.py turns into a failing test before it reaches `make run`.
    """
    engine = json.loads(package_json)["engines"]["node"]
    match = re.fullmatch(r">=\s*(\d+(?:\.\d+){0,2})", engine.strip())
    if match is None:
        raise ValueError(f'package.json: engines.node is {engine!r}; scripts/prerequisites.py reads only ">=X.Y[.Z]"')
    return tuple(int(part) for part in match.group(1).split("."))


def port_is_free(port: int, host: str) -> bool:
    """Whether a server of `make run` can listen on host:port now: nothing answers there and it can be bound.

    Bound with SO_REUSEADDR, as chalice local, moto, localstripe and DynamoDB Local bind: then the
    connections a just-stopped `make run` left in TIME_WAIT do not count, and a listener does (on
    Linux). The connect also catches a listener on the wildcard address, which macOS lets one bind
    past with SO_REUSEADDR.
    """
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return False
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def tool_output(path: str, *args: str) -> str | None:
    """stdout and stderr of a version command together (java writes its version to stderr), None if it
    cannot be run or hangs. The exit code is not looked at: the output says what went wrong."""
    try:
        result = subprocess.run(
            [path, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TOOL_TIMEOUT
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout


def first_line(output: str | None) -> str:
    lines = (output or "").strip().splitlines()
    return lines[0] if lines else "nothing"


def running_python() -> tuple[tuple[int, int, int], str]:
    """The version and path of the Python running this; a function so tests can stand another in."""
    major, minor, micro = sys.version_info[:3]
    return (major, minor, micro), sys.executable


def check_python(version: tuple[int, int, int], executable: str) -> tuple[list[Problem], str]:
    name = f"Python {dotted(version)}"
    if version[:2] < PYTHON_VERSION:
        return [error(f"{name} ({executable}) is too old: make run needs Python 3.11 ({PYTHON_HELP})")], name
    if version[:2] > PYTHON_VERSION:
        # Newer may work; pyproject allows it. Only 3.11 is what CI and the Lambda package are built with.
        message = (
            f"{name} ({executable}) is not 3.11, the Python make run is built for; if installing fails: {PYTHON_HELP}"
        )
        return [warning(message)], name
    return [], name


def check_java() -> tuple[list[Problem], str]:
    java = shutil.which("java")
    if java is None:
        message = (
            "Java is not on PATH: make run serves DynamoDB with moto behind one lock instead of DynamoDB Local "
            f"(correct, slower); for DynamoDB Local install Java >= {JAVA_MINIMUM} ({JAVA_HELP})"
        )
        return [warning(message)], "no Java"
    output = tool_output(java, "-version")
    version = parse_java_version(output or "")
    major = java_major(version) if version is not None else None
    # Not a warning like a missing java: local_stack starts DynamoDB Local on any java it finds.
    if version is None or major is None:
        message = (
            f"`java -version` printed no version ({first_line(output)}), so DynamoDB Local would not start: "
            f"install Java >= {JAVA_MINIMUM} ({JAVA_HELP}), or take java off PATH to use the moto fallback"
        )
        return [error(message)], "Java ?"
    if major < JAVA_MINIMUM:
        message = (
            f"Java {version} is too old: DynamoDB Local needs Java >= {JAVA_MINIMUM} ({JAVA_HELP}); "
            "make run falls back to moto only when java is not on PATH"
        )
        return [error(message)], f"Java {version}"
    return [], f"Java {version}"


def check_node(minimum: tuple[int, ...]) -> tuple[list[Problem], str]:
    needs = f"make run needs Node >= {dotted(minimum)} ({NODE_HELP})"
    node = shutil.which("node")
    if node is None:
        return [error(f"Node is not on PATH: {needs}")], "no Node"
    output = tool_output(node, "--version")
    version = parse_node_version(output or "")
    if version is None:
        return [error(f"`node --version` printed no version ({first_line(output)}): {needs}")], "Node ?"
    if version < minimum:
        return [error(f"Node {dotted(version)} is too old: {needs}")], f"Node {dotted(version)}"
    return [], f"Node {dotted(version)}"


def check_npm() -> tuple[list[Problem], str]:
    if shutil.which("npm") is None:
        message = (
            "npm is not on PATH: make run needs it for `npm ci` and to fetch DynamoDB Local "
            f"(it comes with Node: {NODE_HELP})"
        )
        return [error(message)], "no npm"
    return [], "npm"


def make_run_ports() -> tuple[str, dict[int, str]]:
    """scripts/local_stack.py's host and fixed ports, with what `make run` serves on each.

    Imported here rather than at the top: local_stack is stdlib-only at import time (a unit test
    keeps it so) but needs Python >= 3.9, and this module must load on older ones to reject them.
    """
    from scripts import local_stack

    return local_stack.HOST, {
        local_stack.DEFAULT_API_PORT: "the API (chalice local)",
        local_stack.DEFAULT_DYNAMODB_PORT: "DynamoDB Local",
        local_stack.DEFAULT_AWS_PORT: "moto (SSM, S3, EventBridge)",
        local_stack.DEFAULT_STRIPE_PORT: "localstripe",
        local_stack.DEFAULT_SMTP_PORT: "MailDev's SMTP (the shoppers' e-mails)",
        local_stack.DEFAULT_MAILBOX_PORT: "MailDev's mailbox",
    }


def check_ports(host: str, ports: dict[int, str]) -> tuple[list[Problem], str]:
    problems = [
        error(
            f"Port {port} on {host} is in use: make run serves {what} there; "
            f"stop what holds it (`ss -ltnp 'sport = :{port}'` names it)"
        )
        for port, what in ports.items()
        if not port_is_free(port, host)
    ]
    return problems, f"ports {', '.join(str(port) for port in ports)} free on {host}"


def main() -> int:
    version, executable = running_python()
    checks = [
        check_python(version, executable),
        check_java(),
        check_node(node_minimum((REPO / "package.json").read_text())),
        check_npm(),
    ]
    # With a Python too old for local_stack's import the ports wait for the next run.
    if not any(problem.level == "ERROR" for problem in checks[0][0]):
        checks.append(check_ports(*make_run_ports()))
    problems = [problem for found_problems, _ in checks for problem in found_problems]
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        found = [found for _, found in checks]
        print(f"make run's prerequisites are met: {', '.join(found[:-1])}; {found[-1]}")
    return 1 if any(problem.level == "ERROR" for problem in problems) else 0


if __name__ == "__main__":
    sys.exit(main())
