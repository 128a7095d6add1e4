"""The user guide served at ``/help``: Markdown in ``docs/guide/``, rendered to HTML here.

``markdown-it-py`` (CommonMark) with raw HTML switched off: any ``<tag>`` in a guide is shown
as text, never passed through, and its link validation refuses ``javascript:``-style URLs, so
the output needs no separate sanitiser and the page stays under the strict CSP (no inline
script or style can come from Markdown). The screenshots in ``docs/guide/img/`` are written
by ``tests/browser/test_guide_screenshots.py``, so they show the portal as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from markdown_it import MarkdownIt
from markupsafe import Markup

GUIDE_DIR = Path(__file__).resolve().parents[1] / "docs" / "guide"
IMAGE_DIR = GUIDE_DIR / "img"


@dataclass(frozen=True)
class Guide:
    slug: str
    audience: str
    summary: str
    # Readable without signing in. Only a guide about reaching the portal is: the others
    # describe how records are found, joined and hidden, which a force shares with its users
    # rather than with anyone on the network who can reach the sign-in page.
    public: bool = False

    @property
    def path(self) -> str:
        return f"/help/{self.slug}"


GUIDES: tuple[Guide, ...] = (
    Guide(
        "signing-in",
        "Signing in",
        "Getting an account, signing in, failed sign-ins, staying signed in",
        public=True,
    ),
    Guide(
        "officers", "Officers", "Searching names, dates of birth and identifiers; purposes; what is not shown"
    ),
    Guide(
        "analysts", "Analysts", "Saved queries and alerts, batch search, export, link charts and timelines"
    ),
    Guide("auditors", "Auditors", "Reading the audit trail, anomalies, verifying the chain"),
    Guide(
        "administrators",
        "Administrators",
        "Install, users, the force profile, cluster sizing, backup and restore, upgrades",
    ),
)
BY_SLUG = {g.slug: g for g in GUIDES}
PUBLIC_PATHS = frozenset(g.path for g in GUIDES if g.public)


def visible(signed_in: bool) -> tuple[Guide, ...]:
    """The guides to list: all of them once signed in, the public ones before."""
    return GUIDES if signed_in else tuple(g for g in GUIDES if g.public)


def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")


@cache
def _render(path: Path, mtime_ns: int) -> Markup:
    # Keyed on the file's mtime: an edited guide is re-rendered, an unchanged one is not.
    html = str(_markdown().render(path.read_text(encoding="utf-8")))
    # Safe to mark as such: raw HTML is off, so every tag in it is markdown-it's own.
    return Markup(html)  # noqa: S704


def render_guide(slug: str) -> Markup | None:
    """The guide's HTML, or None for an unknown guide."""
    if slug not in BY_SLUG:
        return None
    path = GUIDE_DIR / f"{slug}.md"
    return _render(path, path.stat().st_mtime_ns)
