"""A minimal app around the security layer (independent of the UI engineer's pages)."""
# ruff: noqa: E402

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
import pytest as _pytest
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from jinja2_fragments.fastapi import Jinja2Blocks

_pytest.register_assert_rewrite("tests.portal_fixtures")

from lantern.errors import AuditUnavailable
from lantern.settings import Settings
from portal.security import Auditor, CurrentUser, RequirePurpose, install_security
from portal.security.routing import router
from tests.portal_fixtures import StdUser, make_test_client

# tests.portal_fixtures is loaded by tests/conftest.py (pytest_plugins must live in the top conftest).

TEMPLATES = Path(__file__).resolve().parents[2] / "portal" / "templates"
STUB_BASE = """<!doctype html><html lang="en"><head><title>{% block title %}{% endblock %}</title></head>
<body><header>{% if request.state.principal %}{{ request.state.principal.display_name }}
<span id="purpose">{{ request.state.purpose or "no purpose" }}</span>
<form method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{ request.state.csrf_token }}">
<button>Sign out</button></form>{% endif %}</header>
<main>{% block content %}{% endblock %}</main></body></html>"""


def build_app(settings: Settings, static_dir: Path) -> FastAPI:
    app = FastAPI()
    install_security(app, settings)
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(TEMPLATES), jinja2.DictLoader({"base.html": STUB_BASE})]
        ),
        autoescape=True,
    )
    app.state.settings = settings
    app.state.templates = Jinja2Blocks(env=env)
    app.include_router(router)

    @app.exception_handler(AuditUnavailable)
    async def audit_unavailable(request, exc):
        return HTMLResponse("Action refused: audit unavailable", status_code=503)

    @app.get("/")
    def home(user: CurrentUser) -> HTMLResponse:
        return HTMLResponse(f"home {user.username}")

    @app.get("/search")
    def search(
        request: Request, q: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
    ) -> JSONResponse:
        audit.record(request, "search", details={"query": q, "result_count": 2, "shown_ids": ["r1", "r2"]})
        return JSONResponse({"q": q, "purpose": purpose.code})

    @app.get("/api/search")
    def api_search(q: str, user: CurrentUser, purpose: RequirePurpose) -> JSONResponse:
        return JSONResponse({"q": q, "purpose": purpose.code, "reference": purpose.reference})

    @app.post("/thing")
    def thing(user: CurrentUser) -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.get("/boom")
    def boom(user: CurrentUser) -> None:
        raise RuntimeError("boom")

    @app.get("/healthz")
    def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    app.mount("/static", StaticFiles(directory=static_dir), name="static")
    return app


@pytest.fixture(scope="session")
def sec_app(
    settings: Settings, standard_users: dict[str, StdUser], tmp_path_factory: pytest.TempPathFactory
) -> FastAPI:
    static = tmp_path_factory.mktemp("static")
    (static / "site.css").write_text("body{}")
    return build_app(settings, static)


@pytest.fixture
def tc(sec_app: FastAPI) -> Iterator[TestClient]:
    with make_test_client(sec_app, raise_server_exceptions=False) as c:
        yield c
