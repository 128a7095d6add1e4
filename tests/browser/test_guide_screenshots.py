"""The user guide's screenshots, taken from the running portal so they never go stale.

Each run overwrites ``docs/guide/img/*.png`` (served at ``/help/img/``); the test fails if a
guide references an image this test does not produce, so a new screenshot in a guide needs
a line here.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from portal.guide import GUIDE_DIR, IMAGE_DIR
from tests.browser.test_accessibility import new_page, sign_in
from tests.portal.conftest import IDS

pytestmark = pytest.mark.browser

# (file, user, path, CSS selector that must be on screen before the picture is taken)
SHOTS: list[tuple[str, str, str, str]] = [
    ("officer-search.png", "officer", "/", "#q"),
    ("officer-results.png", "officer", "/search?q=Featherstone", "h2.result-title"),
    ("officer-record.png", "officer", f"/records/{IDS['custody']}", "#linked-heading"),
    ("analyst-saved.png", "analyst", "/saved", "main h1"),
    (
        "analyst-chart.png",
        "analyst",
        "/chart?n=vrm:AB12CDE&x=vrm:AB12CDE|records&x=vrm:AB12CDE|persons",
        "main h1",
    ),
    ("auditor-events.png", "auditor", "/audit", "main h1"),
    ("auditor-anomalies.png", "auditor", "/audit/anomalies", "main h1"),
]
PNG = b"\x89PNG\r\n\x1a\n"


def referenced_images() -> set[str]:
    out: set[str] = set()
    for md in GUIDE_DIR.glob("*.md"):
        out |= set(re.findall(r"\]\(img/([^)\s]+)\)", md.read_text(encoding="utf-8")))
    return out


def test_every_image_a_guide_shows_is_taken_here() -> None:
    assert referenced_images() == {name for name, *_ in SHOTS}


def test_screenshots_for_the_guide(browser: Any, live_server: str) -> None:
    IMAGE_DIR.mkdir(parents=True, exist_ok=True)
    started = time.time()
    pages: dict[str, Any] = {}
    try:
        for name, user, path, ready in SHOTS:
            if user not in pages:
                pages[user] = new_page(browser, live_server, viewport={"width": 1280, "height": 800})
                sign_in(pages[user], user)
            page = pages[user]
            page.goto(path)
            page.wait_for_load_state("networkidle")
            page.wait_for_selector(ready)
            # A record page: the whole page, so its linked records are in the picture.
            page.screenshot(path=str(IMAGE_DIR / name), full_page=name == "officer-record.png")
    finally:
        for page in pages.values():
            page.context.close()
    for name, *_ in SHOTS:
        shot = IMAGE_DIR / name
        assert shot.read_bytes()[:8] == PNG, name
        assert shot.stat().st_mtime >= started - 1, f"{name} was not rewritten"
        assert shot.stat().st_size > 5_000, f"{name} looks empty"
