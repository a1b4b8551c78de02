"""Check that the Mermaid diagrams in Markdown files parse, with Mermaid's own renderer.

    python -m scripts.check_mermaid docs/architecture.md [more.md ...]

Mermaid's parsers run inside its renderer, which needs a browser DOM (it measures text to lay
diagrams out), so a regex or a DOM-less parse would prove little. This renders every ```mermaid
block to SVG with the Mermaid CLI (`mmdc`, npm package @mermaid-js/mermaid-cli, pinned below),
installed into .local/mermaid with PUPPETEER_SKIP_DOWNLOAD=1 so that npm fetches no browser, and
driving Debian's /usr/bin/chromium (scripts/ensure_chromium.sh installs it) through a puppeteer
config. All blocks go to one mmdc process (one browser start, ~3 s for four diagrams); mmdc
stops at the first block that does not parse, and the blocks rendered before it tell which one.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from scripts.chromium import CHROMIUM_ARGS, ensure_chromium

REPO = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO / ".local" / "mermaid"
MERMAID_CLI_VERSION = "11.17.0"
MERMAID_CLI_PACKAGE = f"@mermaid-js/mermaid-cli@{MERMAID_CLI_VERSION}"
RENDER_TIMEOUT_SECONDS = 180

# A fenced block whose info string starts with `mermaid`; the fence may be ``` or longer.
FENCE = re.compile(r"^(?P<fence>`{3,})mermaid[^\n`]*\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.MULTILINE | re.DOTALL)


class MermaidError(Exception):
    """A diagram did not parse (or the renderer could not run); `index` is 1-based."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"Mermaid block {index}: {message}")
        self.index = index


def blocks(markdown: str) -> list[str]:
    """The bodies of the ```mermaid blocks, in order."""
    return [match.group("body") for match in FENCE.finditer(markdown)]


def _installed(cache_dir: Path) -> Path | None:
    mmdc = cache_dir / "node_modules" / ".bin" / "mmdc"
    manifest = cache_dir / "node_modules" / "@mermaid-js" / "mermaid-cli" / "package.json"
    if mmdc.is_file() and manifest.is_file() and json.loads(manifest.read_text())["version"] == MERMAID_CLI_VERSION:
        return mmdc
    return None


def ensure_mermaid_cli(cache_dir: Path = CACHE_DIR) -> Path:
    """Path to `mmdc`, installing the pinned Mermaid CLI with npm (no browser download) when needed."""
    found = _installed(cache_dir)
    if found:
        return found
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is not on PATH, so {MERMAID_CLI_PACKAGE} cannot be installed into {cache_dir}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Parallel test workers must not run npm into the same directory at once.
    with (cache_dir / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _installed(cache_dir)
        if found:
            return found
        env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
        command = [npm, "install", "--no-audit", "--no-fund", "--prefix", str(cache_dir), MERMAID_CLI_PACKAGE]
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
        found = _installed(cache_dir)
        if result.returncode != 0 or found is None:
            output = (result.stdout + result.stderr).strip()
            raise RuntimeError(f"npm install of {MERMAID_CLI_PACKAGE} failed (exit {result.returncode}):\n{output}")
        return found


def render(diagrams: Sequence[str], out_dir: Path) -> list[Path]:
    """Render each diagram to `out_dir/diagram-N.svg` in one mmdc run; MermaidError names the first that fails."""
    if not diagrams:
        return []
    mmdc = ensure_mermaid_cli()
    out_dir.mkdir(parents=True, exist_ok=True)
    puppeteer_config = out_dir / "puppeteer.json"
    puppeteer_config.write_text(json.dumps({"executablePath": ensure_chromium(), "args": CHROMIUM_ARGS}))
    source = out_dir / "diagrams.md"
    source.write_text("".join(f"```mermaid\n{body.rstrip()}\n```\n\n" for body in diagrams))
    target = out_dir / "diagram.md"  # mmdc writes diagram-1.svg, diagram-2.svg, ... beside it
    svgs = [out_dir / f"diagram-{number}.svg" for number in range(1, len(diagrams) + 1)]
    for svg in svgs:
        svg.unlink(missing_ok=True)
    result = subprocess.run(
        [
            str(mmdc),
            "--quiet",
            "--jobs",
            "1",
            "--puppeteerConfigFile",
            str(puppeteer_config),
            "-i",
            str(source),
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        cwd=out_dir,
        timeout=RENDER_TIMEOUT_SECONDS,
    )
    rendered = 0
    while rendered < len(svgs) and svgs[rendered].is_file() and "<svg" in svgs[rendered].read_text()[:2000]:
        rendered += 1
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or rendered < len(svgs):
        raise MermaidError(rendered + 1, _first_error(output) or f"mmdc exited with {result.returncode}")
    return svgs


def _first_error(output: str) -> str:
    """The parse error mmdc printed (message, the line and the caret), without the stack trace."""
    lines = output.splitlines()
    for start, line in enumerate(lines):
        if line.startswith("Error"):
            kept = []
            for text in lines[start:]:
                if text.lstrip().startswith("at ") or "(file://" in text or "(https://" in text:
                    break
                kept.append(text)
            return "\n".join(kept)
    return output[-2000:]


def check_file(path: Path) -> int:
    """Render every block of a Markdown file in a scratch directory; the number of diagrams."""
    diagrams = blocks(path.read_text())
    with tempfile.TemporaryDirectory(prefix="mermaid-") as scratch:
        render(diagrams, Path(scratch))
    return len(diagrams)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        try:
            count = check_file(path)
        except MermaidError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            failed = True
        else:
            print(f"{path}: {count} Mermaid diagram(s) parse and render")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
