"""CSV export of a search's results (``POST /export`` with the search page's parameters).

A POST with the session's CSRF token (a link on another site cannot start an export in a
user's name). Only the roles in ``settings.bulk_roles``; rate limited; within the user's
daily row quota (a supervisor may grant more: ``POST /export/quota``, audited). Needs a
stated purpose. Every row is read before the first byte is sent, and audited: the
``export`` event (query, filters, purpose, row count) and ``export.manifest`` events holding
every exported record id (chunked), which also fill the disclosures index. Nothing is sent
if any of these cannot be written.

An export of more than ``export_inline_rows`` rows runs as a job: the request audits the
``export`` event (``mode: job``) and queues it; a ``lantern worker`` reads it as the user
within the quota and writes the manifests; ``/export/jobs/{id}`` (any portal process) shows
progress and then the download, which reads the records again as the user.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from lantern.audit import AuditLog
from lantern.clock import today_utc
from lantern.errors import BadQuery, NotFound
from lantern.jobs import JobStore
from lantern.principal import Principal
from portal.analyst.batch import MAX_JOBS_PER_USER
from portal.analyst.export import COLUMNS, download_rows, job_view, open_export, start_job
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.purposes import PurposeInfo
from portal.security.ratelimit import (
    OVERRIDE_ACTION,
    enforce,
    export_quota,
    grants_today,
    require_bulk_role,
)
from search.urlstate import SearchState, state_from_params

router = APIRouter(include_in_schema=False)
MAX_GRANT_ROWS = 1_000_000


@router.post("/export")
async def export_csv(
    request: Request, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    require_bulk_role(request, user, "export")
    enforce(request, "export", user)
    form = await request.form()
    state = state_from_params((k, v) for k, v in form.multi_items() if isinstance(v, str))
    if not state.active:
        raise BadQuery("Choose what to export: run a search (or pick a filter), then use Export CSV.")
    settings = request.app.state.settings
    quota = export_quota(request, user.username)
    if quota.left <= 0:
        audit.record(
            request,
            "export",
            outcome="denied",
            details={"query": state.q, "reason": "daily row quota used", "quota": quota.allowance},
        )
        raise HTTPException(
            status_code=429,
            detail=f"Your export quota for today ({quota.allowance:,} rows) is used up. "
            "A supervisor can grant more.",
        )
    client = request.app.state.client
    export = open_export(client, settings, user, state, today=today_utc(), limit=quota.left)
    if export.rows > settings.export_inline_rows:
        export.close()
        return _queue(request, user, purpose, audit, state, export.rows, export.total, quota.left)
    ids = export.materialise()
    event = audit.record(
        request,
        "export",
        details={
            "format": "csv",
            "query": state.q,
            "filters": {k: list(v) for k, v in state.facets},
            "sort": state.sort,
            "dob_years": state.dob_years,
            "purpose": {"code": purpose.code, "reference": purpose.reference},
            "row_count": export.rows,
            "result_count": export.total,
            "truncated": export.total > export.rows,
            "max_rows": settings.export_max_rows,
            "quota_left_before": quota.left,
            "columns": list(COLUMNS),
        },
    )
    audit.record_manifest(request, "export", ids, of_seq=int(event["seq"]))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        export.chunks(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="lantern-export-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Lantern-Rows": str(export.rows),
            "X-Lantern-Matches": str(export.total),
        },
    )


def _queue(
    request: Request,
    user: Principal,
    purpose: PurposeInfo,
    audit: AuditLog,
    state: SearchState,
    rows: int,
    total: int,
    quota_left: int,
) -> Response:
    """A large export: audited now (what was asked, by whom, why), read by a worker, every
    row's id audited by the worker before the file can be downloaded (from any process)."""
    client, settings = request.app.state.client, request.app.state.settings
    store = JobStore(client, settings)
    running = store.unfinished_count(user.username)
    if running >= MAX_JOBS_PER_USER:
        raise HTTPException(
            status_code=429,
            detail=f"You already have {running} exports or batch searches running; wait for one to finish.",
        )
    event = audit.record(
        request,
        "export",
        details={
            "format": "csv",
            "mode": "job",
            "query": state.q,
            "filters": {k: list(v) for k, v in state.facets},
            "sort": state.sort,
            "dob_years": state.dob_years,
            "purpose": {"code": purpose.code, "reference": purpose.reference},
            "row_estimate": rows,
            "result_count": total,
            "truncated": total > rows,
            "max_rows": settings.export_max_rows,
            "quota_left_before": quota_left,
            "columns": list(COLUMNS),
        },
    )
    context: dict[str, Any] = {
        "of_seq": int(event["seq"]),
        "purpose_code": purpose.code,
        "purpose_reference": purpose.reference,
        "client_addr": request.client.host if request.client else None,
        "session_ref": getattr(getattr(request.state, "security_session", None), "ref", None),
    }
    job = start_job(
        store,
        user,
        state,
        limit=quota_left,
        estimate=rows,
        today=today_utc(),
        request_id=getattr(request.state, "request_id", None),
        audit_context=context,
    )
    return RedirectResponse(f"/export/jobs/{job.id}", status_code=303)


@router.get("/export/jobs/{job_id}")
def export_job(request: Request, job_id: str, user: CurrentUser, purpose: RequirePurpose) -> Response:
    client, settings = request.app.state.client, request.app.state.settings
    job = job_view(JobStore(client, settings), user, job_id)
    if job is None:
        raise NotFound("export job not found")
    headers = request.headers
    fragment = headers.get("hx-request") == "true" and headers.get("hx-target") == "export-job"
    return render(request, "analyst/export_job.html", {"job": job}, block="job" if fragment else None)


@router.get("/export/jobs/{job_id}/download")
def export_download(
    request: Request, job_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    """The finished export's CSV, its records read now as the user (any portal process)."""
    client, settings = request.app.state.client, request.app.state.settings
    job = job_view(JobStore(client, settings), user, job_id)
    if job is None:
        raise NotFound("export job not found")
    if not job.finished or job.error:
        return RedirectResponse(f"/export/jobs/{job.id}", status_code=303)
    # The rows were audited when the worker read them; the download itself is recorded too.
    audit.record(request, "export.download", target={"job": job.id}, details={"rows": job.rows})
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        download_rows(client, settings, user, job.ids),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="lantern-export-{stamp}.csv"',
            "Cache-Control": "no-store",
            "X-Lantern-Rows": str(job.rows),
            "X-Lantern-Matches": str(job.total),
        },
    )


@router.post("/export/quota")
def grant_export_rows(
    request: Request,
    user: CurrentUser,
    audit: Auditor,
    username: str = Form(...),
    rows: int = Form(..., ge=1, le=MAX_GRANT_ROWS),
    reason: str = Form(..., min_length=3, max_length=500),
) -> Response:
    """A supervisor grants ``username`` more export rows for today; the grant is the audit event."""
    if not user.has_role("supervisor"):
        audit.record(
            request,
            OVERRIDE_ACTION,
            outcome="denied",
            target={"user": username},
            details={"rows": rows, "reason": reason},
        )
        raise HTTPException(status_code=403, detail="Only a supervisor may grant export rows.")
    if request.app.state.security.users.get(username) is None:
        raise HTTPException(status_code=404, detail="No such user.")
    audit.record(
        request, OVERRIDE_ACTION, target={"user": username}, details={"rows": rows, "reason": reason}
    )
    return RedirectResponse(f"/export/quota?granted={quote(username)}", status_code=303)


@router.get("/export/quota")
def export_quota_page(request: Request, user: CurrentUser, granted: str = "") -> Response:
    """The supervisor's page for granting export rows: bulk users, their quota today, today's grants."""
    if not user.has_role("supervisor"):
        raise HTTPException(status_code=403, detail="Only a supervisor may grant export rows.")
    ctx = request.app.state.security
    bulk = set(request.app.state.settings.bulk_roles)
    users = [u for u in ctx.users.list() if not u.disabled and bulk.intersection(u.roles)]
    status = export_quota(request, granted) if granted and ctx.users.get(granted) else None
    return render(
        request,
        "analyst/export_quota.html",
        {
            "users": users,
            "grants": grants_today(ctx.client, ctx.settings, ctx.audit),
            "granted": granted if status else "",
            "status": status,
            "daily_rows": request.app.state.settings.export_daily_rows,
            "max_rows": MAX_GRANT_ROWS,
        },
    )
