"""Request ids, Prometheus metrics and structured logs, shared by every Lantern process.

- ``request_id`` (a context variable) is set per portal request (``portal.observability``)
  and read here: the OpenSearch connection sends it as ``X-Opaque-Id`` (so the engine's
  slow log and tasks name the request), the audit writer stores it on the event, and every
  log line carries it.
- Metrics use prometheus-client's default registry, one per process. They are served on a
  separate port (``LANTERN_METRICS_PORT``, loopback by default), never on the portal's own
  port, so only whoever can reach that port (the monitoring host) can read them.
- Logs are JSON lines (structlog), stdlib ``logging`` included, on stderr.
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from opensearchpy import Urllib3HttpConnection
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import TransportError
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from lantern import tracing

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("lantern_request_id", default=None)

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def accept_request_id(value: str | None) -> str | None:
    """An incoming ``X-Request-Id`` (from the proxy) if it is safe to log and forward."""
    return value if value and _REQUEST_ID_OK.match(value) else None


# ------------------------------------------------------------------------ metrics

HTTP_LATENCY = Histogram(
    "lantern_http_request_duration_seconds",
    "Portal request latency by route template (not by URL, so the label set stays small).",
    ["method", "route", "status"],
)
ENGINE_LATENCY = Histogram(
    "lantern_engine_request_duration_seconds",
    "OpenSearch request latency by operation (_search, _msearch, _bulk, ...).",
    ["operation"],
)
ENGINE_ERRORS = Counter(
    "lantern_engine_errors_total",
    "OpenSearch requests that failed: connection errors and 5xx (4xx such as 404 are answers).",
    ["operation", "kind"],
)
AUDIT_WRITE_LATENCY = Histogram(
    "lantern_audit_write_duration_seconds", "Time to append one event to the audit chain."
)
RATE_LIMIT_REFUSALS = Counter(
    "lantern_rate_limit_refusals_total", "Requests refused by a rate limit or login throttle.", ["limit"]
)
INGEST_ROWS = Counter(
    "lantern_ingest_rows_total",
    "Rows read by the loader, by outcome (indexed, rejected, failed); rows/s is its rate().",
    ["outcome"],
)

_OPERATIONS = frozenset(
    {
        "_search",
        "_msearch",
        "_count",
        "_bulk",
        "_doc",
        "_create",
        "_update",
        "_mget",
        "_pit",
        "_percolate",
        "_refresh",
        "_delete_by_query",
        "_update_by_query",
        "_alias",
        "_aliases",
        "_snapshot",
        "_cluster",
        "_mapping",
        "_settings",
        "_tasks",
        "_reindex",
        "_analyze",
    }
)


def operation(url: str) -> str:
    """A bounded name for an OpenSearch URL: its last known ``_api`` segment."""
    parts = [p for p in url.split("?", 1)[0].split("/") if p]
    for part in reversed(parts):
        if part in _OPERATIONS:
            return part
    return "other" if parts else "root"


class InstrumentedConnection(Urllib3HttpConnection):
    """The default connection, plus ``X-Opaque-Id`` and latency/error metrics per request."""

    def perform_request(
        self,
        method: str,
        url: str,
        params: Any = None,
        body: Any = None,
        timeout: Any = None,
        ignore: Any = (),
        headers: Any = None,
    ) -> Any:
        rid = request_id.get()
        if rid:
            headers = {**(headers or {}), "X-Opaque-Id": rid}
        op = operation(url)
        tracer = tracing.tracer()
        if tracer is None:
            return self._measured(op, method, url, params, body, timeout, ignore, headers)
        # A client span per attempt (a retry on another host is its own span), child of the
        # portal request's span; its request id is the X-Opaque-Id the engine logs.
        attributes: dict[str, Any] = {
            "db.system.name": "opensearch",
            "db.operation.name": op,
            "http.request.method": method,
            "server.address": self.hostname,
            "server.port": self.port,
        }
        if rid:
            attributes[tracing.REQUEST_ID_ATTRIBUTE] = rid
        with tracer.start_as_current_span(
            f"opensearch {op}", kind=SpanKind.CLIENT, attributes=attributes
        ) as span:
            headers = dict(headers or {})
            propagate.inject(headers)  # traceparent: kept by OpenSearch's own telemetry, if enabled
            try:
                status, response_headers, data = self._measured(
                    op, method, url, params, body, timeout, ignore, headers
                )
            except TransportError as exc:
                if isinstance(exc.status_code, int):
                    span.set_attribute("http.response.status_code", exc.status_code)
                raise
            span.set_attribute("http.response.status_code", status)
            return status, response_headers, data

    def _measured(
        self, op: str, method: str, url: str, params: Any, body: Any, timeout: Any, ignore: Any, headers: Any
    ) -> Any:
        start = time.perf_counter()
        try:
            return super().perform_request(method, url, params, body, timeout, ignore, headers)
        except EngineConnectionError:
            ENGINE_ERRORS.labels(op, "connection").inc()
            raise
        except TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if status >= 500 or status == 0:
                ENGINE_ERRORS.labels(op, "server").inc()
            raise
        finally:
            ENGINE_LATENCY.labels(op).observe(time.perf_counter() - start)


class _CallbackCollector(Collector):
    """Gauges computed at scrape time (queue depth from the jobs index)."""

    def __init__(self, read: Callable[[], dict[str, float]], name: str, doc: str, label: str) -> None:
        self.read, self.name, self.doc, self.label = read, name, doc, label

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.doc, labels=[self.label])
        try:
            values = self.read()
        except Exception:  # a scrape must not fail because the engine is down
            values = {}
        for key, value in values.items():
            family.add_metric([key], value)
        yield family


_registered: set[str] = set()


def register_gauges(read: Callable[[], dict[str, float]], name: str, doc: str, label: str) -> None:
    if name in _registered:
        return
    REGISTRY.register(_CallbackCollector(read, name, doc, label))
    _registered.add(name)


_metrics_started: set[int] = set()


def start_metrics_server(port: int | None, host: str = "127.0.0.1") -> int | None:
    """Serve ``/metrics`` on ``host:port`` in a thread (once per port); None when not configured."""
    if not port:
        return None
    if port not in _metrics_started:
        start_http_server(port, addr=host)
        _metrics_started.add(port)
    return port


# ------------------------------------------------------------------------ logs


def _add_request_id(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    rid = request_id.get()
    if rid and "request_id" not in event:
        event["request_id"] = rid
    # With tracing on, the trace id too: a log line leads to its trace and back.
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid and "trace_id" not in event:
        event["trace_id"] = format(ctx.trace_id, "032x")
    return event


_configured = False


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler writing to whatever ``sys.stderr`` is when a line is written.

    ``logging.StreamHandler(sys.stderr)`` keeps the stream it was given; when something swaps
    ``sys.stderr`` for a while (pytest captures it per test, a worker redirects it) and closes
    the swapped-in stream, every later line fails with "I/O operation on closed file".
    """

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass  # always the current sys.stderr


def configure_logging(level: int = logging.INFO, *, json: bool = True) -> None:
    """JSON log lines on stderr for structlog and stdlib loggers alike (idempotent)."""
    global _configured
    if _configured:
        return
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        _add_request_id,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _configured = True
