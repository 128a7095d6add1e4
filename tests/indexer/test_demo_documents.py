"""The demo's documents end to end: generated feeds + statements + scans, loaded into the real
index; an officer finds a VRM that exists only inside a scanned page, on that page, and a
restricted record's scan stays invisible to them."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

from opensearchpy import OpenSearch

from demo.documents import attach_demo_documents
from demo.generator import generate
from documents.pages import page_of
from indexer.documents_cli import load_manifest
from indexer.loader import load_files
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index
from search.access import secure

DEMO_OFFICER = Principal(
    "officer", "PC Olivia Okafor", roles=frozenset({"officer"}), units=frozenset({"RESPONSE"})
)


def test_officer_finds_a_vrm_that_is_only_in_a_scanned_page(
    settings: Settings, client: OpenSearch, tmp_path: Path
) -> None:
    s = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}{uuid.uuid4().hex[:6]}-",
            "state_dir": tmp_path / "state",
            "documents_root": tmp_path / "documents",
            "attachments_root": tmp_path / "attachments",
        }
    )
    feeds = tmp_path / "feeds"
    generate(feeds, 200, 42)
    summary = attach_demo_documents(feeds, s.attachments_root, count=3, seed=42)
    needles = summary["needles"]
    assert isinstance(needles, list) and any(n["restricted"] == "yes" for n in needles)

    # As `make demo` does: the case papers' manifest first (links), then the feeds.
    assert load_manifest(s.attachments_root / "demo-case-papers" / "manifest.csv", s, client) == 0
    report = load_files(sorted(feeds.iterdir()), s, client)
    assert report.result.documents_failed == 0, report.result.problems[:3]
    assert report.result.ocr_pages == len(needles)
    statements = int(str(summary["records_with_documents"]))
    assert report.result.documents == statements + len(needles) + int(str(summary["case_papers"]))

    alias = s.index_name(records_index.NAME)
    client.indices.refresh(index=alias)
    for needle in needles:
        vrm = needle["vrm"].replace(" ", "")
        body = {"query": secure({"term": {F.entity("VRM"): vrm}}, DEMO_OFFICER, date.today())}
        hits = client.search(index=alias, body=body)["hits"]["hits"]
        if needle["restricted"] == "yes":
            assert hits == [], needle
            continue
        assert len(hits) == 1, needle
        src = hits[0]["_source"]
        assert src[F.REFERENCE] == needle["record"] and src[F.DOCUMENT][F.D_KIND] == "scanned_document"
        # Only the document carries it: the record's own search document does not.
        record_hits = [h for h in hits if F.DOCUMENT not in h["_source"]]
        assert record_hits == []
        mention = next(m for m in src[F.MENTIONS] if m["label"] == "VRM" and m["value"] == vrm)
        assert mention["field"] == f"page.{needle['page']}"
        assert page_of(src, src[F.TEXT].find(mention["text"])) == int(needle["page"])
