"""CSV export of a search's results (``/export?<the search page's parameters>``).

Needs a stated purpose; audited (``export``: query, filters, purpose, row count) before
the first byte is sent, and refused if the audit trail cannot be written.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from lantern.clock import today_utc
from lantern.errors import BadQuery
from portal.analyst.export import COLUMNS, open_export
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from search.urlstate import state_from_params

router = APIRouter(include_in_schema=False)


@router.get("/export")
def export_csv(request: Request, user: CurrentUser, purpose: RequirePurpose, audit: Auditor) -> Response:
    state = state_from_params(request.query_params.multi_items())
    if not state.active:
        raise BadQuery("Choose what to export: run a search (or pick a filter), then use Export CSV.")
    settings = request.app.state.settings
    export = open_export(request.app.state.client, settings, user, state, today=today_utc())
    try:
        audit.record(
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
                "columns": list(COLUMNS),
            },
        )
    except BaseException:
        export.close()
        raise
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
