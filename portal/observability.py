"""The portal's side of observability: a request id per request, its latency metric and log
line, ``/readyz``, and the metrics port (see ``lantern.observability``)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from opensearchpy import OpenSearch
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lantern import indices
from lantern.jobs import JobStore
from lantern.observability import (
    HTTP_LATENCY,
    accept_request_id,
    register_gauges,
    request_id,
    start_metrics_server,
)
from lantern.opensearch_security import INDEX_ACCESS
from lantern.settings import Settings
from lantern.tracing import REQUEST_ID_ATTRIBUTE
from mappings import audit as audit_mapping

log = structlog.get_logger("lantern.access")


class RequestContext:
    """Pure ASGI (streamed CSV exports pass through untouched): request id in, header and
    metric and one JSON access-log line out."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        rid = accept_request_id(headers.get("x-request-id")) or uuid.uuid4().hex
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        # FastAPI's request span (when tracing is on) is current here: name the request on it.
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute(REQUEST_ID_ATTRIBUTE, rid)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or (
                "/static" if scope["path"].startswith("/static") else "unmatched"
            )
            HTTP_LATENCY.labels(scope["method"], template, str(status)).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 1),
            )
            request_id.reset(token)


def readiness(client: OpenSearch, settings: Settings) -> dict[str, Any]:
    """What ``/readyz`` checks: the engine answers, every Lantern alias exists, audit is writable."""
    checks: dict[str, Any] = {}
    try:
        health = client.cluster.health(request_timeout=2)
        checks["opensearch"] = health.get("status") in ("green", "yellow")
    except Exception as exc:
        checks["opensearch"] = False
        checks["error"] = type(exc).__name__
        return {"ready": False, "checks": checks}
    # The portal's indices: the others (tombstones, service accounts) are closed to its
    # OpenSearch user, which therefore cannot even see whether they exist.
    missing = [
        indices.read_alias(settings, m)
        for name, m in indices.discover().items()
        if "portal" in INDEX_ACCESS.get(name, {})
        and not client.indices.exists_alias(name=indices.read_alias(settings, m))
    ]
    checks["aliases_missing"] = missing
    # Writable: the audit index exists, is not red and carries no write block (disk watermark).
    audit = indices.read_alias(settings, audit_mapping)
    try:
        got = client.indices.get_settings(index=audit, params={"flat_settings": "true"})
        blocked = any(
            str(v.get("settings", {}).get(k, "false")) == "true"
            for v in got.values()
            for k in ("index.blocks.write", "index.blocks.read_only", "index.blocks.read_only_allow_delete")
        )
        red = client.cluster.health(index=audit, request_timeout=2).get("status") == "red"
        checks["audit_writable"] = not blocked and not red
    except Exception:
        checks["audit_writable"] = False
    ready = checks["opensearch"] and not missing and checks["audit_writable"]
    return {"ready": ready, "checks": checks}


def install_observability(app: FastAPI, settings: Settings, client: OpenSearch) -> None:
    app.add_middleware(RequestContext)

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        result = readiness(client, settings)
        return JSONResponse(result, status_code=200 if result["ready"] else 503)

    def depth() -> dict[str, float]:
        stats = JobStore(client, settings).stats()
        return {"queued": stats.queued, "running": stats.running}

    def age() -> dict[str, float]:
        return {"queued": JobStore(client, settings).stats().oldest_queued_age_seconds}

    register_gauges(depth, "lantern_jobs", "Background jobs waiting or running (queue depth).", "status")
    register_gauges(
        age, "lantern_jobs_oldest_age_seconds", "Age of the oldest job waiting for a worker.", "status"
    )
    start_metrics_server(settings.metrics_port, settings.metrics_host)
