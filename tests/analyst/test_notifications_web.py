"""The notifications page and header badge."""

from __future__ import annotations

import re

from fastapi import FastAPI
from opensearchpy import OpenSearch

from alerts.notifications import _badge_cache
from lantern.settings import Settings
from lantern.users import UserStore, _status_cache
from tests.analyst.conftest import Loader, crime, signed_in, tag
from tests.analyst.test_saved_web import audit_events, save_via_form
from tests.portal_fixtures import csrf_from

BADGE = re.compile(r'Notifications <span class="badge">(\d+)<span class="visually-hidden"> unread')


def badge(html: str) -> int:
    m = BADGE.search(html)
    return int(m.group(1)) if m else 0


def _row_with(html: str, text: str) -> str:
    """The table row (one notification) that mentions ``text``."""
    rows = [row for row in html.split("<tr") if text in row]
    assert len(rows) == 1, rows
    return rows[0]


def test_badge_page_and_mark_read_unread(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    tc = signed_in(analyst_app, "mem2")
    save_via_form(tc, t, "Watch for it")
    before = badge(tc.get("/saved").text)
    loader.load([crime(t), crime(t)])
    client.indices.refresh(index=asettings.index_name("notifications"))
    _badge_cache.clear()
    page = tc.get("/notifications")
    assert page.status_code == 200
    # One notification for the batch, listing both records; the badge counts it once.
    assert page.text.count(f"Theft of motor vehicle {t}") == 2
    assert re.search(r'2 new records match\s*<a href="/saved/[^"]+">Watch for it</a>', page.text)
    assert badge(page.text) == before + 1
    shown = audit_events(client, asettings, "notifications.view", "mem2")[0]
    assert len(shown["shown_ids"]) >= 2  # each record of the group is in the trail
    ids = re.findall(r'action="/notifications/([0-9a-f]{40})/read"', page.text)
    group = next(i for i in ids if f"/notifications/{i}/read" in _row_with(page.text, t))
    res = tc.post(f"/notifications/{group}/read", data={"csrf_token": csrf_from(page.text)})
    assert res.status_code == 303
    page = tc.get("/notifications")
    assert badge(page.text) == before
    assert f'action="/notifications/{group}/unread"' in page.text
    assert page.text.count(f"Theft of motor vehicle {t}") == 2  # read, still listed
    read_ev = audit_events(client, asettings, "notification.read", "mem2")[0]
    assert read_ev["target"]["notification"] == group and read_ev["outcome"] == "success"
    tc.post(f"/notifications/{group}/unread", data={"csrf_token": csrf_from(page.text)})
    assert badge(tc.get("/notifications").text) == before + 1
    # Someone else cannot mark it.
    other = signed_in(analyst_app, "ana")
    other.post(f"/notifications/{group}/read", data={"csrf_token": csrf_from(other.get("/saved").text)})
    assert badge(tc.get("/notifications").text) == before + 1
    page = tc.get("/notifications")
    tc.post("/notifications/read-all", data={"csrf_token": csrf_from(page.text)})
    assert badge(tc.get("/notifications").text) == 0


def test_notification_disappears_from_the_page_when_the_user_loses_access(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    tc = signed_in(analyst_app, "mem2")
    save_via_form(tc, t, "Protected watch")
    loader.load([crime(t, sensitivity=["protected_person"])])
    client.indices.refresh(index=asettings.index_name("notifications"))
    assert f"Theft of motor vehicle {t}" in tc.get("/notifications").text
    store = UserStore(client, asettings)
    store._update("mem2", {"clearances": []})
    try:
        _status_cache.forget("mem2")
        page = tc.get("/notifications")
        assert page.status_code == 200
        assert t not in page.text
    finally:
        store._update("mem2", {"clearances": ["protected_person"]})
        _status_cache.forget("mem2")
    assert f"Theft of motor vehicle {t}" in tc.get("/notifications").text
