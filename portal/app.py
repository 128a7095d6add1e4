"""The portal application factory."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from jinja2_fragments.fastapi import Jinja2Blocks

from lantern import tracing
from lantern.search_client import make_client
from lantern.settings import Settings, get_settings
from portal.errors import install_error_handlers
from portal.guide import IMAGE_DIR as GUIDE_IMAGES
from portal.observability import install_observability
from portal.present import ENTITY_LABEL_NAMES, TYPE_LABELS, code_label, entity_href, fmt_date, humanise
from portal.rendering import render

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


def make_templates() -> Jinja2Blocks:
    templates = Jinja2Blocks(directory=str(TEMPLATES_DIR))
    env = templates.env
    env.autoescape = True
    env.trim_blocks = True
    env.lstrip_blocks = True
    env.filters["date"] = fmt_date
    env.filters["humanise"] = humanise
    env.filters["code_label"] = code_label
    env.globals["TYPE_LABELS"] = TYPE_LABELS
    env.globals["ENTITY_LABEL_NAMES"] = ENTITY_LABEL_NAMES
    env.globals["entity_href"] = entity_href
    return templates


def create_app(settings: Settings | None = None) -> FastAPI:
    from portal.analyst import install as install_analyst
    from portal.routes import api as api_routes
    from portal.routes import documents as document_routes
    from portal.routes import entities as entity_routes
    from portal.routes import help as help_routes
    from portal.routes import persons as person_routes
    from portal.routes import records as record_routes
    from portal.routes import search as search_routes
    from portal.security import install_security
    from portal.security.routing import router as security_router

    s = settings or get_settings()
    app = FastAPI(
        # Request spans, only when tracing is configured (lantern.tracing).
        telemetry=cast(TelemetryConfig, tracing.fastapi_telemetry(s)),
        title="Lantern",
        summary="Search-first records and intelligence portal",
        description=(
            "JSON API beside the portal pages. Same rules as the pages: sign in (session cookie), a "
            "stated purpose (`X-Lantern-Purpose: CODE;REFERENCE` header or the /purpose page), record-level "
            "access control, and every call audited."
        ),
        version="1",
        # /api/docs is the portal's own page with Swagger UI vendored from npm (FastAPI's default
        # loads it from a CDN and starts it with an inline script, which the CSP forbids).
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = s
    app.state.templates = make_templates()
    app.state.client = make_client(s, "serving")

    install_error_handlers(app)
    install_security(app, s, app.state.client)

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    # The user guide's screenshots (written by the browser tests, see portal.guide).
    app.mount("/help/img", StaticFiles(directory=str(GUIDE_IMAGES), check_dir=False), name="guide-images")
    app.include_router(security_router)
    app.include_router(search_routes.router)
    app.include_router(record_routes.router)
    app.include_router(entity_routes.router)
    app.include_router(document_routes.router)
    app.include_router(person_routes.router)
    app.include_router(api_routes.router)
    app.include_router(help_routes.router)
    # Analyst tools (saved queries, notifications, batch search, CSV export).
    install_analyst(app)

    @app.get("/api/docs", include_in_schema=False)
    def api_docs(request: Request) -> Response:
        return render(request, "api_docs.html", {"openapi_url": app.openapi_url or "/api/openapi.json"})

    # Added last so it is outermost: the request id exists before the security layer runs.
    install_observability(app, s, app.state.client)

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app
