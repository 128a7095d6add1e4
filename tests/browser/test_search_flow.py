"""End to end in a real browser: sign in, purpose, live search, facets, detail, entity link, back button."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.portal.conftest import IDS
from tests.portal_fixtures import PASSWORD

pytestmark = pytest.mark.browser

TIMEOUT = 15_000


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    pg = context.new_page()
    problems: list[str] = []
    # CSP violations and script errors show up here: the portal must produce none.
    pg.on(
        "console",
        lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None,
    )
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    pg.problems = problems
    yield pg
    context.close()


def sign_in(page: Any, username: str = "analyst") -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    page.goto("/purpose")
    page.check("#purpose-investigation")
    page.fill("#reference", "CR/012345/24")
    page.click("form.purpose-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))


def result_ids(page: Any) -> list[str]:
    return [h.get_attribute("id")[2:] for h in page.locator("h2.result-title").all()]


def test_search_facet_detail_entity_and_back(page: Any, artifacts: Path) -> None:
    sign_in(page)
    assert "Criminal investigation" in page.inner_text("header")

    # Live search: type, and the results arrive without submitting; the URL follows.
    page.locator("#q").press_sequentially("Featherstone", delay=30)
    page.wait_for_url(re.compile(r".*/search\?q=Featherstone$"))
    page.wait_for_selector("h2.result-title")
    heading = page.inner_text("#results-heading")
    assert re.search(r"\d+ records?", heading), heading
    before = result_ids(page)
    assert IDS["custody"] in before and IDS["case"] in before
    page.screenshot(path=str(artifacts / "search.png"), full_page=True)

    # Toggle a facet: in place, pushed to the URL.
    page.click('#search-main .facet a.facet-value:has-text("Custody")')
    page.wait_for_url(re.compile(r".*type=custody.*"))
    # Locator waits, not wait_for_function: a string predicate is evaluated in the page,
    # which the portal's CSP (no unsafe-eval) rightly blocks.
    expect(page.locator("h2.result-title")).to_have_count(1)
    assert result_ids(page) == [IDS["custody"]]
    custody = '#search-main .facet a.facet-value:has-text("Custody")'
    assert page.get_attribute(custody, "aria-checked") == "true"

    # Back restores the previous results.
    page.go_back()
    page.wait_for_url(re.compile(r".*/search\?q=Featherstone$"))
    expect(page.locator("h2.result-title")).to_have_count(len(before))
    assert result_ids(page) == before

    # Open the custody record.
    page.click(f"#r-{IDS['custody']} a")
    page.wait_for_url(re.compile(rf".*/records/{IDS['custody']}$"))
    assert "Jonathan Featherstone" in page.inner_text("#record-heading")
    assert page.locator("text=Linked records").count() == 1
    page.screenshot(path=str(artifacts / "detail-custody.png"), full_page=True)

    # Follow an entity link from the narrative.
    page.click('.narrative a.ent-vrm[href="/entity/VRM/AB12CDE"]')
    page.wait_for_url(re.compile(r".*/entity/VRM/AB12CDE$"))
    assert page.inner_text("#entity-heading") == "AB12CDE"
    page.screenshot(path=str(artifacts / "entity-vrm.png"), full_page=True)

    page.go_back()
    page.wait_for_url(re.compile(rf".*/records/{IDS['custody']}$"))
    page.go_back()
    page.wait_for_url(re.compile(r".*/search\?q=Featherstone$"))
    page.wait_for_selector("h2.result-title")
    assert result_ids(page) == before
    assert page.problems == []


def test_intel_detail_and_person_page(page: Any, artifacts: Path) -> None:
    sign_in(page)
    page.goto(f"/records/{IDS['intel_c']}")
    assert "2BC" in page.inner_text(".grading")
    page.screenshot(path=str(artifacts / "detail-intel.png"), full_page=True)
    page.goto("/entity/PERSON/Jonathan%20FEATHERSTONE")
    assert "Treated as the same person" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "entity-person.png"), full_page=True)
    page.goto(f"/records/{IDS['case']}")
    page.screenshot(path=str(artifacts / "detail-case.png"), full_page=True)
    page.goto(f"/records/{IDS['crime']}")
    page.screenshot(path=str(artifacts / "detail-crime.png"), full_page=True)
    assert page.problems == []


def test_type_ahead_and_keyboard(page: Any) -> None:
    sign_in(page)
    # The skip link is the first thing the keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.focus("#q")
    page.keyboard.type("feath", delay=40)
    page.wait_for_selector("#suggestions .suggest-list a")
    page.keyboard.press("ArrowDown")
    active = page.evaluate("document.getElementById('q').getAttribute('aria-activedescendant')")
    assert page.get_attribute(f"#{active}", "href").startswith("/entity/")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/entity/.*"))
    assert page.problems == []


def test_works_without_javascript(browser: Any, live_server: str, artifacts: Path) -> None:
    context = browser.new_context(base_url=live_server, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        sign_in(page, "officer")
        page.fill("#q", "AB12 CDE")
        page.click("#search-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/search\?q=AB12\+CDE$"))
        assert result_ids(page) == [IDS["custody"]]
        page.select_option("#sort", "newest")
        page.click("#search-options button[type=submit]")
        page.wait_for_url(re.compile(r".*sort=newest.*"))
        page.click('.facet a.facet-value:has-text("Custody")')
        page.wait_for_url(re.compile(r".*type=custody.*"))
        assert result_ids(page) == [IDS["custody"]]
    finally:
        context.close()


def test_dark_scheme_renders(browser: Any, live_server: str, artifacts: Path) -> None:
    context = browser.new_context(
        base_url=live_server, color_scheme="dark", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    try:
        sign_in(page)
        page.goto("/search?q=Featherstone")
        bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(15, 20, 26)"
        page.screenshot(path=str(artifacts / "search-dark.png"), full_page=True)
    finally:
        context.close()
