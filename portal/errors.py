"""Domain errors (and, for the portal's own stores, engine errors) mapped to responses, in one table.

Record reads raise only domain errors (``search.gateway`` translates the engine's); the
portal's stores of sessions, accounts, saved queries and notifications may still raise
``opensearchpy`` exceptions, mapped here the same way. Every route lets these propagate;
the handlers below turn them into a page (HTML), a fragment (htmx) or JSON (``/api/*``)
with the same status. Users never see a stack trace or an engine message: the details go
to the log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from opensearchpy.exceptions import (
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    RequestError,
    SerializationError,
    TransportError,
)
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from lantern.errors import AuditUnavailable, BadQuery, IndexMissing, NotFound, SearchUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorView:
    status: int
    title: str
    message: str


UNAVAILABLE = ErrorView(
    503,
    "Search is unavailable",
    "Lantern cannot reach its search service just now. Nothing you entered was lost: try again in a "
    "minute, and tell the service desk if this keeps happening.",
)
NOT_READY = ErrorView(
    503,
    "Search is not ready",
    "The records index does not exist yet (no data has been loaded). Ask an administrator to load the data.",
)
BAD_QUERY = ErrorView(
    400,
    "That search could not be run",
    "The search service could not run this search. Try fewer or simpler terms.",
)
NOT_FOUND = ErrorView(
    404, "Not found", "There is no record at this address, or you do not have access to it."
)
AUDIT_REFUSED = ErrorView(
    503,
    "Action refused: audit unavailable",
    "Lantern could not write to its audit trail, so it refused this action (every search and view must be "
    "recorded). Try again shortly; if it persists, tell the service desk.",
)
INTERNAL = ErrorView(500, "Something went wrong", "Lantern hit an unexpected problem. It has been logged.")


def _not_found(exc: BaseException) -> ErrorView:
    # A missing index is an outage, not a missing record.
    info = str(getattr(exc, "error", "")) + str(getattr(exc, "info", ""))
    return NOT_READY if "index_not_found" in info else NOT_FOUND


def _transport(exc: BaseException) -> ErrorView:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 408, 429):
        return BAD_QUERY
    return UNAVAILABLE


# First match wins: subclasses before their bases.
ERROR_TABLE: tuple[tuple[type[BaseException], ErrorView | Callable[[BaseException], ErrorView]], ...] = (
    (AuditUnavailable, AUDIT_REFUSED),
    (IndexMissing, NOT_READY),
    (SearchUnavailable, UNAVAILABLE),
    (BadQuery, BAD_QUERY),
    (NotFound, NOT_FOUND),
    (ConnectionTimeout, UNAVAILABLE),
    (ConnectionError, UNAVAILABLE),
    (AuthenticationException, UNAVAILABLE),
    (AuthorizationException, UNAVAILABLE),
    (NotFoundError, _not_found),
    (RequestError, BAD_QUERY),
    (SerializationError, UNAVAILABLE),
    (TransportError, _transport),
)


def classify(exc: BaseException) -> ErrorView:
    for cls, view in ERROR_TABLE:
        if isinstance(exc, cls):
            return view(exc) if callable(view) else view
    return INTERNAL


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    if request.url.path.startswith("/api/"):
        return True
    return "application/json" in accept and "text/html" not in accept


def error_response(request: Request, view: ErrorView, headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": view.title, "detail": view.message}, status_code=view.status, headers=headers
        )
    templates = request.app.state.templates
    # Nothing request-specific in the body: a denied record and a missing one must look the same.
    context: dict[str, Any] = {"error": view, "purpose_next": "/"}
    if request.headers.get("hx-request") and not request.headers.get("hx-history-restore-request"):
        response: Response = templates.TemplateResponse(
            request, "error.html", context, status_code=view.status, headers=headers, block_name="error_panel"
        )
        return response
    response = templates.TemplateResponse(
        request, "error.html", context, status_code=view.status, headers=headers
    )
    return response


# Searches that fail (a query the engine rejects: 400; parameters that do not validate: 422)
# are audited too: probing with malformed queries is itself worth seeing.
SEARCH_PATHS = (
    "/search",
    "/api/search",
    "/suggest",
    "/api/suggest",
    "/export",
    "/batch",
    "/entity/",
    "/api/entities/",
)


async def audit_failed_search(request: Request, status: int, reason: str) -> None:
    if not request.url.path.startswith(SEARCH_PATHS):
        return
    security = getattr(request.app.state, "security", None)
    if security is None or getattr(request.state, "principal", None) is None:
        return
    with contextlib.suppress(AuditUnavailable):  # the search was refused anyway
        await run_in_threadpool(
            security.audit.record,
            request,
            "search.failed",
            outcome=f"http_{status}",
            target={"path": request.url.path},
            details={
                "query": request.query_params.get("q", "")[:1000],
                "status": status,
                "reason": reason[:500],
            },
        )


async def _handle(request: Request, exc: Exception) -> Response:
    view = classify(exc)
    if view.status in (400, 422):
        await audit_failed_search(request, view.status, type(exc).__name__)
    if view.status >= 500:
        log.error(
            "%s on %s %s: %r", view.title, request.method, request.url.path, exc, exc_info=view is INTERNAL
        )
    else:
        log.info("%s on %s %s: %r", view.title, request.method, request.url.path, exc)
    return error_response(request, view)


HTTP_TITLES = {
    400: "Bad request",
    401: "Sign in required",
    403: "Access denied",
    404: "Not found",
    405: "Not allowed",
    422: "Check what you entered",
    428: "State a purpose first",
    429: "Too many requests",
}


async def _handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code in (400, 422) and wants_json(request):
        await audit_failed_search(request, exc.status_code, str(exc.detail))
    if exc.status_code < 400:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=headers or None)
    if wants_json(request):
        # The one error shape the API declares (portal.openapi.ErrorOut).
        body = {"error": HTTP_TITLES.get(exc.status_code, "Request refused"), "detail": str(exc.detail)}
        return JSONResponse(body, status_code=exc.status_code, headers=headers or None)
    if exc.status_code == 404:
        return error_response(request, NOT_FOUND, headers or None)
    if exc.status_code in (400, 422):
        await audit_failed_search(request, exc.status_code, str(exc.detail))
    title = HTTP_TITLES.get(exc.status_code, "Request refused")
    return error_response(request, ErrorView(exc.status_code, title, str(exc.detail)), headers or None)


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    await audit_failed_search(request, 422, "invalid parameters")
    return await request_validation_exception_handler(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    for cls, _ in ERROR_TABLE:
        if issubclass(cls, Exception):
            app.add_exception_handler(cls, _handle)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(Exception, _handle)
