"""The one door to the records index.

:func:`secured_search` is the only function in the portal that sends a request to the
records alias. It takes a :class:`~search.access.Principal`, wraps the body's query with
:func:`search.access.secure`, and refuses the few request shapes that could see past the
query (global aggregations, suggesters, rescoring, scripted fields): a forgotten
``secure()`` is therefore not something a route can write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from opensearchpy import OpenSearch

from lantern.clock import today_utc
from lantern.principal import Principal
from lantern.settings import Settings
from search.access import secure

# Body keys a route may send; anything else is refused (``suggest`` and ``rescore`` run
# outside the query, ``script_fields``/``runtime_mappings`` could read any field).
ALLOWED_KEYS = frozenset(
    {
        "query",
        "from",
        "size",
        "sort",
        "track_total_hits",
        "_source",
        "aggs",
        "post_filter",
        "highlight",
        "search_after",
        "timeout",
    }
)


class UnsafeQuery(ValueError):
    """A request body that could escape access control (a programming error)."""


def _check_aggs(aggs: Mapping[str, Any]) -> None:
    for agg in aggs.values():
        if not isinstance(agg, Mapping):
            raise UnsafeQuery("malformed aggregation")
        if "global" in agg:
            raise UnsafeQuery("global aggregations ignore the access filter")
        if "significant_text" in agg or "scripted_metric" in agg:
            raise UnsafeQuery("aggregation type not allowed")
        sub = agg.get("aggs") or agg.get("aggregations")
        if sub:
            _check_aggs(sub)


def secure_body(body: Mapping[str, Any], user: Principal, today: date | None = None) -> dict[str, Any]:
    """``body`` with its query restricted to what ``user`` may read (pure; unit-tested)."""
    extra = set(body) - ALLOWED_KEYS
    if extra:
        raise UnsafeQuery(f"request keys not allowed: {sorted(extra)}")
    aggs = body.get("aggs")
    if aggs:
        _check_aggs(aggs)
    out = dict(body)
    out["query"] = secure(body.get("query"), user, today or today_utc())
    return out


def records_alias(settings: Settings) -> str:
    return settings.index_name("records")


def secured_search(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    body: Mapping[str, Any],
    *,
    today: date | None = None,
) -> dict[str, Any]:
    """Run ``body`` against the records alias as ``user`` (the only such call in the portal)."""
    secured = secure_body(body, user, today)
    result: dict[str, Any] = client.search(index=records_alias(settings), body=secured)
    return result
