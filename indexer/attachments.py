"""Attachments on records -> extracted text -> search documents that inherit the record's access.

Decision: each attached document is its own document in the records index (not a
parent/child join). It carries the parent record's id (``document.parent_id``) and a COPY of
every access field of the record's own search document, taken from that document as it is
built in the same batch, so:

- the one access filter and the one records gateway cover documents with no code path of their
  own (a join would need ``has_parent`` queries in every read path, and a child is routed to
  its parent's shard, which the access filter knows nothing about);
- the markings are re-derived every time the record is indexed (extracted text is cached by
  content hash, so that costs no OCR), and a document whose extraction now fails, or that is
  no longer attached, is deleted rather than left behind with stale markings.

Any field whose name starts with ``access_`` is copied, plus the review date and the record's
identity/dates/original: a new access field added to the record document is inherited without
a change here (a test checks the two documents agree on every access field).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch

from documents.cache import TextCache
from documents.extract import ExtractedDocument, Extractor
from documents.ledger import Ledger
from documents.pages import page_field
from documents.store import sha256_file
from entity_extraction.names import person_display
from lantern.records import AnyRecord, Attachment, attachment_id
from lantern.settings import Settings
from mappings import fields as F

log = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
# Identity, dates and classification shown with a hit, copied from the record document.
_INHERITED = (
    F.RECORD_TYPE,
    F.SOURCE_SYSTEM,
    F.SOURCE_ID,
    F.REFERENCE,
    F.RECORD_DATE,
    F.CREATED_AT,
    F.UPDATED_AT,
    F.STATION,
    F.COURT,
    F.BOROUGH,
    F.UNIT,
    F.STATUS,
    F.OUTCOME,
    F.GRADING,
    F.SOURCE_EVALUATION,
    F.INTEL_ASSESSMENT,
    F.REVIEW_DATE,
    F.RECORD,
)


def inherited_fields(record_doc: dict[str, Any]) -> dict[str, Any]:
    """What an attached document copies from its record's search document (access: all of it)."""
    out = {k: v for k, v in record_doc.items() if k in _INHERITED or k.startswith("access_")}
    out[F.ACCESS_SENSITIVITY_COUNT] = record_doc[F.ACCESS_SENSITIVITY_COUNT]
    return out


@dataclass
class AttachedDocument:
    """One extracted document of one record (a zip attachment gives several)."""

    record: AnyRecord
    attachment: Attachment
    index: int  # position in record.attachments
    key: str  # attachment path, or "path!member" for a zip member
    doc: ExtractedDocument

    @property
    def doc_id(self) -> str:
        return attachment_id(self.record.record_id, self.key)


def build_attachment_document(
    record_doc: dict[str, Any],
    item: AttachedDocument,
    page_mentions: Sequence[Sequence[Any]] | None = None,
    indexed_at: datetime | None = None,
) -> dict[str, Any]:
    """The records-index document for one extracted attachment.

    ``page_mentions[i]`` holds the entities found in page ``i + 1`` (offsets within the page).
    """
    doc = item.doc
    pages_meta: list[dict[str, Any]] = []
    texts: list[str] = []
    offset = 0
    for page in doc.pages:
        if texts:
            offset += len(PAGE_SEPARATOR)
        pages_meta.append(
            {"n": page.number, "start": offset, "end": offset + len(page.text), "ocr": page.ocr}
        )
        texts.append(page.text)
        offset += len(page.text)

    entities: dict[str, dict[str, None]] = {}
    mentions: list[dict[str, Any]] = []
    for page, found in zip(doc.pages, page_mentions or [], strict=False):
        for ent in found:
            value = person_display(ent.value) if ent.label == "PERSON" else ent.value
            if ent.label in F.ENTITY_LABELS and value:
                entities.setdefault(ent.label.lower(), {})[value] = None
            mentions.append(
                {
                    "field": page_field(page.number),
                    "label": ent.label,
                    "start": ent.start,
                    "end": ent.end,
                    "text": ent.text,
                    "value": value,
                }
            )
    name = item.key.rsplit("!", 1)[-1].rsplit("/", 1)[-1]
    title = item.attachment.title if "!" not in item.key else f"{item.attachment.title}: {name}"
    out: dict[str, Any] = {
        **inherited_fields(record_doc),
        F.ID: item.doc_id,
        F.TITLE: title,
        F.TEXT: PAGE_SEPARATOR.join(texts) or None,
        F.INDEXED_AT: (indexed_at or datetime.now(UTC)).isoformat(),
        F.ENTITIES: {label: list(values) for label, values in entities.items()},
        F.MENTIONS: mentions,
        F.DOCUMENT: {
            F.D_PARENT_ID: record_doc[F.ID],
            F.D_DIGEST: doc.digest,
            F.D_PATH: item.key,
            F.D_NAME: name,
            F.D_TITLE: title,
            F.D_KIND: item.attachment.kind.value,
            F.D_CONTENT_TYPE: doc.content_type,
            F.D_STATUS: doc.status,
            F.D_PAGE_COUNT: len(doc.pages),
            F.D_OCR_PAGES: doc.ocr_pages,
            F.D_PAGES: pages_meta,
        },
    }
    return {k: v for k, v in out.items() if v is not None and v != {} and v != []}


# --------------------------------------------------------------------------- extraction


@dataclass
class AttachmentFailure:
    record: AnyRecord
    attachment: Attachment
    index: int
    key: str
    code: str
    message: str


@dataclass
class ExtractionBatch:
    documents: list[AttachedDocument] = field(default_factory=list)
    failures: list[AttachmentFailure] = field(default_factory=list)
    extracted: int = 0  # run through Tika/OCR in this batch
    cached: int = 0  # taken from the text cache
    pages: int = 0
    ocr_pages: int = 0
    seconds: float = 0.0


class AttachmentExtractor:
    """Resolves attachment paths, extracts (or reuses cached text) and records status.

    The Tika JVM starts on the first attachment that needs it, and ``close()`` stops it.
    """

    def __init__(self, settings: Settings, extractor: Extractor | None = None) -> None:
        self.settings = settings
        self.root = settings.attachments_root.resolve()
        self._extractor = extractor
        self._owned = extractor is None  # a shared extractor is closed by whoever made it
        self.cache = TextCache(settings.documents_root)
        self.ledger = Ledger(settings.state_dir / "documents.sqlite")

    @property
    def extractor(self) -> Extractor:
        if self._extractor is None:
            self._extractor = Extractor.from_settings(self.settings)
            self._extractor.tika.start()
        return self._extractor

    def close(self) -> None:
        if self._extractor is not None and self._owned:
            self._extractor.close()
            self._extractor = None

    def resolve(self, attachment: Attachment) -> Path | None:
        path = (self.root / attachment.path).resolve()
        # A symlink inside the root may still point out of it.
        if not path.is_relative_to(self.root):
            return None
        return path

    def run(self, records: Sequence[AnyRecord], retry_failed_only: bool = False) -> ExtractionBatch:
        started = time.monotonic()
        batch = ExtractionBatch()
        todo: list[tuple[AnyRecord, int, Attachment, Path, str]] = []
        failed_sources = set(self.ledger.failed_sources()) if retry_failed_only else None
        for record in records:
            for i, att in enumerate(record.attachments):
                source_key = f"{record.record_id}:{att.path}"
                path = self.resolve(att)
                if path is None or not path.is_file():
                    why = "is outside the attachments root" if path is None else "does not exist"
                    batch.failures.append(
                        AttachmentFailure(record, att, i, att.path, "missing", f"{att.path} {why}")
                    )
                    self._ledger_failure(source_key, record, att, "missing", f"{att.path} {why}")
                    continue
                if failed_sources is not None and source_key not in failed_sources:
                    continue
                cached = self.cache.get(sha256_file(path))
                if cached is not None:
                    batch.cached += 1
                    self._add(batch, record, i, att, cached)
                    continue
                self.ledger.queue(source_key, source_key, att.path, record.record_id)
                todo.append((record, i, att, path, source_key))
        if todo:
            items = [(path, Path(att.path).name) for _r, _i, att, path, _k in todo]
            results = self.extractor.extract_many(items, workers=self.settings.ocr_workers)
            for (record, i, att, path, source_key), (_item, docs) in zip(todo, results, strict=True):
                batch.extracted += 1
                for d in docs:
                    key = source_key if d.member is None else f"{source_key}!{d.member}"
                    self.ledger.record(key, source_key, d, record.record_id)
                if all(d.status != "failed" for d in docs):
                    self.cache.put(sha256_file(path), docs)
                self._add(batch, record, i, att, docs)
        batch.seconds = time.monotonic() - started
        return batch

    def _ledger_failure(self, key: str, record: AnyRecord, att: Attachment, code: str, message: str) -> None:
        doc = ExtractedDocument(name=att.path, digest=None, status="failed", error_code=code, error=message)  # type: ignore[arg-type]
        self.ledger.record(key, key, doc, record.record_id)

    @staticmethod
    def _add(
        batch: ExtractionBatch, record: AnyRecord, i: int, att: Attachment, docs: list[ExtractedDocument]
    ) -> None:
        for d in docs:
            key = att.path if d.member is None else f"{att.path}!{d.member}"
            if d.status == "failed":
                batch.failures.append(
                    AttachmentFailure(record, att, i, key, d.error_code or "internal", d.error or "failed")
                )
                continue
            batch.documents.append(AttachedDocument(record, att, i, key, d))
            batch.pages += len(d.pages)
            batch.ocr_pages += d.ocr_pages


# ------------------------------------------------------------------------------ the stage


@dataclass
class StageOutcome:
    docs: dict[str, tuple[dict[str, Any], str]]  # doc id -> (search document, parent record id)
    batch: ExtractionBatch


class AttachmentStage:
    """The attachment step of one load: extract, find entities per page, build documents."""

    def __init__(
        self,
        settings: Settings,
        client: OpenSearch,
        index: str,
        extract_entities: bool = True,
        extractor: AttachmentExtractor | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.index = index
        self.extract_entities = extract_entities
        self.extractor = extractor or AttachmentExtractor(settings)

    def close(self) -> None:
        self.extractor.close()

    def documents(self, parents: Sequence[tuple[AnyRecord, dict[str, Any]]]) -> StageOutcome:
        with_attachments = [(r, d) for r, d in parents if r.attachments]
        if not with_attachments:
            return StageOutcome({}, ExtractionBatch())
        batch = self.extractor.run([r for r, _ in with_attachments])
        record_docs = {d[F.ID]: d for _, d in with_attachments}
        mentions = self._page_mentions(batch.documents)
        now = datetime.now(UTC)
        out: dict[str, tuple[dict[str, Any], str]] = {}
        for item, found in zip(batch.documents, mentions, strict=True):
            parent = record_docs[item.record.record_id]
            out[item.doc_id] = (build_attachment_document(parent, item, found, now), item.record.record_id)
        return StageOutcome(out, batch)

    def _page_mentions(self, items: Sequence[AttachedDocument]) -> list[list[list[Any]]]:
        if not self.extract_entities or not items:
            return [[[] for _ in item.doc.pages] for item in items]
        from entity_extraction import extract_many

        texts = [page.text for item in items for page in item.doc.pages]
        found = list(
            extract_many(
                texts, batch_size=self.settings.ner_batch_size, n_process=self.settings.ner_processes
            )
        )
        out: list[list[list[Any]]] = []
        k = 0
        for item in items:
            out.append([list(found[k + j]) for j in range(len(item.doc.pages))])
            k += len(item.doc.pages)
        return out

    def remove_stale(self, parent_ids: Sequence[str], keep: set[str]) -> int:
        """Delete attached documents of these records that this load did not (re)index."""
        if not parent_ids:
            return 0
        query: dict[str, Any] = {
            "bool": {
                "filter": [{"terms": {F.document(F.D_PARENT_ID): list(parent_ids)}}],
                "must_not": [{"ids": {"values": sorted(keep)}}] if keep else [],
            }
        }
        resp = self.client.delete_by_query(
            index=self.index, body={"query": query}, conflicts="proceed", refresh=False, slices=1
        )
        return int(resp.get("deleted", 0))
