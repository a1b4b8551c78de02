"""Every link of the README and of docs/ resolves inside the repository.

A clone is all a reader has: a link that leaves the repository (a sibling directory, an absolute
path, file://) is broken wherever the clone lands, so it fails here even when the target exists on
this machine. Web links (http, https, mailto) are left alone; anchors must name a heading.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARKDOWN = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
WEB = re.compile(r"^(https?:|mailto:)")


def github_anchor(heading: str) -> str:
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def broken_links(markdown: Path, root: Path = REPO) -> list[str]:
    """The link targets of `markdown` that leave `root`, do not exist, or name a missing heading."""
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", markdown.read_text()):
        if WEB.match(target):
            continue
        path, _, anchor = target.partition("#")
        file = (markdown.parent / path).resolve() if path else markdown
        if re.match(r"^[a-z]+:", target) or not file.is_relative_to(root) or not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md":
            headings = re.findall(r"^#+ (.+)$", file.read_text(), re.MULTILINE)
            if anchor not in {github_anchor(heading) for heading in headings}:
                broken.append(target)
    return broken


@pytest.mark.parametrize("markdown", MARKDOWN, ids=[str(path.relative_to(REPO)) for path in MARKDOWN])
def test_links_resolve_inside_the_repository(markdown):
    assert broken_links(markdown) == []


def test_the_check_covers_the_readme_and_every_doc():
    assert {path.relative_to(REPO).as_posix() for path in MARKDOWN} >= {
        "README.md",
        "docs/architecture.md",
        "docs/decisions/README.md",
        "docs/upsell.md",
    }


def test_links_that_leave_the_repository_fail_even_when_the_target_exists(tmp_path):
    root = tmp_path / "clone"
    (root / "docs").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "ARCHITECTURE.md").write_text("# Outside\n")
    (root / "docs" / "other.md").write_text("# Other\n\n## Some heading\n")
    page = root / "docs" / "page.md"
    page.write_text(
        "[outside](../../shared/ARCHITECTURE.md) [absolute](/etc/hostname) [file](file:///etc/hostname) "
        "[fine](other.md) [anchor](other.md#some-heading) [bad anchor](other.md#nope) [missing](gone.md) "
        "[web](https://example.com/x) [self](#nowhere)"
    )

    assert broken_links(page, root) == [
        "../../shared/ARCHITECTURE.md",
        "/etc/hostname",
        "file:///etc/hostname",
        "other.md#nope",
        "gone.md",
        "#nowhere",
    ]


def test_anchors_follow_githubs_rule():
    assert github_anchor("SSM throughput: read this above ~40 requests per second") == (
        "ssm-throughput-read-this-above-40-requests-per-second"
    )
