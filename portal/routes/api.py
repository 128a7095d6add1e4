"""JSON API beside the pages, for other systems. Same rules: sign-in, purpose, access control, audit.

A purpose can be stated per request with ``X-Lantern-Purpose: CODE;REFERENCE``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from lantern.records import IntelligenceReport
from mappings import fields as F
from persons.query import split_name_dob
from portal import reads
from portal.errors import NOT_FOUND
from portal.openapi import API_ERRORS, NOT_FOUND_ERROR
from portal.person_reads import find_persons, person_view
from portal.present import FacetView, ResultItem, facet_views, sees_full_intelligence
from portal.routes.records import INTEL_RESTRICTED_FIELDS
from portal.routes.search import audit_details, pager_links, run_page
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.ratelimit import enforce, limited
from search.urlstate import from_params

router = APIRouter(prefix="/api", tags=["api"], responses=API_ERRORS)


class SegmentOut(BaseModel):
    text: str
    mark: bool = Field(False, description="true for the part of a snippet that matched the query")


class PersonOut(BaseModel):
    name: str
    role: str
    dob: str | None = None


class EntityOut(BaseModel):
    label: str
    value: str
    url: str


class ResultOut(BaseModel):
    id: str
    record_type: str
    reference: str
    title: str
    date: str | None
    facts: dict[str, str]
    people: list[PersonOut]
    snippets: list[list[SegmentOut]]
    entities: list[EntityOut]
    url: str


class FacetValueOut(BaseModel):
    value: str
    count: int
    selected: bool


class FacetOut(BaseModel):
    key: str
    label: str
    values: list[FacetValueOut]


class SearchOut(BaseModel):
    query: str
    notices: list[str] = Field(description="how the query was interpreted or degraded")
    degraded: bool
    total: int
    page: int
    pages: int
    size: int
    capped: bool = Field(description="more results exist than numbered pages (page=) reach")
    next: str | None = Field(
        None,
        description="the next page's URL path (past result 10,000 it carries a signed `after` cursor: "
        "follow it to read on, one page at a time)",
    )
    results: list[ResultOut]
    facets: list[FacetOut]


class LinkedOut(BaseModel):
    id: str
    record_type: str
    reference: str
    title: str
    date: str | None
    group: str = Field(description="the group of its strongest link: person | vehicle_phone | address")
    reasons: list[str]


class LinkedGroupOut(BaseModel):
    group: str = Field(description="person | vehicle_phone | address (strongest first)")
    label: str
    total: int = Field(description="linked records in this group that the caller may read")
    shown: int = Field(description="how many of them are in ``linked`` (the strongest few)")
    url: str = Field(description="every record of the group, paged: /api/records/{id}/linked/{group}")


class LinkedPageOut(BaseModel):
    group: str
    label: str
    total: int
    page: int
    pages: int
    records: list[LinkedOut]


class RecordOut(BaseModel):
    id: str
    record_type: str
    reference: str
    title: str
    record_date: str | None
    record: dict[str, Any] = Field(
        description="the validated record (intelligence text withheld where "
        "the reader's access calls for the sanitised text)"
    )
    entities: dict[str, list[str]]
    linked: list[LinkedOut] = Field(description="the strongest few linked records of each group")
    linked_groups: list[LinkedGroupOut]


class VariantOut(BaseModel):
    name: str
    dob: str | None
    pnc_id: str | None
    reasons: list[str]
    records: int


class BucketOut(BaseModel):
    key: str
    count: int


class EntityPageOut(BaseModel):
    label: str
    value: str
    total: int
    page: int
    pages: int
    records: list[ResultOut]
    timeline: list[BucketOut]
    co_occurring: dict[str, list[BucketOut]]
    variants: list[VariantOut]


class PersonCardOut(BaseModel):
    id: str
    names: list[str]
    dobs: list[str]
    record_count: int
    score: float
    reasons: list[str] = Field(description="why it matched, e.g. the DOB tolerance used")


class PersonsOut(BaseModel):
    persons: list[PersonCardOut]


class PersonRecordOut(BaseModel):
    id: str
    role: str
    probability: float | None = Field(description="match probability of the link that explains it")
    reasons: list[str]


class PersonDecisionOut(BaseModel):
    same: bool
    reason: str
    by: str
    role: str
    at: str | None
    mentions: list[str]


class PersonOut2(BaseModel):
    id: str
    names: list[str]
    dobs: list[str]
    identifiers: dict[str, list[str]] = Field(
        description="pnc_id, cro_no, nino and email, each canonical, from the records you may read"
    )
    records: list[PersonRecordOut]
    decisions: list[PersonDecisionOut]


class SuggestionOut(BaseModel):
    text: str
    kind: str
    url: str


def _with_nominal_ids(record: dict[str, Any], people_docs: list[dict[str, Any]]) -> None:
    """Each person of the record carries ``nominal_id`` (the indexed people are in
    ``all_people()`` order: a custody record's detainee first)."""
    ids = [p.get(F.P_NOMINAL_ID) for p in people_docs]
    persons: list[dict[str, Any]] = []
    if isinstance(record.get("detainee"), dict):
        record["detainee"] = dict(record["detainee"])
        persons.append(record["detainee"])
    record["people"] = [dict(p) for p in record.get("people") or []]
    persons.extend(record["people"])
    for person, nid in zip(persons, ids, strict=False):
        person["nominal_id"] = nid


def result_out(item: ResultItem) -> ResultOut:
    return ResultOut(
        id=item.id,
        record_type=item.record_type,
        reference=item.reference,
        title=item.title_text,
        date=item.date,
        facts=dict(item.facts),
        people=[PersonOut(name=p.name, role=p.role, dob=p.dob) for p in item.people],
        snippets=[[SegmentOut(text=s.text, mark=s.mark) for s in snip] for snip in item.snippets],
        entities=[EntityOut(label=c.label, value=c.value, url=c.href) for c in item.chips],
        url=item.href,
    )


def facet_out(view: FacetView) -> FacetOut:
    return FacetOut(
        key=view.key,
        label=view.label,
        values=[FacetValueOut(value=v.value, count=v.count, selected=v.selected) for v in view.values],
    )


@router.get("/search", response_model=SearchOut, summary="Search all records")
def api_search(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    q: str = Query(
        "",
        max_length=1000,
        description="the search-box language (names, identifiers, "
        "dates of birth, quoted phrases, AND/OR/NOT, field:value filters)",
    ),
    sort: str = Query("relevance", description="relevance | newest | oldest"),
    page: int = Query(1, ge=1, le=1_000_000),
    size: int = Query(20, ge=1, le=100),
    dob_years: int = Query(0, ge=0, le=10, description="date-of-birth tolerance in years"),
    after: str = Query("", max_length=4000, description="a cursor from `next` (pages past result 10,000)"),
) -> SearchOut:
    """Facet selections are further query parameters: ``type``, ``year``, ``station``, ``borough``,
    ``offence``, ``status``, ``grading``, ``e_person``, ``e_vrm``... (repeat a parameter to OR values)."""
    state, req, outcome, refused = limited(
        request,
        "search",
        user,
        lambda: run_page(request, user, from_params(request.query_params.multi_items())),
    )
    audit.record(request, "api.search", details=audit_details(state, outcome))
    links = pager_links(request, state, outcome)
    next_href = links["next_href"]
    if next_href is None and outcome.page < (outcome.window_pages if outcome.capped else outcome.pages):
        next_href = state.page_href(outcome.page + 1)
    return SearchOut(
        query=state.q,
        notices=[*req.parsed.notices, *([refused] if refused else [])],
        degraded=req.parsed.degraded,
        total=outcome.total,
        page=outcome.page,
        pages=outcome.pages,
        size=outcome.size,
        capped=outcome.capped,
        next=next_href.replace("/search", "/api/search", 1) if next_href else None,
        results=[result_out(i) for i in outcome.items],
        facets=[facet_out(f) for f in facet_views(outcome.aggs, state.facet_map, lambda k, v: "")],
    )


@router.get(
    "/records/{record_id}",
    response_model=RecordOut,
    responses=NOT_FOUND_ERROR,
    summary="One record, with linked records",
)
def api_record(
    request: Request, record_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> RecordOut | JSONResponse:
    enforce(request, "record", user)
    hit = reads.fetch_record(request.app.state.client, request.app.state.settings, user, record_id)
    if hit is None:
        audit.record(request, "record.denied", target={"id": record_id[:100]}, outcome="not_found")
        return JSONResponse({"error": NOT_FOUND.title, "detail": NOT_FOUND.message}, status_code=404)
    src = hit.source
    linked = reads.linked_records(request.app.state.client, request.app.state.settings, user, hit)
    linked_ids = [r.item.id for g in linked for r in g.records]
    audit.record(
        request,
        "api.record.view",
        target={"id": src.get(F.ID), "type": src.get(F.RECORD_TYPE), "reference": src.get(F.REFERENCE)},
        details={
            "shown_ids": linked_ids,
            "linked_count": sum(g.total for g in linked),
            "linked_groups": {g.reason: g.total for g in linked},
        },
    )
    record: dict[str, Any] = dict(src.get(F.RECORD) or {})
    entities: dict[str, list[str]] = dict(src.get(F.ENTITIES) or {})
    if isinstance(hit.record, IntelligenceReport) and not sees_full_intelligence(user):
        for name in INTEL_RESTRICTED_FIELDS:
            record.pop(name, None)
        # Entities found in withheld text would disclose it: keep those in what is shown.
        shown = {
            str(m.get("value"))
            for m in src.get(F.MENTIONS) or []
            if m.get("field") not in INTEL_RESTRICTED_FIELDS
        }
        people = {str(p.get(F.P_NAME)) for p in src.get(F.PEOPLE) or []}
        entities = {k: [v for v in vs if v in shown or v in people] for k, vs in entities.items()}
    _with_nominal_ids(record, src.get(F.PEOPLE) or [])
    return RecordOut(
        id=str(src.get(F.ID)),
        record_type=str(src.get(F.RECORD_TYPE)),
        reference=str(src.get(F.REFERENCE)),
        title=str(src.get(F.TITLE)),
        record_date=src.get(F.RECORD_DATE),
        record=record,
        entities=entities,
        linked=[linked_out(g.reason, r) for g in linked for r in g.records],
        linked_groups=[
            LinkedGroupOut(
                group=g.reason,
                label=g.label,
                total=g.total,
                shown=len(g.records),
                url=f"/api/records/{quote(str(src.get(F.ID)), safe='')}/linked/{g.reason}",
            )
            for g in linked
        ],
    )


def linked_out(group: str, r: reads.LinkedRecord) -> LinkedOut:
    return LinkedOut(
        id=r.item.id,
        record_type=r.item.record_type,
        reference=r.item.reference,
        title=r.item.title_text,
        date=r.item.date,
        group=group,
        reasons=r.reasons,
    )


@router.get(
    "/records/{record_id}/linked/{group}",
    response_model=LinkedPageOut,
    responses=NOT_FOUND_ERROR,
    summary="Every linked record of one group, strongest link first, paged",
)
def api_linked_group(
    request: Request,
    record_id: str,
    group: str,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    page: int = Query(1, ge=1, le=200),
) -> LinkedPageOut | JSONResponse:
    enforce(request, "record", user)
    client, settings = request.app.state.client, request.app.state.settings
    hit = reads.fetch_record(client, settings, user, record_id)
    found = None if hit is None else reads.linked_group(client, settings, user, hit, group, page=page)
    if hit is None or found is None:
        audit.record(request, "record.denied", target={"id": record_id[:100]}, outcome="not_found")
        return JSONResponse({"error": NOT_FOUND.title, "detail": NOT_FOUND.message}, status_code=404)
    src = hit.source
    audit.record(
        request,
        "api.record.linked",
        target={"id": src.get(F.ID), "type": src.get(F.RECORD_TYPE), "reference": src.get(F.REFERENCE)},
        details={
            "reason": found.reason,
            "page": found.page,
            "shown_ids": [r.item.id for r in found.records],
            "linked_count": found.total,
        },
    )
    return LinkedPageOut(
        group=found.reason,
        label=found.label,
        total=found.total,
        page=found.page,
        pages=found.pages,
        records=[linked_out(found.reason, r) for r in found.records],
    )


@router.get(
    "/entities/{label}/{value:path}",
    response_model=EntityPageOut,
    responses=NOT_FOUND_ERROR,
    summary="Records mentioning one entity",
)
def api_entity(
    request: Request,
    label: str,
    value: str,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    page: int = Query(1, ge=1, le=400),
) -> EntityPageOut | JSONResponse:
    label_u = label.upper()
    if label_u not in F.ENTITY_LABELS or not value.strip() or len(value) > 200:
        return JSONResponse(
            {"error": NOT_FOUND.title, "detail": "unknown entity label or empty value"}, status_code=404
        )
    enforce(request, "record", user)
    canonical = reads.canonical_entity_value(label_u, value)
    data = reads.entity_page(
        request.app.state.client, request.app.state.settings, user, label_u, canonical, page=page
    )
    audit.record(
        request,
        "api.entity.view",
        target={"label": label_u, "value": canonical},
        details={"result_count": data.total, "shown_ids": [i.id for i in data.items], "page": data.page},
    )
    return EntityPageOut(
        label=label_u,
        value=canonical,
        total=data.total,
        page=data.page,
        pages=data.pages,
        records=[result_out(i) for i in data.items],
        timeline=[BucketOut(key=b.key, count=b.count) for b in data.timeline],
        co_occurring={
            k: [BucketOut(key=b.key, count=b.count) for b in v] for k, v in data.co_occurring.items()
        },
        variants=[
            VariantOut(name=v.name, dob=v.dob, pnc_id=v.pnc_id, reasons=v.reasons, records=v.records)
            for v in data.variants
        ],
    )


@router.get("/persons", response_model=PersonsOut, summary="Find people (name, optional DOB)")
def api_persons(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    q: str = Query(..., min_length=1, max_length=200),
    years: int = Query(0, ge=0, le=10, description="also match DOBs this many years either side"),
) -> PersonsOut:
    name, dob = split_name_dob(q)
    cards = find_persons(request.app.state.client, request.app.state.settings, user, name, dob, years=years)
    audit.record(
        request,
        "api.persons.search",
        details={"query": q, "result_count": len(cards), "shown_ids": [c.id for c in cards]},
    )
    return PersonsOut(persons=[PersonCardOut(**c.as_api()) for c in cards])


@router.get(
    "/persons/{nominal_id}",
    response_model=PersonOut2,
    responses=NOT_FOUND_ERROR,
    summary="One person (nominal), from the records you may read",
)
def api_person(
    request: Request, nominal_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> PersonOut2 | JSONResponse:
    view = person_view(request.app.state.client, request.app.state.settings, user, nominal_id)
    if view is None:
        audit.record(request, "person.denied", target={"id": nominal_id[:64]}, outcome="not_found")
        return JSONResponse({"error": NOT_FOUND.title, "detail": NOT_FOUND.message}, status_code=404)
    audit.record(
        request,
        "api.person.view",
        target={"id": view.id},
        details={"shown_ids": [r.record_id for r in view.records]},
    )
    return PersonOut2(**view.as_api())


@router.get("/suggest", response_model=list[SuggestionOut], summary="Type-ahead")
def api_suggest(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    q: str = Query("", max_length=100),
) -> list[SuggestionOut]:
    enforce(request, "suggest", user)
    items = reads.suggest(request.app.state.client, request.app.state.settings, user, q)
    if items:
        audit.record(request, "suggest", details={"query": q, "shown": [s.text for s in items]})
    return [SuggestionOut(text=s.text, kind=s.kind, url=s.href) for s in items]
