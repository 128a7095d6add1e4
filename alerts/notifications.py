"""Notifications: stored per recipient, shown only while the recipient may still read the record.

Nothing about a record is stored in a notification but its id. Every time notifications
are listed or counted, the records are fetched from the records index as the recipient
(through the access filter), and the saved query is checked to still be visible to them:
a notification whose record is no longer readable (clearance removed, unit changed, past
its review date, deleted) or whose query is no longer theirs simply does not show. If the
access comes back, so does the notification.
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
# Notifications per bulk request (about 250 bytes each, so about 1.3 MB): fewer requests,
# each with one translog sync. Measured on the loaded shared node, 26,385 notifications: 5.7-9.5 s
# at 500 a request, 5.7-8.0 s at 5,000 (within the noise; the documents themselves cost most).
WRITE_BATCH = 5000


def match_id(saved_id: str, record_id: str, recipient: str) -> str:
    """One notification per (saved query, record, recipient), however often the record is indexed."""
    return hashlib.sha256(f"match\x1f{saved_id}\x1f{record_id}\x1f{recipient}".encode()).hexdigest()[:40]


def invalid_id(saved_id: str, fingerprint: str) -> str:
    return hashlib.sha256(f"invalid\x1f{saved_id}\x1f{fingerprint}".encode()).hexdigest()[:40]


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
    record_id: str | None = None
    record_type: str | None = None
    reference: str | None = None
    title: str | None = None
    record_date: str | None = None


class NotificationStore:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name(M.NAME)
        self.write_index = writer_target(settings, M)
        ensure_alert_indices(client, settings)

    # --- writing -------------------------------------------------------------------------
    def add_matches(self, matches: Iterable[tuple[str, str, str]]) -> int:
        """Create match notifications (saved id, record id, recipient); returns how many were new.

        Written in the order of their ids: each ``create`` looks its id up in every segment
        first (a record indexed again must not notify twice), and ids in order make those
        lookups walk each segment's terms forward instead of jumping about (hash ids are
        random): the bench's 50,901 notifications took 2.6-3.0 s of the node's CPU in order
        against 3.2-5.9 s in arrival order (``scripts/profile_match.py --notifications 3``,
        shared 2-core machine). Only each item's status and error come back (``filter_path``):
        the full answer is about 200 bytes an item to write and parse.
        """
        now = iso(utcnow())
        by_id: dict[str, tuple[str, str, str]] = {}
        for saved_id, record_id, recipient in matches:
            by_id.setdefault(match_id(saved_id, record_id, recipient), (saved_id, record_id, recipient))
        if not by_id:
            return 0
        lines: list[dict[str, Any]] = []
        for nid in sorted(by_id):
            saved_id, record_id, recipient = by_id[nid]
            lines.append({"create": {"_index": self.write_index, "_id": nid}})
            lines.append(
                {
                    "recipient": recipient,
                    "kind": M.KIND_MATCH,
                    "saved_query_id": saved_id,
                    "record_id": record_id,
                    "read": False,
                    "created_at": now,
                }
            )
        created = 0
        step = 2 * WRITE_BATCH
        for start in range(0, len(lines), step):
            res = self.client.bulk(
                body=lines[start : start + step], filter_path="items.*.status,items.*.error"
            )
            for item in res["items"]:
                op = item["create"]
                status = int(op.get("status", 500))
                if status == 201:
                    created += 1
                elif status != 409:  # 409: already notified (a re-indexed record)
                    raise RuntimeError(f"notification not stored: {op.get('error')}")
        _badge_cache.clear()
        return created

    def notify_invalid(self, sq: SavedQuery, reason: str, *, fingerprint: str) -> None:
        body = {
            "recipient": sq.owner,
            "kind": M.KIND_INVALID_QUERY,
            "saved_query_id": sq.id,
            "message": f"Your saved query \u201c{sq.name}\u201d can no longer run as an alert after a "
            f"change to the records index: {reason}. Edit it to fix it, or delete it.",
            "read": False,
            "created_at": iso(utcnow()),
        }
        self.client.index(
            index=self.write_index, id=invalid_id(sq.id, fingerprint), body=body, refresh="wait_for"
        )
        _badge_cache.clear()

    def set_read(self, user: Principal, notification_id: str, read: bool) -> bool:
        """Mark one of ``user``'s notifications read/unread; False if it is not theirs."""
        try:
            doc = self.client.get(index=self.index, id=notification_id)
        except NotFoundError:
            return False
        if doc["_source"].get("recipient") != user.username:
            return False
        self.client.update(
            index=self.write_index,
            id=notification_id,
            refresh="wait_for",
            body={"doc": {"read": read, "read_at": iso(utcnow()) if read else None}},
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
                            {"term": {"recipient": user.username}},
                            {"ids": {"values": list(ids)}},
                            {"term": {"read": False}},
                        ]
                    }
                },
                "script": {
                    "source": "ctx._source.read = true; ctx._source.read_at = params.now",
                    "params": {"now": iso(utcnow())},
                },
            },
        )
        _badge_cache.forget(user.username)
        return int(res.get("updated", 0))

    def delete_for_query(self, saved_id: str) -> None:
        self.client.delete_by_query(
            index=self.index,
            body={"query": {"term": {"saved_query_id": saved_id}}},
            refresh=True,
            conflicts="proceed",
        )
        _badge_cache.clear()

    # --- reading -------------------------------------------------------------------------
    def _raw(self, user: Principal, *, unread_only: bool) -> list[dict[str, Any]]:
        filters: list[dict[str, Any]] = [{"term": {"recipient": user.username}}]
        if unread_only:
            filters.append({"term": {"read": False}})
        res = self.client.search(
            index=self.index,
            body={
                "query": {"bool": {"filter": filters}},
                "size": MAX_CONSIDERED,
                "sort": [{"created_at": "desc"}],
            },
        )
        return [{"id": h["_id"], **h["_source"]} for h in res["hits"]["hits"]]

    def visible(self, user: Principal, *, unread_only: bool = False) -> list[NotificationView]:
        """``user``'s notifications that they may see now (newest first)."""
        raw = self._raw(user, unread_only=unread_only)
        if not raw:
            return []
        saved = SavedQueryStore(self.client, self.settings).get_many(n.get("saved_query_id", "") for n in raw)
        record_ids = [
            str(n["record_id"]) for n in raw if n.get("kind") == M.KIND_MATCH and n.get("record_id")
        ]
        records = SecuredRecords(self.client, self.settings, user).readable(record_ids, fields=RECORD_FIELDS)
        out: list[NotificationView] = []
        for n in raw:
            sq = saved.get(str(n.get("saved_query_id") or ""))
            if sq is None or not sq.visible_to(user):
                continue
            common = {
                "id": n["id"],
                "kind": n.get("kind", M.KIND_MATCH),
                "read": bool(n.get("read")),
                "created_at": parse_iso(str(n["created_at"])),
                "saved_id": sq.id,
                "saved_name": sq.name,
                "saved_href": f"/saved/{sq.id}",
            }
            if n.get("kind") == M.KIND_INVALID_QUERY:
                if sq.owner == user.username:
                    out.append(NotificationView(**common, message=n.get("message")))
                continue
            rec = records.get(str(n.get("record_id")))
            if rec is None:
                continue  # not readable now (or gone): as if it never existed
            out.append(
                NotificationView(
                    **common,
                    record_id=str(n["record_id"]),
                    record_type=rec.get(F.RECORD_TYPE),
                    reference=rec.get(F.REFERENCE),
                    title=rec.get(F.TITLE),
                    record_date=rec.get(F.RECORD_DATE),
                )
            )
        return out

    def unread_count(self, user: Principal) -> int:
        return len(self.visible(user, unread_only=True))


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
