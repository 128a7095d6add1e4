"""Saved queries: owner-only by default, optionally shared read-only with one of the owner's units.

Visibility rules (one place, :meth:`SavedQuery.visible_to` / :meth:`SavedQuery.editable_by`):
the owner may do anything; a member of the unit it is shared with may list and open it;
nobody else learns that it exists (the same "not found" as a wrong id).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from alerts.indices import ensure_alert_indices
from alerts.queries import doc_fields, state_from_doc
from lantern.clock import iso, parse_iso, utcnow
from lantern.errors import NotFound
from lantern.indices import writer_target
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import saved_queries as M
from search.urlstate import SearchState

MAX_NAME = 120
MAX_NOTES = 2000
MAX_SAVED_PER_USER = 500


class SavedQueryError(ValueError):
    """Bad input for a saved query (shown to the user; nothing is saved)."""


@dataclass(frozen=True)
class SavedQuery:
    id: str
    owner: str
    name: str
    notes: str
    state: SearchState
    shared_unit: str | None
    status: str
    invalid_reason: str | None
    registered_fingerprint: str | None
    created_at: datetime
    updated_at: datetime
    last_opened_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == M.STATUS_ACTIVE

    @property
    def since(self) -> datetime:
        """Results indexed after this are "new" (last opened by its owner, else created)."""
        return self.last_opened_at or self.created_at

    def editable_by(self, user: Principal) -> bool:
        return user.username == self.owner

    def visible_to(self, user: Principal) -> bool:
        return self.editable_by(user) or (self.shared_unit is not None and self.shared_unit in user.units)

    def source(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "notes": self.notes,
            **doc_fields(self.state),
            "shared_unit": self.shared_unit,
            "status": self.status,
            "invalid_reason": self.invalid_reason,
            "registered_fingerprint": self.registered_fingerprint,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "last_opened_at": iso(self.last_opened_at) if self.last_opened_at else None,
        }

    @staticmethod
    def from_source(src: Mapping[str, Any]) -> SavedQuery:
        return SavedQuery(
            id=str(src["id"]),
            owner=str(src["owner"]),
            name=str(src.get("name") or ""),
            notes=str(src.get("notes") or ""),
            state=state_from_doc(src),
            shared_unit=src.get("shared_unit") or None,
            status=str(src.get("status") or M.STATUS_ACTIVE),
            invalid_reason=src.get("invalid_reason") or None,
            registered_fingerprint=src.get("registered_fingerprint") or None,
            created_at=parse_iso(str(src["created_at"])),
            updated_at=parse_iso(str(src.get("updated_at") or src["created_at"])),
            last_opened_at=parse_iso(str(src["last_opened_at"])) if src.get("last_opened_at") else None,
        )


def clean_name(name: str) -> str:
    value = " ".join((name or "").split())
    if not value:
        raise SavedQueryError("Give the saved query a name.")
    if len(value) > MAX_NAME:
        raise SavedQueryError(f"The name is longer than {MAX_NAME} characters.")
    return value


def clean_notes(notes: str) -> str:
    value = (notes or "").strip()
    if len(value) > MAX_NOTES:
        raise SavedQueryError(f"The notes are longer than {MAX_NOTES} characters.")
    return value


def clean_share(user: Principal, unit: str | None) -> str | None:
    value = (unit or "").strip()
    if not value:
        return None
    if value not in user.units:
        raise SavedQueryError("You can only share a saved query with one of your own units.")
    return value


class SavedQueryStore:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = settings.index_name(M.NAME)
        self.write_index = writer_target(settings, M)
        ensure_alert_indices(client, settings)

    # --- reading -------------------------------------------------------------------------
    def get(self, saved_id: str) -> SavedQuery | None:
        if not saved_id or len(saved_id) > 64:
            return None
        try:
            doc = self.client.get(index=self.index, id=saved_id)
        except NotFoundError:
            return None
        return SavedQuery.from_source(doc["_source"])

    def get_many(self, ids: Iterable[str]) -> dict[str, SavedQuery]:
        wanted = sorted({i for i in ids if i})
        if not wanted:
            return {}
        res = self.client.mget(index=self.index, body={"ids": wanted})
        return {d["_id"]: SavedQuery.from_source(d["_source"]) for d in res["docs"] if d.get("found")}

    def visible(self, user: Principal, saved_id: str) -> SavedQuery:
        """The saved query if ``user`` may see it; otherwise exactly like a wrong id."""
        sq = self.get(saved_id)
        if sq is None or not sq.visible_to(user):
            raise NotFound("saved query not found")
        return sq

    def owned(self, user: Principal, saved_id: str) -> SavedQuery:
        sq = self.visible(user, saved_id)
        if not sq.editable_by(user):
            raise SavedQueryError(
                "This saved query is shared with you read-only; only its owner can change it."
            )
        return sq

    def list_for(self, user: Principal) -> list[SavedQuery]:
        """The user's own saved queries, then those shared with their units (by name)."""
        should: list[dict[str, Any]] = [{"term": {"owner": user.username}}]
        if user.units:
            should.append({"terms": {"shared_unit": sorted(user.units)}})
        res = self.client.search(
            index=self.index,
            body={
                "query": {"bool": {"should": should, "minimum_should_match": 1}},
                "size": MAX_SAVED_PER_USER * 2,
                "sort": [{"name.sort": "asc"}, {"created_at": "asc"}],
            },
        )
        found = [SavedQuery.from_source(h["_source"]) for h in res["hits"]["hits"]]
        found = [s for s in found if s.visible_to(user)]
        return sorted(found, key=lambda s: (not s.editable_by(user), s.name.lower()))

    def all(self) -> Iterable[SavedQuery]:
        """Every saved query (percolator rebuilds), in pages."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": 500, "sort": [{"id": "asc"}], "query": {"match_all": {}}}
            if after:
                body["search_after"] = after
            hits = self.client.search(index=self.index, body=body)["hits"]["hits"]
            for h in hits:
                yield SavedQuery.from_source(h["_source"])
            if len(hits) < 500:
                return
            after = hits[-1]["sort"]

    def count_owned(self, username: str) -> int:
        return int(
            self.client.count(index=self.index, body={"query": {"term": {"owner": username}}})["count"]
        )

    # --- writing -------------------------------------------------------------------------
    def _put(self, sq: SavedQuery) -> None:
        self.client.index(index=self.write_index, id=sq.id, body=sq.source(), refresh="wait_for")

    def create(
        self,
        user: Principal,
        state: SearchState,
        *,
        name: str,
        notes: str = "",
        shared_unit: str | None = None,
    ) -> SavedQuery:
        if not state.active:
            raise SavedQueryError("There is nothing to save: enter search terms or choose a filter first.")
        if self.count_owned(user.username) >= MAX_SAVED_PER_USER:
            raise SavedQueryError(f"You already have {MAX_SAVED_PER_USER} saved queries; delete some first.")
        now = utcnow()
        sq = SavedQuery(
            id=uuid.uuid4().hex,
            owner=user.username,
            name=clean_name(name),
            notes=clean_notes(notes),
            state=state,
            shared_unit=clean_share(user, shared_unit),
            status=M.STATUS_ACTIVE,
            invalid_reason=None,
            registered_fingerprint=None,
            created_at=now,
            updated_at=now,
            last_opened_at=None,
        )
        self._put(sq)
        return sq

    def update(
        self,
        user: Principal,
        saved_id: str,
        *,
        name: str,
        notes: str,
        shared_unit: str | None,
        state: SearchState | None = None,
    ) -> SavedQuery:
        sq = self.owned(user, saved_id)
        if state is not None and not state.active:
            raise SavedQueryError("A saved query needs search terms or a filter.")
        new_state = state if state is not None else sq.state
        changed_query = new_state != sq.state
        updated = SavedQuery(
            **{
                **sq.__dict__,
                "name": clean_name(name),
                "notes": clean_notes(notes),
                "shared_unit": clean_share(user, shared_unit),
                "state": new_state,
                "updated_at": utcnow(),
                # A changed query is registered afresh (and judged valid or not again).
                **({"registered_fingerprint": None} if changed_query else {}),
            }
        )
        self._put(updated)
        return updated

    def set_registration(self, sq: SavedQuery, *, fingerprint: str, error: str | None) -> SavedQuery:
        """Record the outcome of registering ``sq``'s alert query under ``fingerprint``."""
        now = utcnow()
        fields: dict[str, Any] = {"registered_fingerprint": fingerprint}
        if error is None:
            fields.update(status=M.STATUS_ACTIVE, invalid_reason=None, invalid_at=None)
        else:
            fields.update(status=M.STATUS_INVALID, invalid_reason=error[:1000], invalid_at=iso(now))
        self.client.update(
            index=self.write_index, id=sq.id, body={"doc": fields}, refresh="wait_for", retry_on_conflict=3
        )
        return SavedQuery(
            **{
                **sq.__dict__,
                "registered_fingerprint": fingerprint,
                "status": fields["status"],
                "invalid_reason": fields["invalid_reason"],
            }
        )

    def set_registrations(self, outcomes: Iterable[tuple[SavedQuery, str, str | None]]) -> None:
        """Many registration outcomes (query, fingerprint, error) at once (percolator rebuilds)."""
        lines: list[dict[str, Any]] = []
        now = iso(utcnow())
        for sq, fingerprint, error in outcomes:
            fields: dict[str, Any] = {"registered_fingerprint": fingerprint}
            if error is None:
                fields.update(status=M.STATUS_ACTIVE, invalid_reason=None, invalid_at=None)
            else:
                fields.update(status=M.STATUS_INVALID, invalid_reason=error[:1000], invalid_at=now)
            lines.append({"update": {"_index": self.write_index, "_id": sq.id, "retry_on_conflict": 3}})
            lines.append({"doc": fields})
        for start in range(0, len(lines), 1000):
            res = self.client.bulk(body=lines[start : start + 1000])
            failed = [
                i
                for i in res["items"]
                if int(i["update"].get("status", 500)) >= 300 and int(i["update"].get("status", 500)) != 404
            ]
            if failed:
                raise RuntimeError(f"saved query status not stored: {failed[0]['update'].get('error')}")
        self.client.indices.refresh(index=self.index)

    def mark_opened(self, sq: SavedQuery) -> None:
        self.client.update(
            index=self.write_index,
            id=sq.id,
            body={"doc": {"last_opened_at": iso(utcnow())}},
            refresh="wait_for",
            retry_on_conflict=3,
        )

    def delete(self, user: Principal, saved_id: str) -> SavedQuery:
        sq = self.owned(user, saved_id)
        self.client.delete(index=self.write_index, id=sq.id, refresh="wait_for")
        return sq
