"""Auditor pages (role ``auditor``): search the trail, who looked at a record or person and why,
per-user activity, anomalies, CSV export. Every visit is itself audited."""

from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from lantern.principal import Principal
from portal.rendering import render
from portal.security import purposes
from portal.security.auditq import (
    FLAGS,
    AuditFilter,
    baseline_spikes,
    build_query,
    related_record_ids,
    search_events,
    subject_summary,
    user_summary,
    volume_anomalies,
)
from portal.security.deps import require_role, security_context
from search.gateway import SecuredRecords

router = APIRouter(prefix="/audit")
AuditorUser = Annotated[Principal, Depends(require_role("auditor"))]
PAGE_SIZE = 50
ACTIONS = (
    "login",
    "logout",
    "purpose.set",
    "search",
    "api.search",
    "suggest",
    "record.view",
    "api.record.view",
    "record.linked",
    "api.record.linked",
    "record.denied",
    "entity.view",
    "api.entity.view",
    "export",
    "export.manifest",
    "export.quota_override",
    "batch_search",
    "batch_search.manifest",
    "notifications.view",
    "notification.read",
    "notification.unread",
    "notifications.read_all",
    "saved_query.open",
    "search.failed",
    "csrf.failed",
    "request.cross_site",
    "rate_limited",
    "access.denied",
    "account.create",
    "account.disable",
    "account.enable",
    "account.reset_password",
    "audit.search",
    "audit.view",
    "audit.export",
)


def _date(value: str | None, errors: list[str], label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(f"{label} must be a date like 2024-05-31.")
        return None


def _filter(
    request: Request,
    auditor: Principal,
    user: str | None,
    action: str | None,
    purpose: str | None,
    outcome: str | None,
    subject: str | None,
    flag: str | None,
    since: str | None,
    until: str | None,
) -> tuple[AuditFilter, list[str]]:
    errors: list[str] = []
    f = AuditFilter(
        user=(user or "").strip() or None,
        action=(action or "").strip() or None,
        purpose=(purpose or "").strip() or None,
        outcome=(outcome or "").strip() or None,
        subject=(subject or "").strip()[:200] or None,
        flag=flag if flag in FLAGS else None,
        since=_date(since, errors, "From"),
        until=_date(until, errors, "To"),
    )
    if f.subject:
        ctx = security_context(request)
        f.related_ids = related_record_ids(SecuredRecords(ctx.client, ctx.settings, auditor), f.subject)
    return f, errors


def _filter_from_query(
    request: Request,
    auditor: AuditorUser,
    user: str | None = None,
    action: str | None = None,
    purpose: str | None = None,
    outcome: str | None = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    flag: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> tuple[AuditFilter, list[str]]:
    """The audit filter as the search page and the CSV export both take it from the query string."""
    return _filter(request, auditor, user, action, purpose, outcome, subject, flag, since, until)


# Depends on AuditorUser itself, so the role check runs before any lookup.
FilterFromQuery = Annotated[tuple[AuditFilter, list[str]], Depends(_filter_from_query)]


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    context = {"actions": ACTIONS, "purposes": purposes.purposes(), "flags": FLAGS, **context}
    return render(request, name, context, status_code=status_code)


def _events(
    request: Request, f: AuditFilter, errors: list[str], page: int
) -> tuple[int, list[dict[str, Any]]]:
    if errors:
        return 0, []
    ctx = security_context(request)
    return search_events(ctx.client, ctx.settings, f, page=page, size=PAGE_SIZE)


@router.get("")
def audit_search(
    request: Request,
    auditor: AuditorUser,
    filtered: FilterFromQuery,
    page: Annotated[int, Query(ge=1, le=200)] = 1,
) -> Response:
    ctx = security_context(request)
    f, errors = filtered
    ctx.audit.record(request, "audit.search", details={"filters": f.as_dict(), "page": page})
    ctx.audit.refresh()
    total, events = _events(request, f, errors, page)
    who = subject_summary(ctx.client, ctx.settings, f) if f.subject and not errors else []
    seen_by = ctx.audit.disclosures.who_saw([f.subject, *f.related_ids]) if f.subject and not errors else []
    return _render(
        request,
        "audit/events.html",
        {
            "f": f,
            "errors": errors,
            "total": total,
            "events": events,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "who": who,
            "seen_by": seen_by,
            "query_args": f.as_dict(),
        },
        status_code=400 if errors else 200,
    )


@router.get("/users/{username}")
def audit_user(
    request: Request,
    auditor: AuditorUser,
    username: str,
    since: str | None = None,
    until: str | None = None,
    page: Annotated[int, Query(ge=1, le=200)] = 1,
) -> Response:
    ctx = security_context(request)
    f, errors = _filter(request, auditor, username, None, None, None, None, None, since, until)
    ctx.audit.record(
        request, "audit.view", target={"user": username}, details={"page": "user", "filters": f.as_dict()}
    )
    ctx.audit.refresh()
    account = ctx.users.get(username)
    summary = user_summary(ctx.client, ctx.settings, f) if not errors else None
    total, events = _events(request, f, errors, page)
    return _render(
        request,
        "audit/user.html",
        {
            "username": username,
            "account": account,
            "summary": summary,
            "errors": errors,
            "f": f,
            "total": total,
            "events": events,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "query_args": f.as_dict(),
        },
        status_code=400 if errors else 200,
    )


@router.get("/anomalies")
def audit_anomalies(
    request: Request,
    auditor: AuditorUser,
    since: str | None = None,
    until: str | None = None,
    per_hour: Annotated[int, Query(ge=1, le=100_000)] = 50,
) -> Response:
    ctx = security_context(request)
    f, errors = _filter(request, auditor, None, None, None, None, None, None, since, until)
    if not f.since and not errors:
        f.since = date.today() - timedelta(days=30)
    ctx.audit.record(
        request, "audit.view", details={"page": "anomalies", "filters": f.as_dict(), "per_hour": per_hour}
    )
    ctx.audit.refresh()
    flagged: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    volumes: list[dict[str, Any]] = []
    spikes: list[dict[str, Any]] = []
    if not errors:
        for flag in FLAGS:
            flag_filter = AuditFilter(flag=flag, since=f.since, until=f.until)
            flagged[flag] = search_events(ctx.client, ctx.settings, flag_filter, size=PAGE_SIZE)
        volumes = volume_anomalies(ctx.client, ctx.settings, f, per_hour)
        spikes = baseline_spikes(ctx.client, ctx.settings, f.until or date.today())
    return _render(
        request,
        "audit/anomalies.html",
        {
            "f": f,
            "errors": errors,
            "flagged": flagged,
            "volumes": volumes,
            "spikes": spikes,
            "per_hour": per_hour,
        },
        status_code=400 if errors else 200,
    )


@router.get("/export.csv")
def audit_export(
    request: Request,
    auditor: AuditorUser,
    filtered: FilterFromQuery,
) -> Response:
    ctx = security_context(request)
    f, errors = filtered
    if errors:
        return Response("; ".join(errors), status_code=400, media_type="text/plain")
    ctx.audit.record(
        request, "audit.export", details={"filters": f.as_dict(), "max_rows": ctx.settings.export_max_rows}
    )
    buffer = io.StringIO()
    ctx.audit.export_csv(build_query(f), buffer, limit=ctx.settings.export_max_rows)
    data = buffer.getvalue().encode("utf-8")
    return StreamingResponse(
        iter([data]),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="lantern-audit.csv"'},
    )


ReviewerUser = Annotated[Principal, Depends(require_role("supervisor", "auditor"))]


@router.get("/review")
def review_queue(
    request: Request, reviewer: ReviewerUser, page: Annotated[int, Query(ge=1, le=200)] = 1
) -> Response:
    """The random sample of data actions (flag ``review_sample``) for a supervisor to re-ask
    the user for the justification, newest first."""
    ctx = security_context(request)
    ctx.audit.record(request, "audit.view", details={"page": "review", "n": page})
    ctx.audit.refresh()
    f = AuditFilter(flag="review_sample")
    total, events = search_events(ctx.client, ctx.settings, f, page=page, size=PAGE_SIZE)
    return _render(
        request,
        "audit/review.html",
        {
            "f": f,
            "errors": [],
            "total": total,
            "events": events,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "query_args": f.as_dict(),
        },
    )
