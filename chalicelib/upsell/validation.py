"""Parse and validate the model's answer: it may only pick offered candidates."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from chalicelib.upsell.candidates import Candidate, Ranking, in_stock
from chalicelib.upsell.results import MAX_SUGGESTIONS

MAX_REASON_CHARS = 200
_FENCE = re.compile(r"^```[a-zA-Z]*\s*(.*?)\s*```$", re.DOTALL)


class BadAnswer(ValueError):
    """The answer is not a JSON object of the agreed shape."""


@dataclass
class Validated:
    accepted: list[tuple[Candidate, str | None]] = field(default_factory=list)  # (candidate, cleaned reason)
    dropped: list[dict[str, str]] = field(default_factory=list)  # {"product_id", "why"}

    @property
    def accepted_ids(self) -> list[str]:
        return [candidate.product_id for candidate, _ in self.accepted]


def parse(raw: str | None) -> list[Any]:
    """The `suggestions` list of an answer; tolerates a Markdown code fence around the JSON."""
    text = (raw or "").strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    if not text:
        raise BadAnswer("empty answer")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BadAnswer(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("suggestions"), list):
        raise BadAnswer('not an object with a "suggestions" list')
    return data["suggestions"]


def clean_reason(value: Any) -> str | None:
    """One line of plain text, at most MAX_REASON_CHARS; None when there is nothing usable."""
    if not isinstance(value, str):
        return None
    text = " ".join("".join(_plain(ch) for ch in value).split())
    if not text:
        return None
    if len(text) > MAX_REASON_CHARS:
        text = text[: MAX_REASON_CHARS - 1].rstrip() + "\u2026"
    return text


def _plain(ch: str) -> str:
    kind = unicodedata.category(ch)
    if kind in ("Cc", "Zs", "Zl", "Zp"):  # control characters and separators become spaces
        return " "
    return "" if kind.startswith("C") else ch  # invisible format/private characters are dropped


def validate(items: list[Any], ranking: Ranking, limit: int = MAX_SUGGESTIONS) -> Validated:
    """Keep offered, in-stock, not-in-cart, first-seen ids, at most `limit`; record why others were dropped."""
    offered = {candidate.product_id: candidate for candidate in ranking.offered}
    result = Validated()
    seen: set[str] = set()
    for item in items:
        pid = item.get("product_id") if isinstance(item, dict) else None
        pid = pid.strip() if isinstance(pid, str) else pid
        if not isinstance(pid, str) or not pid:
            result.dropped.append({"product_id": str(pid)[:100], "why": "malformed"})
            continue
        why = None
        if pid in ranking.cart_ids:
            why = "in_cart"
        elif pid in ranking.catalogue and not in_stock(ranking.catalogue[pid]):
            why = "out_of_stock"
        elif pid not in offered:
            why = "unknown"
        elif pid in seen:
            why = "duplicate"
        elif len(result.accepted) >= limit:
            why = "over_limit"
        if why:
            result.dropped.append({"product_id": pid[:100], "why": why})
            continue
        seen.add(pid)
        result.accepted.append((offered[pid], clean_reason(item.get("reason"))))
    return result
