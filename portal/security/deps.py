"""FastAPI dependencies: who is asking, for what purpose, and the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from lantern.audit import AuditLog
from lantern.principal import Principal
from portal.security import purposes
from portal.security.middleware import SecurityContext, safe_next
from portal.security.purposes import PurposeInfo

PURPOSE_HEADER = "x-lantern-purpose"


def security_context(request: Request) -> SecurityContext:
    ctx: SecurityContext = request.app.state.security
    return ctx


def current_user(request: Request) -> Principal:
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # only reachable on a public path: the middleware guards the rest
        raise HTTPException(status_code=401, detail="authentication required")
    return principal


def require_purpose(request: Request, user: Annotated[Principal, Depends(current_user)]) -> PurposeInfo:
    """The purpose in force; API clients may state one per request with ``X-Lantern-Purpose``."""
    header = request.headers.get(PURPOSE_HEADER)
    if header:
        try:
            info = purposes.parse_header(header)
        except purposes.PurposeError as exc:
            raise HTTPException(status_code=400, detail=f"{PURPOSE_HEADER}: {exc}") from exc
        request.state.purpose = info
        return info
    current: PurposeInfo | None = getattr(request.state, "purpose", None)
    if current is not None:
        return current
    if request.url.path.startswith("/api/"):
        raise HTTPException(
            status_code=428,
            detail="State a lawful purpose first: send the header 'X-Lantern-Purpose: CODE;REFERENCE' "
            f"(codes: {', '.join(p.code for p in purposes.purposes())}), or set one at /purpose.",
        )
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = f"/purpose?next={quote(safe_next(here), safe='')}"
    raise HTTPException(status_code=303, headers={"Location": location})


def get_audit_log(request: Request) -> AuditLog:
    return security_context(request).audit


def require_role(*roles: str) -> Callable[..., object]:
    """Dependency: the user must hold one of ``roles``; a refusal is audited (``access.denied``)."""

    async def check(request: Request, user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if user.has_role(*roles):
            return user
        await run_in_threadpool(
            get_audit_log(request).record,
            request,
            "access.denied",
            outcome="denied",
            target={"path": request.url.path},
            details={"required_roles": sorted(roles)},
        )
        raise HTTPException(status_code=403, detail="You do not have access to this page.")

    return check


CurrentUser = Annotated[Principal, Depends(current_user)]
RequirePurpose = Annotated[PurposeInfo, Depends(require_purpose)]
Auditor = Annotated[AuditLog, Depends(get_audit_log)]
