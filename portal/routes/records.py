"""Record detail pages: ``/records/{id}``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from lantern.principal import Principal
from lantern.records import AnyRecord, CaseFile, CrimeReport, CustodyRecord, IntelligenceReport
from mappings import fields as F
from portal import reads
from portal.errors import NOT_FOUND, error_response
from portal.present import (
    ENTITY_LABEL_NAMES,
    TYPE_LABELS,
    Segment,
    code_label,
    entity_href,
    mention_segments,
    sees_full_intelligence,
)
from portal.rendering import render
from portal.routes.search import is_fragment_request
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.ratelimit import enforce, limited

router = APIRouter(include_in_schema=False)

# Free-text fields a reader without full intelligence access may not see.
INTEL_RESTRICTED_FIELDS = {"intelligence_text", "summary"}


@dataclass
class TimelineEvent:
    at: datetime
    kind: str
    title: str
    detail: str | None = None
    segments: list[Segment] | None = None


def visible_text_fields(record: AnyRecord, user: Principal) -> dict[str, str]:
    fields = record.free_text()
    if isinstance(record, IntelligenceReport) and not sees_full_intelligence(user):
        return {k: v for k, v in fields.items() if k not in INTEL_RESTRICTED_FIELDS}
    return fields


def narrative_segments(source: dict[str, Any], fields: dict[str, str]) -> dict[str, list[Segment]]:
    by_field: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in source.get(F.MENTIONS) or []:
        by_field[str(m.get("field"))].append(m)
    return {name: mention_segments(text, by_field.get(name, [])) for name, text in fields.items()}


def visible_entities(
    source: dict[str, Any], record: AnyRecord | None, user: Principal, fields: dict[str, str]
) -> dict[str, list[tuple[str, str]]]:
    """Entity chips: all of them, or for restricted intelligence only those in what is shown."""
    out: dict[str, list[tuple[str, str]]] = {}
    if isinstance(record, IntelligenceReport) and not sees_full_intelligence(user):
        for m in source.get(F.MENTIONS) or []:
            if m.get("field") in fields and m.get("label") in ENTITY_LABEL_NAMES:
                label, value = str(m["label"]), str(m.get("value") or m.get("text"))
                if (value, entity_href(label, value)) not in out.get(label, []):
                    out.setdefault(label, []).append((value, entity_href(label, value)))
        return out
    for label in F.ENTITY_LABELS:
        values = (source.get(F.ENTITIES) or {}).get(label.lower(), [])
        if values and label != "DATE":
            out[label] = [(v, entity_href(label, v)) for v in values[:30]]
    return out


def timeline(record: AnyRecord, segs: dict[str, list[Segment]]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    if isinstance(record, CustodyRecord):
        events.append(
            TimelineEvent(
                record.arrest_at,
                "arrest",
                "Arrested",
                record.arrest_location.one_line() if record.arrest_location else None,
            )
        )
        if record.arrived_at is not None:
            station = record.station or "the custody suite (station not recorded)"
            events.append(TimelineEvent(record.arrived_at, "arrival", f"Arrived at {station}"))
        for i, r in enumerate(record.reviews):
            who = " ".join(p for p in (r.reviewer.rank, r.reviewer.name) if p)
            kind = r.review_type.value.replace("_", " ")
            events.append(
                TimelineEvent(
                    r.at, "review", f"Review ({kind}) by {who}", r.outcome, segs.get(f"reviews.{i}.notes")
                )
            )
        for i, iv in enumerate(record.interviews):
            extra = "solicitor present" if iv.solicitor_present else "no solicitor"
            title = f"Interview by {iv.officer.name} ({extra})"
            notes = segs.get(f"interviews.{i}.notes")
            events.append(TimelineEvent(iv.started_at, "interview", title, None, notes))
        if record.released_at:
            outcome = (
                code_label(record.outcome, "custody_outcome") if record.outcome else "outcome not recorded"
            )
            events.append(
                TimelineEvent(
                    record.released_at,
                    "release",
                    f"Released: {outcome}",
                    record.outcome_details,
                )
            )
    elif isinstance(record, CrimeReport):
        if record.occurred_from is not None:
            where = record.location.one_line() if record.location else None
            events.append(TimelineEvent(record.occurred_from, "occurred", "Offence occurred", where))
        for i, e in enumerate(record.investigation_log):
            events.append(
                TimelineEvent(
                    e.at, "log", f"Log: {e.officer.name}", None, segs.get(f"investigation_log.{i}.text")
                )
            )
    elif isinstance(record, CaseFile):
        if record.charged_at:
            events.append(
                TimelineEvent(
                    record.charged_at,
                    "charge",
                    f"Charged ({code_label(record.charging_decision, 'charging_decision')} decision)"
                    if record.charging_decision
                    else "Charged (charging decision not recorded)",
                )
            )
        for h in record.hearings:
            what = h.hearing_type.value.replace("_", " ").capitalize()
            events.append(TimelineEvent(h.at, "hearing", f"{what} at {h.court}", h.result))
    events.sort(key=lambda e: e.at)
    return events


def record_context(request: Request, user: Principal, hit: reads.RecordHit) -> dict[str, Any]:
    record = hit.record
    source = hit.source
    fields = visible_text_fields(record, user) if record is not None else {}
    segs = narrative_segments(source, fields)
    linked = reads.linked_records(request.app.state.client, request.app.state.settings, user, hit)
    rtype = str(source.get(F.RECORD_TYPE))
    return {
        "record": record,
        "source": source,
        "rtype": rtype,
        "type_label": TYPE_LABELS.get(rtype, rtype),
        "segs": segs,
        "timeline": timeline(record, segs) if record is not None else [],
        "linked": linked,
        "entities": visible_entities(source, record, user, fields),
        "full_intel": sees_full_intelligence(user),
        "people": record.all_people() if record is not None else [],
        "documents": reads.record_documents(
            request.app.state.client, request.app.state.settings, user, str(source.get(F.ID))
        ),
    }


@router.get("/records/{record_id}")
def record_page(
    request: Request, record_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    hit = limited(
        request,
        "record",
        user,
        lambda: reads.fetch_record(request.app.state.client, request.app.state.settings, user, record_id),
    )
    if hit is None:
        # Does not exist, or may not be read: the same answer either way.
        audit.record(request, "record.denied", target={"id": record_id[:100]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    src = hit.source
    if F.DOCUMENT in src:
        return RedirectResponse(f"/documents/{quote(str(src.get(F.ID)), safe='')}", status_code=303)
    ctx = record_context(request, user, hit)
    # The linked records listed on the page are disclosed too (their titles and references).
    linked_ids = [lr.item.id for g in ctx["linked"] for lr in g.records]
    audit.record(
        request,
        "record.view",
        target={"id": src.get(F.ID), "type": src.get(F.RECORD_TYPE), "reference": src.get(F.REFERENCE)},
        details={
            "shown_ids": linked_ids,
            "linked_count": sum(g.total for g in ctx["linked"]),
            "linked_groups": {g.reason: g.total for g in ctx["linked"]},
        },
    )
    return render(request, "record.html", ctx)


@router.get("/records/{record_id}/linked/{reason}")
def linked_group_page(
    request: Request,
    record_id: str,
    reason: str,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    page: int = Query(1, ge=1, le=200),
) -> Response:
    """Every record in one group of linked records ("Show all N"): a page, or the group as a fragment."""
    enforce(request, "record", user)
    hit = reads.fetch_record(request.app.state.client, request.app.state.settings, user, record_id)
    group = (
        None
        if hit is None
        else reads.linked_group(
            request.app.state.client, request.app.state.settings, user, hit, reason, page=page
        )
    )
    if hit is None or group is None:
        audit.record(request, "record.denied", target={"id": record_id[:100]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    src = hit.source
    audit.record(
        request,
        "record.linked",
        target={"id": src.get(F.ID), "type": src.get(F.RECORD_TYPE), "reference": src.get(F.REFERENCE)},
        details={
            "reason": group.reason,
            "page": group.page,
            "shown_ids": [lr.item.id for lr in group.records],
            "linked_count": group.total,
        },
    )
    ctx = {
        "group": group,
        "expanded": True,
        "record_id": str(src.get(F.ID)),
        "reference": str(src.get(F.REFERENCE)),
        "title": str(src.get(F.TITLE)),
    }
    fragment = is_fragment_request(request, f"linked-{group.reason}")
    return render(request, "records/linked.html", ctx, block="group" if fragment else None)
