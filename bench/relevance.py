"""Relevance of the deterministic fallback on a small hand-labelled set (`make bench` prints it).

The seeded demo catalogues (data/tenants/*.json) are read in memory through the same bounded
`candidates.gather` that reads DynamoDB (cart products, their hints and top co-purchases, the
first products of their categories by id) and ranked exactly as `suggest` ranks them when no
LLM answers, and the top three suggestions of each labelled cart (bench/data/upsell_labels.json)
are compared with the products a person marked as acceptable complements. It reads files of the
repository, so it lives here and not in the Lambda package.

    python -m bench.relevance
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chalicelib import catalog
from chalicelib.models import ProductModel
from chalicelib.upsell import candidates, fallback

REPO = Path(__file__).resolve().parent.parent
LABELS = REPO / "bench" / "data" / "upsell_labels.json"
CATALOGUES = REPO / "data" / "tenants"


@dataclass(frozen=True)
class CartResult:
    tenant_id: str
    cart: list[str]
    suggested: list[str]
    acceptable: list[str]

    @property
    def hits(self) -> int:
        return sum(1 for pid in self.suggested if pid in self.acceptable)


@dataclass(frozen=True)
class Report:
    carts: list[CartResult]

    @property
    def hit_rate(self) -> float:
        """Share of carts with at least one acceptable product among the suggestions."""
        return sum(1 for c in self.carts if c.hits) / len(self.carts) if self.carts else 0.0

    @property
    def precision(self) -> float:
        """Share of all shown suggestions that are acceptable."""
        shown = sum(len(c.suggested) for c in self.carts)
        return sum(c.hits for c in self.carts) / shown if shown else 0.0


def seeded_catalogue(tenant_id: str, directory: Path = CATALOGUES) -> list[ProductModel]:
    """The seed file's products as in-memory models (no AWS involved)."""
    data = json.loads((directory / f"{tenant_id}.json").read_text())
    return [catalog.product_from_record(tenant_id, item) for item in data["products"]]


@dataclass(frozen=True)
class SeedCatalogue:
    """A seed file's products answering the reads `candidates.gather` makes of DynamoDB."""

    products_by_id: dict[str, ProductModel]

    def products(self, product_ids: Sequence[str], counts_for: Sequence[str] | None = None) -> dict[str, ProductModel]:
        return {pid: self.products_by_id[pid] for pid in product_ids if pid in self.products_by_id}

    def in_category(self, category: str, limit: int, counts_for: Sequence[str] | None = None) -> list[ProductModel]:
        # The by-category index returns a category's products in id order.
        return sorted((p for p in self.products_by_id.values() if p.category == category), key=lambda p: p.product_id)[
            :limit
        ]


def evaluate_fallback(labels: Path = LABELS, catalogues: Path = CATALOGUES) -> Report:
    results = []
    for tenant_id, carts in json.loads(labels.read_text())["tenants"].items():
        source = SeedCatalogue({p.product_id: p for p in seeded_catalogue(tenant_id, catalogues)})
        for case in carts:
            ranking = candidates.rank(candidates.gather(source, case["cart"], best_sellers=()), case["cart"])
            suggested = [s.product_id for s in fallback.pick(ranking)]
            results.append(CartResult(tenant_id, case["cart"], suggested, case["acceptable"]))
    return Report(results)


def main() -> None:
    report = evaluate_fallback()
    for case in report.carts:
        marks = " ".join(f"{pid}{'+' if pid in case.acceptable else '-'}" for pid in case.suggested)
        print(f"{case.tenant_id:8} {','.join(case.cart):28} {marks}")
    print(f"fallback hit rate (>= 1 acceptable in top 3): {report.hit_rate:.2f} over {len(report.carts)} carts")
    print(f"fallback precision (acceptable share of shown): {report.precision:.2f}")


if __name__ == "__main__":
    main()
