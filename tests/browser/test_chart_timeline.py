"""Link chart and timeline in a real browser: drawn by the vendored libraries under the CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from entity_extraction import canonicalise
from tests.browser.test_search_flow import sign_in
from tests.portal.conftest import FEATHER_PNC, IDS

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
VRM = canonicalise("VRM", "AB12 CDE") or "AB12CDE"


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    pg = context.new_page()
    problems: list[str] = []
    pg.on(
        "console",
        lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.problems = problems
    yield pg
    context.close()


def test_chart_this_expand_path_and_png(page: Any, artifacts: Path) -> None:
    sign_in(page)
    page.goto(f"/entity/VRM/{quote(VRM, safe='')}")
    page.click("a.chart-this")
    page.wait_for_url(re.compile(r".*/chart\?.*"))
    page.wait_for_selector("#chart-canvas[data-ready=true]")
    # Records mentioning the vehicle are nodes, in the canvas and in the table.
    nodes = page.evaluate("() => window.lanternChart.nodes().map(n => n.id())")
    assert f"record:{IDS['custody']}" in nodes
    assert page.locator(f'tr[data-node="record:{IDS["custody"]}"]').count() == 1
    # Expand the vehicle into people (a server round trip; the URL holds the chart).
    page.locator(f'tr[data-node="vrm:{VRM}"] a:has-text("people")').click()
    page.wait_for_selector("#chart-canvas[data-ready=true]")
    # Featherstone is his resolved person (nominal): one node, not his PNC ID as a string.
    person = page.locator('tr[data-node^="person:"]', has_text="Featherstone")
    assert person.count() == 1
    person_node = person.get_attribute("data-node") or ""
    assert person_node != f"person:pnc:{FEATHER_PNC}", person_node
    page.screenshot(path=str(artifacts / "chart.png"), full_page=True)
    # Path from the vehicle to Featherstone: highlighted, with the records behind the hop.
    page.select_option("#path-a", f"vrm:{VRM}")
    page.select_option("#path-b", person_node)
    page.click("form.chart-path button[type=submit]")
    page.wait_for_selector("#chart-canvas[data-ready=true]")
    assert page.locator(".chart-path-line").count() >= 1
    assert page.locator(".chart-hops a").count() >= 1
    on_path = page.evaluate("() => window.lanternChart.$('.on-path').length")
    assert on_path >= 2
    page.screenshot(path=str(artifacts / "chart-path.png"), full_page=True)
    # PNG export: audited by the server, drawn by cytoscape in the page.
    with page.expect_download() as dl:
        page.click("#chart-png")
    assert dl.value.suggested_filename == "lantern-chart.png"
    assert page.problems == [], "\n".join(page.problems)


def test_timeline_draws_items_that_open_records(page: Any, artifacts: Path) -> None:
    sign_in(page)
    page.goto(f"/timeline?n=vrm:{quote(VRM, safe='')}")
    page.wait_for_selector("#timeline-canvas[data-ready=true]")
    page.wait_for_selector(".vis-item")
    assert page.locator(".vis-item").count() >= 2
    assert page.locator(".timeline-table tbody tr").count() >= 2
    page.screenshot(path=str(artifacts / "timeline.png"), full_page=True)
    # Items stack and overlap; any item opens its own record.
    page.locator(".vis-item.vis-box .vis-item-content").first.click(force=True)
    page.wait_for_url(re.compile(r".*/records/[0-9a-f-]{36}$"))
    assert page.problems == [], "\n".join(page.problems)


def test_group_a_canvas_selection(page: Any, artifacts: Path) -> None:
    sign_in(page)
    page.goto(f"/chart?n=vrm:{quote(VRM, safe='')}&x=vrm:{quote(VRM, safe='')}|records")
    page.wait_for_selector("#chart-canvas[data-ready=true]")
    members = [f"vrm:{VRM}", f"record:{IDS['custody']}"]
    # Selected on the canvas (as a shift-drag or ctrl-click would): the table's boxes follow.
    page.evaluate("ids => ids.forEach(id => window.lanternChart.getElementById(id).select())", members)
    for m in members:
        assert page.locator(f'#chart-group-form input[name="m"][value="{m}"]').is_checked()
    page.fill("#group-name", "Focus and custody")
    page.click("#chart-group")
    page.wait_for_url(re.compile(r".*/chart\?.*g=Focus.*"))
    page.wait_for_selector("#chart-canvas[data-ready=true]")
    children = page.evaluate(
        "() => window.lanternChart.nodes('[kind = \"group\"]').map(g => g.children().map(c => c.id()).sort())"
    )
    assert children == [sorted(members)]
    assert page.locator("tr.chart-group-row").count() == 1
    page.screenshot(path=str(artifacts / "chart-group.png"), full_page=True)
    # The group's own timeline: the records of its nodes.
    page.click("tr.chart-group-row a:has-text('timeline of this group')")
    page.wait_for_selector("#timeline-canvas[data-ready=true]")
    assert page.problems == [], "\n".join(page.problems)
