"""Rough edges a newcomer hits in the first hour, in a real browser."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_accessibility import new_page
from tests.portal_fixtures import PASSWORD

pytestmark = pytest.mark.browser


def test_purpose_lands_on_the_search_started_with_query_kept(browser: Any, live_server: str) -> None:
    page = new_page(browser, live_server)
    try:
        # Signed out, the officer follows a link to a search: sign in, state a purpose, and land there.
        page.goto("/search?q=Featherstone&type=custody")
        page.wait_for_url(re.compile(r".*/login\?next=.*"))
        page.fill("#username", "analyst")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/purpose\?next=.*"))
        page.check("#purpose-investigation")
        page.fill("#reference", "CR/012345/24")
        page.click("form.purpose-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/search\?q=Featherstone&type=custody$"))
        expect(page.locator("#q")).to_have_value("Featherstone")
        expect(page.locator("h2.result-title")).to_have_count(1)
    finally:
        page.context.close()
