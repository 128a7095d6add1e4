"""Per-record disclosure log: which user was shown which record id, when, for what purpose.

The audit chain holds every disclosed id too (``shown_ids`` of the event, or of its manifest
chunks for bulk actions), tamper-evident but awkward to query by record; this index holds one
document per (event, record id) so "who has seen record X" is a term query. Documents are
idempotent (``_id`` = ``<audit seq>:<record id>``, or ``job:<job id>:<record id>`` for a background
job's manifests), so a retried write never double counts; they are written with
``op_type=create`` (the index is append-only) and a conflict means the document is already there.

Fail closed like the audit chain: if the disclosures cannot be written, ``AuditUnavailable``
is raised and the caller must not show the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException
from opensearchpy.helpers import BulkIndexError, bulk

from lantern.errors import AuditUnavailable
from lantern.indices import ensure_once, writer_target
from lantern.search_client import request_write_params
from lantern.settings import Settings
from mappings import disclosures as D

# Actions whose ``target.id`` is a record shown in full (the record page, the API's record).
RECORD_TARGET_ACTIONS = frozenset({"record.view", "api.record.view"})
# Bulk actions write their ids in manifest events of at most this many ids each.
MANIFEST_CHUNK = 1000


def disclosed_ids(event: Mapping[str, Any]) -> list[str]:
    """The record ids an audit event says were shown to its user."""
    if event.get("outcome") not in (None, "success"):
        return []
    ids = [str(i) for i in event.get("shown_ids") or [] if i]
    target = event.get("target") or {}
    if event.get("action") in RECORD_TARGET_ACTIONS and isinstance(target, dict) and target.get("id"):
        ids.append(str(target["id"]))
    return list(dict.fromkeys(ids))


def _disclosure_key(event: Mapping[str, Any]) -> str:
    """What a disclosure document's id is keyed on besides the record id: the audit event, or
    for a background job's manifest the job, so a job discloses each record once however
    many times a worker records a chunk again (a takeover racing a worker that hung)."""
    target = event.get("target") or {}
    job = target.get("job") if isinstance(target, dict) else None
    if job and str(event.get("action") or "").endswith(".manifest"):
        return f"job:{job}"
    return str(event["seq"])


UNWRITTEN = "Action refused: the disclosure log cannot be written just now, so nothing was shown."


def _status(error: Mapping[str, Any]) -> int:
    item: Any = next(iter(error.values()), None)
    return int(item.get("status", 0)) if isinstance(item, dict) else 0


class DisclosureLog:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name(D.NAME)
        self.write_index = writer_target(settings, D)

    def write(self, event: Mapping[str, Any]) -> int:
        """Index one document per id the (already appended) audit ``event`` disclosed."""
        ids = disclosed_ids(event)
        if not ids:
            return 0
        key = _disclosure_key(event)
        actions = [
            {
                "_op_type": "create",
                "_index": self.write_index,
                "_id": f"{key}:{rid}",
                "_source": {
                    D.RECORD_ID: rid,
                    D.USER: event.get("user"),
                    D.TS: event.get("ts"),
                    D.ACTION: event.get("action"),
                    D.AUDIT_SEQ: event.get("seq"),
                    D.PURPOSE_CODE: event.get("purpose_code"),
                    D.PURPOSE_REFERENCE: event.get("purpose_reference"),
                    D.CLIENT: event.get("client"),
                    D.SESSION: event.get("session"),
                },
            }
            for rid in ids
        ]
        try:
            ensure_once(self.client, self.settings, [D])
            _, errors = bulk(
                self.client,
                actions,
                chunk_size=MANIFEST_CHUNK,
                raise_on_error=False,
                **request_write_params(self.settings),
            )
        except (OpenSearchException, BulkIndexError, OSError) as exc:
            raise AuditUnavailable(UNWRITTEN) from exc
        # 409: written by an earlier try of the same event (same id, same content).
        failed = [e for e in errors if isinstance(e, dict) and _status(e) != 409]
        if failed:
            raise AuditUnavailable(UNWRITTEN) from BulkIndexError(
                f"{len(failed)} disclosure(s) failed", failed
            )
        return len(ids)

    def refresh(self) -> None:
        ensure_once(self.client, self.settings, [D])
        self.client.indices.refresh(index=self.index)

    def who_saw(self, record_ids: Sequence[str], *, size: int = 200) -> list[dict[str, Any]]:
        """Per user: how many disclosures of these records, by which actions, purposes, and when last."""
        if not record_ids:
            return []
        self.refresh()
        res = self.client.search(
            index=self.index,
            body={
                "size": 0,
                "query": {"terms": {D.RECORD_ID: list(record_ids)}},
                "aggs": {
                    "users": {
                        "terms": {"field": D.USER, "size": size},
                        "aggs": {
                            "last": {"max": {"field": D.TS}},
                            "actions": {"terms": {"field": D.ACTION, "size": 20}},
                            "purposes": {
                                "terms": {"field": D.PURPOSE_CODE, "size": 10},
                                "aggs": {"refs": {"terms": {"field": D.PURPOSE_REFERENCE, "size": 10}}},
                            },
                            "seqs": {"terms": {"field": D.AUDIT_SEQ, "size": 20, "order": {"_key": "desc"}}},
                        },
                    }
                },
            },
        )
        out = []
        for b in res["aggregations"]["users"]["buckets"]:
            out.append(
                {
                    "user": b["key"],
                    "count": b["doc_count"],
                    "last": b["last"].get("value_as_string"),
                    "actions": {a["key"]: a["doc_count"] for a in b["actions"]["buckets"]},
                    "purposes": [
                        {"code": p["key"], "refs": [r["key"] for r in p["refs"]["buckets"]]}
                        for p in b["purposes"]["buckets"]
                    ],
                    "audit_seqs": [int(s["key"]) for s in b["seqs"]["buckets"]],
                }
            )
        return out

    def count(self, *, user: str, actions: Iterable[str], since: datetime) -> int:
        """Disclosures to ``user`` by ``actions`` since ``since`` (the export quota reads this)."""
        self.refresh()
        res = self.client.count(
            index=self.index,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {D.USER: user}},
                            {"terms": {D.ACTION: list(actions)}},
                            {"range": {D.TS: {"gte": since.isoformat()}}},
                        ]
                    }
                }
            },
        )
        return int(res["count"])


def chunks(ids: Sequence[str], size: int = MANIFEST_CHUNK) -> list[list[str]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)] or [[]]
