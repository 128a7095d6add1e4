"""OpenTelemetry traces: off unless ``LANTERN_OTLP_ENDPOINT`` is set.

One tracer provider per process (the portal's and the worker's), made from the settings by
:func:`configure_tracing`. It is used in two places only: FastAPI's native request spans
(``portal.app`` hands it the provider) and a client span around every OpenSearch request
(``lantern.observability.InstrumentedConnection``, the one connection class). Both carry
the request id (``lantern.request_id``), which is also the ``X-Opaque-Id`` OpenSearch sees
and the ``request_id`` on the audit event, so one request can be followed from the portal
into the engine and the audit trail.

Search terms are personal data: the request span's ``url.query`` is replaced before export
(the audit trail, not the trace collector, is where queries are kept).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from lantern.settings import Settings

REQUEST_ID_ATTRIBUTE = "lantern.request_id"
REDACTED_ATTRIBUTES = ("url.query",)

_provider: TracerProvider | None = None
_configured_for: str | None = None
_lock = threading.Lock()


class RedactQueries(SpanProcessor):
    """Blank attributes that would carry search terms to the collector."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        for key in REDACTED_ATTRIBUTES:
            if key in attributes:
                span.set_attribute(key, "REDACTED")

    def on_end(self, span: ReadableSpan) -> None:
        return None


def make_provider(service_name: str, *processors: SpanProcessor) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(RedactQueries())
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def configure_tracing(settings: Settings, role: str = "portal") -> TracerProvider | None:
    """The process's provider, exporting to the configured OTLP endpoint; None when unset."""
    global _provider, _configured_for
    endpoint = settings.otlp_endpoint
    if not endpoint:
        return _provider  # a provider a test installed, or None (tracing off)
    with _lock:
        if _provider is None or _configured_for != endpoint:
            # Imported here: the exporter (and its protobuf code) only loads when tracing is on.
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
            _provider = make_provider(f"{settings.otel_service_name}-{role}", BatchSpanProcessor(exporter))
            _configured_for = endpoint
        return _provider


def use_provider(provider: TracerProvider | None) -> None:
    """Install (or with None, remove) the process's provider directly (tests)."""
    global _provider, _configured_for
    with _lock:
        _provider, _configured_for = provider, None


def tracer() -> trace.Tracer | None:
    """A tracer when tracing is on, else None (callers then skip spans entirely)."""
    provider = _provider
    return provider.get_tracer("lantern") if provider is not None else None


def fastapi_telemetry(settings: Settings) -> dict[str, Any]:
    """``FastAPI(telemetry=...)``: request spans on Lantern's provider, nothing else.

    Prometheus (``lantern.observability``) already has the metrics and structlog the logs, so
    FastAPI's own OpenTelemetry metrics and logs stay off; with no provider, so do its spans
    (whatever global provider a library may have set).
    """
    provider = configure_tracing(settings)
    return {
        "tracer_provider": provider,
        "tracing": provider is not None,
        "metrics": False,
        "logs": False,
        "auto_configure": False,
    }
