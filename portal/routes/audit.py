"""Auditor pages (role ``auditor``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal.access import Principal
from portal.security.deps import require_role, security_context

router = APIRouter(prefix="/audit")
AuditorUser = Annotated[Principal, Depends(require_role("auditor"))]


@router.get("")
def audit_home(request: Request, user: AuditorUser) -> Response:
    ctx = security_context(request)
    ctx.audit.record(request, "audit.view", details={"page": "home"})
    response: Response = request.app.state.templates.TemplateResponse(
        request, "audit/events.html", {"events": []}
    )
    return response
