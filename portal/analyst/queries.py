"""A saved search: its URL state, its search request and its alert query (pure functions).

The alert query is the saved search's query and facet filters, WITHOUT the access filter:
access is per reader and is applied to every match before a notification is created.
Sort, paging and the recency bonus do not change which records match, so they are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from portal.search import builders as B
from portal.search.parser import parse
from portal.search.urlstate import SearchState, from_params


def state_from_doc(doc: Mapping[str, Any]) -> SearchState:
    """The search page state a saved query re-runs as."""
    items: list[tuple[str, str]] = [("q", str(doc.get("q") or ""))]
    for pair in doc.get("facets") or []:
        key, _, value = str(pair).partition("=")
        items.append((key, value))
    if doc.get("sort"):
        items.append(("sort", str(doc["sort"])))
    if doc.get("dob_years"):
        items.append(("dob_years", str(doc["dob_years"])))
    return from_params(items)


def doc_fields(state: SearchState) -> dict[str, Any]:
    """The stored fields for a search state (the inverse of :func:`state_from_doc`)."""
    return {
        "q": state.q,
        "facets": [f"{k}={v}" for k, values in state.facets for v in values],
        "sort": state.sort,
        "dob_years": state.dob_years,
    }


def state_from_params(items: Iterable[tuple[str, str]]) -> SearchState:
    """A search as submitted (ignores paging: a saved search always opens on page 1)."""
    state = from_params(items)
    return SearchState(q=state.q.strip(), sort=state.sort, dob_years=state.dob_years, facets=state.facets)


def search_href(state: SearchState) -> str:
    return state.href("/search")


def base_query(state: SearchState, today: date | None = None) -> dict[str, Any]:
    """What the search page matches for ``state`` (query and facet filters; no access filter)."""
    parsed = parse(state.q, dob_years=state.dob_years, today=today)
    query = B.build_query(parsed)
    filters = [B.facet_filter(B.FACETS_BY_KEY[k], list(v)) for k, v in state.facets if k in B.FACETS_BY_KEY]
    if filters:
        return {"bool": {"must": [query], "filter": filters}}
    return query


def alert_query(state: SearchState, today: date | None = None) -> dict[str, Any]:
    """The query stored in the percolator for a saved search."""
    return base_query(state, today)


def describe(state: SearchState) -> str:
    """A one-line description of a search for lists and audit details."""
    parts = [state.q] if state.q else []
    parts += [f"{B.FACETS_BY_KEY[k].label}: {', '.join(v)}" for k, v in state.facets if k in B.FACETS_BY_KEY]
    return "; ".join(parts) or "(everything)"
