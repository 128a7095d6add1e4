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
    assert page.text.count(f"Theft of motor vehicle {t}") == 2
    assert "Watch for it" in page.text
    assert badge(page.text) == before + 2
    shown = audit_events(client, asettings, "notifications.view", "mem2")[0]
    assert len(shown["shown_ids"]) >= 2
    ids = re.findall(r'action="/notifications/([0-9a-f]{40})/read"', page.text)
    assert len(ids) >= 2
    res = tc.post(f"/notifications/{ids[0]}/read", data={"csrf_token": csrf_from(page.text)})
    assert res.status_code == 303
    page = tc.get("/notifications")
    assert badge(page.text) == before + 1
    assert f'action="/notifications/{ids[0]}/unread"' in page.text
    tc.post(f"/notifications/{ids[0]}/unread", data={"csrf_token": csrf_from(page.text)})
    assert badge(tc.get("/notifications").text) == before + 2
    # Someone else cannot mark it.
    other = signed_in(analyst_app, "ana")
    other.post(f"/notifications/{ids[0]}/read", data={"csrf_token": csrf_from(other.get("/saved").text)})
    assert badge(tc.get("/notifications").text) == before + 2
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
