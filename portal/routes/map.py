"""The map of the current results: ``/map`` (page) and ``/api/map`` (clusters for the viewport).

Both take the search page's own parameters (``q`` and facet selections), so "Map these
results" shows exactly the search's records that have a place. Every view is audited with
the record ids it showed, like the chart's.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from lantern.clock import today_utc
from portal import map as M
from portal.openapi import API_ERRORS
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.ratelimit import enforce
from search.places import place_lookup
from search.urlstate import SearchState, from_params

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["map"], responses=API_ERRORS)


def _view(request: Request, user: Any, state: SearchState, zoom: int, box: Any) -> M.MapView:
    enforce(request, "search", user)
    client, settings = request.app.state.client, request.app.state.settings
    return M.read_map(
        client,
        settings,
        user,
        state,
        today=today_utc(),
        places=place_lookup(client, settings),
        zoom=zoom,
        box=box,
    )


def _audit(request: Request, audit: Any, state: SearchState, view: M.MapView, zoom: int, bbox: str) -> None:
    audit.record(
        request,
        "map.view",
        target={"query": state.q, "filters": {k: list(v) for k, v in state.facets}},
        details={
            "zoom": zoom,
            "bbox": bbox,
            "result_count": view.total,
            "located": view.located,
            "record_ids": view.record_ids,
        },
    )


@router.get("/map")
def map_page(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    z: int = Query(M.DEFAULT_ZOOM, ge=0, le=M.MAX_ZOOM),
) -> Response:
    state = from_params(request.query_params.multi_items())
    view = _view(request, user, state, z, None)
    _audit(request, audit, state, view, z, "")
    params = state.params()
    api_href = "/api/map" + (f"?{urlencode(params)}" if params else "")
    return render(
        request,
        "map.html",
        {
            "state": state,
            "view": view,
            "api": api_href,
            "search_href": state.href("/search", page=1),
            "tiles": request.app.state.settings.map_tile_url,
            "tiles_attribution": request.app.state.settings.map_tile_attribution,
        },
    )


@api.get("/map")
def map_api(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    z: int = Query(M.DEFAULT_ZOOM, ge=0, le=M.MAX_ZOOM, description="map zoom (cells of ~64 px)"),
    bbox: str = Query("", description="viewport: west,south,east,north in degrees"),
) -> Response:
    """Clusters of the search's records that have a place (the search's own ``q`` and facet
    parameters), for the viewport ``bbox``; with counts of records the map cannot place."""
    state = from_params(request.query_params.multi_items())
    view = _view(request, user, state, z, M.parse_box(bbox))
    _audit(request, audit, state, view, z, bbox)
    return JSONResponse(view.as_json())
