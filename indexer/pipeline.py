"""Validated records -> entity extraction -> search documents -> bulk index, batch by batch.

``index_records`` is the programmatic entry point (tests, other code); the file loader
(``indexer.loader``) drives the same ``BatchIndexer`` with rows read from feed files.

Hooks (e.g. percolating new documents against saved queries) are called with each batch of
documents the cluster acknowledged, after the bulk request and before the batch counts as
done: a hook that fails stops the load, and the batch is replayed when the load resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from opensearchpy import OpenSearch

from indexer.bulk import bulk_index
from indexer.documents import build_document
from lantern import indices
from lantern.observability import INGEST_ROWS
from lantern.records import AnyRecord
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index

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
    rejected: int = 0
    failed: int = 0
    warnings: int = 0
    skipped: int = 0  # rows before a resume checkpoint, not read again
    problems: list[Problem] = field(default_factory=list)
    warning_samples: list[str] = field(default_factory=list)

    def add(self, other: LoadResult) -> None:
        for name in ("read", "indexed", "created", "updated", "rejected", "failed", "warnings", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        room = MAX_KEPT_PROBLEMS - len(self.problems)
        self.problems.extend(other.problems[: max(room, 0)])
        self.warning_samples.extend(other.warning_samples[: max(20 - len(self.warning_samples), 0)])

    @property
    def ok(self) -> bool:
        return self.rejected == 0 and self.failed == 0


@dataclass
class Entry:
    """One validated record with where it came from."""

    record: AnyRecord
    source: str = "(api)"
    line: int = 0


@dataclass
class BatchOutcome:
    result: LoadResult
    problems: list[Problem]
    docs: list[dict[str, Any]]


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
    ) -> None:
        self.settings = settings
        self.client = client
        if index is None:
            indices.ensure(client, settings, records_index)
            index = indices.writer_target(settings, records_index)
        self.index = index
        self.extract_entities = extract_entities
        self.hooks = list(hooks)

    def _mentions(self, entries: Sequence[Entry]) -> list[dict[str, Any]]:
        mentions: list[dict[str, Any]] = [{} for _ in entries]
        if not self.extract_entities:
            return mentions
        from entity_extraction import extract_many

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

    def run(self, entries: Sequence[Entry]) -> BatchOutcome:
        result = LoadResult()
        problems: list[Problem] = []
        if not entries:
            return BatchOutcome(result, problems, [])
        now = datetime.now(UTC)
        docs: dict[str, dict[str, Any]] = {}
        where: dict[str, Entry] = {}
        for entry, mentions in zip(entries, self._mentions(entries), strict=True):
            warnings: list[str] = []
            doc = build_document(entry.record, mentions, warnings=warnings, indexed_at=now)
            for w in warnings:
                result.warnings += 1
                if len(result.warning_samples) < 20:
                    result.warning_samples.append(f"{entry.source}:{entry.line}: {w}")
            # The same record twice in one batch: the later row wins, as it would across batches.
            if doc[F.ID] in where:
                result.updated += 1
                result.indexed += 1
            docs[doc[F.ID]] = doc
            where[doc[F.ID]] = entry
        acked: list[dict[str, Any]] = []
        for item in bulk_index(self.client, self.settings, self.index, docs.values()):
            entry = where[item.doc_id]
            if item.ok:
                result.indexed += 1
                if item.result == "created":
                    result.created += 1
                else:
                    result.updated += 1
                acked.append(docs[item.doc_id])
            else:
                result.failed += 1
                problems.append(
                    Problem(
                        "failed",
                        entry.source,
                        entry.line,
                        [
                            {
                                "loc": "(index)",
                                "msg": f"OpenSearch refused the document: {item.reason}",
                                "status": item.status,
                            }
                        ],
                        raw=entry.record.model_dump(mode="json"),
                        record_id=item.doc_id,
                    )
                )
        for hook in self.hooks:
            hook(acked)
        return BatchOutcome(result, problems, acked)


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
) -> LoadResult:
    """Index validated records into the records index (created if missing) and return counts.

    ``refresh=True`` makes the documents searchable before returning (tests, small loads).
    """
    indexer = BatchIndexer(settings, client, index=index, extract_entities=extract_entities, hooks=hooks)
    total = LoadResult()
    for chunk in batched(records, settings.bulk_chunk_size):
        total.read += len(chunk)
        outcome = indexer.run([Entry(r) for r in chunk])
        outcome.result.problems = outcome.problems
        total.add(outcome.result)
        INGEST_ROWS.labels("indexed").inc(outcome.result.indexed)
        INGEST_ROWS.labels("rejected").inc(outcome.result.rejected)
        INGEST_ROWS.labels("failed").inc(outcome.result.failed)
    if refresh:
        client.indices.refresh(index=indexer.index)
    return total
