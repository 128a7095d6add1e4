"""WCAG 2.2 AA in a real browser: axe-core on every page and fragment state, then what axe cannot see.

axe-core is vendored from npm (package.json pins it; `make vendor` copies it to
tests/browser/vendor/axe.min.js). Playwright injects it with an init script, which the DevTools
protocol evaluates outside the page's CSP, so the portal never serves it and its CSP stays strict.

To check a new page, add one line to PAGES: (name, user, path) and, if the state needs an
action after loading (open a facet, type a query), the name of a function in ACTIONS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect

from lantern.jobs import JobStore
from lantern.principal import Principal
from portal.analyst.export import start_job
from portal.analyst.worker import run_once
from search.urlstate import state_from_params
from tests.portal.conftest import DOCUMENT_ID, IDS
from tests.portal_fixtures import PASSWORD, STANDARD_USERS

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
# WCAG 2.0/2.1/2.2 A and AA rules; best-practice rules are reported by axe too but the gate is
# the two impacts the issue names.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING = {"serious", "critical"}


def _open_facets(page: Any) -> None:
    page.click('#search-main .facet a.facet-value:has-text("Custody")')
    page.wait_for_url(re.compile(r".*type=custody.*"))
    expect(page.locator("h2.result-title")).to_have_count(1)


def _type_ahead_open(page: Any) -> None:
    page.focus("#q")
    page.keyboard.type("feath", delay=40)
    page.wait_for_selector("#suggestions .suggest-list a")
    page.keyboard.press("ArrowDown")


def _live_results(page: Any) -> None:
    page.locator("#q").press_sequentially("Featherstone", delay=20)
    page.wait_for_url(re.compile(r".*/search\?q=Featherstone$"))
    page.wait_for_selector("h2.result-title")


def _linked_show_all(page: Any) -> None:
    """A record with more links in a group than the page lists, that group expanded by keyboard."""
    found = page.request.get("/api/search?q=type:custody&size=50").json()["results"]
    for result in found:
        groups = page.request.get(f"/api/records/{result['id']}").json()["linked_groups"]
        if any(g["total"] > g["shown"] for g in groups):
            break
    else:
        raise AssertionError("no custody record in the test data has a group to expand")
    page.goto(f"/records/{result['id']}")
    page.wait_for_selector("#linked-heading")
    link = page.locator("a.show-all").first
    total = int(re.sub(r"\D", "", link.inner_text()))
    group = str(link.get_attribute("data-focus")).removesuffix("-heading")
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#{group} ul.linked-list > li")).to_have_count(min(total, 50))
    # Focus lands on the group's heading, not at the top of the page.
    assert page.evaluate("document.activeElement.id") == f"{group}-heading"


def _person_page(page: Any) -> None:
    """The nominal of the hand-made Jonathan Featherstone (resolved at load), found as a user would."""
    found = page.request.get("/api/persons", params={"q": "Jonathan Featherstone 12/03/1985"}).json()
    assert found["persons"], "no resolved person in the test world"
    page.goto(f"/persons/{found['persons'][0]['id']}")
    page.wait_for_selector("#person-heading")


def _batch_results(page: Any) -> None:
    """A short list runs inline (batch.SYNC_MAX_LINES): the results table on the batch page. A
    long list's job page shows the same table (one macro) once the job is done."""
    page.goto("/batch")
    page.fill("#batch-text", "Jonathan Featherstone 12/03/1985\nWilliam Quigley")
    page.click("form[action='/batch'] button[type=submit]")
    page.wait_for_selector("table.data-table")


def _saved_detail(page: Any) -> None:
    page.goto("/saved/new?q=Featherstone")
    page.fill("#name", "Featherstone watch")
    page.click("form.auth-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/saved/[^/?]+(\?.*)?$"))
    page.wait_for_selector("#saved-heading")


ACTIONS: dict[str, Callable[[Any], None]] = {
    "person_page": _person_page,
    "batch_results": _batch_results,
    "saved_detail": _saved_detail,
    "open_facets": _open_facets,
    "linked_show_all": _linked_show_all,
    "type_ahead_open": _type_ahead_open,
    "live_results": _live_results,
}

# (name, user or None for signed out, path, action or None). One line per page or state.
PAGES: list[tuple[str, str | None, str, str | None]] = [
    ("sign-in", None, "/login", None),
    ("sign-in-failed", None, "/login?error=1", None),
    ("purpose", "analyst", "/purpose", None),
    ("home", "analyst", "/", None),
    ("home-type-ahead", "analyst", "/", "type_ahead_open"),
    ("home-live-results", "analyst", "/", "live_results"),
    ("search-results", "analyst", "/search?q=Featherstone", None),
    ("search-facets-open", "analyst", "/search?q=Featherstone", "open_facets"),
    ("search-no-results", "analyst", "/search?q=Zzyzxqwv+Nobodyatall", None),
    ("search-error", "analyst", "/search?q=" + quote('"unclosed (name:'), None),
    ("search-fields", "analyst", "/search?name=Featherstone&dob_years=2", None),
    ("record-custody", "analyst", f"/records/{IDS['custody']}", None),
    ("record-crime", "analyst", f"/records/{IDS['crime']}", None),
    ("record-case", "analyst", f"/records/{IDS['case']}", None),
    ("record-intel", "analyst", f"/records/{IDS['intel_c']}", None),
    ("record-not-found", "analyst", "/records/no-such-record", None),
    ("record-linked-show-all", "analyst", "/", "linked_show_all"),
    ("record-linked-page", "analyst", f"/records/{IDS['custody']}/linked/person", None),
    ("entity-person", "analyst", "/entity/PERSON/Jonathan%20FEATHERSTONE", None),
    ("entity-vrm", "analyst", "/entity/VRM/AB12CDE", None),
    ("saved-list", "analyst", "/saved", None),
    ("saved-new", "analyst", "/saved/new?q=Featherstone", None),
    ("notifications", "analyst", "/notifications", None),
    ("batch", "analyst", "/batch", None),
    ("officer-home", "officer", "/", None),
    ("audit-events", "auditor", "/audit", None),
    ("audit-user", "auditor", "/audit/users/analyst", None),
    ("audit-anomalies", "auditor", "/audit/anomalies", None),
    ("not-found", "analyst", "/no-such-page", None),
    ("chart", "analyst", "/chart?n=vrm:AB12CDE", None),
    ("chart-saved", "analyst", "/chart/saved", None),
    ("timeline", "analyst", "/timeline?n=vrm:AB12CDE", None),
    ("export-quotas", "supervisor", "/export/quota", None),
    ("map", "analyst", "/map?q=type%3Acrime", None),
    ("help-index", "analyst", "/help", None),
    ("help-signing-in", None, "/help/signing-in", None),
    ("help-signing-in-signed-in", "officer", "/help/signing-in", None),
    ("help-officers", "officer", "/help/officers", None),
    ("help-analysts", "analyst", "/help/analysts", None),
    ("help-auditors", "auditor", "/help/auditors", None),
    ("help-administrators", "analyst", "/help/administrators", None),
    ("person", "analyst", "/", "person_page"),
    ("person-officer", "officer", "/", "person_page"),
    ("search-persons", "analyst", "/search?q=Jonathan+Featherstone+12%2F03%2F1985", None),
    ("document", "analyst", f"/documents/{DOCUMENT_ID}", None),
    ("record-with-document", "analyst", f"/records/{IDS['crime']}", None),
    ("admin-documents", "admin", "/admin/documents", None),
    ("audit-review", "supervisor", "/audit/review", None),
    ("batch-results", "analyst", "/", "batch_results"),
    # A saved query of the supervisor's own: the analyst's saved list is a guide screenshot.
    ("saved-detail", "supervisor", "/", "saved_detail"),
    ("forbidden", "officer", "/audit", None),
    ("api-docs", "analyst", "/api/docs", None),
    ("accessibility-statement", None, "/accessibility", None),
    ("accessibility-statement-signed-in", "analyst", "/accessibility", None),
]


def new_page(browser: Any, live_server: str, **options: Any) -> Any:
    options.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(base_url=live_server, **options)
    context.set_default_timeout(TIMEOUT)
    context.add_init_script(path=str(AXE))
    return context.new_page()


def sign_in(page: Any, username: str, purpose: bool = True) -> None:
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
    if purpose:
        page.goto("/purpose")
        page.check("#purpose-investigation")
        page.fill("#reference", "CR/012345/24")
        page.click("form.purpose-form button[type=submit]")
        page.wait_for_load_state()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        AXE_TAGS,
    )
    return list(result["violations"])


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = [" ".join(n["target"]) for n in v["nodes"][:5]]
        lines.append(f"{v['impact']}: {v['id']} ({v['help']}) at {targets}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def pages(browser: Any, live_server: str) -> Iterator[dict[str | None, Any]]:
    """One signed-in context per user, reused across the page list (signing in is the slow part)."""
    opened: dict[str | None, Any] = {}
    for user in {u for _, u, _, _ in PAGES}:
        page = new_page(browser, live_server)
        if user is not None:
            sign_in(page, user)
        opened[user] = page
    yield opened
    for page in opened.values():
        page.context.close()


@pytest.mark.parametrize(("name", "user", "path", "action"), PAGES, ids=[p[0] for p in PAGES])
def test_axe_no_serious_or_critical(
    pages: dict[str | None, Any], name: str, user: str | None, path: str, action: str | None
) -> None:
    page = pages[user]
    page.goto(path)
    page.wait_for_load_state("networkidle")
    if action:
        ACTIONS[action](page)
    assert page.evaluate("typeof axe") == "object", "axe-core was not injected"
    violations = axe_violations(page)
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, f"{name} ({path}):\n{describe(blocking)}"


def test_axe_export_job_page_queued_and_done(pages: dict[str | None, Any], app: FastAPI) -> None:
    """An export too big to answer inline is a job (issue 17): its page, while queued and once
    the worker has run it, is checked like every other page."""
    client, settings = app.state.client, app.state.settings
    a = STANDARD_USERS["analyst"]
    analyst = Principal(
        a.username, a.display_name, frozenset(a.roles), frozenset(a.units), frozenset(a.clearances)
    )
    store = JobStore(client, settings)
    job = start_job(
        store,
        analyst,
        state_from_params([("q", "Featherstone")]),
        limit=100,
        estimate=2,
        today=None,
        request_id=None,
        audit_context={"of_seq": 0, "purpose_code": "investigation", "purpose_reference": "CR/1"},
    )
    page = pages["analyst"]
    for state in ("queued", "done"):
        if state == "done":  # the worker may take other tests' queued jobs first
            for _ in range(20):
                latest = store.get(job.id)
                if (latest is not None and latest.finished) or not run_once(client, settings):
                    break
            latest = store.get(job.id)
            assert latest is not None and latest.finished and not latest.error, latest
        page.goto(f"/export/jobs/{job.id}")
        page.wait_for_load_state("networkidle")
        blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
        assert not blocking, f"export job ({state}):\n{describe(blocking)}"


def test_axe_gate_catches_a_violation(pages: dict[str | None, Any]) -> None:
    """The check can fail: an unlabelled input added to a real page is reported as serious/critical."""
    page = pages["analyst"]
    page.goto("/")
    page.evaluate("() => document.querySelector('main').append(document.createElement('input'))")
    ids = {v["id"] for v in axe_violations(page) if v["impact"] in BLOCKING}
    assert "label" in ids


def test_axe_dark_scheme(browser: Any, live_server: str) -> None:
    page = new_page(browser, live_server, color_scheme="dark")
    try:
        sign_in(page, "analyst")
        for path in ("/search?q=Featherstone", f"/records/{IDS['custody']}", "/saved"):
            page.goto(path)
            blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING]
            assert not blocking, f"dark {path}:\n{describe(blocking)}"
    finally:
        page.context.close()


# Beyond axe: keyboard, focus, live regions, reflow.


@pytest.fixture
def analyst_page(browser: Any, live_server: str) -> Iterator[Any]:
    page = new_page(browser, live_server)
    sign_in(page, "analyst")
    yield page
    page.context.close()


def test_skip_link_first_and_moves_focus_to_main(analyst_page: Any) -> None:
    page = analyst_page
    page.goto("/search?q=Featherstone")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    assert page.locator(".skip-link").is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_focus_is_visible_on_every_tab_stop(analyst_page: Any) -> None:
    page = analyst_page
    page.goto("/search?q=Featherstone")
    seen = 0
    for _ in range(25):
        page.keyboard.press("Tab")
        style = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement);"
            " return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth, s.boxShadow]; }"
        )
        tag, outline, width, shadow = style
        if tag == "BODY":
            continue
        seen += 1
        assert (outline != "none" and width != "0px") or shadow != "none", style
    assert seen >= 10


def test_type_ahead_arrow_keys_and_activedescendant(analyst_page: Any) -> None:
    page = analyst_page
    page.goto("/")
    page.focus("#q")
    page.keyboard.type("feath", delay=40)
    page.wait_for_selector("#suggestions [role=option]")
    q = page.locator("#q")
    expect(q).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    first = page.locator("#suggestions [role=option]").first
    expect(q).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    expect(first).to_have_attribute("aria-selected", "true")
    # Focus never leaves the box, so typing can continue.
    assert page.evaluate("document.activeElement.id") == "q"
    if page.locator("#suggestions [role=option]").count() > 1:
        page.keyboard.press("ArrowDown")
        second = page.locator("#suggestions [role=option]").nth(1)
        expect(q).to_have_attribute("aria-activedescendant", second.get_attribute("id"))
        page.keyboard.press("ArrowUp")
    expect(q).to_have_attribute("aria-activedescendant", first.get_attribute("id"))
    href = first.get_attribute("href")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(".*" + re.escape(href) + "$"))


def test_escape_closes_type_ahead(analyst_page: Any) -> None:
    page = analyst_page
    page.goto("/")
    page.focus("#q")
    page.keyboard.type("feath", delay=40)
    page.wait_for_selector("#suggestions [role=option]")
    page.keyboard.press("Escape")
    expect(page.locator("#suggestions [role=option]")).to_have_count(0)
    expect(page.locator("#q")).to_have_attribute("aria-expanded", "false")


def test_live_region_announces_result_count_after_swap(analyst_page: Any) -> None:
    page = analyst_page
    page.goto("/")
    status = page.locator("#live-status")
    assert status.get_attribute("role") == "status"
    page.locator("#q").press_sequentially("Featherstone", delay=20)
    page.wait_for_url(re.compile(r".*/search\?q=Featherstone$"))
    expect(status).to_have_text(re.compile(r"\d+ records?"))
    # The region is outside the swapped area: it is the same element after another swap.
    page.fill("#q", "Zzyzxqwv Nobodyatall")
    expect(status).to_have_text(re.compile(r"(No|0) records?", re.I))


def test_no_keyboard_trap_in_live_search(analyst_page: Any) -> None:
    page = analyst_page
    page.goto("/")
    page.focus("#q")
    page.keyboard.type("Featherstone", delay=30)
    page.wait_for_selector("h2.result-title")
    # Tab leaves the box and reaches the results; Shift+Tab comes back.
    reached: set[str] = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.closest('#search-main') ? 'results' : 'other'"))
        if "results" in reached:
            break
    assert "results" in reached
    for _ in range(60):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") == "q":
            break
    assert page.evaluate("document.activeElement.id") == "q"


REFLOW_PAGES = [
    "/",
    "/search?q=Featherstone",
    f"/records/{IDS['custody']}",
    "/saved",
    "/batch",
    "/purpose",
    "/help/officers",
    "/help/administrators",
]


@pytest.mark.parametrize("path", REFLOW_PAGES)
def test_320px_without_horizontal_scroll(browser: Any, live_server: str, path: str) -> None:
    page = new_page(browser, live_server, viewport={"width": 320, "height": 640})
    try:
        sign_in(page, "analyst")
        page.goto(path)
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], f"{path} scrolls sideways at 320px: {width}"
    finally:
        page.context.close()


@pytest.mark.parametrize("path", ["/search?q=Featherstone", f"/records/{IDS['custody']}"])
def test_text_at_200_percent_without_horizontal_scroll(browser: Any, live_server: str, path: str) -> None:
    page = new_page(browser, live_server, viewport={"width": 1280, "height": 900})
    try:
        sign_in(page, "analyst")
        page.goto(path)
        before = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        # Browser text-only zoom doubles the root font size; rem/em sizes must follow it.
        page.evaluate("() => { document.documentElement.style.fontSize = '200%'; }")
        after = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert after >= 2 * before - 0.5, (before, after)
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], f"{path} scrolls sideways at 200% text: {width}"
    finally:
        page.context.close()


def test_accessibility_statement_is_public_and_in_the_model_format(browser: Any, live_server: str) -> None:
    page = new_page(browser, live_server)
    try:
        page.goto("/accessibility")
        assert page.url.endswith("/accessibility")  # not sent to sign in
        headings = page.locator("h2").all_inner_texts()
        for required in (
            "How accessible this service is",
            "Feedback and contact information",
            "Enforcement procedure",
            "Technical information about this service's accessibility",
            "Non-accessible content",
            "Preparation of this accessibility statement",
        ):
            assert required in headings, required
        assert "WCAG" in page.inner_text("main") or "Web Content Accessibility Guidelines" in page.inner_text(
            "main"
        )
        page.goto("/login")
        assert page.locator('footer a[href="/accessibility"]').count() == 1
    finally:
        page.context.close()
