"""Issue 13: every record id disclosed to a user is answerable from "who looked at X"; export is
a CSRF-protected POST; cross-site GETs to audited routes are refused; bulk roles, the export
quota (and its audited supervisor override), per-user rate limits; smaller audited actions."""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch

from alerts.notifications import _badge_cache
from lantern.disclosures import DisclosureLog
from lantern.settings import Settings
from lantern.users import create_user
from portal.analyst import batch as B
from tests.analyst.conftest import USERS, Loader, crime, signed_in, tag
from tests.analyst.test_saved_web import audit_events, save_via_form
from tests.portal_fixtures import PASSWORD, csrf_from, post_export

RECORD_LINK = re.compile(r'href="/records/([^"?#]+)"')


def ids_in_csv(text: str) -> list[str]:
    return [r["record_id"] for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))]


def who(client: OpenSearch, settings: Settings, record_id: str) -> dict[str, dict[str, Any]]:
    return {w["user"]: w for w in DisclosureLog(client, settings).who_saw([record_id])}


def auditor_page(app: FastAPI, record_id: str) -> str:
    res = signed_in(app, "aud").get("/audit", params={"subject": record_id})
    assert res.status_code == 200, res.text[:500]
    return res.text.split('id="seen-heading"')[1]


def unique_vrm() -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    pick = "".join(secrets.choice(letters) for _ in range(5))
    return f"{pick[:2]}{secrets.randbelow(90) + 10} {pick[2:]}"


def isolated(t: str, vrm: str, **kw: Any) -> dict[str, Any]:
    """A crime that shares people and vehicle only with the records given the same ``t``/``vrm``."""
    return crime(
        t,
        people=[{"role": "suspect", "forename": "Quillon", "surname": t.capitalize(), "dob": "1990-01-02"}],
        vehicles=[{"vrm": vrm, "make": "Ford"}],
        **kw,
    )


# ------------------------------------------------------------------ finding 1: disclosures


def test_export_rows_are_traceable_to_the_exporter(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t) for _ in range(3)], alerts=False)
    res = post_export(signed_in(analyst_app, "anl"), {"q": t})
    assert res.status_code == 200, res.text[:300]
    ids = ids_in_csv(res.text)
    assert len(ids) == 3
    event = audit_events(client, asettings, "export", "anl")[0]
    manifest = audit_events(client, asettings, "export.manifest", "anl")[0]
    assert manifest["details"]["of_seq"] == event["seq"] and sorted(manifest["shown_ids"]) == sorted(ids)
    assert manifest["purpose_reference"] == "CR/012345/24"
    for rid in ids:
        seen = who(client, asettings, rid)
        assert "anl" in seen and seen["anl"]["actions"] == {"export.manifest": 1}
        assert manifest["seq"] in seen["anl"]["audit_seqs"]
    # The auditor's "who looked at X" page names the exporter.
    assert re.search(r'/audit/users/anl">anl</a>.*?export\.manifest', auditor_page(analyst_app, ids[0]), re.S)


def test_export_manifests_are_chunked(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t) for _ in range(5)], alerts=False)
    tc = signed_in(analyst_app, "anl")
    audit = analyst_app.state.security.audit
    event = audit.record(None, "export", username="anl")
    parts = audit.record_manifest(
        None, "export", [f"id-{t}-{i}" for i in range(5)], of_seq=event["seq"], chunk_size=2, username="anl"
    )
    assert [p["details"]["chunk"] for p in parts] == [1, 2, 3] and {
        p["details"]["chunks"] for p in parts
    } == {3}
    assert [len(p["shown_ids"]) for p in parts] == [2, 2, 1]
    assert set(who(client, asettings, f"id-{t}-4")) == {"anl"}  # the named user, not the OS user
    assert post_export(tc, {"q": t}).status_code == 200


def test_batch_job_matches_are_traceable(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader, worker: None
) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    tc = signed_in(analyst_app, "anl")
    lines = [t] + [f"nomatch{i}" for i in range(B.SYNC_MAX_LINES + 5)]
    res = tc.post("/batch", data={"csrf_token": csrf_from(tc.get("/batch").text), "text": "\n".join(lines)})
    assert res.status_code == 303, res.text[:300]
    job_url = res.headers["location"]
    for _ in range(120):
        page = tc.get(job_url)
        if "lines searched" in page.text:
            break
        time.sleep(0.5)
    assert "lines searched" in page.text, "the job did not finish"
    shown = set(RECORD_LINK.findall(page.text))
    assert len(shown) == 1
    rid = shown.pop()
    seen = who(client, asettings, rid)
    assert "anl" in seen and "batch_search.manifest" in seen["anl"]["actions"]
    manifests = audit_events(client, asettings, "batch_search.manifest", "anl")
    job_event = audit_events(client, asettings, "batch_search", "anl")[0]
    mine = [m for m in manifests if m["details"]["of_seq"] == job_event["seq"]]
    assert mine and any(rid in m["shown_ids"] for m in mine)
    # Written by the worker process, with the context of the request that started the job.
    assert {m["purpose_reference"] for m in mine} == {"CR/012345/24"}
    assert all(m["session"] and not str(m["client"]).startswith("cli:") for m in mine)
    assert re.search(
        r'/audit/users/anl">anl</a>.*?batch_search\.manifest', auditor_page(analyst_app, rid), re.S
    )


def test_linked_records_on_a_record_page_are_traceable(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t, vrm = tag(), unique_vrm()
    loader.load([isolated(t, vrm), isolated(t, vrm)], alerts=False)
    ids = ids_in_csv(post_export(signed_in(analyst_app, "ana"), {"q": t}).text)
    assert len(ids) == 2
    a, b = ids
    tc = signed_in(analyst_app, "mem2")
    page = tc.get(f"/records/{a}")
    assert page.status_code == 200
    assert f"/records/{b}" in page.text  # b is listed as linked on a's page
    event = audit_events(client, asettings, "record.view", "mem2")[0]
    assert event["target"]["id"] == a and b in event["shown_ids"]
    seen_b = who(client, asettings, b)
    assert seen_b["mem2"]["actions"] == {"record.view": 1}
    assert who(client, asettings, a)["mem2"]["actions"] == {"record.view": 1}
    assert '/audit/users/mem2">mem2</a>' in auditor_page(analyst_app, b)
    # The API's record (with its linked list) is traced the same way.
    assert tc.get(f"/api/records/{a}").status_code == 200
    assert who(client, asettings, b)["mem2"]["actions"] == {"record.view": 1, "api.record.view": 1}


def test_notifications_shown_are_traceable(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    tc = signed_in(analyst_app, "mem2")
    save_via_form(tc, t, "Watch it")
    loader.load([crime(t)])
    client.indices.refresh(index=asettings.index_name("notifications"))
    _badge_cache.clear()
    page = tc.get("/notifications")
    rids = [r for r in RECORD_LINK.findall(page.text)]
    assert rids
    ours = [r for r in rids if f"Theft of motor vehicle {t}" in page.text]
    rid = ours[0]
    assert "notifications.view" in who(client, asettings, rid)["mem2"]["actions"]
    # Marking it read is audited (finding 8).
    nid = re.findall(r'action="/notifications/([0-9a-f]{40})/read"', page.text)[0]
    assert tc.post(f"/notifications/{nid}/read", data={"csrf_token": csrf_from(page.text)}).status_code == 303
    ev = audit_events(client, asettings, "notification.read", "mem2")[0]
    assert ev["target"]["notification"] == nid and ev["outcome"] == "success"


def test_search_results_shown_are_traceable(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    tc = signed_in(analyst_app, "cid")
    page = tc.get("/search", params={"q": t})
    rid = RECORD_LINK.findall(page.text)[0]
    assert who(client, asettings, rid)["cid"]["actions"] == {"search": 1}
    tc.get("/api/search", params={"q": t})
    assert who(client, asettings, rid)["cid"]["actions"] == {"search": 1, "api.search": 1}


# ------------------------------------------------------------------ finding 7: POST export, cross-site


def test_export_is_post_only_with_csrf(analyst_app: FastAPI, client: OpenSearch, asettings: Settings) -> None:
    tc = signed_in(analyst_app, "anl")
    assert tc.get("/export", params={"q": "anything"}).status_code == 405
    before = len(audit_events(client, asettings, "csrf.failed", "anl"))
    res = tc.post("/export", data={"q": "anything"})
    assert res.status_code == 403 and "CSRF" in res.text
    res = tc.post("/export", data={"q": "anything", "csrf_token": "forged"})
    assert res.status_code == 403
    failed = audit_events(client, asettings, "csrf.failed", "anl")
    assert len(failed) == before + 2 and failed[0]["target"]["path"] == "/export"
    assert failed[0]["outcome"] == "denied"


@pytest.mark.parametrize("path", ["/search?q=smith", "/records/x1", "/api/search?q=smith", "/suggest?q=sm"])
def test_cross_site_gets_to_audited_routes_are_refused(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, path: str
) -> None:
    tc = signed_in(analyst_app, "cid")
    res = tc.get(path, headers={"Sec-Fetch-Site": "cross-site"})
    assert res.status_code == 403 and "another website" in res.text
    ev = audit_events(client, asettings, "request.cross_site", "cid")[0]
    assert ev["target"]["path"] == path.split("?")[0] and ev["outcome"] == "denied"
    assert ev["details"]["sec_fetch_site"] == "cross-site"
    # Same-site and direct navigation are fine; the home page is reachable from a link.
    assert tc.get(path, headers={"Sec-Fetch-Site": "same-origin"}).status_code in (200, 404)
    assert tc.get("/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


# ------------------------------------------------------------------ finding 5: roles, quota, rate limits


def test_export_and_batch_need_a_bulk_role(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "ofc")  # an officer
    assert post_export(tc, {"q": "anything"}).status_code == 403
    assert tc.get("/batch").status_code == 403
    denied = audit_events(client, asettings, "access.denied", "ofc")
    assert {e["details"].get("bulk_action") for e in denied[:2]} == {"export", "batch search"}
    assert signed_in(analyst_app, "sup").get("/batch").status_code == 200  # supervisors may


@pytest.fixture
def quota_app(asettings: Settings) -> Iterator[FastAPI]:
    from portal.app import create_app

    yield create_app(asettings.model_copy(update={"export_daily_rows": 4}))


def test_daily_export_quota_and_audited_supervisor_override(
    quota_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t) for _ in range(3)], alerts=False)
    # An analyst of mem2's unit and clearances, new to this test: the quota counts every export
    # the user made today, and other modules (the truth table) export as mem2 in this run.
    user = f"quota-{tag()}"
    roles, units, clearances = USERS["mem2"]
    create_user(client, asettings, user, PASSWORD, roles=roles, units=units, clearances=clearances)
    tc = signed_in(quota_app, user)
    assert len(ids_in_csv(post_export(tc, {"q": t}).text)) == 3
    res = post_export(tc, {"q": t})
    assert res.status_code == 200 and len(ids_in_csv(res.text)) == 1  # 4 rows a day: one left
    refused = post_export(tc, {"q": t})
    assert refused.status_code == 429 and "quota" in refused.text
    assert audit_events(client, asettings, "export", user)[0]["outcome"] == "denied"
    # Only a supervisor may grant more, and both the refusal and the grant are audited.
    data = {"username": user, "rows": "10", "reason": "Op KESTREL bulk check"}
    other = signed_in(quota_app, "anl")
    assert (
        other.post("/export/quota", data={**data, "csrf_token": csrf_from(other.get("/").text)}).status_code
        == 403
    )
    assert audit_events(client, asettings, "export.quota_override", "anl")[0]["outcome"] == "denied"
    sup = signed_in(quota_app, "sup")
    assert (
        sup.post("/export/quota", data={**data, "csrf_token": csrf_from(sup.get("/").text)}).status_code
        == 303
    )
    grant = audit_events(client, asettings, "export.quota_override", "sup")[0]
    assert grant["target"] == {"user": user} and grant["details"]["rows"] == 10
    assert len(ids_in_csv(post_export(tc, {"q": t}).text)) == 3


def test_supervisor_quota_page_grants_and_lists_todays_grants(
    quota_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    sup = signed_in(quota_app, "sup")
    page = sup.get("/export/quota")
    assert page.status_code == 200 and 'action="/export/quota"' in page.text
    assert 'value="anl"' in page.text  # an analyst (a bulk role) can be chosen
    assert 'href="/export/quota"' in page.text  # supervisors have the link in the header
    reason = f"Op HERON {tag()}"
    res = sup.post(
        "/export/quota",
        data={"username": "anl", "rows": "25", "reason": reason, "csrf_token": csrf_from(page.text)},
        follow_redirects=True,
    )
    assert res.status_code == 200 and str(res.url).endswith("/export/quota?granted=anl")
    assert "Granted." in res.text and reason in res.text  # today's grants list the new one
    assert " of 29 used)" in res.text  # 4 rows a day + the 25 granted
    # Nobody else sees or uses the page, and the link is not offered to them.
    anl = signed_in(quota_app, "anl")
    assert anl.get("/export/quota").status_code == 403
    assert 'href="/export/quota"' not in anl.get("/").text


@pytest.fixture
def limited_app(asettings: Settings) -> Iterator[FastAPI]:
    from portal.app import create_app

    yield create_app(
        asettings.model_copy(update={"rate_limit_search": "3/minute", "rate_limit_record": "2/minute"})
    )


def test_rate_limit_refuses_with_an_audited_429(
    limited_app: FastAPI, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(limited_app, "cid")
    other = signed_in(limited_app, "ofc")
    codes = [tc.get("/search", params={"q": f"smith{i}"}).status_code for i in range(4)]
    assert codes == [200, 200, 200, 429]
    page = tc.get("/search", params={"q": "smith"})
    assert page.status_code == 429 and "Too many" in page.text and page.headers["retry-after"]
    assert tc.get("/api/search", params={"q": "x"}).status_code == 429
    ev = audit_events(client, asettings, "rate_limited", "cid")[0]
    assert ev["details"]["kind"] == "search" and ev["outcome"] == "denied"
    # Per user: someone else is not slowed down by cid.
    assert other.get("/search", params={"q": "smith"}).status_code == 200
    # Record views have their own limit.
    assert [tc.get("/records/nope").status_code for _ in range(3)] == [404, 404, 429]


# ------------------------------------------------------------------ finding 8: smaller audited actions


def test_failed_searches_and_saved_query_opening_are_audited(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "cid")
    assert tc.get("/api/search", params={"size": "9999"}).status_code == 422
    ev = audit_events(client, asettings, "search.failed", "cid")[0]
    assert ev["outcome"] == "http_422" and ev["target"]["path"] == "/api/search"
    t = tag()
    sid = save_via_form(tc, t, "Open me")
    detail = tc.get(f"/saved/{sid}")
    assert detail.status_code == 200
    assert tc.post(f"/saved/{sid}/open", data={"csrf_token": csrf_from(detail.text)}).status_code == 303
    opened = audit_events(client, asettings, "saved_query.open", "cid")[0]
    assert opened["target"] == {"saved_query": sid} and opened["details"]["query"] == t
    assert audit_events(client, asettings, "saved_query.view", "cid")[0]["target"] == {"saved_query": sid}
