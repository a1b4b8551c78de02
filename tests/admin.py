"""The demo tenants' admin keys (data/tenants/*.json, local demo only) and a header helper."""

from __future__ import annotations

import json
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "tenants"
KEYS = {path.stem: json.loads(path.read_text())["demo_admin_key"] for path in sorted(DATA.glob("*.json"))}
ACME_KEY = KEYS["acme"]
GLOBEX_KEY = KEYS["globex"]


def admin(key: str = ACME_KEY) -> dict[str, str]:
    return {"X-Api-Key": key}
