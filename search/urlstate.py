"""The state of a search page, to and from its URL (bookmarkable; the back button works)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from search import builders as B
from search.builders import FACETS_BY_KEY, MAX_PAGE_SIZE, PAGE_SIZE, SORTS, Sort
from search.parser import MAX_DOB_YEARS, PlaceLookup, parse

MAX_VALUES_PER_FACET = 20


@dataclass(frozen=True)
class SearchState:
    q: str = ""
    sort: Sort = "relevance"
    page: int = 1
    size: int = PAGE_SIZE
    dob_years: int = 0
    facets: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)
    # A signed cursor (search.cursor) for pages past the 10,000th result; "" on other pages.
    after: str = ""

    @property
    def facet_map(self) -> dict[str, tuple[str, ...]]:
        return dict(self.facets)

    @property
    def active(self) -> bool:
        """Is there anything to search for (a query or a facet selection)?"""
        return bool(self.q.strip() or self.facets)

    def href(self, path: str = "/search", **changes: object) -> str:
        if changes and "after" not in changes:
            changes["after"] = ""  # a cursor belongs to one page of one search
        state = replace(self, **changes) if changes else self  # type: ignore[arg-type]
        return f"{path}?{urlencode(state.params())}" if state.params() else path

    def params(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if self.q:
            out.append(("q", self.q))
        for key, values in self.facets:
            out.extend((key, v) for v in values)
        if self.sort != "relevance":
            out.append(("sort", self.sort))
        if self.dob_years:
            out.append(("dob_years", str(self.dob_years)))
        if self.size != PAGE_SIZE:
            out.append(("size", str(self.size)))
        if self.page > 1:
            out.append(("page", str(self.page)))
        if self.after:
            out.append(("after", self.after))
        return out

    def search_key(self) -> str:
        """What identifies the search apart from the page (a cursor is bound to it)."""
        facets = ";".join(f"{k}={','.join(v)}" for k, v in self.facets)
        return f"{self.q}\n{facets}\n{self.sort}\n{self.dob_years}\n{self.size}"

    def page_href(self, page: int) -> str:
        return self.href(page=page)

    def toggle(self, key: str, value: str) -> str:
        """Link that adds or removes one facet value (and goes back to page 1)."""
        current = dict(self.facets)
        values = list(current.get(key, ()))
        if value in values:
            values.remove(value)
        else:
            values.append(value)
        if values:
            current[key] = tuple(values)
        else:
            current.pop(key, None)
        return self.href(facets=_ordered(current), page=1)

    def without_facets(self) -> str:
        return self.href(facets=(), page=1)


def _ordered(facets: dict[str, tuple[str, ...]]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((k, facets[k]) for k in FACETS_BY_KEY if k in facets)


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return max(lo, min(n, hi))


def from_params(items: Iterable[tuple[str, str]]) -> SearchState:
    """Lenient: unknown parameters are ignored and bad numbers fall back to defaults."""
    q = ""
    sort: Sort = "relevance"
    page, size, dob_years, after = "1", str(PAGE_SIZE), "0", ""
    facets: dict[str, list[str]] = {}
    for key, value in items:
        if key == "q":
            q = value[:1000]
        elif key == "sort" and value in SORTS:
            sort = value
        elif key == "page":
            page = value
        elif key == "size":
            size = value
        elif key == "dob_years":
            dob_years = value
        elif key == "after":
            after = value[:4000]
        elif key in FACETS_BY_KEY and value.strip():
            vals = facets.setdefault(key, [])
            if value not in vals and len(vals) < MAX_VALUES_PER_FACET:
                vals.append(value.strip()[:200])
    return SearchState(
        q=q,
        sort=sort,
        page=_int(page, 1, 1, 1_000_000),
        size=_int(size, PAGE_SIZE, 1, MAX_PAGE_SIZE),
        dob_years=_int(dob_years, 0, 0, MAX_DOB_YEARS),
        facets=_ordered({k: tuple(v) for k, v in facets.items()}),
        after=after,
    )


def state_from_params(items: Iterable[tuple[str, str]]) -> SearchState:
    """A search as submitted (ignores paging: a saved search always opens on page 1)."""
    state = from_params(items)
    return SearchState(q=state.q.strip(), sort=state.sort, dob_years=state.dob_years, facets=state.facets)


def search_href(state: SearchState) -> str:
    return state.href("/search")


def base_query(
    state: SearchState, today: date | None = None, places: PlaceLookup | None = None
) -> dict[str, Any]:
    """What the search page matches for ``state`` (query and facet filters; no access filter).

    ``places`` resolves ``near:`` (see :func:`search.places.place_lookup`).
    """
    parsed = parse(state.q, dob_years=state.dob_years, today=today, places=places)
    query = B.build_query(parsed)
    filters = [B.facet_filter(B.FACETS_BY_KEY[k], list(v)) for k, v in state.facets if k in B.FACETS_BY_KEY]
    if filters:
        return {"bool": {"must": [query], "filter": filters}}
    return query


def describe(state: SearchState) -> str:
    """A one-line description of a search for lists and audit details."""
    parts = [state.q] if state.q else []
    parts += [f"{B.FACETS_BY_KEY[k].label}: {', '.join(v)}" for k, v in state.facets if k in B.FACETS_BY_KEY]
    return "; ".join(parts) or "(everything)"
