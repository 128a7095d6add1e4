"""The loader against the real node: rejects, idempotency, resume, CSV mappings, failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from rich.console import Console

from indexer import pipeline
from indexer.bulk import bulk_index
from indexer.loader import load_files, run_load_command
from lantern import indices
from lantern.records import parse_record, record_id
from lantern.search_client import make_client
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index
from tests.indexer.conftest import count, crime, read_ndjson, write_ndjson

QUIET = Console(file=open("/dev/null", "w"), force_terminal=False)  # noqa: SIM115


def _load(paths: list[Path], settings: Settings, client: OpenSearch, **kw: Any) -> Any:
    kw.setdefault("extract_entities", False)
    kw.setdefault("console", QUIET)
    return load_files(paths, settings, client, **kw)


# ------------------------------------------------------------------ rejects


def test_broken_feed_rejects_bad_rows_with_line_numbers_and_indexes_the_rest(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    feed = tmp_path / "broken.ndjson"
    bad_date = crime(3, occurred_from="31/02/2024")
    unknown = crime(4, shoe_size=9)
    missing = crime(5)
    del missing["title"]
    with feed.open("wb") as fh:
        fh.write(json.dumps(crime(1)).encode() + b"\n")  # 1 ok
        fh.write(b'{"record_type": "crime", "source_id": \n')  # 2 invalid JSON
        fh.write(json.dumps(bad_date).encode() + b"\n")  # 3 bad date
        fh.write(json.dumps(unknown).encode() + b"\n")  # 4 unknown field
        fh.write(json.dumps(missing).encode() + b"\n")  # 5 missing title
        fh.write(b"\n")  # 6 blank: not a row
        fh.write(b'{"title": "caf\xe9"}\n')  # 7 not UTF-8
        fh.write(b"[1, 2, 3]\n")  # 8 not an object
        fh.write(json.dumps(crime(9, record_type="custody")).encode() + b"\n")  # 9 wrong type
        fh.write(b'{"x": "' + b"y" * 5000 + b'"}\n')  # 10 over the row limit
        fh.write(json.dumps(crime(11)).encode() + b"\n")  # 11 ok
    rejects = tmp_path / "rejects.ndjson"
    report = _load([feed], isettings, client, rejects=rejects, record_type="crime", max_row_bytes=4096)
    r = report.result
    assert (r.read, r.indexed, r.created, r.rejected, r.failed) == (10, 2, 2, 8, 0)
    assert count(client, isettings) == 2

    rows = read_ndjson(rejects)
    by_line = {row["line"]: row for row in rows}
    assert sorted(by_line) == [2, 3, 4, 5, 7, 8, 9, 10]
    assert all(row["source"] == str(feed) and row["kind"] == "rejected" for row in rows)

    def msgs(line: int) -> str:
        return " | ".join(f"{e['loc']}: {e['msg']}" for e in by_line[line]["errors"])

    assert "not valid JSON" in msgs(2) and by_line[2]["raw"].startswith('{"record_type"')
    assert "occurred_from" in msgs(3) and "31/02/2024" in msgs(3)
    assert by_line[3]["raw"]["source_id"] == "C-3"  # the row as parsed JSON
    assert "shoe_size: unknown field" in msgs(4)
    assert "title: required field is missing" in msgs(5)
    assert "not valid UTF-8" in msgs(7) and "caf" in by_line[7]["raw"]
    assert "must be a JSON object, got a JSON array" in msgs(8)
    assert "record_type 'custody' but this load is --type crime" in msgs(9)
    assert "over the 4096-byte limit" in msgs(10)


def test_exit_code_is_non_zero_on_rejects_unless_allowed(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(1), "not json"])
    common: dict[str, Any] = dict(
        settings=isettings,
        record_type=None,
        mapping=None,
        rejects=tmp_path / "r.ndjson",
        extract_entities=False,
        restart=False,
        rebuild=False,
        console=QUIET,
    )
    assert run_load_command([feed], allow_rejects=False, **common) == 1
    assert run_load_command([feed], allow_rejects=True, **common) == 0
    clean = write_ndjson(tmp_path / "clean.ndjson", [crime(2)])
    assert run_load_command([clean], allow_rejects=False, **common) == 0


# ------------------------------------------------------------------ idempotency


def test_loading_twice_updates_instead_of_duplicating(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(n) for n in range(12)])
    first = _load([feed], isettings, client).result
    assert (first.indexed, first.created, first.updated) == (12, 12, 0)
    second = _load([feed], isettings, client).result
    # Nothing changed: every row is skipped before extraction and indexing.
    assert (second.indexed, second.created, second.updated, second.unchanged) == (0, 0, 0, 12)
    rows = [crime(n) for n in range(12)]
    rows[3]["title"] = "Theft of motor vehicle 3 (amended)"
    rows[3]["updated_at"] = "2024-04-01T09:00:00Z"
    third = _load([write_ndjson(tmp_path / "f.ndjson", rows)], isettings, client).result
    assert (third.indexed, third.created, third.updated, third.unchanged) == (1, 0, 1, 11)
    assert count(client, isettings) == 12
    doc = client.get(index=isettings.index_name("records"), id=record_id("TEST-CRIMES", "C-3"))
    assert doc["_source"][F.REFERENCE] == "CR/000003/24"
    assert doc["_source"][F.TITLE].endswith("(amended)")


def test_refresh_interval_is_restored_after_a_load_and_after_a_failure(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(n) for n in range(12)])

    def boom(_docs: list[dict]) -> None:
        raise RuntimeError("hook failed")

    physical = indices.ensure(client, isettings, records_index)

    def refresh_interval() -> Any:
        got = client.indices.get_settings(index=physical, name="index.refresh_interval")
        return got.get(physical, {}).get("settings", {}).get("index", {}).get("refresh_interval")

    with pytest.raises(RuntimeError, match="hook failed"):
        _load([feed], isettings, client, hooks=[boom])
    assert refresh_interval() is None
    _load([feed], isettings, client)
    assert refresh_interval() is None
    assert not list((isettings.state_dir / "refresh-guards").glob("*.json"))


# ------------------------------------------------------------------ resume


def test_resume_after_a_crash_ends_with_the_same_documents(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    rows: list[Any] = [crime(n) for n in range(23)]
    rows[7] = "garbage"  # a reject before the crash point
    feed = write_ndjson(tmp_path / "f.ndjson", rows)
    rejects = tmp_path / "rejects.ndjson"
    seen: list[str] = []
    batches = {"n": 0}

    def crash_on_third_batch(docs: list[dict]) -> None:
        batches["n"] += 1
        if batches["n"] == 3:
            raise KeyboardInterrupt  # as if Ctrl-C arrived while the third batch was in flight
        seen.extend(d[F.ID] for d in docs)

    with pytest.raises(KeyboardInterrupt):
        _load([feed], isettings, client, rejects=rejects, hooks=[crash_on_third_batch])
    # Batches hold 5 valid rows: lines 1-5, then 6-11 (line 8 is the reject); the third never acked.
    assert len(seen) == 10

    resumed = _load(
        [feed], isettings, client, rejects=rejects, hooks=[lambda d: seen.extend(x[F.ID] for x in d)]
    )
    # The resumed run starts after the last acknowledged batch (line 11), not at line 1.
    assert resumed.resumed == {str(feed): 11}
    assert resumed.result.read == 12
    assert count(client, isettings) == 22
    expected = {record_id("TEST-CRIMES", f"C-{n}") for n in range(23) if n != 7}
    assert set(seen) == expected
    hits = client.search(index=isettings.index_name("records"), body={"size": 100, "_source": False})
    assert {h["_id"] for h in hits["hits"]["hits"]} == expected
    # The reject was written once, by the run that passed it.
    assert [r["line"] for r in read_ndjson(rejects)] == [8]

    # A completed load leaves no checkpoint: the next run starts from line 1 again.
    again = _load([feed], isettings, client)
    assert again.resumed == {} and again.result.read == 23


def test_restart_ignores_checkpoints(client: OpenSearch, isettings: Settings, tmp_path: Path) -> None:
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(n) for n in range(10)])

    def crash(_docs: list[dict]) -> None:
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        _load([feed], isettings, client, hooks=[lambda d: None, crash])
    report = _load([feed], isettings, client, restart=True)
    assert report.resumed == {} and report.result.read == 10


# ------------------------------------------------------------------ CSV


MAPPING = """
record_type = "crime"
source_system = "LEGACY-TEST"
delimiter = ";"
encoding = "cp1252"
ignore = ["NOTES"]

[columns]
"CRIME_NO" = "source_id"
"CRIME_REF" = "crime_reference"
"TITLE" = "title"
"OFF_CODE" = "offence.code"
"OFF_DESC" = "offence.description"
"OCC_FROM" = { path = "occurred_from", format = "%d/%m/%Y %H:%M" }
"CREATED" = { path = "created_at", format = "%d/%m/%Y %H:%M" }
"LOC" = "location.line1"
"MO" = "modus_operandi"
"STATUS" = "status"
"SUSP1_SURNAME" = "people[0].surname"
"SUSP1_DOB" = { path = "people[0].dob", format = "%d/%m/%Y" }
"SUSP2_SURNAME" = "people[1].surname"
"VEHICLES" = { path = "vehicles[].vrm", split = "|" }

[constants]
"people[0].role" = "suspect"
"people[1].role" = "suspect"
"""

HEADER = (
    "CRIME_NO;CRIME_REF;TITLE;OFF_CODE;OFF_DESC;OCC_FROM;CREATED;LOC;MO;STATUS;"
    "SUSP1_SURNAME;SUSP1_DOB;SUSP2_SURNAME;VEHICLES;NOTES"
)


def test_csv_legacy_export_through_a_toml_mapping(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    csv_path = tmp_path / "old-crimes.csv"
    lines = [
        HEADER,
        "1;CR/000101/23;Theft from café;45/1;Theft;01/02/2023 13:45;02/02/2023 09:00;Mill Lane;"
        '"Car broken into;\nradio taken";filed;Smith;04/05/1990;;AB12CDE| cd34 efg;x',
        "2;CR/000102/23;Burglary;28/1;Burglary;31/02/2023 10:00;02/02/2023 09:00;High St;MO;filed;;;;;",
        "3;CR/9;Burglary;28/1;Burglary;01/02/2023 10:00;02/02/2023 09:00;High St;MO;open;Jones;;;;",
        "4;CR/000104/23;Too many;28/1;B;01/02/2023 10:00;02/02/2023 09:00;X;MO;filed;;;;;;extra",
    ]
    csv_path.write_bytes("\r\n".join(lines).encode("cp1252") + b"\r\n")
    (tmp_path / "old-crimes.toml").write_text(MAPPING, encoding="utf-8")  # found next to the CSV
    rejects = tmp_path / "rejects.ndjson"
    report = _load([csv_path], isettings, client, rejects=rejects)
    r = report.result
    assert report.file_errors == []
    assert (r.read, r.indexed, r.rejected) == (4, 1, 3)

    doc = client.get(index=isettings.index_name("records"), id=record_id("LEGACY-TEST", "1"))["_source"]
    assert doc[F.TITLE] == "Theft from café"
    assert doc[F.RECORD]["occurred_from"] == "2023-02-01T13:45:00Z"
    assert doc[F.RECORD]["modus_operandi"] == "Car broken into;\nradio taken"
    assert [p["surname"] for p in doc[F.RECORD]["people"]] == ["Smith"]  # empty suspect 2 left out
    assert doc[F.PEOPLE][0][F.P_DOB] == "1990-05-04"
    assert doc[F.ENTITIES]["vrm"] == ["AB12CDE", "CD34EFG"]

    by_line = {row["line"]: row for row in read_ndjson(rejects)}
    assert sorted(by_line) == [4, 5, 6]  # row 1 spans lines 2-3 (quoted newline)
    bad_date = by_line[4]["errors"]
    assert {
        "loc": "occurred_from",
        "column": "OCC_FROM",
        "msg": "'31/02/2023 10:00' does not match the date format '%d/%m/%Y %H:%M'",
    } in bad_date
    errs5 = {e["loc"]: e for e in by_line[5]["errors"]}
    assert errs5["crime_reference"]["column"] == "CRIME_REF"
    assert "e.g. CR/123456/24" in errs5["crime_reference"]["msg"]
    assert errs5["status"]["column"] == "STATUS"
    assert "16 values but the header has 15 columns" in by_line[6]["errors"][0]["msg"]
    assert "'extra'" in by_line[6]["errors"][0]["msg"]


def test_csv_header_that_does_not_match_the_mapping_is_a_file_error(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    csv_path = tmp_path / "old-crimes.csv"
    header = HEADER.replace("TITLE;", "HEADLINE;")
    row = "1;CR/000101/23;T;45/1;T;01/02/2023 13:45;;L;M;filed;;;;;"
    csv_path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    mapping = tmp_path / "elsewhere.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    report = _load([csv_path], isettings, client, mapping=mapping)
    assert report.result.read == 0
    [problem] = report.file_errors
    assert "missing column(s) TITLE" in problem.message
    assert "unexpected column(s) HEADLINE" in problem.message


def test_csv_mapping_errors_name_the_bad_path(tmp_path: Path) -> None:
    from indexer.csv_mapping import CsvMapping, MappingError

    bad = tmp_path / "bad.toml"
    bad.write_text(MAPPING.replace('"offence.code"', '"offence.cod"'), encoding="utf-8")
    expected = r"no field 'cod' in offence \(fields: category, code, description\)"
    with pytest.raises(MappingError, match=expected):
        CsvMapping.load(bad)


# ------------------------------------------------------------------ engine failures and retries


def test_a_document_the_engine_refuses_is_counted_and_written_with_its_reason(
    client: OpenSearch, isettings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pipeline.build_document  # type: ignore[attr-defined]

    def sabotage(record: Any, mentions: Any, **kw: Any) -> dict:
        doc = real(record, mentions, **kw)
        if record.source_id == "C-2":
            doc[F.RECORD_DATE] = "not a date"
        return doc

    monkeypatch.setattr(pipeline, "build_document", sabotage)
    feed = write_ndjson(tmp_path / "f.ndjson", [crime(n) for n in range(4)])
    rejects = tmp_path / "rejects.ndjson"
    r = _load([feed], isettings, client, rejects=rejects).result
    assert (r.read, r.indexed, r.failed) == (4, 3, 1)
    [row] = read_ndjson(rejects)
    assert row["kind"] == "failed" and row["line"] == 3 and row["source"] == str(feed)
    assert "mapper_parsing_exception" in row["errors"][0]["msg"]
    assert row["id"] == record_id("TEST-CRIMES", "C-2")


def test_bulk_retries_connection_errors(isettings: Settings) -> None:
    flaky = make_client(isettings, "ingest")
    real_bulk = flaky.bulk
    calls = {"n": 0}

    def bulk(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSConnectionError("N/A", "connection reset", Exception("reset"))
        return real_bulk(*args, **kwargs)

    flaky.bulk = bulk
    target = indices.ensure(flaky, isettings, records_index)
    docs = [{F.ID: f"retry-{n}", F.TITLE: "x"} for n in range(3)]
    results = list(bulk_index(flaky, isettings, target, docs, sleep=lambda _s: None))
    assert calls["n"] == 2
    assert sorted((x.doc_id, x.ok) for x in results) == [(f"retry-{n}", True) for n in range(3)]


# ------------------------------------------------------------------ API and entities


def test_index_records_api_and_identifier_normalisation(client: OpenSearch, isettings: Settings) -> None:
    from entity_extraction import canonicalise

    recs = [
        parse_record(crime(1, modus_operandi="A silver Ford AB12 CDE was seen leaving at speed.")),
        parse_record(crime(2)),
    ]
    result = pipeline.index_records(recs, isettings, client, extract_entities=True, refresh=True)
    assert (result.indexed, result.created, result.failed) == (2, 2, 0)
    index = isettings.index_name("records")
    hits = client.search(
        index=index, body={"query": {"term": {F.entity("VRM"): canonicalise("VRM", "ab12cde")}}}
    )["hits"]["hits"]
    assert [h["_id"] for h in hits] == [record_id("TEST-CRIMES", "C-1")]
    # Any spelling typed into a term query lands on the same normalised term.
    for spelling in ("ab12cde", "AB12 CDE", "ab12-cde"):
        n = client.count(index=index, body={"query": {"term": {F.entity("VRM"): spelling}}})["count"]
        assert n == 1, spelling
    # The structured VRM of both records is found the same way.
    assert client.count(index=index, body={"query": {"term": {F.entity("VRM"): "cd34efg"}}})["count"] == 2
    mention = next(m for m in hits[0]["_source"][F.MENTIONS] if m["label"] == "VRM")
    text = recs[0].free_text()[mention["field"]]
    assert text[mention["start"] : mention["end"]] == "AB12 CDE"
