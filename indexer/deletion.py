"""Deleting a record at source (expunged, disposed of under MoPI review, a duplicate).

Order matters: the tombstone is written first, then the record and whatever was derived
from it are removed. Every writer checks the tombstones before writing and again after
(``indexer.pipeline``), so a load racing with the delete cannot bring the record back,
and neither can a later reload of an old export.

What a delete removes: the record's document (so it leaves search, facets, entity pages,
linked records, exports and the API, which all read the records index), its people from the
nominals that held them (``persons.store.forget_record``), its attached
documents (their own documents in the same index) with the kept copy and manifest links of
the record (``indexer.manifest.LinkStore``), and the alert notifications that point at it.
The tombstone keeps only the ids, the reason, when and by whom: nothing of the record's content.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from opensearchpy import OpenSearch

from indexer.manifest import LinkStore
from lantern import indices
from lantern.records import record_id
from lantern.settings import Settings
from mappings import fields as F
from mappings import notifications as notifications_index
from mappings import records as records_index
from mappings import tombstones as T
from persons import store

log = logging.getLogger(__name__)


class DeleteReasonError(ValueError):
    pass


@dataclass(frozen=True)
class DeleteResult:
    record_id: str
    found: bool  # the record was in the index (False: only the tombstone was written)
    already_deleted: bool  # a tombstone existed before this call
    notifications_removed: int  # match notifications (groups) the record was taken out of


def delete_record(
    client: OpenSearch,
    settings: Settings,
    source_system: str,
    source_id: str,
    *,
    reason: str,
    by: str,
) -> DeleteResult:
    if reason not in T.REASONS:
        raise DeleteReasonError(f"reason must be one of {', '.join(T.REASONS)}, got {reason!r}")
    rid = record_id(source_system, source_id)
    indices.ensure(client, settings, T)
    indices.ensure(client, settings, records_index)
    tombstones = indices.writer_target(settings, T)
    existing = client.get(index=tombstones, id=rid, ignore=[404], _source="false")
    already = bool(existing.get("found"))
    if not already:
        client.index(
            index=tombstones,
            id=rid,
            body={
                T.ID: rid,
                T.SOURCE_SYSTEM: source_system,
                T.SOURCE_ID: source_id,
                T.REASON: reason,
                T.DELETED_AT: datetime.now(UTC).isoformat(),
                T.DELETED_BY: by,
            },
            refresh="wait_for",
        )
    gone = client.delete(
        index=indices.writer_target(settings, records_index), id=rid, ignore=[404], refresh="wait_for"
    )
    found = gone.get("result") == "deleted"
    client.delete_by_query(
        index=indices.writer_target(settings, records_index),
        body={"query": {"term": {F.document(F.D_PARENT_ID): rid}}},
        refresh=True,
        conflicts="proceed",
    )
    LinkStore(settings).forget_record(rid)
    # Its people leave the nominals that held them (persons index), as they left search.
    store.forget_record(client, settings, rid)
    removed = 0
    notifications = indices.read_alias(settings, notifications_index)
    if client.indices.exists(index=notifications):
        # Match notifications are groups: the record leaves each group listing it, and a
        # group left with no record goes (the reader would hide it anyway: nothing readable).
        ids = notifications_index.RECORD_IDS
        res = client.update_by_query(
            index=notifications,
            body={
                "query": {"term": {ids: rid}},
                "script": {
                    "lang": "painless",
                    "source": f"ctx._source.{ids}.removeIf(r -> r == params.rid);"
                    f" if (ctx._source.{ids}.isEmpty()) {{ ctx.op = 'delete'; }}",
                    "params": {"rid": rid},
                },
            },
            refresh=True,
            conflicts="proceed",
        )
        removed = int(res.get("updated", 0)) + int(res.get("deleted", 0))
    log.info("deleted record %s (%s/%s): %s by %s", rid, source_system, source_id, reason, by)
    return DeleteResult(rid, found, already, removed)
