"""The map in a real browser: Leaflet vendored from npm, no tiles, under the portal's CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_search_flow import sign_in

pytestmark = pytest.mark.browser

TIMEOUT = 20_000


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    pg = context.new_page()
    problems: list[str] = []
    outside: list[str] = []
    pg.on(
        "console",
        lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # Nothing may be fetched from anywhere but the portal (no tile server, no CDN).
    pg.on("request", lambda req: outside.append(req.url) if not req.url.startswith(live_server) else None)
    pg.problems = problems
    pg.outside = outside
    yield pg
    context.close()


def test_map_these_results_clusters_popups_and_no_outside_requests(page: Any, artifacts: Path) -> None:
    sign_in(page)
    page.goto("/search?q=type:crime")
    page.click("a.map-these")
    page.wait_for_url(re.compile(r".*/map\?q=type%3Acrime$"))
    page.wait_for_selector("#map-canvas[data-ready=true]")
    clusters = page.locator(".map-cluster")
    assert clusters.count() >= 2
    # The counts drawn add up to the located records of the results (each record once per place).
    drawn = sum(int(t) for t in clusters.all_inner_texts())
    assert drawn >= int(page.locator("#map-canvas").get_attribute("data-cells") or 0)
    # The grid and the scale stand in for tiles.
    assert page.locator(".leaflet-control-scale-line").count() >= 1
    assert page.locator("canvas.leaflet-tile").count() >= 1
    page.screenshot(path=str(artifacts / "map.png"), full_page=True)
    # Zooming asks the server again for the new viewport.
    before = page.evaluate("() => window.lanternMap.getZoom()")
    page.evaluate("() => window.lanternMap.setZoom(window.lanternMap.getZoom() + 2)")
    page.wait_for_function("z => window.lanternMap.getZoom() !== z", arg=before)
    page.wait_for_selector("#map-canvas[data-ready=true]")
    # A cluster's popup links to its newest records.
    page.locator(".map-cluster").first.click()
    link = page.locator(".leaflet-popup-content a").first
    link.wait_for()
    link.click()
    page.wait_for_url(re.compile(r".*/records/[0-9a-f-]{36}$"))
    assert page.outside == [], page.outside
    assert page.problems == [], "\n".join(page.problems)
