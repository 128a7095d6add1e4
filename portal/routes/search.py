"""The search page (``/``, ``/search``) and type-ahead suggestions (``/suggest``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from lantern.clock import today_utc
from lantern.principal import Principal
from persons.query import PersonCard, person_intent
from portal import reads
from portal.person_reads import Beside, cards_beside, find_persons
from portal.present import facet_views
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, require_purpose
from portal.security.ratelimit import enforce, limited
from search import builders as B
from search import cursor as C
from search.parser import PlaceLookup, parse
from search.places import place_lookup
from search.urlstate import SearchState, from_params

router = APIRouter(include_in_schema=False)

SEARCH_TIPS = (
    ("Names, however spelt", 'Jon Smyth, Bill Smith, "John Smith"'),
    ("Vehicles, phones, postcodes", "AB12 CDE, 07700 900123, SE1 7PB"),
    ("Dates of birth", "John Smith 12/03/1985 (choose ± years below)"),
    ("Identifiers", "PNC 2001/0123456F, CRO 123456/98K, QQ123456C"),
    ("Combine", "smith AND (knife OR blade) NOT type:intel"),
    ("Filters", "type:custody station:brixton from:2024-01 to:2024-06 vrm:AB12CDE"),
    ("Places", "burglary near:SE1 7PB 500m (then Map these results)"),
)


def is_fragment_request(request: Request, target: str) -> bool:
    """An htmx request that swaps only ``target`` (history restores get the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and not request.headers.get("hx-history-restore-request")
        and request.headers.get("hx-target") == target
    )


def history_header(request: Request) -> str:
    """Typing in the box (element ``q``) replaces the history entry; anything else pushes one."""
    return "HX-Replace-Url" if request.headers.get("hx-trigger") == "q" else "HX-Push-Url"


def search_request(
    state: SearchState, today: Any = None, places: PlaceLookup | None = None
) -> B.SearchRequest:
    parsed = parse(state.q, dob_years=state.dob_years, today=today, places=places)
    return B.SearchRequest(
        parsed=parsed, facets=state.facet_map, sort=state.sort, page=state.page, size=state.size
    )


def page_with_person_cards(
    request: Request, user: Principal, state: SearchState
) -> tuple[SearchState, B.SearchRequest, reads.SearchOutcome, str | None, list[PersonCard]]:
    """``run_page`` plus the resolved people matching a name (+ DOB) query, shown above the
    records (first page only). The people are searched in the same request as the records
    (``cards_beside``)."""
    first = search_request(state, today_utc())
    intent = person_intent(first.parsed) if first.page <= 1 and not state.after else None
    app = request.app.state

    def run(beside: Sequence[Beside]) -> tuple[PageRun, list[dict[str, Any]], list[str]]:
        page = run_page(request, user, state, beside)
        # The persons answer holds every mention of its nominals, readable or not: it goes
        # to cards_beside only, never on with the outcome the page renders.
        answers, page[2].beside = page[2].beside, []
        return page, answers, [item.id for item in page[2].items]

    (state, req, outcome, refused), cards = cards_beside(
        app.client,
        app.settings,
        user,
        intent.name if intent else None,
        intent.dob if intent else None,
        intent.years if intent else 0,
        run,
    )
    if intent is None and req.page <= 1 and refused is not None:
        # A refused cursor fell back to page 1: that page shows its people too.
        intent = person_intent(req.parsed)
        if intent is not None:
            cards = find_persons(app.client, app.settings, user, intent.name, intent.dob, years=intent.years)
    if intent is not None and intent.notice:
        cards = [replace(c, tolerance=c.tolerance or intent.notice) for c in cards]
    return state, req, outcome, refused, cards


def _cursor_key(request: Request) -> bytes:
    return str(request.app.state.settings.secret_key.get_secret_value()).encode()


def read_cursor(request: Request, state: SearchState) -> tuple[C.Cursor | None, str | None]:
    """The deep-paging cursor of ``state`` (None without one) and a notice if it was refused."""
    if not state.after:
        return None, None
    try:
        return C.decode(state.after, key=_cursor_key(request), search_key=state.search_key()), None
    except C.BadCursor as exc:
        return None, f"{str(exc).capitalize()}: the first page is shown instead."


def cursor_href(request: Request, state: SearchState, cursor: C.Cursor | None) -> str | None:
    """The link to the page ``cursor`` opens (None without a cursor)."""
    if cursor is None:
        return None
    token = C.encode(cursor, key=_cursor_key(request), search_key=state.search_key())
    return state.href(page=cursor.page, after=token)


PageRun = tuple[SearchState, B.SearchRequest, reads.SearchOutcome, str | None]


def run_page(request: Request, user: Principal, state: SearchState, beside: Sequence[Beside] = ()) -> PageRun:
    """One results page of ``state`` (numbered, or past the window through its cursor), the
    state it really shows, and a notice if the cursor was refused (then page 1 is shown).
    ``beside``: searches of other indices sent with a numbered page's request."""
    cursor, refused = read_cursor(request, state)
    if refused is not None:
        state = replace(state, page=1, after="")
    req = search_request(
        state, today_utc(), place_lookup(request.app.state.client, request.app.state.settings)
    )
    outcome = reads.run_search(
        request.app.state.client,
        request.app.state.settings,
        user,
        req,
        cursor=cursor,
        beside=beside if cursor is None else (),
    )
    return state, req, outcome, refused


def pager_links(request: Request, state: SearchState, outcome: reads.SearchOutcome) -> dict[str, str | None]:
    """Previous/Next of a page at or past the window (numbered links where a number reaches)."""
    prev = cursor_href(request, state, outcome.prev_cursor)
    if prev is None and outcome.page > 1:
        prev = state.page_href(outcome.page - 1)
    return {"prev_href": prev, "next_href": cursor_href(request, state, outcome.next_cursor)}


def audit_details(state: SearchState, outcome: reads.SearchOutcome) -> dict[str, Any]:
    return {
        "query": state.q,
        "filters": {k: list(v) for k, v in state.facets},
        "sort": state.sort,
        "page": outcome.page,
        "dob_years": state.dob_years,
        "result_count": outcome.total,
        "shown_ids": [i.id for i in outcome.items],
        "degraded": outcome.request.parsed.degraded,
    }


@router.get("/")
def home(request: Request, user: CurrentUser) -> Response:
    return render(
        request,
        "search.html",
        {
            "state": SearchState(),
            "outcome": None,
            "tips": SEARCH_TIPS,
            "live_search": True,
            "facets": [],
            "notices": (),
        },
    )


@router.get("/search")
def search_page(request: Request, user: CurrentUser, audit: Auditor) -> Response:
    state = from_params(request.query_params.multi_items())
    fragment = is_fragment_request(request, "search-main")
    ctx: dict[str, Any] = {
        "state": state,
        "outcome": None,
        "tips": SEARCH_TIPS,
        "live_search": True,
        "facets": [],
        "notices": (),
        "relaxed": [],
        "persons": [],
    }
    if not state.active:
        response = render(request, "search.html", ctx, block="main" if fragment else None)
        if fragment:
            response.headers[history_header(request)] = "/"
        return response
    require_purpose(request, user)
    state, req, outcome, refused, persons = limited(
        request, "search", user, lambda: page_with_person_cards(request, user, state)
    )
    details = audit_details(state, outcome)
    if persons:
        details["shown_persons"] = [c.id for c in persons]
    audit.record(request, "search", details=details)
    relaxed = []
    if outcome.total == 0 and not persons and state.q.strip():
        relaxed = [
            (r, state.href(q=r.q, facets=r.facets, page=1))
            for r in reads.explain_empty(request.app.state.client, request.app.state.settings, user, req)
        ]
    ctx.update(
        state=state,
        outcome=outcome,
        relaxed=relaxed,
        notices=(
            *req.parsed.notices,
            *dict.fromkeys(c.tolerance for c in persons if c.tolerance),
            *([refused] if refused else []),
        ),
        **pager_links(request, state, outcome),
        facets=facet_views(outcome.aggs, state.facet_map, state.toggle),
        persons=persons,
    )
    response = render(request, "search.html", ctx, block="main" if fragment else None)
    if fragment:
        # The address bar shows the normalised state. Typing replaces the history entry (one
        # entry per search, not per keystroke); facets, sorting and paging push a new one.
        response.headers[history_header(request)] = state.href()
    return response


@router.get("/suggest")
def suggest_fragment(request: Request, user: CurrentUser, audit: Auditor, q: str = "") -> Response:
    """Type-ahead list (an htmx fragment; the search box works without it)."""
    items: list[reads.Suggestion] = []
    if len(q.strip()) >= 2 and getattr(request.state, "purpose", None) is not None:
        enforce(request, "suggest", user)
        items = reads.suggest(request.app.state.client, request.app.state.settings, user, q)
        if items:
            audit.record(request, "suggest", details={"query": q[:100], "shown": [s.text for s in items]})
    return render(request, "_suggestions.html", {"suggestions": items, "q": q})
