"""The ingest API on the served app, end to end: a pushed update shows on the record page,
alerts fire for pushed records, and a delete removes the record from search, record and
entity pages, exports and notifications, for good."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch
from rich.console import Console

from indexer.loader import load_files
from indexer.service_accounts import ServiceAccounts
from lantern.principal import Principal
from lantern.records import record_id
from lantern.settings import Settings
from tests.analyst.conftest import crime, signed_in, tag
from tests.analyst.test_alerts import notes_for, save
from tests.analyst.test_export import read_csv
from tests.indexer.conftest import write_ndjson
from tests.portal_fixtures import make_test_client, post_export

QUIET = Console(file=open("/dev/null", "w"), force_terminal=False)  # noqa: SIM115


@pytest.fixture(scope="module")
def served(asettings: Settings, analyst_users: dict[str, Principal]) -> FastAPI:
    """What ``lantern serve`` serves: the portal with the ingest API (composition root)."""
    from lantern.cli import serving_app

    return serving_app(asettings)


@pytest.fixture(scope="module")
def token(client: OpenSearch, asettings: Settings) -> str:
    accounts = ServiceAccounts(client, asettings)
    existing = accounts.get("test-analyst")
    if existing is not None:
        return accounts.rotate("test-analyst")[1]
    return accounts.create("TEST-ANALYST", ["crime"])[1]


def _vrm() -> str:
    """A VRM no other analyst record carries (they all share one), so its entity page lists
    this test's record on the first page however many records the suite has indexed."""
    from entity_extraction import canonicalise

    letters = "BCDFGHJKLMNPRSTVWXY"
    while True:
        n = uuid.uuid4().int
        pick = [letters[(n >> (5 * i)) % len(letters)] for i in range(5)]
        vrm = f"{pick[0]}{pick[1]}{10 + n % 80} {''.join(pick[2:])}"
        # A few spell a word the extractor will not take as a VRM ("NHS"): draw again.
        if canonicalise("VRM", vrm) == vrm.replace(" ", ""):
            return vrm


def _push(app: FastAPI, token: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    import json

    with make_test_client(app) as tc:
        res = tc.post(
            "/api/ingest",
            content=b"".join(json.dumps(r).encode() + b"\n" for r in rows),
            headers={"authorization": f"Bearer {token}", "content-type": "application/x-ndjson"},
            params={"refresh": "true"},
        )
    assert res.status_code == 200, res.text
    return res.json()


def test_ingest_routes_are_in_the_portal_openapi_document(served: FastAPI) -> None:
    doc = signed_in(served, "ana").get("/api/openapi.json")
    assert doc.status_code == 200
    assert "post" in doc.json()["paths"]["/api/ingest"]
    assert "delete" in doc.json()["paths"]["/api/ingest/{source_system}/{source_id}"]
    # Without a token the ingest routes answer 401 themselves: no sign-in page, no CSRF refusal.
    with make_test_client(served) as tc:
        res = tc.post("/api/ingest", content=b"{}\n", headers={"content-type": "application/x-ndjson"})
    assert res.status_code == 401 and "token" in res.json()["detail"]


def test_pushed_records_alert_update_the_record_page_and_a_delete_removes_them_everywhere(
    served: FastAPI,
    token: str,
    client: OpenSearch,
    asettings: Settings,
    analyst_users: dict[str, Principal],
    tmp_path: Path,
) -> None:
    t = tag()
    sq = save(client, asettings, analyst_users["ana"], t)
    vrm = _vrm()
    rec = crime(t, vehicles=[{"vrm": vrm, "make": "Ford"}])
    rid = record_id("TEST-ANALYST", rec["source_id"])
    assert _push(served, token, [rec])["counts"] == {"created": 1}
    assert [n.saved_id for n in notes_for(client, asettings, analyst_users["ana"])].count(sq.id) == 1

    ana = signed_in(served, "ana")
    page = ana.get(f"/records/{rid}")
    assert page.status_code == 200 and f"Theft of motor vehicle {t}" in page.text
    newer = dict(rec, title=f"Theft of motor vehicle {t} (recovered)", updated_at="2024-05-01T00:00:00Z")
    assert _push(served, token, [newer])["results"][0]["status"] == "updated"
    assert "(recovered)" in ana.get(f"/records/{rid}").text
    assert ana.get("/api/search", params={"q": t}).json()["total"] == 1
    assert rid in ana.get(f"/entity/VRM/{vrm.replace(' ', '')}").text
    assert len(read_csv(post_export(ana, {"q": t}).text)) == 1

    with make_test_client(served) as tc:
        gone = tc.delete(
            f"/api/ingest/TEST-ANALYST/{rec['source_id']}",
            params={"reason": "expunged"},
            headers={"authorization": f"Bearer {token}"},
        )
    assert gone.status_code == 200 and gone.json()["found"] is True
    assert ana.get(f"/records/{rid}").status_code == 404
    assert ana.get("/api/search", params={"q": t}).json()["total"] == 0
    assert rid not in ana.get(f"/entity/VRM/{vrm.replace(' ', '')}").text
    assert read_csv(post_export(ana, {"q": t}).text) == []
    assert sq.id not in [n.saved_id for n in notes_for(client, asettings, analyst_users["ana"])]

    old_export = write_ndjson(tmp_path / "old.ndjson", [rec])
    again = load_files([old_export], asettings, client, extract_entities=False, console=QUIET)
    assert again.result.deleted == 1
    assert ana.get(f"/records/{rid}").status_code == 404


def test_not_recorded_values_show_as_such_and_never_as_a_status(
    served: FastAPI, token: str, client: OpenSearch, asettings: Settings
) -> None:
    t = tag()
    rec = crime(t, status="not recorded", offence=None, location=None)
    rid = record_id("TEST-ANALYST", rec["source_id"])
    assert _push(served, token, [rec, crime(t)])["counts"] == {"created": 2}
    ana = signed_in(served, "ana")
    page = ana.get(f"/records/{rid}")
    assert page.status_code == 200, page.text
    assert page.text.count('<span class="not-recorded">not recorded</span>') == 3  # offence, status, location
    found = ana.get("/api/search", params={"q": t}).json()
    assert found["total"] == 2
    [status] = [f for f in found["facets"] if f["key"] == "status"]
    # Only the real status is a bucket: "not recorded" is never counted as one.
    assert [(v["value"], v["count"]) for v in status["values"]] == [("under_investigation", 1)]
