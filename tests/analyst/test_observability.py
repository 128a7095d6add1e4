"""/healthz, /readyz, the metrics port, request ids into OpenSearch (X-Opaque-Id) and the audit trail."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
import urllib.request
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from opensearchpy import OpenSearch

from lantern import indices, observability
from lantern.observability import configure_logging, operation, request_id, start_metrics_server
from lantern.search_client import make_client
from lantern.settings import Settings
from portal.observability import readiness
from tests.analyst.conftest import signed_in
from tests.portal_fixtures import make_test_client


@pytest.fixture
def json_logs() -> Iterator[None]:
    """``configure_logging()`` for one test, undone after it: left in place, it would send
    every later test's INFO lines (each OpenSearch request) to the worker's stderr."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    observability._configured = False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_operation_names_are_bounded() -> None:
    assert operation("/lantern-x-records/_search") == "_search"
    assert operation("/_msearch") == "_msearch"
    assert operation("/idx/_doc/abc%2F_search-ish") == "_doc"
    assert operation("/some/thing") == "other"


def test_healthz_and_readyz(analyst_app: FastAPI, client: OpenSearch, asettings: Settings) -> None:
    for module in indices.discover().values():  # what `lantern index init` and first use create
        indices.ensure(client, asettings, module)
    with make_test_client(analyst_app) as tc:
        assert tc.get("/healthz").status_code == 200
        res = tc.get("/readyz")
        assert res.status_code == 200, res.text
        assert res.json()["checks"]["opensearch"] is True
        assert res.json()["checks"]["audit_writable"] is True
    # A prefix with no indices: aliases are missing, so not ready.
    empty = asettings.model_copy(
        update={"index_prefix": f"{asettings.index_prefix}none{uuid.uuid4().hex[:6]}-"}
    )
    result = readiness(client, empty)
    assert result["ready"] is False and result["checks"]["aliases_missing"]
    # An unreachable engine: not ready, and says why.
    dead = asettings.model_copy(update={"opensearch_hosts": [f"http://127.0.0.1:{_free_port()}"]})
    result = readiness(make_client(dead), dead)
    assert result["ready"] is False and result["checks"]["opensearch"] is False


def test_request_id_reaches_opensearch_and_the_audit_event(
    analyst_app: FastAPI, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "ofc")
    rid = f"test-{uuid.uuid4().hex}"
    res = tc.get("/search", params={"q": "zzqq-observability"}, headers={"X-Request-Id": rid})
    assert res.status_code == 200
    assert res.headers["x-request-id"] == rid
    client.indices.refresh(index=asettings.index_name("audit"))
    hits = client.search(
        index=asettings.index_name("audit"),
        body={"query": {"term": {"user": "ofc"}}, "sort": [{"seq": "desc"}], "size": 20},
    )["hits"]["hits"]
    assert any(h["_source"]["details"].get("request_id") == rid for h in hits)
    # A header that is not a plain id is replaced, never echoed or forwarded.
    res = tc.get("/healthz", headers={"X-Request-Id": "bad id\r\nx"})
    assert res.headers["x-request-id"] != "bad id\r\nx" and len(res.headers["x-request-id"]) == 32


def test_x_opaque_id_is_sent(client: OpenSearch, asettings: Settings) -> None:
    # Every workload's client sends it; the admin's because only it may list tasks.
    own = make_client(asettings, "admin")
    rid = f"opaque-{uuid.uuid4().hex}"
    token = request_id.set(rid)
    try:
        # The tasks API shows each running task's X-Opaque-Id header: ask it about itself.
        tasks = own.tasks.list(params={"detailed": "true", "actions": "cluster:monitor/tasks/lists*"})
    finally:
        request_id.reset(token)
    seen = [
        t.get("headers", {}).get("X-Opaque-Id")
        for node in tasks["nodes"].values()
        for t in node["tasks"].values()
    ]
    assert rid in seen


def test_metrics_port_exposes_the_figures(analyst_app: FastAPI) -> None:
    port = _free_port()
    start_metrics_server(port)
    tc = signed_in(analyst_app, "ofc")
    tc.get("/search", params={"q": "zzqq-metrics"})
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    assert 'lantern_http_request_duration_seconds_count{method="GET",route="/search",status="200"}' in body
    assert 'lantern_engine_request_duration_seconds_count{operation="_search"}' in body
    assert "lantern_audit_write_duration_seconds_count" in body
    assert 'lantern_jobs{status="queued"}' in body
    assert "lantern_ingest_rows_total" in body and "lantern_rate_limit_refusals_total" in body
    # Not on the portal's own port.
    with make_test_client(analyst_app) as anon:
        assert anon.get("/metrics").status_code in (303, 401, 404)


def test_logs_are_json_with_the_request_id(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    token = request_id.set("req-12345678")
    try:
        logging.getLogger("lantern.test").warning("hello %s", "there")
    finally:
        request_id.reset(token)
    line = [ln for ln in capsys.readouterr().err.splitlines() if "hello there" in ln][-1]
    event = json.loads(line)
    assert event["event"] == "hello there" and event["request_id"] == "req-12345678"
    assert event["level"] == "warning"


def test_traces_follow_a_request_into_opensearch(asettings: Settings, analyst_users: object) -> None:
    """With a tracer provider (the SDK's in-memory exporter standing in for OTLP), a portal
    request is a server span and each OpenSearch call under it a client span of the same
    trace, both carrying the request id that OpenSearch sees as X-Opaque-Id."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from lantern import tracing
    from portal.app import create_app

    assert tracing.tracer() is None  # off by default: no endpoint configured
    exporter = InMemorySpanExporter()
    provider = tracing.make_provider("lantern-test", SimpleSpanProcessor(exporter))
    tracing.use_provider(provider)
    try:
        tc = signed_in(create_app(asettings), "ofc")
        exporter.clear()
        rid = f"trace-{uuid.uuid4().hex}"
        res = tc.get("/search", params={"q": "zzqq-tracing"}, headers={"X-Request-Id": rid})
        assert res.status_code == 200
    finally:
        tracing.use_provider(None)
        provider.shutdown()
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(server) == 1, [s.name for s in spans]
    request = server[0]
    assert request.attributes is not None
    assert request.attributes["http.route"] == "/search"
    assert request.attributes[tracing.REQUEST_ID_ATTRIBUTE] == rid
    assert request.attributes["url.query"] == "REDACTED"  # search terms stay out of traces
    engine = [s for s in spans if s.kind == SpanKind.CLIENT and s.name.startswith("opensearch ")]
    names = {s.name for s in engine}
    # The search itself, the audit append and the rate-limit update, all under the request.
    assert {"opensearch _search", "opensearch _doc", "opensearch _update"} <= names, names
    for span in engine:
        assert span.context.trace_id == request.context.trace_id
        assert span.attributes is not None and span.attributes[tracing.REQUEST_ID_ATTRIBUTE] == rid
        assert span.attributes["db.system.name"] == "opensearch"
        status = span.attributes["http.response.status_code"]
        assert isinstance(status, int) and status < 500, status
    # Each engine span sits inside the request span (directly or under FastAPI's own spans).
    by_id = {s.context.span_id: s for s in spans}
    for span in engine:
        parent = span.parent
        while parent is not None and parent.span_id != request.context.span_id:
            parent = by_id[parent.span_id].parent
        assert parent is not None, f"{span.name} is not under the request span"


def test_logs_follow_sys_stderr_when_it_is_swapped_and_closed(
    json_logs: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    swapped = io.StringIO()
    monkeypatch.setattr(sys, "stderr", swapped)
    logging.getLogger("lantern.test").warning("into the swapped stream")
    written = swapped.getvalue()
    # A handler writing to a stale stream reports "--- Logging error ---" (with the message)
    # on sys.stderr instead: only a JSON line of its own counts.
    assert "Logging error" not in written
    assert [json.loads(ln)["event"] for ln in written.splitlines()] == ["into the swapped stream"]
    swapped.close()
    monkeypatch.undo()
    logging.getLogger("lantern.test").warning("after the swap")
    err = capsys.readouterr().err
    assert "Logging error" not in err
    assert "after the swap" in [json.loads(ln)["event"] for ln in err.splitlines() if ln.startswith("{")]
