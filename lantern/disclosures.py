"""Per-event disclosure log: which user was shown which record ids, when, for what purpose.

The audit chain holds every disclosed id too (``shown_ids`` of the event, or of its manifest
chunks for bulk actions), tamper-evident but awkward to query by record; this index holds one
document per event listing its ids (``record_ids``), so "who has seen record X" is a term
query. Documents are written with ``op_type=create`` (the index is append-only) and
idempotent, so a retried write never double counts and a conflict means the document is
already there: ``_id`` is the event's hash, or ``job:<job id>:<chunk>`` for a background job's
manifest chunk (a job discloses each chunk once, however many times a worker records it).

Bound to the event (``audit_hash``), because a portal request writes its event and its
disclosures in ONE ``_bulk`` (``AuditLog.append``; one round trip instead of two, before every
search): if another process appended that sequence number first, the event is refused with a
409 but its disclosure in the same request is created all the same, and the append-only
index cannot take it back. The writer retries under the next sequence number, so its event
has another hash and its disclosure is written again under it; the first one is an orphan,
naming a hash the chain does not hold. Readers (``who_saw``, ``count``: the auditor's page and
the export quota) count only disclosures whose event is in the chain (a realtime ``mget`` of
the events by sequence number, comparing hashes), and ``lantern audit verify`` reports
orphans (``orphans``). A job's manifest disclosures are written after their event is in the
chain (keyed by job, a losing attempt's document would stand in for the winner's), as are
documents from before ``audit_hash`` existed (index version 2), which count as bound.
Documents from before version 4 (one per record id) are migrated to one-id lists.

Fail closed like the audit chain: if the disclosures cannot be written, ``AuditUnavailable``
is raised and the caller must not show the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException
from opensearchpy.helpers import BulkIndexError, bulk

from lantern.errors import AuditUnavailable
from lantern.indices import ensure_once, writer_target
from lantern.search_client import request_write_params
from lantern.settings import Settings
from mappings import audit as audit_mapping
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


def _job(event: Mapping[str, Any]) -> str | None:
    target = event.get("target") or {}
    job = target.get("job") if isinstance(target, dict) else None
    return str(job) if job and str(event.get("action") or "").endswith(".manifest") else None


def _disclosure_id(event: Mapping[str, Any]) -> str:
    """A disclosure document's id: the audit event's hash (which differs between two attempts
    at the same seq), or for a background job's manifest the job and chunk, so a job discloses
    each chunk once however many times a worker records it again (a takeover racing a worker
    that hung: both record the same chunk of the same stored matches)."""
    job = _job(event)
    if job:
        return f"job:{job}:{(event.get('details') or {}).get('chunk')}"
    return str(event["hash"])


def keyed_by_job(event: Mapping[str, Any]) -> bool:
    """Whether ``event``'s disclosures are keyed by its job: they must then be written only
    once the event is in the chain (``DisclosureLog.write``), not beside it in one request."""
    return _job(event) is not None


def disclosure_docs(event: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(_id, _source)`` of the disclosure document the appended audit ``event`` implies (none
    when it disclosed nothing)."""
    ids = disclosed_ids(event)
    if not ids:
        return []
    return [
        (
            _disclosure_id(event),
            {
                D.RECORD_IDS: ids,
                D.ROWS: len(ids),
                D.USER: event.get("user"),
                D.TS: event.get("ts"),
                D.ACTION: event.get("action"),
                D.AUDIT_SEQ: event.get("seq"),
                D.AUDIT_HASH: event.get("hash"),
                D.PURPOSE_CODE: event.get("purpose_code"),
                D.PURPOSE_REFERENCE: event.get("purpose_reference"),
                D.CLIENT: event.get("client"),
                D.SESSION: event.get("session"),
            },
        )
    ]


@dataclass(frozen=True)
class Orphan:
    """Disclosure documents naming an event the chain does not hold."""

    audit_seq: int | None
    audit_hash: str
    documents: int
    rows: int  # record ids they list
    # The hash of the chain's event at ``audit_seq``: another writer's event, when the
    # disclosing attempt lost the race for that seq; None when the chain has no such event.
    chain_hash: str | None

    def describe(self) -> str:
        why = (
            f"its event lost the race for seq {self.audit_seq} to another event"
            if self.chain_hash
            else f"the chain has no event {self.audit_seq}"
        )
        return (
            f"{self.documents} disclosure(s) of {self.rows} record id(s) bound to event hash "
            f"{self.audit_hash[:16]}...: {why}"
        )


UNWRITTEN = "Action refused: the disclosure log cannot be written just now, so nothing was shown."


def _status(error: Mapping[str, Any]) -> int:
    item: Any = next(iter(error.values()), None)
    return int(item.get("status", 0)) if isinstance(item, dict) else 0


def failed_items(items: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The ``_bulk`` response items that created nothing. A 409 is not a failure: the document
    is there already (same id, so same event and record: an earlier try of this request)."""
    return [i for i in items if not (200 <= _status(i) < 300 or _status(i) == 409)]


# Events looked up per ``mget`` / groups per composite aggregation page.
_PAGE = 1000


class DisclosureLog:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name(D.NAME)
        self.write_index = writer_target(settings, D)
        self.audit_index = settings.index_name(audit_mapping.NAME)

    def bulk_lines(self, event: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``_bulk`` lines creating ``event``'s disclosure documents, to send in the same
        request as the event itself (none when it disclosed nothing)."""
        docs = disclosure_docs(event)
        if not docs:
            return []
        try:
            ensure_once(self.client, self.settings, [D])
        except (OpenSearchException, OSError) as exc:
            raise AuditUnavailable(UNWRITTEN) from exc
        lines: list[dict[str, Any]] = []
        for doc_id, source in docs:
            lines += [{"create": {"_index": self.write_index, "_id": doc_id}}, source]
        return lines

    def write(self, event: Mapping[str, Any]) -> int:
        """Index the document of the ids the (already appended) audit ``event`` disclosed; how
        many ids it lists."""
        docs = disclosure_docs(event)
        if not docs:
            return 0
        actions = [
            {"_op_type": "create", "_index": self.write_index, "_id": doc_id, "_source": source}
            for doc_id, source in docs
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
        return sum(int(source[D.ROWS]) for _, source in docs)

    # --- binding to the chain --------------------------------------------------------------
    def _groups(self, query: Mapping[str, Any]) -> Iterator[tuple[int | None, str | None, int, int]]:
        """``(audit_seq, audit_hash, documents, rows)`` per event the matching disclosures name."""
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": _PAGE,
                "sources": [
                    {"seq": {"terms": {"field": D.AUDIT_SEQ, "missing_bucket": True}}},
                    {"hash": {"terms": {"field": D.AUDIT_HASH, "missing_bucket": True}}},
                ],
            }
            if after:
                composite["after"] = after
            res = self.client.search(
                index=self.index,
                body={
                    "size": 0,
                    "query": dict(query),
                    "aggs": {
                        "events": {"composite": composite, "aggs": {"rows": {"sum": {"field": D.ROWS}}}}
                    },
                },
            )
            agg = res["aggregations"]["events"]
            for b in agg["buckets"]:
                seq = b["key"]["seq"]
                yield (
                    (int(seq) if seq is not None else None),
                    b["key"]["hash"],
                    int(b["doc_count"]),
                    int(b["rows"]["value"] or 0),
                )
            after = agg.get("after_key")
            if not after or len(agg["buckets"]) < _PAGE:
                return

    def _chain_hashes(self, seqs: Iterable[int]) -> dict[int, str]:
        """The hash of the chain's event at each of ``seqs`` (realtime: no refresh needed)."""
        wanted = sorted(set(seqs))
        if not wanted:
            return {}
        res = self.client.mget(
            index=self.audit_index,
            body={"ids": [str(s) for s in wanted]},
            params={"_source_includes": "hash"},
        )
        return {int(d["_id"]): str(d["_source"]["hash"]) for d in res["docs"] if d.get("found")}

    def _bound_and_orphans(self, query: Mapping[str, Any]) -> tuple[int, list[Orphan]]:
        """How many record ids the matching disclosures bound to an event of the chain list,
        and the orphans."""
        bound, orphans = 0, []
        groups = list(self._groups(query))
        for i in range(0, len(groups), _PAGE):
            page = groups[i : i + _PAGE]
            chain = self._chain_hashes(s for s, h, _, _ in page if s is not None and h is not None)
            for seq, digest, n, rows in page:
                # No hash: written before disclosures were bound (index version 2), which was
                # only ever after the event was in the chain.
                if digest is None or (seq is not None and chain.get(seq) == digest):
                    bound += rows
                else:
                    orphans.append(Orphan(seq, digest, n, rows, chain.get(seq) if seq is not None else None))
        return bound, orphans

    def orphans(self, query: Mapping[str, Any] | None = None) -> list[Orphan]:
        """Disclosure documents whose event is not in the chain (``lantern audit verify``)."""
        if not self.client.indices.exists(index=self.index):
            return []
        self.client.indices.refresh(index=self.index)
        return self._bound_and_orphans(query or {"match_all": {}})[1]

    def refresh(self) -> None:
        ensure_once(self.client, self.settings, [D])
        self.client.indices.refresh(index=self.index)

    def who_saw(self, record_ids: Sequence[str], *, size: int = 200) -> list[dict[str, Any]]:
        """Per user: how many times (audit events) any of these records was shown to them, by
        which actions, purposes, and when last."""
        if not record_ids:
            return []
        self.refresh()
        wanted = {"terms": {D.RECORD_IDS: list(record_ids)}}
        orphans = [o.audit_hash for o in self._bound_and_orphans(wanted)[1]]
        res = self.client.search(
            index=self.index,
            body={
                "size": 0,
                "query": {"bool": {"filter": [wanted], "must_not": [{"terms": {D.AUDIT_HASH: orphans}}]}},
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
        """Record ids disclosed to ``user`` by ``actions`` since ``since`` whose event is in the
        chain (the export quota reads this: rows exported today)."""
        self.refresh()
        query = {
            "bool": {
                "filter": [
                    {"term": {D.USER: user}},
                    {"terms": {D.ACTION: list(actions)}},
                    {"range": {D.TS: {"gte": since.isoformat()}}},
                ]
            }
        }
        return self._bound_and_orphans(query)[0]


def chunks(ids: Sequence[str], size: int = MANIFEST_CHUNK) -> list[list[str]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)] or [[]]
