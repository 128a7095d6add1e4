"""Sign in, sign out, and the search purpose."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from lantern.errors import AuditUnavailable
from portal.rendering import render
from portal.security import purposes
from portal.security.deps import CurrentUser, security_context
from portal.security.middleware import cookie_names, delete_cookie, safe_next, set_cookie

router = APIRouter()

LOGIN_FAILED = (
    "Sign-in failed: the username or password is wrong, or there were too many attempts. "
    "Check them and try again; after repeated failures sign-in is paused for a while."
)


def _failed(request: Request, target: str, username: str) -> Response:
    context = {"next": target, "error": LOGIN_FAILED, "username": username}
    return render(request, "auth/login.html", context, status_code=401)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "auth/login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx = security_context(request)
    addr = _client(request)
    attempted = username.strip().lower()[:64]
    target = safe_next(next)
    if ctx.throttle.locked(attempted, addr):
        ctx.audit.record(
            request, "login", outcome="locked", username=attempted or "-", details={"reason": "throttled"}
        )
        return _failed(request, target, username)
    user = ctx.identity.authenticate(attempted, password)
    if user is None:
        ctx.throttle.failure(attempted, addr)
        ctx.audit.record(request, "login", outcome="failure", username=attempted or "-")
        return _failed(request, target, username)
    ctx.throttle.success(attempted)
    # Session fixation: whatever session the browser had is ended, and a fresh one issued.
    old = getattr(request.state, "security_session", None)
    if old is not None:
        ctx.sessions.delete(old.id)
    token, session = ctx.sessions.create(
        user.username, client_addr=addr, user_agent=request.headers.get("user-agent")
    )
    request.state.security_session = session
    try:
        ctx.audit.record(request, "login", principal=user.principal())
    except AuditUnavailable:
        ctx.sessions.delete(session.id)
        raise
    response = RedirectResponse(target, status_code=303)
    session_cookie, login_cookie = cookie_names(request.scope)
    set_cookie(response, request.scope, session_cookie, token)
    delete_cookie(response, request.scope, login_cookie)
    return response


@router.post("/logout")
def logout(request: Request, user: CurrentUser) -> Response:
    ctx = security_context(request)
    session = request.state.security_session
    try:
        ctx.audit.record(request, "logout")
    finally:
        # Ending access is always allowed, even when the audit trail is down.
        if session is not None:
            ctx.sessions.delete(session.id)
    response = RedirectResponse("/login", status_code=303)
    delete_cookie(response, request.scope, cookie_names(request.scope)[0])
    return response


def _purpose_page(
    request: Request,
    next: str,
    error: str | None,
    code: str | None,
    reference: str | None,
    status_code: int = 200,
) -> Response:
    current = request.state.purpose
    return render(
        request,
        "auth/purpose.html",
        {
            "purposes": purposes.purposes(),
            "next": next,
            "error": error,
            "selected": code if code is not None else (current.code if current else ""),
            "reference": reference if reference is not None else (current.reference or "" if current else ""),
        },
        status_code=status_code,
    )


@router.get("/purpose")
def purpose_form(request: Request, user: CurrentUser, next: str | None = None) -> Response:
    return _purpose_page(request, safe_next(next), None, None, None)


@router.post("/purpose")
def set_purpose(
    request: Request,
    user: CurrentUser,
    code: Annotated[str, Form(max_length=100)] = "",
    reference: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    ctx = security_context(request)
    target = safe_next(next)
    try:
        info = purposes.validate(code, reference)
    except purposes.PurposeError as exc:
        return _purpose_page(request, target, str(exc), code, reference, status_code=400)
    previous = request.state.purpose
    request.state.purpose = info
    ctx.audit.record(
        request,
        "purpose.set",
        details={
            "previous": {"code": previous.code, "reference": previous.reference} if previous else None,
        },
    )
    ctx.sessions.set_purpose(request.state.security_session.id, info.code, info.reference)
    return RedirectResponse(target, status_code=303)
