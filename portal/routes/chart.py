"""Link chart pages and their JSON API: ``/chart``, ``/chart/start``, ``/chart/path``, exports.

The chart's state is its URL (seed nodes ``n`` and expansions ``x``), so the page works
without JavaScript (a table of nodes and edges with expand links) and the client only
draws what the same JSON endpoints return. Every view, expansion, path and export is
audited with the ids of the records behind what was shown.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import Field

from lantern.errors import NotFound
from mappings import fields as F
from portal import chart as C
from portal.chart_store import ChartStore, SavedChartError
from portal.errors import NOT_FOUND, ErrorView, error_response
from portal.openapi import API_ERRORS
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from search import builders as B
from search.gateway import SecuredRecords

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/chart", tags=["chart"], responses=API_ERRORS)

START_LABELS = {"PERSON": C.PERSON, "VRM": "vrm", "PHONE": "phone", "POSTCODE": "postcode"}


def _bad(request: Request, exc: C.ChartError) -> Response:
    return error_response(request, ErrorView(400, "That chart could not be drawn", str(exc)))


def _records(request: Request, user: Any) -> SecuredRecords:
    return SecuredRecords(request.app.state.client, request.app.state.settings, user)


def chart_href(spec: C.ChartSpec) -> str:
    return "/chart?" + urlencode(spec.params()) if spec.seeds else "/chart"


def _audit_details(g: C.Graph, **extra: Any) -> dict[str, Any]:
    return {"record_ids": g.record_ids(), "nodes": len(g.nodes), "edges": len(g.edges), **extra}


def _spec(n: list[str], x: list[str], cap: str | int | None, g: list[str] | None = None) -> C.ChartSpec:
    return C.parse_spec(n, x, cap, g or [])


@router.get("/chart/start")
def chart_start(
    request: Request, user: CurrentUser, purpose: RequirePurpose, label: str = "", value: str = ""
) -> Response:
    """ "Chart this" from an entity or record page: the node, expanded into its records."""
    label = label.upper()
    value = value.strip()[:200]
    if label == "RECORD" and value:
        ref = C.NodeRef(C.RECORD, value)
        spec = C.ChartSpec((ref,), ((ref, "records"),))
        return RedirectResponse(chart_href(spec), status_code=303)
    if label == "NOMINAL" and C.is_nominal(value):
        # A person page's "Chart this": the nominal itself (drawn only from readable records).
        ref = C.NodeRef(C.PERSON, value)
        return RedirectResponse(chart_href(C.ChartSpec((ref,), ((ref, "records"),))), status_code=303)
    if label not in START_LABELS or not value:
        return _bad(request, C.ChartError("charts start from a person, vehicle, phone, address or record"))
    if label == "PERSON":
        # A name on a page -> the linking keys of the readable people of that name.
        res = _records(request, user).search(B.build_person_keys(value))
        keys: list[str] = []
        for h in res["hits"]["hits"]:
            for ih in ((h.get("inner_hits") or {}).get(F.PEOPLE) or {}).get("hits", {}).get("hits", []):
                key = C.person_key(ih.get("_source") or {})
                if key and key not in keys:
                    keys.append(key)
        if not keys:
            return _bad(
                request,
                C.ChartError("no person of that name with a date of birth or PNC ID in records you may read"),
            )
        refs = tuple(C.NodeRef(C.PERSON, k) for k in keys[:3])
    else:
        refs = (C.NodeRef(START_LABELS[label], value),)
    spec = C.ChartSpec(refs, tuple((r, "records") for r in refs))
    return RedirectResponse(chart_href(spec), status_code=303)


@router.get("/chart")
def chart_page(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    n: list[str] = Query(default=[]),
    x: list[str] = Query(default=[]),
    cap: str | None = None,
    groups: list[str] = Query(default=[], alias="g"),
    add: str = "",
) -> Response:
    try:
        spec = _spec(n + ([add] if add.strip() else []), x, cap, groups)
    except C.ChartError as exc:
        return _bad(request, exc)
    records = _records(request, user)
    # The hub list paths need (an index-wide aggregation per access filter) is fetched in the
    # background while the analyst looks at the chart, so a path search does not wait for it.
    C.warm_hubs(records)
    g = C.build_chart(records, spec)
    audit.record(
        request,
        "chart.view",
        target={"seeds": [s.id for s in spec.seeds]},
        details=_audit_details(g, expansions=len(spec.expansions)),
    )
    return render(request, "chart/chart.html", _context(spec, g))


def _context(spec: C.ChartSpec, g: C.Graph, **extra: Any) -> dict[str, Any]:
    expanded = {(r.id, rel) for r, rel in spec.expansions}

    def expand_href(node_id: str, rel: str) -> str:
        ref = C.parse_node(node_id)
        return chart_href(C.ChartSpec(spec.seeds, (*spec.expansions, (ref, rel)), spec.cap))

    def remove_href(node_id: str) -> str:
        seeds = tuple(s for s in spec.seeds if s.id != node_id)
        exps = tuple((r, rel) for r, rel in spec.expansions if r.id != node_id)
        return chart_href(C.ChartSpec(seeds, exps, spec.cap, spec.groups))

    def ungroup_href(group_id: str) -> str:
        return chart_href(spec.without_group(int(group_id.partition(":")[2]) - 1))

    def group_timeline_href(group_id: str) -> str:
        members = C.group_members(g, group_id)[: C.MAX_TIMELINE_NODES]
        return "/timeline?" + urlencode([("n", m.id) for m in members if m.kind in C.KINDS])

    api_query = urlencode(spec.params())
    return {
        "spec": spec,
        "graph": g,
        "nodes": sorted(
            g.nodes.values(), key=lambda n: (C.KINDS.index(n.kind) if n.kind in C.KINDS else 9, n.label)
        ),
        "edges": sorted(g.edges.values(), key=lambda e: (-e.count, e.source, e.target)),
        "expanded": expanded,
        "expand_href": expand_href,
        "remove_href": remove_href,
        "ungroup_href": ungroup_href,
        "group_timeline_href": group_timeline_href,
        "groups": [n for n in g.nodes.values() if n.kind == C.GROUP],
        "relations": C.RELATIONS,
        "relation_names": C.RELATION_NAMES,
        "kind_names": C.KIND_NAMES,
        "node_labels": {n.id: n.label for n in g.nodes.values()},
        "api_query": api_query,
        "canvas_api": f"/api/chart?{api_query}",
        "timeline_href": "/timeline?"
        + urlencode([("n", nd.id) for nd in g.nodes.values() if nd.kind in C.KINDS][: C.MAX_TIMELINE_NODES]),
        "chartable": [k for k in C.KINDS if k != "more"],
        # "+N more": the same chart with the largest cap (the hub cap still ranks over a hub's
        # newest records; its records relation lists them all).
        "show_all_href": chart_href(replace(spec, cap=C.MAX_CAP)) if spec.cap < C.MAX_CAP else "",
        "max_cap": C.MAX_CAP,
        "hub_sample": C.HUB_SAMPLE,
        **extra,
    }


@router.get("/chart/group")
def chart_group(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    n: list[str] = Query(default=[]),
    x: list[str] = Query(default=[]),
    cap: str | None = None,
    groups: list[str] = Query(default=[], alias="g"),
    name: str = "",
    m: list[str] = Query(default=[]),
) -> Response:
    """Group the selected nodes ``m`` under ``name`` (a form without JavaScript; with it, the
    nodes selected on the canvas tick the same boxes). The chart's URL keeps the group."""
    try:
        spec = _spec(n, x, cap, groups).with_group(name, [C.parse_node(v) for v in m])
    except C.ChartError as exc:
        return _bad(request, exc)
    return RedirectResponse(chart_href(spec), status_code=303)


@router.get("/chart/path")
def chart_path_page(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    a: str = "",
    b: str = "",
    hops: int = 4,
    n: list[str] = Query(default=[]),
    x: list[str] = Query(default=[]),
    cap: str | None = None,
    groups: list[str] = Query(default=[], alias="g"),
) -> Response:
    try:
        spec = _spec(n, x, cap, groups)
        ra, rb = C.parse_node(a), C.parse_node(b)
        result = C.shortest_paths(_records(request, user), ra, rb, hops)
    except C.ChartError as exc:
        return _bad(request, exc)
    g = C.build_chart(_records(request, user), spec)
    g.merge(result.graph)
    audit.record(
        request,
        "chart.path",
        target={"from": ra.id, "to": rb.id, "max_hops": hops},
        details=_audit_details(g, paths=result.paths),
    )
    canvas = "/api/chart/path?" + urlencode({"a": ra.id, "b": rb.id, "hops": hops})
    context = _context(spec, g, path=result, path_a=ra.id, path_b=rb.id, hops=hops)
    context["canvas_api"] = canvas
    return render(request, "chart/chart.html", context)


def _export(
    request: Request,
    user: Any,
    audit: Any,
    fmt: str,
    spec_args: tuple[list[str], list[str], str | None, list[str]],
) -> Response:
    """Every export (JSON, GraphML, PNG): the chart recomputed for the user, audited with the
    record ids behind it, then the format's answer (the PNG is drawn by the browser: 204)."""
    try:
        spec = _spec(*spec_args)
    except C.ChartError as exc:
        return _bad(request, exc)
    g = C.build_chart(_records(request, user), spec)
    audit.record(request, "chart.export", target={"format": fmt}, details=_audit_details(g))
    if fmt == "json":
        return JSONResponse(
            {"chart": spec.params(), **g.to_json()},
            headers={"Content-Disposition": 'attachment; filename="lantern-chart.json"'},
        )
    if fmt == "graphml":
        return Response(
            C.to_graphml(g),
            media_type="application/graphml+xml",
            headers={"Content-Disposition": 'attachment; filename="lantern-chart.graphml"'},
        )
    return Response(status_code=204)


@router.get("/chart/export.{fmt}")
def export_chart(
    request: Request,
    fmt: Literal["json", "graphml"],
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    n: list[str] = Query(default=[]),
    x: list[str] = Query(default=[]),
    cap: str | None = None,
    groups: list[str] = Query(default=[], alias="g"),
) -> Response:
    return _export(request, user, audit, fmt, (n, x, cap, groups))


@router.post("/chart/export-png-audit")
def export_png_audit(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    n: list[str] = Query(default=[]),
    x: list[str] = Query(default=[]),
    cap: str | None = None,
    groups: list[str] = Query(default=[], alias="g"),
) -> Response:
    """The client draws the PNG itself; it tells the server first so the export is audited."""
    return _export(request, user, audit, "png", (n, x, cap, groups))


# ------------------------------------------------------------------------ JSON API


@api.get("")
def api_chart(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    n: Annotated[list[Annotated[str, Field(pattern=C.NODE_PATTERN)]], Query(max_length=C.MAX_SEEDS)] = [],  # noqa: B006
    x: Annotated[
        list[Annotated[str, Field(pattern=C.EXPANSION_PATTERN)]], Query(max_length=C.MAX_EXPANSIONS)
    ] = [],  # noqa: B006
    cap: Annotated[int | None, Query(ge=1, le=C.MAX_CAP)] = None,
    groups: Annotated[
        list[Annotated[str, Field(pattern=C.GROUP_PATTERN)]], Query(alias="g", max_length=C.MAX_GROUPS)
    ] = [],  # noqa: B006
) -> Response:
    """The chart a URL state describes (seed nodes ``n``, expansions ``x=node|relation``)."""
    try:
        spec = _spec(n, x, cap, groups)
    except C.ChartError as exc:
        return _bad(request, exc)
    records = _records(request, user)
    C.warm_hubs(records)  # as for the page: a path search from this chart finds it ready
    g = C.build_chart(records, spec)
    audit.record(
        request,
        "chart.view",
        target={"seeds": [s.id for s in spec.seeds]},
        details=_audit_details(g, expansions=len(spec.expansions)),
    )
    return JSONResponse(g.to_json())


@api.get("/expand")
def api_expand(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    node: Annotated[str, Query(pattern=C.NODE_PATTERN)],
    rel: Literal["records", "persons", "vrm", "phone", "postcode"] = "records",
    cap: Annotated[int, Query(ge=1, le=C.MAX_CAP)] = C.DEFAULT_CAP,
) -> Response:
    """One node expanded by one relation: at most ``cap`` new nodes and a "+N more" node."""
    try:
        ref = C.parse_node(node)
        g = C.expand(_records(request, user), ref, rel, cap)
    except C.ChartError as exc:
        return _bad(request, exc)
    audit.record(request, "chart.expand", target={"node": ref.id, "relation": rel}, details=_audit_details(g))
    return JSONResponse(g.to_json())


@api.get("/path")
def api_path(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    a: Annotated[str, Query(pattern=C.PATH_NODE_PATTERN)],
    b: Annotated[str, Query(pattern=C.PATH_NODE_PATTERN)],
    hops: Annotated[int, Query(ge=1, le=C.MAX_HOPS)] = 4,
) -> Response:
    """Shortest paths from ``a`` to ``b`` within ``hops``, with the records behind each hop."""
    try:
        ra, rb = C.parse_node(a), C.parse_node(b)
        result = C.shortest_paths(_records(request, user), ra, rb, hops)
    except C.ChartError as exc:
        return _bad(request, exc)
    audit.record(
        request,
        "chart.path",
        target={"from": ra.id, "to": rb.id, "max_hops": hops},
        details=_audit_details(result.graph, paths=result.paths),
    )
    return JSONResponse(
        {
            **result.graph.to_json(),
            "paths": result.paths,
            "hops": [
                {"source": h.source, "target": h.target, "count": h.count, "records": h.records}
                for h in result.hops
            ],
            "searched_hops": result.searched_hops,
            "complete": result.complete,
            # Hubs (nodes on more than C.HUB_SAMPLE readable records) paths did not pass through.
            "avoided": [{"id": i, "count": n, "label": result.labels.get(i, "")} for i, n in result.avoided],
        }
    )


# ------------------------------------------------------------------------ saved charts


def _store(request: Request) -> ChartStore:
    return ChartStore(request.app.state.client, request.app.state.settings)


@router.post("/chart/saved")
def save_chart(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    name: str = Form(""),
    shared_unit: str = Form(""),
    state: str = Form(""),
) -> Response:
    """Save the chart's state (seeds and expansions), owner-only or shared with a unit."""
    from urllib.parse import parse_qsl

    params = parse_qsl(state, keep_blank_values=False)
    try:
        spec = _spec(
            [v for k, v in params if k == "n"],
            [v for k, v in params if k == "x"],
            dict(params).get("cap"),
            [v for k, v in params if k == "g"],
        )
        chart = _store(request).create(user, spec.params(), name=name, shared_unit=shared_unit or None)
    except (C.ChartError, SavedChartError) as exc:
        return error_response(request, ErrorView(400, "The chart was not saved", str(exc)))
    audit.record(request, "chart.save", target={"id": chart.id}, details={"shared_unit": chart.shared_unit})
    return RedirectResponse(f"/chart/saved/{chart.id}", status_code=303)


@router.get("/chart/saved")
def saved_charts(request: Request, user: CurrentUser, purpose: RequirePurpose) -> Response:
    charts = _store(request).list_for(user)
    return render(request, "chart/saved.html", {"charts": charts, "user": user})


@router.get("/chart/saved/{chart_id}")
def open_saved_chart(
    request: Request, chart_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    """A saved chart, recomputed from what the viewer may read now."""
    try:
        chart = _store(request).visible(user, chart_id)
    except NotFound:
        return error_response(request, NOT_FOUND)
    d: dict[str, list[str]] = {}
    for k, v in chart.params:
        d.setdefault(k, []).append(v)
    try:
        spec = _spec(d.get("n", []), d.get("x", []), next(iter(d.get("cap", [])), None), d.get("g", []))
    except C.ChartError as exc:
        return _bad(request, exc)
    records = _records(request, user)
    if not chart.editable_by(user):
        spec = C.readable_spec(records, spec)
    g = C.build_chart(records, spec)
    audit.record(
        request,
        "chart.view",
        target={"saved_chart": chart.id, "seeds": [s.id for s in spec.seeds]},
        details=_audit_details(g, expansions=len(spec.expansions)),
    )
    return render(request, "chart/chart.html", _context(spec, g, saved=chart, owner=chart.editable_by(user)))


@router.post("/chart/saved/{chart_id}/delete")
def delete_saved_chart(request: Request, chart_id: str, user: CurrentUser, audit: Auditor) -> Response:
    try:
        chart = _store(request).delete(user, chart_id)
    except NotFound:
        return error_response(request, NOT_FOUND)
    except SavedChartError as exc:
        return error_response(request, ErrorView(403, "The chart was not deleted", str(exc)))
    audit.record(request, "chart.delete", target={"id": chart.id})
    return RedirectResponse("/chart/saved", status_code=303)
