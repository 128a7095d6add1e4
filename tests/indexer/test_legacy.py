"""Real legacy data against the real node: a second force's formats, "not recorded",
versions, unchanged rows, tombstones, the rejects work queue and progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from rich.console import Console

from indexer.bulk import bulk_index
from indexer.deletion import DeleteReasonError, delete_record
from indexer.documents import build_document
from indexer.loader import Meter, _Progress, load_files
from indexer.pipeline import BatchIndexer, Entry
from indexer.retry import retry_rejects
from lantern import indices
from lantern.profile import load_profile
from lantern.records import parse_record, record_id
from lantern.settings import Settings
from mappings import fields as F
from mappings import notifications as notifications_index
from mappings import records as records_index
from mappings import tombstones as T
from tests.data.force_b import exports
from tests.indexer.conftest import count, crime, read_ndjson, write_ndjson

QUIET = Console(file=open("/dev/null", "w"), force_terminal=False)  # noqa: SIM115
FORCE_B = load_profile(exports.PROFILE)


def _load(paths: list[Path], settings: Settings, client: OpenSearch, **kw: Any) -> Any:
    kw.setdefault("extract_entities", False)
    kw.setdefault("console", QUIET)
    return load_files(paths, settings, client, **kw)


def _source(client: OpenSearch, settings: Settings, rid: str) -> dict[str, Any] | None:
    got = client.get(index=settings.index_name("records"), id=rid, ignore=[404])
    return got.get("_source") if got.get("found") else None


def _search(client: OpenSearch, settings: Settings, query: dict[str, Any]) -> list[str]:
    alias = settings.index_name("records")
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, body={"query": query, "size": 100, "_source": False})
    return [h["_id"] for h in hits["hits"]["hits"]]


@pytest.fixture
def bsettings(isettings: Settings) -> Settings:
    return isettings.model_copy(update={"force_profile": exports.PROFILE})


# ------------------------------------------------------------------ a second force


def test_second_force_loads_its_legacy_exports_with_zero_rejects(
    client: OpenSearch, bsettings: Settings, tmp_path: Path
) -> None:
    files = exports.write_exports(tmp_path / "exports", n=12)
    rejects = tmp_path / "rejects.ndjson"
    report = _load(files, bsettings, client, rejects=rejects)
    r = report.result
    assert report.file_errors == []
    assert (r.read, r.rejected, r.failed, r.indexed) == (48, 0, 0, 48), r.problems[:3]
    assert not rejects.exists()
    assert count(client, bsettings) == 48

    # Every spelling of a reference finds the same record, through the index normalizer.
    rid = record_id("NS-CRIMES", "C3")
    for typed in ("CR-2021-4417203", "CR/2021/4417203", "cr 2021 4417203", "cr2021-4417203"):
        assert _search(client, bsettings, {"term": {F.REFERENCE: typed}}) == [rid], typed
    doc = _source(client, bsettings, rid)
    assert doc is not None and doc[F.REFERENCE] == "CR/2021/4417203"
    # The record keeps the reference as the source system wrote it.
    assert doc[F.RECORD]["crime_reference"] == "CR-2021-4417203"
    custody = _source(client, bsettings, record_id("NS-CUSTODY", "IF5"))
    assert custody is not None and custody[F.REFERENCE] == "IF/2021/20405"  # typed "if 2021 20405"

    # "Not recorded" is never a status: the field is absent (facets omit it) and the record
    # lists what was not recorded.
    crime12 = _source(client, bsettings, record_id("NS-CRIMES", "C12"))
    assert crime12 is not None and F.STATUS not in crime12 and F.OFFENCE_CODES not in crime12
    assert crime12[F.NOT_RECORDED] == ["offence", "modus_operandi", "status"]
    facets = client.search(
        index=bsettings.index_name("records"),
        body={"size": 0, "aggs": {"s": {"terms": {"field": F.STATUS, "size": 50}}}},
    )
    buckets = {b["key"] for b in facets["aggregations"]["s"]["buckets"]}
    assert buckets and not any("record" in b.lower() or b == "N/K" for b in buckets)
    assert buckets <= {
        "OPEN",
        "FILED-NFA",
        "DET",
        "CRIMED-OFF",
        "CHG",
        "BAIL",
        "RUI",
        "NFA",
        "CAUT",
        "YRD",
        "PRE",
        "TRIAL",
        "CLOSED",
    }
    not_recorded = client.count(
        index=bsettings.index_name("records"), body={"query": {"term": {F.NOT_RECORDED: "status"}}}
    )["count"]
    assert not_recorded == 4 + 2  # crimes 3, 6, 9, 12 and cases 5, 10


def test_default_profile_rejects_the_second_forces_formats_and_retry_rejects_passes_them(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    files = exports.write_exports(tmp_path / "exports", n=6)
    rejects = tmp_path / "rejects.ndjson"
    first = _load(files, isettings, client, rejects=rejects)
    # Only the intelligence references in IR-yyyy-nnnnnn pass: the default's IR/yyyy/nnnnnn
    # with other separators.
    assert first.result.rejected == 21 and first.result.indexed == 3
    queued = read_ndjson(rejects)
    assert {Path(q["source"]).name for q in queued} == {p.name for p in files}
    # Fixed by pointing the settings at the right profile: the queue now passes, CSV rows too.
    report = retry_rejects(
        rejects,
        isettings.model_copy(update={"force_profile": exports.PROFILE}),
        client,
        extract_entities=False,
    )
    assert report.passed == 21 and report.still_failing is None
    assert {r.status for r in report.rows} == {"created"}
    assert count(client, isettings) == 24


def test_retry_rejects_reports_which_rows_still_fail(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    feed = write_ndjson(
        tmp_path / "f.ndjson",
        [crime(1), crime(2, occurred_from="31/02/2024"), crime(3, status="reopened"), "not json"],
    )
    rejects = tmp_path / "rejects.ndjson"
    _load([feed], isettings, client, rejects=rejects)
    assert [q["line"] for q in read_ndjson(rejects)] == [2, 3, 4]
    # Someone corrects line 4 in the rejects file itself; line 2 stays wrong.
    fixed = [{**q, "raw": json.dumps(crime(4))} if q["line"] == 4 else q for q in read_ndjson(rejects)]
    write_ndjson(rejects, fixed)
    report = retry_rejects(rejects, isettings, client, extract_entities=False)
    by_line = {r.line: r for r in report.rows}
    assert by_line[4].status == "created"
    assert by_line[2].status == "rejected" and by_line[2].errors[0]["loc"] == "occurred_from"
    assert by_line[3].status == "rejected" and by_line[3].errors[0]["loc"] == "status"
    assert report.still_failing is not None
    assert [q["line"] for q in read_ndjson(report.still_failing)] == [2, 3]
    assert _source(client, isettings, record_id("TEST-CRIMES", "C-4")) is not None


# ------------------------------------------------------------------ versions


def test_an_older_version_never_overwrites_a_newer_one(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    newer = crime(1, title="Newer title", updated_at="2024-06-01T12:00:00Z")
    older = crime(1, title="Older title", updated_at="2024-05-01T12:00:00Z")
    r1 = _load([write_ndjson(tmp_path / "new.ndjson", [newer])], isettings, client).result
    assert r1.created == 1
    # A replay of an older export: the loader sees the newer version and ignores the row.
    r2 = _load([write_ndjson(tmp_path / "old.ndjson", [older])], isettings, client).result
    assert (r2.stale, r2.indexed) == (1, 0)
    doc = _source(client, isettings, record_id("TEST-CRIMES", "C-1"))
    assert doc is not None and doc[F.TITLE] == "Newer title"
    # Two writers racing: the older write reaches the engine after the newer one landed
    # (the loader's pre-check is bypassed); the engine refuses it on the external version.
    record = parse_record(older)
    target = indices.writer_target(isettings, records_index)
    [item] = list(
        bulk_index(
            client, isettings, target, [build_document(record)], versions={record.record_id: record.version}
        )
    )
    assert (item.ok, item.result, item.status) == (False, "stale", 409)
    doc = _source(client, isettings, record_id("TEST-CRIMES", "C-1"))
    assert doc is not None and doc[F.TITLE] == "Newer title"
    got = client.get(index=isettings.index_name("records"), id=record.record_id)
    assert got["_version"] == parse_record(newer).version
    # The same version again (a replay of the same export) is allowed, and unchanged.
    r3 = _load([write_ndjson(tmp_path / "new.ndjson", [newer])], isettings, client).result
    assert r3.unchanged == 1


# ------------------------------------------------------------------ unchanged rows, NER reuse


def test_reload_skips_unchanged_rows_and_reuses_entities_when_only_non_text_changed(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    mo = "The caller, John Hughes, rang from 07700 900456 and saw a blue Ford Focus CD34 EFG drive off."
    rows = [crime(n, modus_operandi=mo) for n in range(1, 5)]
    feed = write_ndjson(tmp_path / "f.ndjson", rows)
    first = _load([feed], isettings, client, extract_entities=True).result
    assert (first.created, first.ner_reused) == (4, 0)
    before = _source(client, isettings, record_id("TEST-CRIMES", "C-2"))
    assert before is not None and before[F.MENTIONS] and F.NER_TEXT_HASH in before

    again = _load([feed], isettings, client, extract_entities=True).result
    assert (again.unchanged, again.indexed) == (4, 0)

    rows[1]["borough"] = "Islington"  # a non-text field
    rows[1]["updated_at"] = "2024-04-02T00:00:00Z"
    rows[2]["modus_operandi"] = "Window smashed; a grey Vauxhall AB12 CDE was seen leaving."
    rows[2]["updated_at"] = "2024-04-02T00:00:00Z"
    third = _load(
        [write_ndjson(tmp_path / "f.ndjson", rows)], isettings, client, extract_entities=True
    ).result
    assert (third.updated, third.unchanged, third.ner_reused) == (2, 2, 1)
    after = _source(client, isettings, record_id("TEST-CRIMES", "C-2"))
    assert after is not None and after[F.BOROUGH] == "Islington"
    assert after[F.MENTIONS] == before[F.MENTIONS] and after[F.ENTITIES] == before[F.ENTITIES]
    changed = _source(client, isettings, record_id("TEST-CRIMES", "C-3"))
    assert changed is not None and "AB12CDE" in changed[F.ENTITIES]["vrm"]

    # Loaded without NER earlier, a load with NER does not count the rows as unchanged.
    plain = write_ndjson(tmp_path / "p.ndjson", [crime(9)])
    _load([plain], isettings, client, extract_entities=False)
    with_ner = _load([plain], isettings, client, extract_entities=True).result
    assert (with_ner.updated, with_ner.unchanged) == (1, 0)


# ------------------------------------------------------------------ deletions


def test_a_delete_removes_the_record_and_a_reload_of_the_old_export_does_not_bring_it_back(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    feed = write_ndjson(tmp_path / "old-export.ndjson", [crime(n) for n in range(1, 4)])
    _load([feed], isettings, client)
    rid = record_id("TEST-CRIMES", "C-2")
    notifications = indices.ensure(client, isettings, notifications_index)
    other = record_id("TEST-CRIMES", "C-3")
    for nid, ids in (("n-1", [rid, other]), ("n-2", [rid])):  # match groups listing the record
        client.index(
            index=notifications,
            id=nid,
            body={
                notifications_index.RECIPIENT: "analyst",
                notifications_index.KIND: notifications_index.KIND_MATCH,
                notifications_index.SAVED_QUERY_ID: "q",
                notifications_index.RECORD_IDS: ids,
                notifications_index.READ: False,
            },
            refresh=True,
        )
    assert rid in _search(client, isettings, {"match": {F.TITLE: "vehicle"}})

    result = delete_record(client, isettings, "TEST-CRIMES", "C-2", reason="expunged", by="test")
    assert (result.found, result.already_deleted, result.notifications_removed) == (True, False, 2)
    assert _source(client, isettings, rid) is None
    assert rid not in _search(client, isettings, {"match_all": {}})
    # It leaves the group it shared (the other record stays notified); its own group goes.
    ids_field = notifications_index.RECORD_IDS
    assert client.count(index=notifications, body={"query": {"term": {ids_field: rid}}})["count"] == 0
    assert client.get(index=notifications, id="n-1")["_source"][ids_field] == [other]
    assert not client.exists(index=notifications, id="n-2")

    # The tombstone holds the ids and why, nothing of the record.
    stone = client.get(index=isettings.index_name(T.NAME), id=rid)["_source"]
    assert set(stone) == {T.ID, T.SOURCE_SYSTEM, T.SOURCE_ID, T.REASON, T.DELETED_AT, T.DELETED_BY}
    assert "Barker" not in json.dumps(stone) and "CR/" not in json.dumps(stone)

    again = _load([feed], isettings, client, restart=True).result
    assert (again.deleted, again.unchanged) == (1, 2)
    assert _source(client, isettings, rid) is None
    # Even a newer version of it does not come back.
    newer = crime(2, updated_at="2030-01-01T00:00:00Z")
    later = _load([write_ndjson(tmp_path / "new.ndjson", [newer])], isettings, client).result
    assert later.deleted == 1 and _source(client, isettings, rid) is None
    assert delete_record(client, isettings, "TEST-CRIMES", "C-2", reason="expunged", by="t").already_deleted
    with pytest.raises(DeleteReasonError):
        delete_record(client, isettings, "TEST-CRIMES", "C-1", reason="tidy-up", by="t")


def test_a_write_racing_a_delete_is_undone(client: OpenSearch, isettings: Settings) -> None:
    record = parse_record(crime(5))
    indexer = BatchIndexer(isettings, client, extract_entities=False)
    real_known = indexer._known

    def delete_after_the_check(ids: Any) -> Any:
        known = real_known(ids)  # checked: not tombstoned yet
        delete_record(client, isettings, "TEST-CRIMES", "C-5", reason="disposal", by="test")
        return known

    indexer._known = delete_after_the_check  # type: ignore[method-assign]
    outcome = indexer.run([Entry(record)])
    assert outcome.statuses == ["deleted"] and outcome.docs == []
    assert _source(client, isettings, record.record_id) is None


# ------------------------------------------------------------------ progress


def test_progress_reports_rows_rate_bytes_and_eta_per_file_and_overall() -> None:
    meter = Meter(total_bytes=4 * 1024 * 1024, started=100.0, rows=1000, done_bytes=1024 * 1024)
    assert meter.line(110.0) == "1,000 rows, 100 rows/s, 1.0 of 4.0 MB (25%), ETA 0:00:30"
    progress = _Progress(None, total_bytes=3000)
    progress.file("a.ndjson", 1000)
    progress.advance(10, 500)
    line = progress.status_line()
    assert line.startswith("a.ndjson: 10 rows, ") and "(50%)" in line
    assert "| overall: 10 rows, " in line and "(17%)" in line and "ETA" in line
    progress.end_file(1000)
    progress.file("b.ndjson", 2000)
    progress.advance(5, 1000)
    line = progress.status_line()
    assert (
        line.startswith("b.ndjson: 5 rows")
        and "(50%)" in line
        and "overall: 15 rows" in line
        and "(67%)" in line
    )
