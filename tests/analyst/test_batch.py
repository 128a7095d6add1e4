"""Batch search: parsing lists and CSVs, searching each line like the search box, auditing."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch

from lantern.settings import Settings
from portal.analyst import batch as B
from tests.analyst.conftest import Loader, crime, signed_in, tag
from tests.analyst.test_saved_web import audit_events
from tests.portal_fixtures import csrf_from


def test_parse_lines_and_csv_with_header() -> None:
    parsed = B.parse_input("John Smith 12/03/1985\n\n  AB12 CDE \n07700 900123\n")
    assert parsed.format == "lines"
    assert [(ln.number, ln.query) for ln in parsed.lines] == [
        (1, "John Smith 12/03/1985"),
        (3, "AB12 CDE"),
        (4, "07700 900123"),
    ]
    csv_text = "Forename,Surname,DOB,VRM,Notes\nJohn,Smith,12/03/1985,AB12 CDE,x\n,,,CD34EFG,\n"
    parsed = B.parse_input(csv_text)
    assert parsed.format == "csv"
    assert [ln.query for ln in parsed.lines] == ['John Smith dob:12/03/1985 vrm:"AB12 CDE"', "vrm:CD34EFG"]
    assert [ln.number for ln in parsed.lines] == [2, 3]
    assert any("Notes" in n for n in parsed.notices)
    headerless = B.parse_input("Smith,John\nJones,Amy\n", "csv")
    assert [ln.query for ln in headerless.lines] == ["Smith John", "Jones Amy"]


def test_limits_are_explained() -> None:
    with pytest.raises(B.BatchError, match="empty"):
        B.parse_input(" \n\n")
    with pytest.raises(B.BatchError, match="limit is 1,000"):
        B.parse_input("\n".join(f"line {i}" for i in range(1001)))
    assert len(B.parse_input("\n".join(f"line {i}" for i in range(1000))).lines) == 1000


def test_batch_results_table_and_audit(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t1, t2, t3 = tag(), tag(), tag()
    loader.load([crime(t1), crime(t1), crime(t2), crime(t3, sensitivity=["protected_person"])], alerts=False)
    tc = signed_in(analyst_app, "anl")
    form = tc.get("/batch")
    assert form.status_code == 200
    text = f"{t1}\n{t2}\n{t3}\nzzqqnothingmatchesthis\n"
    res = tc.post("/batch", data={"csrf_token": csrf_from(form.text), "text": text, "format": "lines"})
    assert res.status_code == 200, res.text
    html = res.text
    rows = html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    assert len(rows) == 4
    assert f"Theft of motor vehicle {t1}" in rows[0] and "<td>2</td>" in rows[0]
    assert f"Theft of motor vehicle {t2}" in rows[1] and "<td>1</td>" in rows[1]
    # A record the user may not read is neither listed nor counted.
    assert "<td>0</td>" in rows[2] and "Theft" not in rows[2]
    assert "No match" in rows[3]
    assert f"/search?q={t1}" in rows[0] and "score" in rows[0]
    event = audit_events(client, asettings, "batch_search", "anl")[0]
    assert event["details"]["line_count"] == 4
    assert event["details"]["purpose"] == {"code": "investigation", "reference": "CR/012345/24"}
    assert event["details"]["lines"] == [t1, t2, t3, "zzqqnothingmatchesthis"]
    assert event["purpose_code"] == "investigation"
    # The matched ids are in the manifest that points at the batch event.
    manifest = audit_events(client, asettings, "batch_search.manifest", "anl")[0]
    assert manifest["details"]["of_seq"] == event["seq"] and len(manifest["shown_ids"]) == 3


def test_uploaded_csv(analyst_app: FastAPI, loader: Loader) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    tc = signed_in(analyst_app, "anl")
    form = tc.get("/batch")
    csv_bytes = f"name,vrm\nZoe Quennell {t},\n".encode()
    res = tc.post(
        "/batch",
        data={"csrf_token": csrf_from(form.text), "format": "auto"},
        files={"file": ("list.csv", csv_bytes, "text/csv")},
    )
    assert res.status_code == 200, res.text
    assert f"Theft of motor vehicle {t}" in res.text


def test_large_batch_runs_as_a_job_with_progress(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader, worker: None
) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    tc = signed_in(analyst_app, "anl")
    form = tc.get("/batch")
    lines = [t] + [f"nomatch{i}" for i in range(B.SYNC_MAX_LINES + 20)]
    res = tc.post("/batch", data={"csrf_token": csrf_from(form.text), "text": "\n".join(lines)})
    assert res.status_code == 303
    job_url = res.headers["location"]
    assert job_url.startswith("/batch/jobs/")
    page = tc.get(job_url)
    for _ in range(120):
        page = tc.get(job_url)
        if "lines searched" in page.text:
            break
        assert "<progress" in page.text
        time.sleep(0.5)
    assert f"{len(lines):,} lines searched" in page.text
    assert f"Theft of motor vehicle {t}" in page.text
    # htmx polling gets the fragment only.
    frag = tc.get(job_url, headers={"HX-Request": "true", "HX-Target": "batch-job"})
    assert frag.text.lstrip().startswith('<div id="batch-job"')
    # Someone else's job does not exist for them.
    assert signed_in(_app(tc), "ana").get(job_url).status_code == 404
    assert audit_events(client, asettings, "batch_search", "anl")[0]["details"]["line_count"] == len(lines)


def _app(tc: object) -> FastAPI:
    app = tc.app  # type: ignore[attr-defined]
    assert isinstance(app, FastAPI)
    return app


def test_bad_batch_input_keeps_the_text(analyst_app: FastAPI) -> None:
    tc = signed_in(analyst_app, "anl")
    form = tc.get("/batch")
    text = "\n".join(f"line {i}" for i in range(1200))
    res = tc.post("/batch", data={"csrf_token": csrf_from(form.text), "text": text})
    assert res.status_code == 400
    assert "limit is 1,000" in res.text and "line 1199" in res.text
