"""Attachments on records, indexed into the real records index with their record's access.

Generated documents only: a typed statement PDF and a scanned page whose VRM exists nowhere
else, attached to records with and without restrictive markings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from demo import documents as gen
from documents.extract import Extractor, Limits
from documents.pages import page_for_fragment
from documents.store import ContentStore
from documents.tika import TikaProcess
from indexer.attachments import AttachmentExtractor, AttachmentStage
from indexer.loader import load_files
from indexer.pipeline import BatchIndexer, Entry
from lantern.principal import Principal
from lantern.records import attachment_id, parse_record, record_id
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index
from search.access import can_read, secure
from tests.indexer.conftest import crime, read_ndjson, write_ndjson

SCAN_VRM = "KX19 LMN"  # appears only inside the scanned page
TODAY = date(2026, 6, 1)
OFFICER = Principal("pc1", "PC One", roles=frozenset({"officer"}), units=frozenset({"CID"}))
CLEARED = Principal(
    "dc1",
    "DC One",
    roles=frozenset({"officer"}),
    units=frozenset({"CID", "COVERT-OPS"}),
    clearances=frozenset({"covert"}),
)


@pytest.fixture(scope="module")
def shared_extractor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Extractor]:
    root = tmp_path_factory.mktemp("docstore")
    with Extractor(ContentStore(root), TikaProcess(threads=2), Limits(time_limit=120)) as ex:
        yield ex


@pytest.fixture(scope="module")
def attachments_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("attachments")
    (root / "statements").mkdir()
    gen.text_pdf(
        root / "statements" / "s1.pdf",
        [
            "STATEMENT OF WITNESS. I am the owner of the car.",
            "Page two. I did not give anyone permission to take it.",
            "Page three. The man I saw was Daniel Hughes; he phoned me on 07700 900456.",
        ],
    )
    gen.mixed_pdf(
        root / "statements" / "scan.pdf",
        [
            "Covering note typed by the officer in the case.",
            ["SCANNED NOTEBOOK PAGE", f"Vehicle {SCAN_VRM} seen on Mill Lane", "driver Daniel Hughes"],
        ],
        seed=5,
    )
    gen.encrypted_pdf(root / "statements" / "locked.pdf")
    return root


@pytest.fixture
def asettings(settings: Settings, tmp_path: Path, attachments_root: Path) -> Settings:
    return settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}{uuid.uuid4().hex[:6]}-",
            "state_dir": tmp_path / "state",
            "documents_root": tmp_path / "documents",
            "attachments_root": attachments_root,
            "bulk_chunk_size": 5,
        }
    )


def _indexer(settings: Settings, client: OpenSearch, shared: Extractor) -> BatchIndexer:
    indexer = BatchIndexer(settings, client, extract_entities=True)
    stage = AttachmentStage(
        settings, client, indexer.index, True, AttachmentExtractor(settings, extractor=shared)
    )
    indexer._attachments = stage
    return indexer


def _search(client: OpenSearch, settings: Settings, query: dict[str, Any], user: Principal) -> list[dict]:
    alias = settings.index_name(records_index.NAME)
    client.indices.refresh(index=alias)
    body = {"query": secure(query, user, TODAY), "size": 50, "highlight": {"fields": {F.TEXT: {}}}}
    return client.search(index=alias, body=body)["hits"]["hits"]


VRM_QUERY = {"term": {F.entity("VRM"): "KX19LMN"}}


def _records(restricted_units: list[str] | None = None, sensitivity: list[str] | None = None) -> list[Any]:
    open_rec = crime(
        901,
        attachments=[
            {"path": "statements/s1.pdf", "title": "Statement of the owner", "kind": "statement"},
            {"path": "statements/scan.pdf", "title": "Notebook scan", "kind": "scanned_document"},
        ],
    )
    secret = crime(
        902,
        markings={
            "restricted_units": restricted_units or ["COVERT-OPS"],
            "sensitivity": sensitivity or ["covert"],
        },
        attachments=[{"path": "statements/scan.pdf", "title": "Covert notebook", "kind": "scanned_document"}],
    )
    return [parse_record(open_rec), parse_record(secret)]


def test_attachments_are_indexed_with_page_text_entities_and_the_records_access(
    asettings: Settings, client: OpenSearch, shared_extractor: Extractor
) -> None:
    open_rec, secret = _records()
    indexer = _indexer(asettings, client, shared_extractor)
    outcome = indexer.run([Entry(open_rec), Entry(secret)])
    indexer.close()
    assert outcome.result.indexed == 2
    assert outcome.result.documents == 3 and outcome.result.documents_failed == 0
    assert outcome.result.ocr_pages == 2  # the scan's one image page, attached twice

    alias = asettings.index_name(records_index.NAME)
    client.indices.refresh(index=alias)
    for rec in (open_rec, secret):
        parent = client.get(index=alias, id=rec.record_id)["_source"]
        for att in rec.attachments:
            doc = client.get(index=alias, id=attachment_id(rec.record_id, att.path))["_source"]
            # Inheritance is exact: every access field equal, and none missing or extra.
            access = {k for k in {*parent, *doc} if k.startswith("access_")} | {F.REVIEW_DATE, F.RECORD_TYPE}
            assert {k: doc.get(k) for k in access} == {k: parent.get(k) for k in access}
            assert doc[F.DOCUMENT][F.D_PARENT_ID] == rec.record_id
            assert doc[F.RECORD] == parent[F.RECORD]

    statement = client.get(index=alias, id=attachment_id(open_rec.record_id, "statements/s1.pdf"))["_source"]
    assert statement[F.DOCUMENT][F.D_PAGE_COUNT] == 3 and statement[F.DOCUMENT][F.D_STATUS] == "extracted"
    assert "+447700900456" in statement[F.ENTITIES]["phone"]
    phone = next(m for m in statement[F.MENTIONS] if m["label"] == "PHONE")
    assert phone["field"] == "page.3"

    scan = client.get(index=alias, id=attachment_id(open_rec.record_id, "statements/scan.pdf"))["_source"]
    assert scan[F.DOCUMENT][F.D_STATUS] == "ocr" and scan[F.DOCUMENT][F.D_OCR_PAGES] == 1
    assert "KX19LMN" in scan[F.ENTITIES]["vrm"]
    # The VRM is in the scan only: not in either record's own document.
    for rec in (open_rec, secret):
        assert "KX19LMN" not in client.get(index=alias, id=rec.record_id)["_source"][F.ENTITIES].get(
            "vrm", []
        )


def test_vrm_only_in_a_scan_is_found_with_its_page_and_never_leaks(
    asettings: Settings, client: OpenSearch, shared_extractor: Extractor
) -> None:
    open_rec, secret = _records()
    indexer = _indexer(asettings, client, shared_extractor)
    indexer.run([Entry(open_rec), Entry(secret)])
    indexer.close()

    officer_hits = _search(client, asettings, VRM_QUERY, OFFICER)
    assert [h["_source"][F.DOCUMENT][F.D_PARENT_ID] for h in officer_hits] == [open_rec.record_id]
    cleared_hits = _search(client, asettings, VRM_QUERY, CLEARED)
    assert {h["_source"][F.DOCUMENT][F.D_PARENT_ID] for h in cleared_hits} == {
        open_rec.record_id,
        secret.record_id,
    }
    # Full text too, with the page located from the highlight.
    text_hits = _search(client, asettings, {"match": {F.TEXT: "notebook Mill Lane"}}, OFFICER)
    assert {h["_source"][F.DOCUMENT][F.D_PARENT_ID] for h in text_hits} == {open_rec.record_id}
    hit = text_hits[0]
    fragment = hit["highlight"][F.TEXT][0].replace("<em>", "").replace("</em>", "")
    assert page_for_fragment(hit["_source"], fragment) == 2
    # The Python twin of the filter agrees on the document.
    secret_doc = client.get(
        index=asettings.index_name(records_index.NAME),
        id=attachment_id(secret.record_id, "statements/scan.pdf"),
    )["_source"]
    assert not can_read(OFFICER, secret_doc, TODAY) and can_read(CLEARED, secret_doc, TODAY)


def test_markings_are_rederived_and_stale_documents_removed_on_reindex(
    asettings: Settings, client: OpenSearch, shared_extractor: Extractor
) -> None:
    open_rec, _ = _records()
    indexer = _indexer(asettings, client, shared_extractor)
    indexer.run([Entry(open_rec)])
    assert len(_search(client, asettings, VRM_QUERY, OFFICER)) == 1

    # The same record, now restricted and with the statement no longer attached.
    data = crime(
        901,
        markings={"restricted_units": ["COVERT-OPS"], "sensitivity": ["covert"]},
        attachments=[{"path": "statements/scan.pdf", "title": "Notebook scan", "kind": "scanned_document"}],
    )
    outcome = indexer.run([Entry(parse_record(data))])
    indexer.close()
    assert outcome.result.documents_extracted == 0  # text came from the cache, no OCR again
    assert _search(client, asettings, VRM_QUERY, OFFICER) == []
    assert _search(client, asettings, {"term": {F.document(F.D_PARENT_ID): open_rec.record_id}}, CLEARED)
    statements = _search(client, asettings, {"term": {F.document(F.D_PATH): "statements/s1.pdf"}}, CLEARED)
    assert statements == []


def test_failed_and_missing_attachments_go_to_the_rejects_file(
    asettings: Settings, client: OpenSearch, tmp_path: Path
) -> None:
    rec = crime(
        903,
        attachments=[
            {"path": "statements/s1.pdf", "title": "Statement", "kind": "statement"},
            {"path": "statements/locked.pdf", "title": "Locked", "kind": "exhibit"},
            {"path": "statements/nowhere.pdf", "title": "Missing", "kind": "exhibit"},
        ],
    )
    bad_path = crime(904, attachments=[{"path": "../../etc/passwd", "title": "Escape", "kind": "other"}])
    feed = write_ndjson(tmp_path / "crimes.ndjson", [rec, bad_path])
    rejects = tmp_path / "rejects.ndjson"
    report = load_files([feed], asettings, client, rejects=rejects)
    r = report.result
    assert (r.indexed, r.rejected, r.documents, r.documents_failed) == (1, 1, 1, 2)
    rows = read_ndjson(rejects)
    failed = {row["errors"][0]["path"]: row["errors"][0] for row in rows if row["kind"] == "document_failed"}
    assert failed["statements/locked.pdf"]["code"] == "encrypted"
    assert failed["statements/nowhere.pdf"]["code"] == "missing"
    rejected = [row for row in rows if row["kind"] == "rejected"]
    assert "'..'" in str(rejected[0]["errors"])

    from documents.ledger import Ledger

    ledger = Ledger(asettings.state_dir / "documents.sqlite")
    counts = ledger.counts()
    assert (counts["extracted"], counts["failed"]) == (1, 2)
    assert {row.error_code for row in ledger.rows(status="failed")} == {"encrypted", "missing"}
    assert record_id("TEST-CRIMES", "C-903") in {row.record_id for row in ledger.rows()}


def test_manifest_links_files_to_records_loaded_before_and_after(
    asettings: Settings, client: OpenSearch, tmp_path: Path
) -> None:
    from indexer.documents_cli import load_manifest
    from indexer.pipeline import index_records

    folder = asettings.attachments_root / f"feed-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    gen.text_pdf(folder / "mg11.pdf", ["Witness statement naming vehicle YB07 XYZ on page one."])
    gen.docx(folder / "later.docx", ["Interview transcript: the suspect drove YB07 XYZ."])
    restricted = parse_record(crime(905, markings={"restricted_units": ["COVERT-OPS"]}))
    index_records([restricted], asettings, client, refresh=True)
    (folder / "manifest.csv").write_text(
        "file,source_system,source_id,title,kind\n"
        "mg11.pdf,TEST-CRIMES,C-905,MG11 statement,statement\n"
        "later.docx,TEST-CRIMES,C-906,Interview transcript,transcript\n"
        "ghost.pdf,TEST-CRIMES,C-905,Ghost,exhibit\n"
        "../outside.pdf,TEST-CRIMES,C-905,Escape,exhibit\n"
    )
    code = load_manifest(folder / "manifest.csv", asettings, client)
    assert code == 1  # two rows rejected
    query = {"term": {F.entity("VRM"): "YB07XYZ"}}
    # C-905 was indexed before it had any document: the link waits for its feed to be loaded
    # again (the records index is never read back outside the access-filtered gateway).
    assert _search(client, asettings, query, CLEARED) == []
    index_records([restricted], asettings, client, refresh=True)
    assert _search(client, asettings, query, OFFICER) == []  # restricted unit: not for PC One
    (hit,) = _search(client, asettings, query, CLEARED)
    assert hit["_source"][F.DOCUMENT][F.D_PARENT_ID] == restricted.record_id
    assert hit["_source"][F.ACCESS_UNITS] == ["COVERT-OPS"]
    rejects = sorted((asettings.state_dir / "rejects").glob("documents-*.ndjson"))
    reasons = [r["errors"][0]["msg"] for r in read_ndjson(rejects[-1])]
    assert any("no such file" in m for m in reasons) and any("inside the manifest" in m for m in reasons)

    # C-906 is loaded afterwards, from a feed that does not mention the file: the link holds.
    index_records([parse_record(crime(906))], asettings, client, refresh=True)
    hits = _search(client, asettings, query, OFFICER)
    assert [h["_source"][F.DOCUMENT][F.D_PARENT_ID] for h in hits] == [record_id("TEST-CRIMES", "C-906")]


def test_retry_extracts_only_the_failed_documents(
    asettings: Settings, client: OpenSearch, tmp_path: Path
) -> None:
    from documents.ledger import Ledger
    from indexer.documents_cli import retry_failed
    from indexer.pipeline import index_records

    folder = asettings.attachments_root / f"retry-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    rel = folder.relative_to(asettings.attachments_root).as_posix()
    gen.text_pdf(folder / "good.pdf", ["A good statement."])
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 truncated in transit")
    rec = parse_record(
        crime(
            907,
            attachments=[
                {"path": f"{rel}/good.pdf", "title": "Good", "kind": "statement"},
                {"path": f"{rel}/broken.pdf", "title": "Broken", "kind": "statement"},
            ],
        )
    )
    first = index_records([rec], asettings, client, refresh=True)
    assert (first.documents, first.documents_failed) == (1, 1)
    ledger = Ledger(asettings.state_dir / "documents.sqlite")
    assert ledger.counts()["failed"] == 1

    # The sender re-sends the file; a retry extracts it (and only it) and indexes it.
    gen.text_pdf(folder / "broken.pdf", ["The re-sent statement mentions YB07 XYZ."])
    assert retry_failed(asettings, client) == 0
    assert ledger.counts()["failed"] == 0
    hits = _search(client, asettings, {"term": {F.document(F.D_PATH): f"{rel}/broken.pdf"}}, OFFICER)
    assert len(hits) == 1
    rows = {r.key.rsplit("/", 1)[-1]: r for r in ledger.rows()}
    assert rows["broken.pdf"].status == "extracted", rows


def test_reload_skips_an_unchanged_record_and_rederives_a_replaced_file(
    asettings: Settings, client: OpenSearch, shared_extractor: Extractor
) -> None:
    """Issue 12's unchanged-row skip with issue 16's documents: the record's content hash
    covers its attached files (size, mtime), so a file replaced at the same path is a change."""
    folder = asettings.attachments_root / f"reload-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    rel = folder.relative_to(asettings.attachments_root).as_posix()
    gen.text_pdf(folder / "mg11.pdf", ["First statement: the car was blue."])
    rec = parse_record(
        crime(908, attachments=[{"path": f"{rel}/mg11.pdf", "title": "MG11", "kind": "statement"}])
    )
    indexer = _indexer(asettings, client, shared_extractor)
    first = indexer.run([Entry(rec)]).result
    assert (first.created, first.documents) == (1, 1)

    again = indexer.run([Entry(rec)]).result
    assert (again.unchanged, again.indexed, again.documents, again.documents_extracted) == (1, 0, 0, 0)

    gen.text_pdf(folder / "mg11.pdf", ["Re-sent statement: the car was YB07 XYZ."])
    replaced = indexer.run([Entry(rec)]).result
    indexer.close()
    assert (replaced.updated, replaced.documents, replaced.documents_extracted) == (1, 1, 1)
    (hit,) = _search(client, asettings, {"term": {F.entity("VRM"): "YB07XYZ"}}, OFFICER)
    assert hit["_source"][F.DOCUMENT][F.D_PARENT_ID] == rec.record_id


def test_a_delete_at_source_removes_the_attached_documents_and_the_kept_copy(
    asettings: Settings, client: OpenSearch, shared_extractor: Extractor
) -> None:
    from indexer.deletion import delete_record
    from indexer.manifest import LinkStore

    open_rec, _ = _records()
    indexer = _indexer(asettings, client, shared_extractor)
    assert indexer.run([Entry(open_rec)]).result.documents == 2
    parent = {"term": {F.document(F.D_PARENT_ID): open_rec.record_id}}
    assert len(_search(client, asettings, parent, CLEARED)) == 2
    assert open_rec.record_id in LinkStore(asettings).parents([open_rec.record_id])

    done = delete_record(
        client, asettings, open_rec.source_system, open_rec.source_id, reason="expunged", by="test"
    )
    assert done.found
    assert _search(client, asettings, parent, CLEARED) == []
    assert _search(client, asettings, VRM_QUERY, CLEARED) == []
    assert LinkStore(asettings).parents([open_rec.record_id]) == {}

    # A reload of the old export brings neither the record nor its documents back.
    again = indexer.run([Entry(open_rec)]).result
    indexer.close()
    assert (again.deleted, again.indexed, again.documents) == (1, 0, 0)
    assert _search(client, asettings, parent, CLEARED) == []
