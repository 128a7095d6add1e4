"""Notifications: stored per recipient, shown only while the recipient may still read the record.

A match notification groups the records one loaded batch brought for one saved query and
recipient (``mappings.notifications``). Nothing about a record is stored in it but its id.
Every time notifications are listed or counted, the records are fetched from the records
index as the recipient (through the access filter), and the saved query is checked to still
be visible to them:
a record no longer readable (clearance removed, unit changed, past its review date,
deleted) is left out of its group, a group with none left or whose query is no longer theirs
simply does not show. If the access comes back, so does the record.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from alerts.indices import ensure_alert_indices
from alerts.saved_queries import SavedQuery, SavedQueryStore
from lantern.clock import iso, parse_iso, utcnow
from lantern.indices import writer_target
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from mappings import notifications as M
from search.gateway import SecuredRecords

# Notifications considered per list/count (newest first): older ones are still stored.
MAX_CONSIDERED = 1000
RECORD_FIELDS = [F.ID, F.RECORD_TYPE, F.REFERENCE, F.TITLE, F.RECORD_DATE]
BADGE_TTL = 10.0
# Groups per bulk request: a group lists up to a batch's records (4,000 ids, about 100 KB).
WRITE_BATCH = 500
# (saved query, recipient, record) buckets per page of the already-notified lookup.
LOOKUP_PAGE = 10_000


def group_id(saved_id: str, recipient: str, record_ids: Iterable[str]) -> str:
    """One group per (saved query, recipient, set of records): replaying a batch creates nothing."""
    key = "\x1f".join(["match", saved_id, recipient, *sorted(set(record_ids))])
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def invalid_id(saved_id: str, fingerprint: str) -> str:
    return hashlib.sha256(f"invalid\x1f{saved_id}\x1f{fingerprint}".encode()).hexdigest()[:40]


@dataclass(frozen=True)
class Added:
    """What ``add_matches`` stored: new groups, and the (query, recipient, record) they list."""

    groups: int
    records: int


@dataclass(frozen=True)
class NotifiedRecord:
    id: str
    record_type: str | None
    reference: str | None
    title: str | None
    record_date: str | None


@dataclass(frozen=True)
class NotificationView:
    id: str
    kind: str
    read: bool
    created_at: datetime
    saved_id: str
    saved_name: str
    saved_href: str | None
    message: str | None = None
    # Match groups: the records of the group the viewer may read now (id order).
    records: tuple[NotifiedRecord, ...] = ()

    @property
    def record_ids(self) -> list[str]:
        return [r.id for r in self.records]


class NotificationStore:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name(M.NAME)
        self.write_index = writer_target(settings, M)
        ensure_alert_indices(client, settings)

    # --- writing -------------------------------------------------------------------------
    def add_matches(self, matches: Iterable[tuple[str, str, str]]) -> Added:
        """Notify one matched batch: (saved id, record id, recipient) triples, grouped.

        One document per (saved query, recipient) lists the batch's records for them. The
        triples an earlier group already holds (a record indexed again) are dropped first,
        found in one aggregation over the groups listing any of the batch's records; a group
        left empty is not written. The group's id is derived from its query, recipient and
        sorted records and written with ``op_type=create``, so an exact replay (a load
        resumed after it died) creates nothing even where the lookup did not see the first
        write. Concurrent loads of the same record are not serialised: the one guarantee
        there is per identical group (see the README's operations notes).
        """
        wanted = set(matches)
        if not wanted:
            return Added(0, 0)
        seen = self.already_notified(wanted)
        groups: dict[tuple[str, str], set[str]] = {}
        for saved_id, record_id, recipient in wanted:
            if (saved_id, record_id, recipient) not in seen:
                groups.setdefault((saved_id, recipient), set()).add(record_id)
        if not groups:
            return Added(0, 0)
        now = iso(utcnow())
        by_id = {group_id(sq, who, ids): (sq, who, sorted(ids)) for (sq, who), ids in groups.items()}
        lines: list[dict[str, Any]] = []
        sizes: list[int] = []
        for nid in sorted(by_id):
            saved_id, recipient, ids = by_id[nid]
            lines.append({"create": {"_index": self.write_index, "_id": nid}})
            lines.append(
                {
                    M.RECIPIENT: recipient,
                    M.KIND: M.KIND_MATCH,
                    M.SAVED_QUERY_ID: saved_id,
                    M.RECORD_IDS: ids,
                    M.READ: False,
                    M.CREATED_AT: now,
                }
            )
            sizes.append(len(ids))
        created = records = 0
        step = 2 * WRITE_BATCH
        for start in range(0, len(lines), step):
            res = self.client.bulk(
                body=lines[start : start + step], filter_path="items.*.status,items.*.error"
            )
            for offset, item in enumerate(res["items"]):
                op = item["create"]
                status = int(op.get("status", 500))
                if status == 201:
                    created += 1
                    records += sizes[start // 2 + offset]
                elif status != 409:  # 409: this very group exists (a replayed batch)
                    raise RuntimeError(f"notification not stored: {op.get('error')}")
        _badge_cache.clear()
        return Added(created, records)

    def already_notified(self, triples: set[tuple[str, str, str]]) -> set[tuple[str, str, str]]:
        """Of (saved id, record id, recipient) ``triples``, those an existing group lists.

        A composite aggregation over (saved query, recipient, record id) of the match groups
        that list any of the records and belong to any of the queries: one request unless
        more than ``LOOKUP_PAGE`` buckets come back. The index is refreshed first (groups
        are written without a refresh; the previous batch's must be seen).
        """
        record_ids = sorted({r for _, r, _ in triples})
        saved_ids = sorted({s for s, _, _ in triples})
        self.client.indices.refresh(index=self.index)
        body: dict[str, Any] = {
            "size": 0,
            "query": {
                "bool": {
                    "filter": [
                        {"term": {M.KIND: M.KIND_MATCH}},
                        {"terms": {M.SAVED_QUERY_ID: saved_ids}},
                        {"terms": {M.RECORD_IDS: record_ids}},
                    ]
                }
            },
            "aggs": {
                "seen": {
                    "composite": {
                        "size": LOOKUP_PAGE,
                        "sources": [
                            {"q": {"terms": {"field": M.SAVED_QUERY_ID}}},
                            {"u": {"terms": {"field": M.RECIPIENT}}},
                            {"r": {"terms": {"field": M.RECORD_IDS}}},
                        ],
                    }
                }
            },
        }
        found: set[tuple[str, str, str]] = set()
        while True:
            res = self.client.search(index=self.index, body=body, filter_path="aggregations")
            agg = (res.get("aggregations") or {}).get("seen") or {}
            for bucket in agg.get("buckets", []):
                key = bucket["key"]
                triple = (str(key["q"]), str(key["r"]), str(key["u"]))
                if triple in triples:
                    found.add(triple)
            after = agg.get("after_key")
            if not after or len(agg.get("buckets", [])) < LOOKUP_PAGE:
                return found
            body["aggs"]["seen"]["composite"]["after"] = after

    def notify_invalid(self, sq: SavedQuery, reason: str, *, fingerprint: str) -> None:
        body = {
            M.RECIPIENT: sq.owner,
            M.KIND: M.KIND_INVALID_QUERY,
            M.SAVED_QUERY_ID: sq.id,
            M.MESSAGE: f"Your saved query \u201c{sq.name}\u201d can no longer run as an alert after a "
            f"change to the records index: {reason}. Edit it to fix it, or delete it.",
            M.READ: False,
            M.CREATED_AT: iso(utcnow()),
        }
        self.client.index(
            index=self.write_index, id=invalid_id(sq.id, fingerprint), body=body, refresh="wait_for"
        )
        _badge_cache.clear()

    def set_read(self, user: Principal, notification_id: str, read: bool) -> bool:
        """Mark one of ``user``'s notifications (a whole group) read/unread; False if not theirs."""
        try:
            doc = self.client.get(index=self.index, id=notification_id)
        except NotFoundError:
            return False
        if doc["_source"].get(M.RECIPIENT) != user.username:
            return False
        self.client.update(
            index=self.write_index,
            id=notification_id,
            refresh="wait_for",
            body={"doc": {M.READ: read, M.READ_AT: iso(utcnow()) if read else None}},
        )
        _badge_cache.forget(user.username)
        return True

    def mark_all_read(self, user: Principal, ids: Sequence[str]) -> int:
        """Mark the given (visible) notifications of ``user`` read."""
        if not ids:
            return 0
        res = self.client.update_by_query(
            index=self.index,
            refresh=True,
            conflicts="proceed",
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {M.RECIPIENT: user.username}},
                            {"ids": {"values": list(ids)}},
                            {"term": {M.READ: False}},
                        ]
                    }
                },
                "script": {
                    "source": f"ctx._source.{M.READ} = true; ctx._source.{M.READ_AT} = params.now",
                    "params": {"now": iso(utcnow())},
                },
            },
        )
        _badge_cache.forget(user.username)
        return int(res.get("updated", 0))

    def delete_for_query(self, saved_id: str) -> None:
        self.client.delete_by_query(
            index=self.index,
            body={"query": {"term": {M.SAVED_QUERY_ID: saved_id}}},
            refresh=True,
            conflicts="proceed",
        )
        _badge_cache.clear()

    # --- reading -------------------------------------------------------------------------
    def _raw(self, user: Principal, *, unread_only: bool) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"term": {M.RECIPIENT: user.username}}]
        if unread_only:
            filters.append({"term": {M.READ: False}})
        res = self.client.search(
            index=self.index,
            body={
                "query": {"bool": {"filter": filters}},
                "size": MAX_CONSIDERED,
                "sort": [{M.CREATED_AT: "desc"}],
            },
        )
        return [{"id": h["_id"], **h["_source"]} for h in res["hits"]["hits"]]

    def visible(self, user: Principal, *, unread_only: bool = False) -> list[NotificationView]:
        """``user``'s notifications that they may see now (newest first).

        A match group shows only the records ``user`` may read now (through the gateway's
        access filter); a group none of whose records is readable is not shown at all.
        """
        raw = self._raw(user, unread_only=unread_only)
        if not raw:
            return []
        saved = SavedQueryStore(self.client, self.settings).get_many(
            str(n.get(M.SAVED_QUERY_ID, "")) for n in raw
        )
        record_ids = [str(r) for n in raw if n.get(M.KIND) == M.KIND_MATCH for r in _record_ids(n)]
        records = SecuredRecords(self.client, self.settings, user).readable(record_ids, fields=RECORD_FIELDS)
        out: list[NotificationView] = []
        for n in raw:
            sq = saved.get(str(n.get(M.SAVED_QUERY_ID) or ""))
            if sq is None or not sq.visible_to(user):
                continue
            common = {
                "id": n["id"],
                "kind": n.get(M.KIND, M.KIND_MATCH),
                "read": bool(n.get(M.READ)),
                "created_at": parse_iso(str(n[M.CREATED_AT])),
                "saved_id": sq.id,
                "saved_name": sq.name,
                "saved_href": f"/saved/{sq.id}",
            }
            if n.get(M.KIND) == M.KIND_INVALID_QUERY:
                if sq.owner == user.username:
                    out.append(NotificationView(**common, message=n.get(M.MESSAGE)))
                continue
            shown = tuple(
                NotifiedRecord(
                    id=rid,
                    record_type=rec.get(F.RECORD_TYPE),
                    reference=rec.get(F.REFERENCE),
                    title=rec.get(F.TITLE),
                    record_date=rec.get(F.RECORD_DATE),
                )
                for rid in sorted(set(_record_ids(n)))
                if (rec := records.get(rid)) is not None
            )
            if not shown:
                continue  # nothing readable now (or all gone): as if it never existed
            out.append(NotificationView(**common, records=shown))
        return out

    def unread_count(self, user: Principal) -> int:
        """Unread notifications (a match group counts once, whatever its size) still visible."""
        return len(self.visible(user, unread_only=True))


def _record_ids(doc: dict[str, Any]) -> list[str]:
    ids = doc.get(M.RECORD_IDS) or []
    return [str(i) for i in ([ids] if isinstance(ids, str) else ids)]


class _BadgeCache:
    """The header badge is on every page: remember each user's count for a few seconds.

    Per process, so two portal processes may show counts up to ``BADGE_TTL`` seconds apart
    (the notifications themselves live in OpenSearch and always agree); bounded in size.
    """

    def __init__(self) -> None:
        self._data: TTLCache[tuple[str, frozenset[str], frozenset[str]], int] = TTLCache(
            maxsize=10_000, ttl=BADGE_TTL
        )
        self._lock = threading.Lock()

    def get(self, key: tuple[str, frozenset[str], frozenset[str]]) -> int | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: tuple[str, frozenset[str], frozenset[str]], value: int) -> None:
        with self._lock:
            self._data[key] = value

    def forget(self, username: str) -> None:
        with self._lock:
            for key in [k for k in self._data if k[0] == username]:
                self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_badge_cache = _BadgeCache()


def badge_count(client: OpenSearch, settings: Settings, user: Principal | None) -> int:
    """Unread, still-readable notifications of ``user`` (0 if none, signed out or unavailable)."""
    if user is None:
        return 0
    key = (user.username, user.clearances, user.units)
    cached = _badge_cache.get(key)
    if cached is not None:
        return cached
    try:
        count = NotificationStore(client, settings).unread_count(user)
    except Exception:  # the badge must never break the page it sits on
        return 0
    _badge_cache.put(key, count)
    return count
