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


def test_large_export_runs_as_a_job_started_on_one_process_downloaded_from_another(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader, worker: None
) -> None:
    """Past ``export_inline_rows`` the export is a job: queued (and audited) through one portal
    process, read by the worker as the user (ids audited, counted against the quota), polled
    and downloaded through another process, the records read again as the user."""
    import time

    from lantern.audit import AuditLog
    from portal.app import create_app
    from portal.security.ratelimit import quota_of

    t = tag()
    loader.load([crime(t) for _ in range(8)] + [crime(t, sensitivity=["protected_person"])], alerts=False)
    one = signed_in(create_app(asettings.model_copy(update={"export_inline_rows": 5})), "anl")
    other = signed_in(analyst_app, "anl")
    used_before = quota_of(client, asettings, AuditLog(client, asettings), "anl").used
    res = post_export(one, {"q": t, "sort": "newest"})
    assert res.status_code == 303, res.text[:300]
    page_url = res.headers["location"]
    assert page_url.startswith("/export/jobs/")
    event = audit_events(client, asettings, "export", "anl")[0]
    assert event["details"]["mode"] == "job" and event["details"]["row_estimate"] == 8
    assert event["details"]["query"] == t
    # Only its owner sees it.
    assert signed_in(analyst_app, "ana").get(page_url).status_code == 404
    deadline = time.monotonic() + 120
    while "Download the CSV" not in (page := other.get(page_url)).text:
        assert page.status_code == 200, page.text[:300]
        assert time.monotonic() < deadline, page.text[-1500:]
        time.sleep(0.3)
    assert "8 rows ready" in page.text
    # The worker audited every id it read against the export event, in the request's context.
    manifests = [
        e
        for e in audit_events(client, asettings, "export.manifest", "anl")
        if e["details"]["of_seq"] == event["seq"]
    ]
    assert sum(len(m["details"]["shown_ids"]) for m in manifests) == 8
    assert all(m["purpose_reference"] == "CR/012345/24" for m in manifests)
    assert quota_of(client, asettings, AuditLog(client, asettings), "anl").used == used_before + 8
    download = other.get(page_url + "/download")
    assert download.status_code == 200, download.text[:300]
    assert download.headers["content-type"].startswith("text/csv")
    rows = read_csv(download.text)
    assert len(rows) == 8 and all(t in r["title"] for r in rows)
    ids = {r["record_id"] for r in rows}
    assert ids == {i for m in manifests for i in m["details"]["shown_ids"]}
    assert (
        audit_events(client, asettings, "export.download", "anl")[0]["target"]["job"]
        == page_url.rsplit("/", 1)[1]
    )
