"""scripts/prerequisites.py, the check `make run` does before installing anything.

Version parsing on real outputs of `java -version` and `node --version`, the port check against a
real listening socket, and main() with stand-ins for shutil.which and subprocess.run (and for the
ports, so a running `make run` on 8000 cannot fail these tests).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import prerequisites

REPO = Path(__file__).resolve().parents[2]

OPENJDK_17 = """\
openjdk version "17.0.15" 2025-04-15
OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)
OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)
"""
TEMURIN_8 = """\
openjdk version "1.8.0_392"
OpenJDK Runtime Environment (Temurin)(build 1.8.0_392-b08)
OpenJDK 64-Bit Server VM (Temurin)(build 25.392-b08, mixed mode)
"""
ORACLE_8 = """\
java version "1.8.0_392"
Java(TM) SE Runtime Environment (build 1.8.0_392-b08)
Java HotSpot(TM) 64-Bit Server VM (build 25.392-b08, mixed mode)
"""
OPENJDK_21_WITH_TOOL_OPTIONS = """\
Picked up JAVA_TOOL_OPTIONS: -Dfile.encoding=UTF-8
openjdk version "21" 2023-09-19
OpenJDK Runtime Environment (build 21+35-2513)
OpenJDK 64-Bit Server VM (build 21+35-2513, mixed mode, sharing)
"""
MACOS_JAVA_STUB = "The operation couldn't be completed. Unable to locate a Java Runtime.\n"


@pytest.mark.parametrize(
    ("output", "version", "major"),
    [
        (OPENJDK_17, "17.0.15", 17),
        (TEMURIN_8, "1.8.0_392", 8),
        (ORACLE_8, "1.8.0_392", 8),
        (OPENJDK_21_WITH_TOOL_OPTIONS, "21", 21),
    ],
)
def test_java_version_of_real_outputs(output, version, major):
    assert prerequisites.parse_java_version(output) == version
    assert prerequisites.java_major(version) == major


def test_java_version_absent_from_a_stub_without_a_jdk():
    assert prerequisites.parse_java_version(MACOS_JAVA_STUB) is None


def test_java_major_of_an_early_access_build():
    assert prerequisites.java_major("22-ea") == 22


@pytest.mark.parametrize(
    ("output", "version"),
    [("v20.19.0\n", (20, 19, 0)), ("v18.19.0\n", (18, 19, 0)), ("v22.12.0", (22, 12, 0)), ("20.19.0", None)],
)
def test_node_version(output, version):
    assert prerequisites.parse_node_version(output) == version


def test_node_minimum_is_read_from_package_json():
    assert prerequisites.node_minimum((REPO / "package.json").read_text()) == (20, 19)
    assert prerequisites.node_minimum('{"engines": {"node": ">= 22.1.3"}}') == (22, 1, 3)
    with pytest.raises(ValueError, match=r"engines\.node is"):
        prerequisites.node_minimum('{"engines": {"node": "^20.19 || >=22"}}')


def test_a_port_with_a_listener_is_busy_and_free_once_it_closes():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert not prerequisites.port_is_free(port, "127.0.0.1")
        problems, _ = prerequisites.check_ports("127.0.0.1", {port: "the API (chalice local)"})
        assert [str(problem) for problem in problems] == [
            f"ERROR: Port {port} on 127.0.0.1 is in use: make run serves the API (chalice local) there; "
            f"stop what holds it (`ss -ltnp 'sport = :{port}'` names it)"
        ]
    assert prerequisites.port_is_free(port, "127.0.0.1")
    assert prerequisites.check_ports("127.0.0.1", {port: "the API (chalice local)"})[0] == []


def test_a_bound_socket_that_does_not_listen_yet_makes_the_port_busy():
    # A server between bind() and listen(), without SO_REUSEADDR: nothing answers, but bind fails.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        assert not prerequisites.port_is_free(server.getsockname()[1], "127.0.0.1")


def test_the_ports_are_local_stacks():
    from scripts import local_stack

    host, ports = prerequisites.make_run_ports()
    assert host == local_stack.HOST
    expected = {
        local_stack.DEFAULT_API_PORT,
        local_stack.DEFAULT_DYNAMODB_PORT,
        local_stack.DEFAULT_AWS_PORT,
        local_stack.DEFAULT_STRIPE_PORT,
        local_stack.DEFAULT_SMTP_PORT,
        local_stack.DEFAULT_MAILBOX_PORT,
    }
    assert set(ports) == expected


def test_the_check_imports_without_third_party_packages():
    # `make run` runs it with the system Python before the venv exists: -S leaves site-packages out.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-S", "-c", "from scripts import prerequisites; prerequisites.make_run_ports()"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# main() with stand-ins: the tools a machine "has" and what they print.
TOOLS = {"java": "/usr/bin/java", "node": "/usr/bin/node", "npm": "/usr/bin/npm"}
OUTPUTS = {"java": OPENJDK_17, "node": "v20.19.0\n"}


def stand_in(monkeypatch, *, missing=(), outputs=None):
    outputs = {**OUTPUTS, **(outputs or {})}
    tools = {name: path for name, path in TOOLS.items() if name not in missing}
    monkeypatch.setattr(prerequisites.shutil, "which", lambda name: tools.get(name))

    def run(args, **kwargs):
        return subprocess.CompletedProcess(args, 0, stdout=outputs[Path(args[0]).name])

    monkeypatch.setattr(prerequisites.subprocess, "run", run)
    monkeypatch.setattr(prerequisites, "running_python", lambda: ((3, 11, 7), "/usr/bin/python3"))
    monkeypatch.setattr(prerequisites, "port_is_free", lambda port, host: True)


def test_main_with_everything_in_place(monkeypatch, capsys):
    stand_in(monkeypatch)
    assert prerequisites.main() == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == (
        "make run's prerequisites are met: Python 3.11.7, Java 17.0.15, Node 20.19.0, npm; "
        "ports 8000, 8001, 4566, 8420, 1025, 1080 free on 127.0.0.1\n"
    )


def test_main_with_an_old_node(monkeypatch, capsys):
    stand_in(monkeypatch, outputs={"node": "v18.19.0\n"})
    assert prerequisites.main() == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        "ERROR: Node 18.19.0 is too old: make run needs Node >= 20.19 (https://nodejs.org or your package manager)\n"
    )


def test_main_with_node_and_npm_missing(monkeypatch, capsys):
    stand_in(monkeypatch, missing=("node", "npm"))
    assert prerequisites.main() == 1
    assert capsys.readouterr().err.splitlines() == [
        "ERROR: Node is not on PATH: make run needs Node >= 20.19 (https://nodejs.org or your package manager)",
        "ERROR: npm is not on PATH: make run needs it for `npm ci` and to fetch DynamoDB Local "
        "(it comes with Node: https://nodejs.org or your package manager)",
    ]


def test_main_with_java_8(monkeypatch, capsys):
    stand_in(monkeypatch, outputs={"java": TEMURIN_8})
    assert prerequisites.main() == 1
    assert capsys.readouterr().err == (
        "ERROR: Java 1.8.0_392 is too old: DynamoDB Local needs Java >= 11 "
        "(apt-get install -y default-jre-headless, or https://adoptium.net); "
        "make run falls back to moto only when java is not on PATH\n"
    )


def test_main_without_java_warns_and_passes(monkeypatch, capsys):
    # scripts/local_stack.py falls back to a locked moto server when java is not on PATH.
    stand_in(monkeypatch, missing=("java",))
    assert prerequisites.main() == 0
    assert capsys.readouterr().err == (
        "WARNING: Java is not on PATH: make run serves DynamoDB with moto behind one lock instead of "
        "DynamoDB Local (correct, slower); for DynamoDB Local install Java >= 11 "
        "(apt-get install -y default-jre-headless, or https://adoptium.net)\n"
    )


def test_main_with_a_java_that_prints_no_version(monkeypatch, capsys):
    stand_in(monkeypatch, outputs={"java": MACOS_JAVA_STUB})
    assert prerequisites.main() == 1
    assert capsys.readouterr().err.startswith(
        "ERROR: `java -version` printed no version (The operation couldn't be completed. Unable to locate a "
        "Java Runtime.), so DynamoDB Local would not start"
    )


def test_main_with_a_busy_port(monkeypatch, capsys):
    stand_in(monkeypatch)
    monkeypatch.setattr(prerequisites, "port_is_free", lambda port, host: port != 8420)
    assert prerequisites.main() == 1
    assert capsys.readouterr().err == (
        "ERROR: Port 8420 on 127.0.0.1 is in use: make run serves localstripe there; "
        "stop what holds it (`ss -ltnp 'sport = :8420'` names it)\n"
    )


def test_main_with_python_3_9_skips_the_ports(monkeypatch, capsys):
    stand_in(monkeypatch)
    monkeypatch.setattr(prerequisites, "running_python", lambda: ((3, 9, 18), "/usr/bin/python3"))
    monkeypatch.setattr(prerequisites, "make_run_ports", lambda: pytest.fail("local_stack needs 3.9+ to import"))
    assert prerequisites.main() == 1
    assert capsys.readouterr().err == (
        "ERROR: Python 3.9.18 (/usr/bin/python3) is too old: make run needs Python 3.11 "
        "(https://www.python.org/downloads/ or your package manager, then `make run PYTHON=python3.11`)\n"
    )


def test_main_with_python_3_12_warns(monkeypatch, capsys):
    stand_in(monkeypatch)
    monkeypatch.setattr(prerequisites, "running_python", lambda: ((3, 12, 1), "/usr/bin/python3"))
    assert prerequisites.main() == 0
    assert capsys.readouterr().err.startswith("WARNING: Python 3.12.1 (/usr/bin/python3) is not 3.11")
