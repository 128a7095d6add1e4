"""Saved queries through the portal: save, list, open, edit, share read-only, delete."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from alerts.percolation import registered_ids
from alerts.saved_queries import SavedQueryStore
from lantern.principal import Principal
from lantern.settings import Settings
from tests.analyst.conftest import Loader, crime, signed_in, tag
from tests.portal_fixtures import csrf_from

SAVED_ID = re.compile(r"/saved/([0-9a-f]{32})")


def audit_events(client: OpenSearch, settings: Settings, action: str, user: str) -> list[dict[str, Any]]:
    index = settings.index_name("audit")
    client.indices.refresh(index=index)
    res = client.search(
        index=index,
        body={
            "query": {"bool": {"filter": [{"term": {"action": action}}, {"term": {"user": user}}]}},
            "sort": [{"seq": "desc"}],
            "size": 50,
        },
    )
    return [h["_source"] for h in res["hits"]["hits"]]


def save_via_form(tc: TestClient, q: str, name: str, *, shared_unit: str = "", **facets: str) -> str:
    params = {"q": q, **facets}
    form = tc.get("/saved/new", params=params)
    assert form.status_code == 200, form.text
    assert "Save this search" in form.text
    data = {
        "csrf_token": csrf_from(form.text),
        "name": name,
        "notes": "standing question",
        "shared_unit": shared_unit,
        **params,
    }
    res = tc.post("/saved", data=data)
    assert res.status_code == 303, res.text
    m = SAVED_ID.search(res.headers["location"])
    assert m
    return m.group(1)


def test_save_list_open_rename_delete(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t), crime(t)], alerts=False)
    tc = signed_in(analyst_app, "ana")
    sid = save_via_form(tc, t, "My watch", type="crime", sort="newest")
    page = tc.get(f"/saved/{sid}")
    assert page.status_code == 200 and "My watch" in page.text
    assert registered_ids(client, asettings, [sid]) == {sid}
    listing = tc.get("/saved")
    assert listing.status_code == 200
    assert "My watch" in listing.text
    # Both records are new (indexed after the query was created? no: before): "since" is creation time.
    store = SavedQueryStore(client, asettings)
    sq = store.get(sid)
    assert sq is not None and sq.state.q == t and sq.state.facet_map == {"type": ("crime",)}
    assert sq.state.sort == "newest" and sq.owner == "ana"
    # Opening is a POST: it records the time and redirects to the ordinary search.
    opened = tc.post(f"/saved/{sid}/open", data={"csrf_token": csrf_from(page.text)})
    assert opened.status_code == 303
    assert opened.headers["location"].startswith("/search?q=" + t)
    assert "type=crime" in opened.headers["location"] and "sort=newest" in opened.headers["location"]
    reopened = store.get(sid)
    assert reopened is not None and reopened.last_opened_at is not None
    # Rename / edit notes / share.
    edit = tc.get(f"/saved/{sid}/edit")
    assert edit.status_code == 200
    res = tc.post(
        f"/saved/{sid}",
        data={
            "csrf_token": csrf_from(edit.text),
            "name": "Renamed watch",
            "notes": "new notes",
            "shared_unit": "INTEL",
            "q": t,
            "type": "crime",
            "sort": "newest",
        },
    )
    assert res.status_code == 303
    sq2 = store.get(sid)
    assert (
        sq2 is not None
        and sq2.name == "Renamed watch"
        and sq2.shared_unit == "INTEL"
        and sq2.notes == "new notes"
    )
    updates = audit_events(client, asettings, "saved_query.update", "ana")
    assert updates[0]["details"]["name"] == "Renamed watch"
    # Delete (POST with CSRF) removes it and its alert query.
    res = tc.post(f"/saved/{sid}/delete", data={"csrf_token": csrf_from(edit.text)})
    assert res.status_code == 303
    assert store.get(sid) is None
    assert registered_ids(client, asettings, [sid]) == set()
    assert tc.get(f"/saved/{sid}").status_code == 404
    assert audit_events(client, asettings, "saved_query.delete", "ana")[0]["target"] == {"saved_query": sid}


def test_new_since_last_opened_counts_only_new_readable_records(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    tc = signed_in(analyst_app, "ofc")
    sid = save_via_form(tc, t, "Counting")
    page = tc.get(f"/saved/{sid}")
    tc.post(f"/saved/{sid}/open", data={"csrf_token": csrf_from(page.text)})
    loader.load([crime(t), crime(t), crime(t, sensitivity=["protected_person"])], alerts=False)
    page = tc.get(f"/saved/{sid}")
    assert re.search(r"<dt>New results</dt><dd>2 since", page.text), page.text


def test_owner_only_by_default_and_unit_share_is_read_only(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings
) -> None:
    owner = signed_in(analyst_app, "ana")
    private = save_via_form(owner, tag(), "Private one")
    shared = save_via_form(owner, tag(), "Shared one", shared_unit="INTEL")
    member = signed_in(analyst_app, "mem")
    outsider = signed_in(analyst_app, "ofc")
    # Not shared: exactly like a wrong id for everyone else.
    assert member.get(f"/saved/{private}").status_code == 404
    assert outsider.get(f"/saved/{private}").status_code == 404
    assert member.get("/saved/" + "0" * 32).status_code == 404
    listing = member.get("/saved")
    assert "Shared one" in listing.text and "Private one" not in listing.text
    assert "Shared one" not in outsider.get("/saved").text
    # The member may open it, not change or delete it.
    page = member.get(f"/saved/{shared}")
    assert page.status_code == 200 and "Rename, edit or share" not in page.text
    token = csrf_from(page.text)
    assert member.post(f"/saved/{shared}/open", data={"csrf_token": token}).status_code == 303
    assert member.get(f"/saved/{shared}/edit").status_code == 403
    res = member.post(
        f"/saved/{shared}",
        data={"csrf_token": token, "name": "hijacked", "notes": "", "shared_unit": "INTEL", "q": "x"},
    )
    assert res.status_code == 403
    assert member.post(f"/saved/{shared}/delete", data={"csrf_token": token}).status_code == 403
    assert (
        outsider.post(
            f"/saved/{shared}/delete", data={"csrf_token": csrf_from(outsider.get("/saved").text)}
        ).status_code
        == 404
    )
    sq = SavedQueryStore(client, asettings).get(shared)
    assert sq is not None and sq.name == "Shared one" and sq.last_opened_at is None
    # Sharing is only with one of the owner's own units.
    form = owner.get("/saved/new", params={"q": "anything"})
    res = owner.post(
        "/saved",
        data={"csrf_token": csrf_from(form.text), "name": "x", "q": "anything", "shared_unit": "PSD"},
    )
    assert res.status_code == 400 and "one of your own units" in res.text


def test_no_state_change_without_post_and_csrf(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "ana")
    sid = save_via_form(tc, tag(), "Keep me")
    assert tc.get(f"/saved/{sid}/delete").status_code in (404, 405)
    assert tc.post(f"/saved/{sid}/delete", data={}).status_code == 403  # no CSRF token
    assert SavedQueryStore(client, asettings).get(sid) is not None


def test_bad_input_is_explained_and_kept(analyst_app: FastAPI) -> None:
    tc = signed_in(analyst_app, "ana")
    form = tc.get("/saved/new", params={"q": "knife crime"})
    res = tc.post(
        "/saved",
        data={"csrf_token": csrf_from(form.text), "name": "  ", "notes": "my notes", "q": "knife crime"},
    )
    assert res.status_code == 400
    assert "Give the saved query a name" in res.text and "my notes" in res.text
    empty = tc.get("/saved/new")
    assert empty.status_code == 400


def test_saved_queries_page_shows_an_invalid_query(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, analyst_users: dict[str, Principal]
) -> None:
    tc = signed_in(analyst_app, "cid")
    sid = save_via_form(tc, tag(), "Will break")
    store = SavedQueryStore(client, asettings)
    sq = store.get(sid)
    assert sq is not None
    store.set_registration(sq, fingerprint="old", error="No field mapping can be found for the field [x]")
    listing = tc.get("/saved")
    assert "Invalid: no longer runs as an alert" in listing.text and "No field mapping" in listing.text
    assert "is invalid" in tc.get(f"/saved/{sid}").text


def test_search_page_offers_save_and_export_and_header_links(analyst_app: FastAPI, loader: Loader) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    tc = signed_in(analyst_app, "ofc")
    page = tc.get("/search", params={"q": t, "type": "crime"})
    assert page.status_code == 200
    assert f'href="/saved/new?q={t}&amp;type=crime"' in page.text
    # Export is a POST form carrying the CSRF token and the search's parameters.
    assert '<form class="inline-form" method="post" action="/export">' in page.text
    assert f'name="q" value="{t}"' in page.text and 'name="type" value="crime"' in page.text
    for link in ('href="/saved"', 'href="/batch"', 'href="/notifications"'):
        assert link in page.text
