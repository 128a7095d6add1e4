"""Saved queries: list, save, open, edit, share, delete (``/saved``).

Every change is a POST with the CSRF token (checked by the security middleware) and is
audited; GET never changes anything. Opening a saved query is a POST too: it records
when its owner last looked (what counts as "new"), then redirects to the ordinary,
secured and audited search page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from alerts import percolation
from alerts.notifications import NotificationStore
from alerts.saved_queries import SavedQuery, SavedQueryError, SavedQueryStore
from lantern.clock import iso, today_utc
from lantern.principal import Principal
from mappings import fields as F
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from search.gateway import SecuredRecords
from search.places import place_lookup
from search.urlstate import SearchState, base_query, describe, search_href, state_from_params

router = APIRouter(include_in_schema=False)

# Form fields that are not part of the search itself.
FORM_FIELDS = {"name", "notes", "shared_unit", "csrf_token", "saved_id"}


def store(request: Request) -> SavedQueryStore:
    # The percolator is brought in step where mappings change (``lantern index init/migrate``
    # and every load), never inside a page request; saving or editing registers that query.
    return SavedQueryStore(request.app.state.client, request.app.state.settings)


def new_counts(request: Request, user: Principal, items: list[SavedQuery]) -> dict[str, int | None]:
    """Readable results indexed since each query's owner last opened it (one msearch)."""
    if not items:
        return {}
    today = today_utc()
    bodies = []
    places = place_lookup(request.app.state.client, request.app.state.settings)
    for sq in items:
        query = {
            "bool": {
                "must": [base_query(sq.state, today, places)],
                "filter": [{"range": {F.INDEXED_AT: {"gt": iso(sq.since)}}}],
            }
        }
        bodies.append({"query": query, "size": 0, "track_total_hits": True})
    out: dict[str, int | None] = {}
    records = SecuredRecords(request.app.state.client, request.app.state.settings, user)
    responses = records.msearch(bodies, today=today)
    for sq, resp in zip(items, responses, strict=True):
        out[sq.id] = None if "error" in resp else int(resp["hits"]["total"]["value"])
    return out


def view(sq: SavedQuery, user: Principal, counts: dict[str, int | None]) -> dict[str, Any]:
    return {
        "sq": sq,
        "description": describe(sq.state),
        "href": search_href(sq.state),
        "new": counts.get(sq.id),
        "mine": sq.editable_by(user),
        "since": sq.since,
    }


async def form_items(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    form = await request.form()
    fields: dict[str, str] = {}
    search: list[tuple[str, str]] = []
    for key, value in form.multi_items():
        if not isinstance(value, str):
            continue
        if key in FORM_FIELDS:
            fields[key] = value
        else:
            search.append((key, value))
    return fields, search


def form_context(
    user: Principal,
    state: SearchState,
    *,
    name: str = "",
    notes: str = "",
    shared_unit: str | None = None,
    error: str | None = None,
    sq: SavedQuery | None = None,
) -> dict[str, Any]:
    return {
        "state": state,
        "description": describe(state),
        "name": name,
        "notes": notes,
        "shared_unit": shared_unit or "",
        "units": sorted(user.units),
        "error": error,
        "sq": sq,
        "href": search_href(state),
    }


def _form_error(
    request: Request,
    user: Principal,
    state: SearchState,
    fields: Mapping[str, Any],
    exc: SavedQueryError,
    *,
    status_code: int,
    sq: SavedQuery | None = None,
) -> Response:
    """The save/edit form again, with what the user typed and why it was refused."""
    return render(
        request,
        "analyst/saved_form.html",
        form_context(
            user,
            state,
            name=fields.get("name", ""),
            notes=fields.get("notes", ""),
            shared_unit=fields.get("shared_unit"),
            error=str(exc),
            sq=sq,
        ),
        status_code=status_code,
    )


# ------------------------------------------------------------------------------ pages


@router.get("/saved")
def saved_list(request: Request, user: CurrentUser, purpose: RequirePurpose) -> Response:
    items = store(request).list_for(user)
    counts = new_counts(request, user, items)
    views = [view(sq, user, counts) for sq in items]
    return render(
        request,
        "analyst/saved_list.html",
        {
            "mine": [v for v in views if v["mine"]],
            "shared": [v for v in views if not v["mine"]],
            "flash": request.query_params.get("done"),
        },
    )


@router.get("/saved/new")
def saved_new(request: Request, user: CurrentUser) -> Response:
    state = state_from_params(request.query_params.multi_items())
    if not state.active:
        return render(
            request,
            "analyst/saved_form.html",
            form_context(user, state, error="Run a search first, then save it from the results page."),
            status_code=400,
        )
    return render(request, "analyst/saved_form.html", form_context(user, state, name=state.q[:80]))


@router.post("/saved")
async def saved_create(request: Request, user: CurrentUser, audit: Auditor) -> Response:
    fields, search = await form_items(request)
    state = state_from_params(search)
    s = store(request)
    try:
        sq = s.create(
            user,
            state,
            name=fields.get("name", ""),
            notes=fields.get("notes", ""),
            shared_unit=fields.get("shared_unit"),
        )
    except SavedQueryError as exc:
        return _form_error(request, user, state, fields, exc, status_code=400)
    audit.record(
        request,
        "saved_query.create",
        target={"saved_query": sq.id},
        details={
            "name": sq.name,
            "query": state.q,
            "filters": {k: list(v) for k, v in state.facets},
            "sort": state.sort,
            "shared_unit": sq.shared_unit,
        },
    )
    sq = percolation.register(request.app.state.client, request.app.state.settings, sq, notify=False)
    return RedirectResponse(f"/saved/{sq.id}?done=created", status_code=303)


@router.get("/saved/{saved_id}")
def saved_detail(
    request: Request, saved_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    sq = store(request).visible(user, saved_id)
    audit.record(request, "saved_query.view", target={"saved_query": sq.id}, details={"name": sq.name})
    counts = new_counts(request, user, [sq])
    return render(
        request,
        "analyst/saved_detail.html",
        {**view(sq, user, counts), "flash": request.query_params.get("done")},
    )


@router.get("/saved/{saved_id}/edit")
def saved_edit_form(request: Request, saved_id: str, user: CurrentUser) -> Response:
    s = store(request)
    sq = s.visible(user, saved_id)
    if not sq.editable_by(user):
        return render(
            request,
            "analyst/saved_detail.html",
            {**view(sq, user, {}), "error": "Only the owner can change this saved query."},
            status_code=403,
        )
    return render(
        request,
        "analyst/saved_form.html",
        form_context(user, sq.state, name=sq.name, notes=sq.notes, shared_unit=sq.shared_unit, sq=sq),
    )


@router.post("/saved/{saved_id}")
async def saved_update(request: Request, saved_id: str, user: CurrentUser, audit: Auditor) -> Response:
    fields, search = await form_items(request)
    s = store(request)
    current = s.visible(user, saved_id)
    state = state_from_params(search) if search else current.state
    try:
        sq = s.update(
            user,
            saved_id,
            name=fields.get("name", ""),
            notes=fields.get("notes", ""),
            shared_unit=fields.get("shared_unit"),
            state=state,
        )
    except SavedQueryError as exc:
        return _form_error(
            request,
            user,
            state,
            fields,
            exc,
            sq=current,
            status_code=403 if not current.editable_by(user) else 400,
        )
    audit.record(
        request,
        "saved_query.update",
        target={"saved_query": sq.id},
        details={
            "name": sq.name,
            "query": sq.state.q,
            "filters": {k: list(v) for k, v in sq.state.facets},
            "sort": sq.state.sort,
            "shared_unit": sq.shared_unit,
            "previous_name": current.name,
        },
    )
    percolation.register(request.app.state.client, request.app.state.settings, sq, notify=False)
    return RedirectResponse(f"/saved/{sq.id}?done=updated", status_code=303)


@router.post("/saved/{saved_id}/delete")
def saved_delete(request: Request, saved_id: str, user: CurrentUser, audit: Auditor) -> Response:
    s = store(request)
    try:
        sq = s.owned(user, saved_id)
    except SavedQueryError as exc:
        return render(
            request,
            "analyst/saved_detail.html",
            {**view(s.visible(user, saved_id), user, {}), "error": str(exc)},
            status_code=403,
        )
    audit.record(request, "saved_query.delete", target={"saved_query": sq.id}, details={"name": sq.name})
    client, settings = request.app.state.client, request.app.state.settings
    percolation.unregister(client, settings, sq.id)
    s.delete(user, sq.id)
    NotificationStore(client, settings).delete_for_query(sq.id)
    return RedirectResponse("/saved?done=deleted", status_code=303)


@router.post("/saved/{saved_id}/open")
def saved_open(request: Request, saved_id: str, user: CurrentUser, audit: Auditor) -> Response:
    s = store(request)
    sq = s.visible(user, saved_id)
    audit.record(
        request,
        "saved_query.open",
        target={"saved_query": sq.id},
        details={"name": sq.name, "query": sq.state.q},
    )
    if sq.editable_by(user):
        s.mark_opened(sq)
    return RedirectResponse(search_href(sq.state), status_code=303)
