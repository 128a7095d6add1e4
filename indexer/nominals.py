"""Keeping each record's people pointing at their current nominal (person resolution).

A record is indexed with the nominal its people resolved to at the time. Later resolution
can move an earlier mention (a new record bridges two nominals; a rebuild; a human
decision): those mentions' records are then updated in place, by mention id.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from opensearchpy import OpenSearch

from indexer.pipeline import PeopleResolver
from lantern import indices
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index

_SCRIPT = f"""
for (p in ctx._source.{F.PEOPLE}) {{
  if (p.containsKey('{F.P_MENTION_ID}') && params.map.containsKey(p.{F.P_MENTION_ID})) {{
    p.{F.P_NOMINAL_ID} = params.map[p.{F.P_MENTION_ID}];
  }}
}}
"""


def refresh_record_nominals(
    client: OpenSearch,
    settings: Settings,
    moved: Mapping[str, str],
    *,
    chunk: int = 1000,
    refresh: bool = False,
) -> int:
    """Set ``people.nominal_id`` for the mentions in ``moved`` (mention id -> nominal id)."""
    if not moved:
        return 0
    target = indices.writer_target(settings, records_index)
    items = sorted(moved.items())
    updated = 0
    for i in range(0, len(items), chunk):
        part = dict(items[i : i + chunk])
        body: dict[str, Any] = {
            "query": {
                "nested": {
                    "path": F.PEOPLE,
                    "query": {"terms": {f"{F.PEOPLE}.{F.P_MENTION_ID}": list(part)}},
                }
            },
            "script": {"source": _SCRIPT, "lang": "painless", "params": {"map": part}},
        }
        res = client.update_by_query(index=target, body=body, conflicts="proceed", refresh=refresh)
        updated += int(res.get("updated", 0))
    return updated


def ingest_resolver(client: OpenSearch, settings: Settings) -> PeopleResolver:
    """The resolver ``index load`` calls per batch: resolves against the stored nominals,
    writes the nominals it touched, and moves earlier records' people when nominals merge."""
    from persons.store import IncrementalResolver

    inc = IncrementalResolver(client, settings)

    def resolve(mentions: list[Any]) -> dict[str, str]:
        out = inc.resolve(mentions)
        refresh_record_nominals(client, settings, inc.resolver.last_moved)
        return out

    return resolve


class SharedIngestResolver:
    """``ingest_resolver`` for a long-running server (the ingest API): built on first use (it
    loads every stored nominal, which a server that only answers deletes need not pay for)
    and called under a lock, because one resolver holds one DuckDB connection and one view
    of the nominals while requests arrive on several threads.

    Another process may change the nominals while this one runs (``index load``, ``persons
    rebuild``, a reviewer's decision). Before each call the primaries' write counters of the
    nominals and decisions indices are compared with those seen after this process's own
    last write; if someone else wrote, the view is loaded again. A write that lands between
    this process's write and its reading of the counters is seen at the next foreign write.
    """

    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client, self.settings = client, settings
        self._lock = threading.Lock()
        self._resolve: PeopleResolver | None = None
        self._seen: tuple[tuple[str, int, int], ...] | None = None
        self.loads = 0

    def _writes_so_far(self) -> tuple[tuple[str, int, int], ...]:
        from mappings import person_decisions as D
        from mappings import persons as P

        stats = self.client.indices.stats(
            index=f"{indices.read_alias(self.settings, P)},{indices.read_alias(self.settings, D)}",
            metric="indexing",
            params={"ignore_unavailable": "true"},
        )
        out = []
        for name, entry in stats.get("indices", {}).items():
            counters = entry.get("primaries", {}).get("indexing", {})
            out.append((name, int(counters.get("index_total", 0)), int(counters.get("delete_total", 0))))
        return tuple(sorted(out))

    def __call__(self, mentions: list[Any]) -> dict[str, str]:
        with self._lock:
            if self._resolve is None or self._writes_so_far() != self._seen:
                self._resolve = ingest_resolver(self.client, self.settings)
                self.loads += 1
            out = self._resolve(mentions)
            self._seen = self._writes_so_far()
            return out
