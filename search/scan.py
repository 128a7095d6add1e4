"""Multi-search, counts and point-in-time reads of the records index, always as a user.

Like :func:`search.gateway.secured_search` (whose :func:`secure_body` every body
here goes through), nothing in this module can send a query that is not wrapped with the
user's access filter.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from opensearchpy import OpenSearch

from lantern.clock import today_utc
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from search.gateway import records_alias, secure_body

MSEARCH_CHUNK = 50


def secured_msearch(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    bodies: Sequence[Mapping[str, Any]],
    *,
    today: date | None = None,
    chunk: int = MSEARCH_CHUNK,
) -> Iterator[dict[str, Any]]:
    """One response per body, in order (``{"error": ...}`` for a body the engine refused)."""
    day = today or today_utc()
    index = records_alias(settings)
    for start in range(0, len(bodies), chunk):
        lines: list[Mapping[str, Any]] = []
        for body in bodies[start : start + chunk]:
            lines.append({"index": index})
            lines.append(secure_body(body, user, day))
        res = client.msearch(body=lines)
        yield from res["responses"]


def readable_ids(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    ids: Sequence[str],
    *,
    fields: Sequence[str] = (),
    today: date | None = None,
) -> dict[str, dict[str, Any]]:
    """Of ``ids``, those ``user`` may read now, with ``fields`` of each (the access check at read time)."""
    out: dict[str, dict[str, Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 1000):
        part = unique[start : start + 1000]
        body: dict[str, Any] = {
            "query": {"ids": {"values": part}},
            "size": len(part),
            "_source": {"includes": list(fields)} if fields else False,
        }
        res = client.search(index=records_alias(settings), body=secure_body(body, user, today))
        for hit in res["hits"]["hits"]:
            out[hit["_id"]] = hit.get("_source") or {}
    return out


class Scan:
    """Hits of one point in time, paged with ``search_after``; ``close()`` releases the snapshot."""

    def __init__(
        self, client: OpenSearch, pit_id: str, page: Any, first: dict[str, Any], limit: int, page_size: int
    ) -> None:
        self.client = client
        self.pit_id: str | None = pit_id
        self._page = page
        self._first = first
        self.limit = limit
        self.page_size = page_size
        self.total = int(first["hits"]["total"]["value"])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        sent = 0
        try:
            res = self._first
            while True:
                hits = res["hits"]["hits"]
                for hit in hits:
                    if sent >= self.limit:
                        return
                    sent += 1
                    yield hit
                if not hits or sent >= self.limit or len(hits) < self.page_size:
                    return
                res = self._page(hits[-1]["sort"], min(self.page_size, self.limit - sent), False)
        finally:
            self.close()

    def close(self) -> None:
        if self.pit_id is not None:
            pit_id, self.pit_id = self.pit_id, None
            # A point in time left behind expires with its keep_alive anyway.
            with contextlib.suppress(Exception):
                self.client.delete_pit(body={"pit_id": [pit_id]})


def secured_scan(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    query: Mapping[str, Any],
    *,
    sort: Sequence[Any],
    source: Sequence[str],
    limit: int,
    page_size: int = 1000,
    keep_alive: str = "2m",
    today: date | None = None,
) -> Scan:
    """At most ``limit`` readable hits of ``query`` from one point in time, and their total.

    The point in time makes the count and the rows come from the same snapshot, so what
    is audited as the row count is what is streamed.
    """
    day = today or today_utc()
    pit = client.create_pit(index=records_alias(settings), params={"keep_alive": keep_alive})
    pit_id = str(pit["pit_id"])
    sort_keys = list(sort) if any(_sorts_on_id(s) for s in sort) else [*sort, {F.ID: "asc"}]
    size = max(1, min(page_size, limit))

    def page(after: list[Any] | None, n: int, count: bool) -> dict[str, Any]:
        body = secure_body(
            {
                "query": query,
                "size": n,
                "sort": sort_keys,
                "track_total_hits": count,
                "_source": {"includes": list(source)},
            },
            user,
            day,
        )
        # The point in time names the index; it adds no access, the query above is secured.
        body["pit"] = {"id": pit_id, "keep_alive": keep_alive}
        if after is not None:
            body["search_after"] = after
        return dict(client.search(body=body))

    try:
        first = page(None, size, True)
    except BaseException:
        client.delete_pit(body={"pit_id": [pit_id]})
        raise
    return Scan(client, pit_id, page, first, limit, size)


def _sorts_on_id(s: Any) -> bool:
    return (isinstance(s, Mapping) and F.ID in s) or s == F.ID
