"""Validated records -> entity extraction -> search documents -> bulk index, batch by batch.

``index_records`` is the programmatic entry point (tests, other code); the file loader
(``indexer.loader``) drives the same ``BatchIndexer`` with rows read from feed files.

Hooks (e.g. percolating new documents against saved queries) are called with each batch of
documents the cluster acknowledged, after the bulk request and before the batch counts as
done: a hook that fails stops the load, and the batch is replayed when the load resumes.

Before anything is extracted or written, one ``mget`` per batch reads what the index and
the tombstones already hold for the batch's ids, and each entry ends as one of:

- ``deleted``: the record was deleted at source (a tombstone); never written again;
- ``stale``: the index holds a newer version (source last-modified time); ignored;
- ``unchanged``: same content hash as the indexed document; no NER, no write;
- ``created`` / ``updated``: written with ``version_type=external_gte`` and the source's
  last-modified time as version, so a write that loses a race to a newer one is refused by
  the engine (and counted as ``stale``) rather than rolling the record back. When only
  non-text fields changed, the stored entity mentions are reused instead of running NER.

Attached documents (``indexer.attachments``) are derived only for records that are written:
an unchanged, stale or deleted record keeps (or has lost) its documents as they are.
``lantern documents retry`` and manifests re-index with ``force`` to re-derive them.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from opensearchpy import OpenSearch

from indexer.attachments import AttachmentStage
from indexer.bulk import bulk_index
from indexer.documents import add_places, build_document, content_hash, mentions_from_doc, text_hash
from indexer.manifest import LinkStore, with_links
from lantern import gazetteer, indices
from lantern.observability import INGEST_ROWS
from lantern.profile import ForceProfile, active_profile
from lantern.records import AnyRecord
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index
from mappings import tombstones as tombstones_index
from persons.features import mentions_from_record

log = logging.getLogger(__name__)

Hook = Callable[[list[dict[str, Any]]], None]
MAX_KEPT_PROBLEMS = 1000


@dataclass
class Problem:
    """A row that was not indexed: rejected (validation) or failed (the engine refused it)."""

    kind: str  # "rejected" | "failed"
    source: str
    line: int
    errors: list[dict[str, Any]]
    raw: Any = None
    record_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "line": self.line, "kind": self.kind}
        if self.record_id:
            out["id"] = self.record_id
        out["errors"] = self.errors
        out["raw"] = self.raw
        return out


@dataclass
class LoadResult:
    read: int = 0
    indexed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0  # same content as indexed: nothing extracted or written
    stale: int = 0  # older than the indexed version: ignored
    deleted: int = 0  # deleted at source (tombstone): ignored
    ner_reused: int = 0  # written with the stored mentions (only non-text fields changed)
    rejected: int = 0
    failed: int = 0
    warnings: int = 0
    skipped: int = 0  # rows before a resume checkpoint, not read again
    # Attached documents: indexed, failed (in the rejects file with their reason), pages, OCR'd
    # pages, and how many were extracted now rather than taken from the text cache.
    documents: int = 0
    documents_failed: int = 0
    document_pages: int = 0
    ocr_pages: int = 0
    documents_extracted: int = 0
    problems: list[Problem] = field(default_factory=list)
    warning_samples: list[str] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = MAX_KEPT_PROBLEMS - len(self.problems)
        self.problems.extend(other.problems[: max(room, 0)])
        self.warning_samples.extend(other.warning_samples[: max(20 - len(self.warning_samples), 0)])

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0 and self.documents_failed == 0


# The per-record counts, in the order the load summary prints them.
RECORD_COUNTERS = (
    "read",
    "indexed",
    "created",
    "updated",
    "unchanged",
    "stale",
    "deleted",
    "ner_reused",
    "rejected",
    "failed",
    "warnings",
)
COUNTERS = (
    *RECORD_COUNTERS,
    "skipped",
    "documents",
    "documents_failed",
    "document_pages",
    "ocr_pages",
    "documents_extracted",
)
# Person resolution at ingest: new mentions in, mention id -> nominal id out (persons.store).
PeopleResolver = Callable[[list[Any]], dict[str, str]]


@dataclass
class Entry:
    """One validated record with where it came from.

    ``force``: write even if unchanged (a batch replayed after a crash, whose hooks may not
    have run).
    """

    record: AnyRecord
    source: str = "(api)"
    line: int = 0
    force: bool = False


@dataclass
class BatchOutcome:
    result: LoadResult
    problems: list[Problem]
    docs: list[dict[str, Any]]
    # One status per entry, in entry order: created | updated | unchanged | stale | deleted | failed
    statuses: list[str] = field(default_factory=list)
    errors: list[list[dict[str, Any]]] = field(default_factory=list)


@dataclass
class _Known:
    """What the index already holds for one id."""

    version: int | None = None
    content_hash: str | None = None
    ner_text_hash: str | None = None
    tombstoned: bool = False


class BatchIndexer:
    """Turns batches of entries into indexed documents; one instance per load."""

    def __init__(
        self,
        settings: Settings,
        client: OpenSearch,
        *,
        index: str | None = None,
        extract_entities: bool = True,
        hooks: Sequence[Hook] = (),
        attachments: AttachmentStage | None = None,
        profile: ForceProfile | None = None,
        skip_unchanged: bool = True,
        people_resolver: PeopleResolver | None = None,
    ) -> None:
        self.settings = settings
        self.people_resolver = people_resolver
        self.client = client
        if index is None:
            indices.ensure(client, settings, records_index)
            index = indices.writer_target(settings, records_index)
        self.index = index
        indices.ensure(client, settings, tombstones_index)
        self.tombstones = indices.read_alias(settings, tombstones_index)
        self.extract_entities = extract_entities
        self.hooks = list(hooks)
        self.profile = profile or active_profile()
        self._places_stamp: str | None = None
        self.skip_unchanged = skip_unchanged
        # Created on first use: a load without attachments never starts the Tika JVM.
        self._attachments = attachments
        self.links = LinkStore(settings)

    @property
    def attachments(self) -> AttachmentStage:
        if self._attachments is None:
            self._attachments = AttachmentStage(self.settings, self.client, self.index, self.extract_entities)
        return self._attachments

    def close(self) -> None:
        if self._attachments is not None:
            self._attachments.close()

    def _mentions(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        """Entity extraction for ``entries`` (those whose text changed): field -> entities."""
        from entity_extraction import extract_many

        mentions: list[dict[str, Any]] = [{} for _ in entries]
        texts: list[str] = []
        owners: list[tuple[int, str]] = []
        for k, entry in enumerate(entries):
            for name, text in entry.record.free_text().items():
                texts.append(text)
                owners.append((k, name))
        if not texts:
            return mentions
        found = extract_many(
            texts, batch_size=self.settings.ner_batch_size, n_process=self.settings.ner_processes
        )
        for (k, name), ents in zip(owners, found, strict=True):
            mentions[k][name] = ents
        return mentions

    def _content_hash(self, record: AnyRecord) -> str:
        """The record's content hash, and for a record with attachments the size and mtime of
        each attached file too: a file replaced at the same path (or one that appears after
        it was missing) is a change, so its documents are derived again."""
        h = content_hash(record, self.profile)
        # A record's places come from the gazetteer too: a gazetteer loaded (or reloaded) since
        # the record was indexed is a change, so the next load gives it its points.
        if self._places_stamp is None:
            self._places_stamp = gazetteer.stamp(self.client, self.settings)
        if self._places_stamp:
            h = hashlib.sha256(f"{h}:{self._places_stamp}".encode()).hexdigest()
        if not record.attachments:
            return h
        files: list[Any] = []
        for att in record.attachments:
            path = self.attachments.extractor.resolve(att)
            try:
                st = path.stat() if path is not None else None
            except OSError:
                st = None
            files.append([att.path, st.st_size, st.st_mtime_ns] if st is not None else [att.path])
        payload = json.dumps([h, files], separators=(",", ":"))
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def _known(self, ids: Sequence[str]) -> dict[str, _Known]:
        """What the records index (behind the write alias) and the tombstones hold for ``ids``."""
        known = {i: _Known() for i in ids}
        # Hashes only: the (larger) mentions are fetched later, for the rows that need them.
        fields = [F.CONTENT_HASH, F.NER_TEXT_HASH]
        got = self.client.mget(index=self.index, body={"ids": list(ids)}, _source_includes=",".join(fields))
        for doc in got.get("docs", []):
            if doc.get("found"):
                src = doc.get("_source") or {}
                k = known[doc["_id"]]
                k.version = doc.get("_version")
                k.content_hash = src.get(F.CONTENT_HASH)
                k.ner_text_hash = src.get(F.NER_TEXT_HASH)
        for doc_id in self._tombstoned(ids):
            known[doc_id].tombstoned = True
        return known

    def _stored_mentions(self, ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        if not ids:
            return {}
        got = self.client.mget(index=self.index, body={"ids": list(ids)}, _source_includes=F.MENTIONS)
        return {
            d["_id"]: (d.get("_source") or {}).get(F.MENTIONS) or [] for d in got["docs"] if d.get("found")
        }

    def _tombstoned(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        got = self.client.mget(index=self.tombstones, body={"ids": list(ids)}, _source="false")
        return {d["_id"] for d in got.get("docs", []) if d.get("found")}

    def run(self, entries: Sequence[Entry]) -> BatchOutcome:
        result = LoadResult()
        problems: list[Problem] = []
        if not entries:
            return BatchOutcome(result, problems, [])
        now = datetime.now(UTC)
        # Files linked to these records by a document manifest travel with them on every load
        # (before the content hash: a new link is a change).
        links = self.links.links_for([e.record.record_id for e in entries])
        if links:
            entries = [
                Entry(with_links(e.record, links[e.record.record_id]), e.source, e.line, e.force)
                if e.record.record_id in links
                else e
                for e in entries
            ]
        # The same record twice in one batch: the later row wins, as it would across batches.
        last: dict[str, int] = {}
        for k, entry in enumerate(entries):
            last[entry.record.record_id] = k
        statuses: list[str] = ["superseded"] * len(entries)
        errors: list[list[dict[str, Any]]] = [[] for _ in entries]
        known = self._known(list(last))

        to_write: list[int] = []
        hashes: dict[int, str] = {}
        for doc_id, k in last.items():
            entry, seen = entries[k], known[doc_id]
            if seen.tombstoned:
                statuses[k] = "deleted"
                continue
            if seen.version is not None and seen.version > entry.record.version:
                statuses[k] = "stale"
                continue
            hashes[k] = self._content_hash(entry.record)
            unchanged = seen.content_hash == hashes[k] and (not self.extract_entities or seen.ner_text_hash)
            if unchanged and self.skip_unchanged and not entry.force:
                statuses[k] = "unchanged"
                continue
            to_write.append(k)

        mentions: dict[int, Any] = {}
        if self.extract_entities:
            need: list[int] = []
            reuse: list[int] = []
            for k in to_write:
                seen = known[entries[k].record.record_id]
                if seen.ner_text_hash is not None and seen.ner_text_hash == text_hash(entries[k].record):
                    reuse.append(k)
                else:
                    need.append(k)
            stored = self._stored_mentions([entries[k].record.record_id for k in reuse])
            for k in reuse:
                found = stored.get(entries[k].record.record_id)
                if found is None:  # gone since the first look: extract after all
                    need.append(k)
                else:
                    mentions[k] = mentions_from_doc(found)
                    result.ner_reused += 1
            for k, extracted in zip(need, self._mentions([entries[k] for k in need]), strict=True):
                mentions[k] = extracted

        docs: dict[str, dict[str, Any]] = {}
        where: dict[str, int] = {}
        nominals: dict[str, str] | None = None
        if self.people_resolver is not None and to_write:
            # Resolved before the documents are built, so each person is indexed with its nominal.
            # Only records being written: an unchanged, stale or deleted one is not resolved again.
            nominals = self.people_resolver(
                [m for k in to_write for m in mentions_from_record(entries[k].record)]
            )
        for k in to_write:
            entry = entries[k]
            warnings: list[str] = []
            doc = build_document(
                entry.record,
                mentions.get(k),
                warnings=warnings,
                indexed_at=now,
                profile=self.profile,
                nominals=nominals,
            )
            for w in warnings:
                result.warnings += 1
                if len(result.warning_samples) < 20:
                    result.warning_samples.append(f"{entry.source}:{entry.line}: {w}")
            doc[F.CONTENT_HASH] = hashes[k]
            docs[doc[F.ID]] = doc
            where[doc[F.ID]] = k
        # Places: one gazetteer lookup for the whole batch; postcodes it lacks stay on the record
        # as unlocated (shown as such on the map), never a reason to reject the record.
        postcodes = {pc for d in docs.values() for pc in d.get(F.ENTITIES, {}).get("postcode", [])}
        places = gazetteer.points(self.client, self.settings, postcodes) if postcodes else {}
        for d in docs.values():
            add_places(d, places)
        # Attached documents: extracted (or cached) text, each its own search document carrying
        # a copy of its record's access fields. Derived for every written record, even one
        # without attachments: a record that lost its last attachment must lose that document
        # too. Tika starts only when one is extracted.
        parents = [(k, docs[entries[k].record.record_id]) for k in to_write]
        stage = self.attachments
        outcome_docs = stage.documents([(entries[k].record, d) for k, d in parents])
        by_record = {entries[k].record.record_id: k for k, _ in parents}
        stats = outcome_docs.batch
        result.documents_extracted += stats.extracted
        result.document_pages += stats.pages
        result.ocr_pages += stats.ocr_pages
        for f in stats.failures:
            entry = entries[by_record[f.record.record_id]]
            result.documents_failed += 1
            problems.append(
                Problem(
                    "document_failed",
                    entry.source,
                    entry.line,
                    [{"loc": f"attachments[{f.index}]", "msg": f.message, "code": f.code, "path": f.key}],
                    raw=f.attachment.model_dump(mode="json"),
                    record_id=f.record.record_id,
                )
            )

        def refused(k: int, kind: str, doc_id: str, item: Any) -> list[dict[str, Any]]:
            errs = [
                {
                    "loc": "(index)",
                    "msg": f"OpenSearch refused the document: {item.reason}",
                    "status": item.status,
                }
            ]
            entry = entries[k]
            problems.append(
                Problem(
                    kind,
                    entry.source,
                    entry.line,
                    errs,
                    raw=entry.record.model_dump(mode="json"),
                    record_id=doc_id,
                )
            )
            return errs

        # The records first, with their source versions; then the documents of the records that
        # were written: a record that lost a version race must not leave its older documents.
        versions = {doc_id: entries[k].record.version for doc_id, k in where.items()}
        acked: list[dict[str, Any]] = []
        for item in bulk_index(self.client, self.settings, self.index, docs.values(), versions=versions):
            k = where[item.doc_id]
            if item.ok:
                statuses[k] = "created" if item.result == "created" else "updated"
                acked.append(docs[item.doc_id])
            elif item.result == "stale":
                statuses[k] = "stale"  # a newer version landed between the mget and the write
            else:
                statuses[k] = "failed"
                errors[k] = refused(k, "failed", item.doc_id, item)
        written_parents = [d[F.ID] for k, d in parents if statuses[k] in ("created", "updated")]
        written_ids = set(written_parents)
        # The kept copies follow what was written (an unchanged record's copy is already current).
        written = [entries[k].record for k, d in parents if d[F.ID] in written_ids]
        self.links.save_parents([r for r in written if r.attachments])
        self.links.forget_parents([r.record_id for r in written if not r.attachments])
        attached = {
            doc_id: (att_doc, by_record[parent_id])
            for doc_id, (att_doc, parent_id) in outcome_docs.docs.items()
            if parent_id in written_ids
        }
        kept: set[str] = set()
        if attached:
            att_docs = [d for d, _ in attached.values()]
            for item in bulk_index(self.client, self.settings, self.index, att_docs):
                att_doc, k = attached[item.doc_id]
                if item.ok:
                    result.documents += 1
                    kept.add(item.doc_id)
                    acked.append(att_doc)
                else:
                    result.documents_failed += 1
                    refused(k, "document_failed", item.doc_id, item)
        # Documents no longer attached, or whose extraction now fails, must not outlive the
        # markings they were indexed with.
        stage.remove_stale(written_parents, keep=kept)
        # A delete that landed while this batch was in flight: its tombstone was written
        # before the record was removed, so whatever this batch wrote for it goes again.
        late = self._tombstoned(written_parents)
        if late:
            for doc_id in late:
                self.client.delete(index=self.index, id=doc_id, ignore=[404])
                statuses[where[doc_id]] = "deleted"
            stage.remove_stale(sorted(late), keep=set())
            self.links.forget_parents(sorted(late))
            acked = [d for d in acked if d[F.ID] not in late and _parent(d) not in late]
        for k, status in enumerate(statuses):
            if status == "superseded":
                # The earlier row of a record repeated in the batch: overwritten by the later.
                status = statuses[last[entries[k].record.record_id]]
                status = "updated" if status in ("created", "updated") else status
                statuses[k] = status
            if status in ("created", "updated"):
                result.indexed += 1
            if status in ("created", "updated", "unchanged", "stale", "deleted", "failed"):
                setattr(result, status, getattr(result, status) + 1)
        for hook in self.hooks:
            hook(acked)
        return BatchOutcome(result, problems, acked, statuses, errors)


def _parent(doc: dict[str, Any]) -> str | None:
    """The record an attached document belongs to (None for a record's own document)."""
    parent = (doc.get(F.DOCUMENT) or {}).get(F.D_PARENT_ID)
    return str(parent) if parent else None


def batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def index_records(
    records: Iterable[AnyRecord],
    settings: Settings,
    client: OpenSearch,
    *,
    extract_entities: bool = True,
    refresh: bool = False,
    hooks: Sequence[Hook] = (),
    index: str | None = None,
    profile: ForceProfile | None = None,
    people_resolver: PeopleResolver | None = None,
) -> LoadResult:
    """Index validated records into the records index (created if missing) and return counts.

    ``refresh=True`` makes the documents searchable before returning (tests, small loads).
    """
    indexer = BatchIndexer(
        settings,
        client,
        index=index,
        extract_entities=extract_entities,
        hooks=hooks,
        profile=profile,
        people_resolver=people_resolver,
    )
    total = LoadResult()
    try:
        for chunk in batched(records, settings.bulk_chunk_size):
            total.read += len(chunk)
            outcome = indexer.run([Entry(r) for r in chunk])
            outcome.result.problems = outcome.problems
            total.add(outcome.result)
            INGEST_ROWS.labels("indexed").inc(outcome.result.indexed)
            INGEST_ROWS.labels("rejected").inc(outcome.result.rejected)
            INGEST_ROWS.labels("failed").inc(outcome.result.failed)
    finally:
        indexer.close()
    if refresh:
        client.indices.refresh(index=indexer.index)
    return total
