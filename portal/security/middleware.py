"""Sessions, authentication, CSRF and security headers, as ASGI middleware.

``install_security(app, settings)`` adds two layers:

- ``SecurityHeaders`` wraps the *whole* application (outside Starlette's error middleware),
  so that every response carries the headers: pages, static files, redirects, 4xx and 500s.
- ``SessionMiddleware`` loads the server-side session, refuses anonymous requests
  (pages: 303 to /login; ``/api/*``: 401 JSON), and checks the CSRF token on every
  state-changing request, then exposes ``request.state.principal``, ``.purpose``,
  ``.csrf_token`` to routes and templates.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, quote

from fastapi import FastAPI
from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lantern.audit import AuditLog
from lantern.errors import AuditUnavailable
from lantern.search_client import make_client
from lantern.settings import Settings
from lantern.users import IdentityProvider, LocalIdentityProvider, User, UserStore
from portal import guide
from portal.security import purposes
from portal.security.ratelimit import RateLimits
from portal.security.sessions import LoginThrottle, Session, SessionStore

SESSION_COOKIE = "__Host-lantern_session"
LOGIN_COOKIE = "__Host-lantern_login"
RELAXED_SESSION_COOKIE = "lantern_session"
RELAXED_LOGIN_COOKIE = "lantern_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# The help page about signing in is public (portal.guide): the sign-in page links to it.
PUBLIC_PATHS = frozenset(
    {"/login", "/healthz", "/readyz", "/favicon.ico", "/accessibility"} | guide.PUBLIC_PATHS
)
PUBLIC_PREFIXES = ("/static/",)
# Routes that authenticate every request with a bearer token of their own (the indexer's
# ingest API, for source systems' service accounts): no session, and no CSRF check, which
# guards cookies a browser sends by itself; it never sends such a token by itself.
TOKEN_AUTH_PATHS = ("/api/ingest",)


def token_authenticated(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in TOKEN_AUTH_PATHS)


UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# GET routes that disclose records or write audit events: a request to them that another site
# started (``Sec-Fetch-Site: cross-site``) is refused, so a link or image elsewhere cannot plant
# audited actions in a user's name. The home page, static files and /login stay reachable.
AUDITED_GET_PREFIXES = (
    "/search",
    "/suggest",
    "/records/",
    "/entity/",
    "/api/",
    "/export",
    "/batch",
    "/notifications",
    "/saved",
    "/audit",
    "/persons",
    "/purpose",
    "/chart",
    "/timeline",
    "/map",
)
MAX_FORM_BYTES = 5 * 1024 * 1024
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def csp(tile_origin: str = "") -> str:
    """The Content-Security-Policy: the portal's own origin only, plus (when one is configured)
    the map's tile server for images and nothing else (``Settings.map_tile_origin``)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:" + (f" {tile_origin}" if tile_origin else ""),
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CSP = csp()
BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
)
HSTS = "max-age=63072000; includeSubDomains"


@dataclass
class SecurityContext:
    """Everything the security layer needs, at ``app.state.security``."""

    settings: Settings
    client: OpenSearch
    users: UserStore
    identity: IdentityProvider
    sessions: SessionStore
    throttle: LoginThrottle
    audit: AuditLog
    rate_limits: RateLimits

    @classmethod
    def create(cls, settings: Settings, client: OpenSearch | None = None) -> SecurityContext:
        c = client or make_client(settings, "serving")
        users = UserStore(c, settings)
        return cls(
            settings,
            c,
            users,
            LocalIdentityProvider(users),
            SessionStore(c, settings),
            LoginThrottle(c, settings),
            AuditLog(c, settings),
            RateLimits(settings, client=c),
        )


def is_relaxed(request_scope: Scope) -> bool:
    """Plain http on localhost: the only case where cookies drop ``__Host-``/Secure."""
    if request_scope.get("scheme") != "http":
        return False
    host = Headers(scope=request_scope).get("host", "")
    hostname = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return hostname.lower() in LOCAL_HOSTS


def cookie_names(scope: Scope) -> tuple[str, str]:
    if is_relaxed(scope):
        return RELAXED_SESSION_COOKIE, RELAXED_LOGIN_COOKIE
    return SESSION_COOKIE, LOGIN_COOKIE


def set_cookie(
    response: Response, scope: Scope, name: str, value: str, *, max_age: int | None = None
) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=not is_relaxed(scope), httponly=True, samesite="lax"
    )


def delete_cookie(response: Response, scope: Scope, name: str) -> None:
    response.delete_cookie(name, path="/", secure=not is_relaxed(scope), httponly=True, samesite="lax")


def login_csrf_token(settings: Settings, cookie_value: str) -> str:
    """The login form's token: an HMAC of the pre-session cookie (signed double submit)."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"login-csrf:" + cookie_value.encode(), hashlib.sha256).hexdigest()


def tokens_equal(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())


def wants_json(scope: Scope) -> bool:
    path: str = scope.get("path", "")
    accept = Headers(scope=scope).get("accept", "")
    return path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-site relative paths (no ``//host``, no backslashes, no schemes)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 32 for ch in value):
        return default
    return value


class SecurityHeaders:
    def __init__(self, app: ASGIApp, csp_value: str = CSP) -> None:
        self.app = app
        self.headers = tuple(
            (name, csp_value if name == "content-security-policy" else value) for name, value in BASE_HEADERS
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tls = scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    headers[name] = value
                if tls:
                    headers["strict-transport-security"] = HSTS
                if not static:
                    # Pages hold police data: keep them out of shared and browser caches.
                    headers["cache-control"] = "no-store"
                    headers["pragma"] = "no-cache"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SessionMiddleware:
    def __init__(self, app: ASGIApp, context: SecurityContext) -> None:
        self.app = app
        self.ctx = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if token_authenticated(path):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        public = path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)
        session_cookie, login_cookie = cookie_names(scope)
        state = request.state
        state.principal = None
        state.purpose = None
        state.csrf_token = ""
        state.login_csrf_token = ""
        state.security_session = None
        extra_cookies: list[Callable[[Response], None]] = []

        token = request.cookies.get(session_cookie)
        session: Session | None = None
        user: User | None = None
        if token:
            try:
                session, user = await run_in_threadpool(self._load, token)
            except OpenSearchException:
                if not public:
                    await self._unavailable(scope, receive, send)
                    return
        if session is not None and user is not None:
            state.principal = user.principal()
            state.security_session = session
            state.csrf_token = session.csrf_token
            state.purpose = purposes.from_stored(session.purpose_code, session.purpose_reference)
        elif token:
            # A stale or unknown cookie: drop it so it is never reused.
            extra_cookies.append(lambda r: delete_cookie(r, scope, session_cookie))

        if path == "/login":
            pre = request.cookies.get(login_cookie)
            if not pre or len(pre) > 100:
                pre = secrets.token_urlsafe(32)
                value = pre
                extra_cookies.append(lambda r: set_cookie(r, scope, login_cookie, value, max_age=3600))
            state.login_csrf_token = login_csrf_token(self.ctx.settings, pre)

        if session is None and not public:
            await self._unauthenticated(scope, receive, send, extra_cookies)
            return

        if (
            scope["method"] in ("GET", "HEAD")
            and request.headers.get("sec-fetch-site", "").lower() == "cross-site"
            and path.startswith(AUDITED_GET_PREFIXES)
        ):
            await self._cross_site(request, scope, receive, send)
            return

        if scope["method"] in UNSAFE_METHODS and method_is_routed(scope):
            receive, provided = await self._csrf_value(scope, receive)
            # The login form carries the pre-session token; a signed-in user re-signing in may
            # equally prove the page came from us with the session's token.
            accepted = [state.csrf_token] + ([state.login_csrf_token] if path == "/login" else [])
            if not any(tokens_equal(provided, t) for t in accepted):
                await self._audit_refusal(request, "csrf.failed", {"method": scope["method"]})
                await self._csrf_failed(scope, receive, send)
                return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and extra_cookies:
                scratch = Response()
                for add in extra_cookies:
                    add(scratch)
                headers = MutableHeaders(scope=message)
                # The route's own cookies win (a login replaces the stale cookie we would drop).
                taken = {v.split("=", 1)[0].strip() for v in headers.getlist("set-cookie")}
                for key, value in scratch.raw_headers:
                    cookie = value.decode("latin-1")
                    if key == b"set-cookie" and cookie.split("=", 1)[0].strip() not in taken:
                        headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _load(self, token: str) -> tuple[Session | None, User | None]:
        session = self.ctx.sessions.load(token)
        if session is None:
            return None, None
        user = self.ctx.identity.get(session.username)
        if user is None or user.disabled:
            self.ctx.sessions.delete(session.id)
            return None, None
        return session, user

    async def _csrf_value(self, scope: Scope, receive: Receive) -> tuple[Receive, str | None]:
        headers = Headers(scope=scope)
        header = headers.get(CSRF_HEADER)
        if header:
            return receive, header
        content_type = headers.get("content-type", "")
        if not (
            content_type.startswith("application/x-www-form-urlencoded")
            or content_type.startswith("multipart/form-data")
        ):
            return receive, None
        # Read the body once, then replay it to the route.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            body = message.get("body", b"")
            size += len(body)
            if size > MAX_FORM_BYTES:
                return receive, None
            chunks.append(body)
            more = message.get("more_body", False)
        data = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()

        value: str | None = None
        if content_type.startswith("application/x-www-form-urlencoded"):
            values = parse_qs(data.decode("latin-1"), keep_blank_values=True).get(CSRF_FIELD)
            value = values[0] if values else None
        else:
            sent = False

            async def once() -> Message:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": data, "more_body": False}
                return {"type": "http.disconnect"}

            form = await Request(scope, once).form()
            raw = form.get(CSRF_FIELD)
            value = raw if isinstance(raw, str) else None
            await form.close()
        return replay, value

    async def _unauthenticated(
        self, scope: Scope, receive: Receive, send: Send, extra: list[Callable[[Response], None]]
    ) -> None:
        response: Response
        if str(scope["path"]).startswith("/api/") or wants_json(scope):
            response = JSONResponse(
                {"error": "authentication required", "detail": "Sign in at /login first.", "login": "/login"},
                status_code=401,
            )
        else:
            query = scope["query_string"].decode("latin-1")
            target = scope["path"] + (f"?{query}" if query else "")
            response = RedirectResponse(f"/login?next={quote(safe_next(target), safe='')}", status_code=303)
        for add in extra:
            add(response)
        await response(scope, receive, send)

    async def _audit_refusal(self, request: Request, action: str, details: dict[str, str]) -> None:
        """Audit a refused request. Best effort only where refusing is already the safe outcome:
        an unwritable trail must not turn a refusal into a 500 (or let the request through)."""
        with contextlib.suppress(AuditUnavailable):
            await run_in_threadpool(
                self.ctx.audit.record,
                request,
                action,
                outcome="denied",
                target={"path": request.url.path[:500]},
                details={**details, "sec_fetch_site": request.headers.get("sec-fetch-site", "")},
            )

    async def _cross_site(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        await self._audit_refusal(request, "request.cross_site", {"method": scope["method"]})
        message = (
            "Refused: this request was started by another website. Open Lantern directly "
            "(type its address or use a bookmark) and try again."
        )
        response: Response
        if wants_json(scope):
            response = JSONResponse(
                {"error": "cross-site request refused", "detail": message}, status_code=403
            )
        else:
            response = _page(scope, 403, "Request refused", message)
        await response(scope, receive, send)

    async def _csrf_failed(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (
            "The form was stale or did not come from Lantern (CSRF check failed). "
            "Reload the page and try again."
        )
        response: Response
        if wants_json(scope):
            response = JSONResponse(
                {"error": "csrf token missing or invalid", "detail": message}, status_code=403
            )
        else:
            response = _page(scope, 403, "The form could not be accepted", message)
        await response(scope, receive, send)

    async def _unavailable(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = (
            "Search is unavailable: Lantern cannot reach its data store just now. Please try again shortly."
        )
        response: Response
        if wants_json(scope):
            response = JSONResponse({"error": "service unavailable", "detail": message}, status_code=503)
        else:
            response = _page(scope, 503, "Search is unavailable", message)
        await response(scope, receive, send)


def method_is_routed(scope: Scope) -> bool:
    """Whether a route answers this method at this path.

    A method no route takes is answered by the router (405, or 404) and runs nothing, so
    there is nothing for a CSRF token to protect: the answer is the router's, as the API's
    OpenAPI document promises, not a CSRF refusal.
    """
    router = getattr(scope.get("app"), "router", None)
    if router is None:
        return True
    return any(route.matches(scope)[0] == Match.FULL for route in router.routes)


def _page(scope: Scope, status: int, title: str, message: str) -> Response:
    """The portal's own error page (signed-out header, same layout), not a bare text answer."""
    from portal.errors import ErrorView, error_response  # errors imports nothing from security

    request = Request(scope)
    for name in ("principal", "purpose", "csrf_token"):
        if not hasattr(request.state, name):
            setattr(request.state, name, None)
    return error_response(request, ErrorView(status=status, title=title, message=message))


def install_security(app: FastAPI, settings: Settings, client: OpenSearch | None = None) -> SecurityContext:
    """Add sessions, authentication, CSRF and security headers to ``app``."""
    context = SecurityContext.create(settings, client)
    app.state.security = context
    app.add_middleware(SessionMiddleware, context=context)

    # Outermost layer, outside Starlette's ServerErrorMiddleware, so unhandled 500s get the
    # headers too.
    build = app.build_middleware_stack

    def build_with_headers() -> ASGIApp:
        return SecurityHeaders(build(), csp(settings.map_tile_origin))

    app.build_middleware_stack = build_with_headers  # type: ignore[method-assign]
    return context


__all__ = ["SecurityContext", "install_security", "safe_next"]
