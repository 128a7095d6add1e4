"""Timeline of a person, an entity or a chart selection: ``/timeline`` and ``/api/timeline``.

The selection is chart node ids (``n=person:…``, ``n=vrm:…``, ``n=record:…``); the
records mentioning any of them are read through the gateway (newest first, at most
:data:`MAX_RECORDS`), and each contributes its own item plus its dated events (arrest,
arrival, custody reviews, interviews, release, offence, investigation log, charge,
hearings). The page lists the same items in a table, so it works without JavaScript.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import Field, ValidationError

from lantern.principal import Principal
from lantern.records import parse_record
from mappings import fields as F
from portal import chart as C
from portal.errors import ErrorView, error_response
from portal.openapi import API_ERRORS
from portal.present import TYPE_LABELS
from portal.rendering import render
from portal.routes.records import timeline as record_events
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from search.gateway import SecuredRecords

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["timeline"], responses=API_ERRORS)

MAX_RECORDS = 500
MAX_NODES = C.MAX_TIMELINE_NODES


@dataclass
class Item:
    id: str
    record_id: str
    record_type: str
    group: str
    at: str  # ISO 8601
    kind: str
    title: str
    reference: str


def _items(client: Any, settings: Any, user: Principal, refs: list[C.NodeRef]) -> tuple[list[Item], int]:
    scan = SecuredRecords(client, settings, user).scan(
        C.nodes_query(refs),
        sort=[{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}],
        source=[F.ID, F.RECORD_TYPE, F.REFERENCE, F.TITLE, F.RECORD_DATE, F.RECORD],
        limit=MAX_RECORDS,
    )
    total = scan.total
    items: list[Item] = []
    for hit in scan:
        src = hit.get("_source") or {}
        rid = str(hit["_id"])
        rtype = str(src.get(F.RECORD_TYPE) or "")
        group = TYPE_LABELS.get(rtype, rtype)
        ref = str(src.get(F.REFERENCE) or "")
        if src.get(F.RECORD_DATE):
            label = "Intelligence reported" if rtype == "intel" else "Record date"
            items.append(
                Item(
                    f"{rid}:0",
                    rid,
                    rtype,
                    group,
                    str(src[F.RECORD_DATE]),
                    "record",
                    f"{label}: {src.get(F.TITLE) or ref}",
                    ref,
                )
            )
        try:
            record = parse_record(src.get(F.RECORD) or {})
        except ValidationError:
            continue
        for i, ev in enumerate(record_events(record, {}), start=1):
            at = ev.at.isoformat() if isinstance(ev.at, datetime) else str(ev.at)
            items.append(Item(f"{rid}:{i}", rid, rtype, group, at, ev.kind, ev.title, ref))
    items.sort(key=lambda it: it.at)
    return items, total


def _refs(n: list[str]) -> list[C.NodeRef]:
    if not n or len(n) > MAX_NODES:
        raise C.ChartError(f"a timeline needs between 1 and {MAX_NODES} nodes")
    return list(dict.fromkeys(C.parse_node(x) for x in n))


def _bad(request: Request, exc: C.ChartError) -> Response:
    return error_response(request, ErrorView(400, "That timeline could not be drawn", str(exc)))


@router.get("/timeline")
def timeline_page(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    n: list[str] = Query(default=[]),
) -> Response:
    try:
        refs = _refs(n)
    except C.ChartError as exc:
        return _bad(request, exc)
    items, total = _items(request.app.state.client, request.app.state.settings, user, refs)
    ids = sorted({i.record_id for i in items})
    audit.record(
        request,
        "timeline.view",
        target={"nodes": [r.id for r in refs]},
        details={"record_ids": ids, "result_count": total},
    )
    from urllib.parse import urlencode

    return render(
        request,
        "chart/timeline.html",
        {
            "items": items,
            "total": total,
            "shown": len(ids),
            "refs": refs,
            "api": "/api/timeline?" + urlencode([("n", r.id) for r in refs]),
        },
    )


@api.get("/timeline")
def timeline_api(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    n: Annotated[
        list[Annotated[str, Field(pattern=C.NODE_PATTERN)]],
        Query(min_length=1, max_length=C.MAX_TIMELINE_NODES),
    ],
) -> Response:
    """Dated items of the records mentioning any of the nodes ``n`` (newest 500 records)."""
    try:
        refs = _refs(n)
    except C.ChartError as exc:
        return _bad(request, exc)
    items, total = _items(request.app.state.client, request.app.state.settings, user, refs)
    ids = sorted({i.record_id for i in items})
    audit.record(
        request,
        "timeline.view",
        target={"nodes": [r.id for r in refs]},
        details={"record_ids": ids, "result_count": total},
    )
    groups = sorted({(i.record_type, i.group) for i in items})
    return JSONResponse(
        {
            "total": total,
            "groups": [{"id": t, "content": g} for t, g in groups],
            "items": [
                {
                    "id": i.id,
                    "group": i.record_type,
                    "start": i.at,
                    "content": i.title,
                    "kind": i.kind,
                    "reference": i.reference,
                    "href": f"/records/{i.record_id}",
                }
                for i in items
            ],
        }
    )
