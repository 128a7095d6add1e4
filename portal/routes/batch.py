"""Batch search (``/batch``): many searches at once, one results table.

Lists of up to ``SYNC_MAX_LINES`` lines are searched inside the request (no JavaScript
needed); longer ones (up to 1,000) are queued as a job (``lantern worker`` runs it) whose page,
served by any portal process, shows progress. Every batch
is audited (``batch_search``: line count, the searches, the purpose) before any result
is shown.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import UploadFile

from lantern.clock import today_utc
from lantern.errors import NotFound
from lantern.jobs import JobStore
from portal.analyst import batch as B
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.ratelimit import enforce, require_bulk_role
from search.parser import MAX_DOB_YEARS

router = APIRouter(include_in_schema=False)


def form_ctx(
    text: str = "", fmt: str = "auto", dob_years: int = 0, error: str | None = None
) -> dict[str, Any]:
    return {
        "text": text,
        "format": fmt,
        "dob_years": dob_years,
        "error": error,
        "max_lines": B.MAX_LINES,
        "sync_max": B.SYNC_MAX_LINES,
        "results": None,
        "job": None,
    }


@router.get("/batch")
def batch_form(request: Request, user: CurrentUser, purpose: RequirePurpose) -> Response:
    require_bulk_role(request, user, "batch search")
    return render(request, "analyst/batch.html", form_ctx())


def _int(value: object, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(int(str(value)), hi))
    except (TypeError, ValueError):
        return default


@router.post("/batch")
async def batch_run(request: Request, user: CurrentUser, purpose: RequirePurpose, audit: Auditor) -> Response:
    require_bulk_role(request, user, "batch search")
    enforce(request, "batch", user)
    form = await request.form()
    text = str(form.get("text") or "")
    fmt = str(form.get("format") or "auto")
    fmt = fmt if fmt in ("auto", "lines", "csv") else "auto"
    dob_years = _int(form.get("dob_years"), 0, 0, MAX_DOB_YEARS)
    upload = form.get("file")
    filename: str | None = None
    try:
        if isinstance(upload, UploadFile) and upload.filename:
            filename = upload.filename
            data = await upload.read(B.MAX_INPUT_BYTES + 1)
            text = B.decode(data)
        elif len(text.encode("utf-8")) > B.MAX_INPUT_BYTES:
            raise B.BatchError("The list is too long.")
        parsed = B.parse_input(text, fmt, filename)  # type: ignore[arg-type]
    except B.BatchError as exc:
        return render(
            request, "analyst/batch.html", form_ctx(text[:200_000], fmt, dob_years, str(exc)), status_code=400
        )
    details: dict[str, Any] = {
        "line_count": len(parsed.lines),
        "purpose": {"code": purpose.code, "reference": purpose.reference},
        "format": parsed.format,
        "file": filename,
        "dob_years": dob_years,
        "lines": [ln.query for ln in parsed.lines],
    }
    client, settings = request.app.state.client, request.app.state.settings
    if len(parsed.lines) <= B.SYNC_MAX_LINES:
        results = B.run_lines(client, settings, user, parsed.lines, dob_years=dob_years, today=today_utc())
        summary = B.summary(results)
        ids = summary.pop("shown_ids")
        # Audited before anything is shown: if the trail cannot be written, nothing is. The
        # matched ids go in manifest events (chunked), which also fill the disclosures index.
        event = audit.record(
            request, "batch_search", details={**details, "mode": "inline", "match_count": len(ids), **summary}
        )
        audit.record_manifest(request, "batch_search", ids, of_seq=int(event["seq"]))
        ctx = form_ctx(text, parsed.format, dob_years)
        ctx.update(results=results, notices=parsed.notices, total_lines=len(parsed.lines))
        return render(request, "analyst/batch.html", ctx)
    event = audit.record(request, "batch_search", details={**details, "mode": "job"})
    # The job runs in a worker after this request has gone: its manifests carry the request's
    # context, stored with the job.
    context: dict[str, Any] = {
        "of_seq": int(event["seq"]),
        "purpose_code": purpose.code,
        "purpose_reference": purpose.reference,
        "client_addr": request.client.host if request.client else None,
        "session_ref": getattr(getattr(request.state, "security_session", None), "ref", None),
    }
    try:
        job = B.start_job(
            JobStore(client, settings),
            user,
            parsed,
            dob_years=dob_years,
            today=today_utc(),
            request_id=getattr(request.state, "request_id", None),
            audit_context=context,
        )
    except B.BatchError as exc:
        return render(
            request, "analyst/batch.html", form_ctx(text, fmt, dob_years, str(exc)), status_code=429
        )
    return RedirectResponse(f"/batch/jobs/{job.id}", status_code=303)


@router.get("/batch/jobs/{job_id}")
def batch_job(request: Request, job_id: str, user: CurrentUser, purpose: RequirePurpose) -> Response:
    client, settings = request.app.state.client, request.app.state.settings
    job = B.job_view(client, settings, JobStore(client, settings), user, job_id)
    if job is None:
        raise NotFound("batch job not found")
    ctx = form_ctx()
    ctx.update(
        job=job, results=job.results if job.finished else None, notices=job.notices, total_lines=job.total
    )
    fragment = request.headers.get("hx-request") == "true" and request.headers.get("hx-target") == "batch-job"
    return render(request, "analyst/batch.html", ctx, block="job" if fragment else None)
