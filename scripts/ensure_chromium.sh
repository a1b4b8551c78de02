#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (never `playwright install`).
# Installs it with apt only when /usr/bin/chromium is missing; uses sudo when not root.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "ensure_chromium: $CHROMIUM is missing and cannot be installed without root." >&2
    echo "ensure_chromium: run 'sudo apt-get update && sudo apt-get install -y chromium' and retry." >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: $CHROMIUM is missing and apt-get is not available; install Chromium by hand." >&2
    exit 1
fi

echo "ensure_chromium: installing Debian's chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x "$CHROMIUM" ]; then
    echo "ensure_chromium: apt-get finished but $CHROMIUM is still missing." >&2
    exit 1
fi
echo "ensure_chromium: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed" >&2
