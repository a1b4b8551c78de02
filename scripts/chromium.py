"""Debian's Chromium, the one browser the project drives (Playwright tests, Mermaid CLI, screenshots)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# Headless on a machine with no network but the package registries: without the background
# networking flags Chromium keeps trying to reach Google's hosts.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ENSURE_SCRIPT = Path(__file__).resolve().parent / "ensure_chromium.sh"


def ensure_chromium() -> str:
    """The browser's path, installing Debian's package first if it is missing (never `playwright install`)."""
    if not os.access(CHROMIUM, os.X_OK):
        subprocess.run(["bash", str(ENSURE_SCRIPT)], check=True)
    return CHROMIUM
