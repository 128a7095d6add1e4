"""CSV export: columns, rows, access, the row limit, formula injection and the audit event."""

from __future__ import annotations

import csv
import io

from fastapi import FastAPI
from opensearchpy import OpenSearch

from lantern.settings import Settings
from portal.analyst import export as E
from portal.present import TYPE_LABELS
from tests.analyst.conftest import Loader, crime, signed_in, tag
from tests.analyst.test_saved_web import audit_events
from tests.portal_fixtures import post_export


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), text[-1500:]
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_safe_cell_neutralises_formulas() -> None:
    assert E.safe_cell('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    for bad in ("+1", "-2+3", "@SUM(A1)", "\tx", "\rx"):
        assert E.safe_cell(bad) == "'" + bad
    assert E.safe_cell("Smith") == "Smith" and E.safe_cell(None) == "" and E.safe_cell("a=b") == "a=b"


def test_export_contents_access_and_audit(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    evil = crime(t, title=f'=HYPERLINK("http://evil.example.com") {t}')
    loader.load([crime(t), evil, crime(t, sensitivity=["protected_person"])], alerts=False)
    tc = signed_in(analyst_app, "anl")
    res = post_export(tc, {"q": t, "type": "crime"})
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/csv")
    assert "attachment" in res.headers["content-disposition"]
    rows = read_csv(res.text)
    assert len(rows) == 2  # the protected record is not exported to an uncleared user
    assert list(rows[0].keys()) == list(E.COLUMNS)
    first = next(r for r in rows if not r["title"].startswith("'"))
    assert first["record_type"] == TYPE_LABELS["crime"]
    assert first["reference"].startswith("CR/")
    assert first["borough"] == "Hackney" and first["unit"] == "CID"
    assert first["status"] == "under investigation"
    assert "Victim: William Barker" in first["people"] and "Suspect: Zoe Quennell" in first["people"]
    assert first["vrms"] == "CD34EFG"
    assert first["postcodes"] == "E5 3HQ"
    assert first["record_date"].startswith("2024-03-01")
    injected = next(r for r in rows if r["title"].startswith("'"))
    assert injected["title"].startswith("'=HYPERLINK")
    event = audit_events(client, asettings, "export", "anl")[0]
    assert event["details"]["row_count"] == 2 and event["details"]["result_count"] == 2
    assert event["details"]["query"] == t and event["details"]["filters"] == {"type": ["crime"]}
    assert event["details"]["purpose"]["code"] == "investigation"
    assert event["purpose_reference"] == "CR/012345/24"
    # A cleared user exports all three.
    assert len(read_csv(post_export(signed_in(analyst_app, "ana"), {"q": t}).text)) == 3


def test_export_row_limit(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t) for _ in range(asettings.export_max_rows + 7)], alerts=False)
    tc = signed_in(analyst_app, "anl")
    res = post_export(tc, {"q": t, "sort": "newest"})
    assert res.status_code == 200
    assert len(read_csv(res.text)) == asettings.export_max_rows == 25
    assert res.headers["x-lantern-matches"] == "32"
    event = audit_events(client, asettings, "export", "anl")[0]
    assert event["details"]["row_count"] == 25 and event["details"]["truncated"] is True


def test_export_needs_a_search_and_a_purpose(analyst_app: FastAPI) -> None:
    tc = signed_in(analyst_app, "anl")
    assert post_export(tc, {}).status_code == 400
    from tests.portal_fixtures import PASSWORD, login, make_test_client

    nopurpose = make_test_client(analyst_app)
    login(nopurpose, "anl", PASSWORD, purpose=None)
    res = post_export(nopurpose, {"q": "anything"})
    assert res.status_code == 303 and res.headers["location"].startswith("/purpose")
