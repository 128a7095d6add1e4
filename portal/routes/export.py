"""CSV export of a search's results (``POST /export`` with the search page's parameters).

A POST with the session's CSRF token (a link on another site cannot start an export in a
user's name). Only the roles in ``settings.bulk_roles``; rate limited; within the user's
daily row quota (a supervisor may grant more: ``POST /export/quota``, audited). Needs a
stated purpose. Every row is read before the first byte is sent, and audited: the
``export`` event (query, filters, purpose, row count) and ``export.manifest`` events holding
every exported record id (chunked), which also fill the disclosures index. Nothing is sent
if any of these cannot be written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from lantern.clock import today_utc
from lantern.errors import BadQuery
from portal.analyst.export import COLUMNS, open_export
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.ratelimit import (
    OVERRIDE_ACTION,
    enforce,
    export_quota,
    grants_today,
    require_bulk_role,
)
from search.urlstate import state_from_params

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
    export = open_export(request.app.state.client, settings, user, state, today=today_utc(), limit=quota.left)
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
