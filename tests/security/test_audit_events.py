"""Audit events for each action, with the right fields; auditor pages and their access rules."""

from __future__ import annotations

import csv
import io

import pytest

from lantern.audit import AuditLog
from lantern.search_client import make_client
from tests.portal_fixtures import PASSWORD, csrf_from, login, make_test_client
from tests.security.conftest import build_app

ROLES = ("officer", "analyst", "supervisor", "auditor", "admin")
AUDIT_PAGES = (
    "/audit",
    "/audit/anomalies",
    "/audit/users/officer",
    "/audit/export.csv",
    "/audit?subject=someone",
)


def events(sec_app, **terms) -> list[dict]:
    log = sec_app.state.security.audit
    log.refresh()
    query = {"bool": {"filter": [{"term": {k: v}} for k, v in terms.items()]}}
    res = log.client.search(index=log.index, body={"query": query, "sort": [{"seq": "desc"}], "size": 50})
    return [h["_source"] for h in res["hits"]["hits"]]


def test_login_success_failure_logout_and_purpose_are_audited(sec_app):
    with make_test_client(sec_app) as tc:
        page = tc.get("/login")
        tc.post(
            "/login", data={"username": "analyst", "password": "nope", "csrf_token": csrf_from(page.text)}
        )
        failed = events(sec_app, action="login", user="analyst", outcome="failure")[0]
        assert failed["client"].startswith("10.") and failed["roles"] == []
        login(tc, "analyst", purpose="intelligence_development", reference="IR/2024/000123")
        ok = events(sec_app, action="login", user="analyst", outcome="success")[0]
        assert ok["roles"] == ["analyst"] and ok["session"]
        purpose = events(sec_app, action="purpose.set", user="analyst")[0]
        assert purpose["purpose_code"] == "intelligence_development"
        assert purpose["purpose_reference"] == "IR/2024/000123"
        tc.get("/search", params={"q": "Darren Smith"})
        search = events(sec_app, action="search", user="analyst")[0]
        assert search["query"] == "Darren Smith"
        assert search["shown_ids"] == ["r1", "r2"]
        assert search["details"]["result_count"] == 2
        assert search["purpose_code"] == "intelligence_development"
        assert search["purpose_reference"] == "IR/2024/000123"
        assert search["session"] == ok["session"]
        assert search["ts"].endswith("Z") and search["flags"] == []
        tc.post("/logout", data={"csrf_token": csrf_from(tc.get("/purpose").text)})
        out = events(sec_app, action="logout", user="analyst")[0]
        assert out["session"] == ok["session"]


def test_search_flags(sec_app):
    with make_test_client(sec_app) as tc:
        login(tc, "officer", purpose="training", reference=None)
        tc.get("/search", params={"q": "olivia okafor"})  # the officer's own name, no reference
        ev = events(sec_app, action="search", user="officer")[0]
        assert set(ev["flags"]) == {"no_reference", "self_search"}


@pytest.mark.parametrize("role", ROLES)
def test_audit_pages_only_for_auditors(sec_app, role):
    with make_test_client(sec_app) as tc:
        login(tc, role)
        for path in AUDIT_PAGES:
            r = tc.get(path)
            if role == "auditor":
                assert r.status_code == 200, (path, r.text[:300])
            else:
                assert r.status_code == 403, path
                assert "officer" not in r.text or path == "/audit/users/officer"
    if role != "auditor":
        denied = events(sec_app, action="access.denied", user=role)
        assert {e["target"]["path"] for e in denied} >= {"/audit", "/audit/anomalies", "/audit/export.csv"}
        assert all(e["outcome"] == "denied" for e in denied)


def test_who_looked_at_a_record_and_why(sec_app):
    log = sec_app.state.security.audit
    from lantern.principal import Principal

    officer = Principal("officer", "Olivia Okafor", frozenset({"officer"}))
    log.record(
        None,
        "record.view",
        target={"id": "rec-777", "type": "crime", "reference": "CR/000777/24"},
        principal=officer,
    )
    with make_test_client(sec_app) as tc:
        login(tc, "auditor")
        r = tc.get("/audit", params={"subject": "rec-777"})
        assert r.status_code == 200
        assert "Who looked at" in r.text and "/audit/users/officer" in r.text
        r = tc.get("/audit", params={"subject": "CR/000777/24"})
        assert "rec-777" in r.text
        # Auditor activity is itself audited.
        ev = events(sec_app, action="audit.search", user="auditor")[0]
        assert ev["details"]["filters"]["subject"] == "CR/000777/24"


def test_xss_payload_is_inert_on_audit_pages(sec_app):
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    with make_test_client(sec_app) as tc:
        login(tc, "officer")
        tc.get("/search", params={"q": payload})
    with make_test_client(sec_app) as tc:
        login(tc, "auditor")
        r = tc.get("/audit", params={"user": "officer", "action": "search"})
        assert r.status_code == 200
        assert payload not in r.text
        assert "&lt;script&gt;alert(" in r.text
        r = tc.get("/audit", params={"subject": payload})
        assert payload not in r.text


def test_csv_export_is_audited_and_formula_safe(sec_app):
    with make_test_client(sec_app) as tc:
        login(tc, "officer")
        tc.get("/search", params={"q": '=HYPERLINK("http://x")'})
    with make_test_client(sec_app) as tc:
        login(tc, "auditor")
        r = tc.get("/audit/export.csv", params={"user": "officer"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert rows and all(row["user"] == "officer" for row in rows)
        queries = [row["query"] for row in rows if row["action"] == "search"]
        assert '\'=HYPERLINK("http://x")' in queries
        ev = events(sec_app, action="audit.export", user="auditor")[0]
        assert ev["details"]["filters"] == {"user": "officer"}


def test_anomaly_page_lists_volume_and_flags(sec_app, settings):
    with make_test_client(sec_app) as tc:
        login(tc, "supervisor", purpose="training", reference=None)
        for i in range(4):
            tc.get("/search", params={"q": f"volume {i}"})
    with make_test_client(sec_app) as tc:
        login(tc, "auditor")
        r = tc.get("/audit/anomalies", params={"per_hour": 3})
        assert r.status_code == 200
        assert "/audit/users/supervisor" in r.text
        assert "Actions without a reference" in r.text
        assert "Volume spikes against the user" in r.text and "Random sample for supervisor review" in r.text


def test_action_refused_when_audit_unavailable(settings, standard_users, tmp_path):
    app = build_app(settings, tmp_path)
    ctx = app.state.security
    with make_test_client(app) as tc:
        login(tc, "officer")
        dead = settings.model_copy(update={"opensearch_hosts": ["http://127.0.0.1:9"]})
        ctx.audit = AuditLog(make_client(dead, "serving"), settings)
        r = tc.get("/search", params={"q": "smith"})
        assert r.status_code == 503 and "audit unavailable" in r.text.lower()
        # Sign-in is refused too, and leaves no session behind.
    with make_test_client(app) as tc:
        page = tc.get("/login")
        r = tc.post(
            "/login", data={"username": "analyst", "password": PASSWORD, "csrf_token": csrf_from(page.text)}
        )
        assert r.status_code == 503
        assert tc.get("/").status_code == 303
