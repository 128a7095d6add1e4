"""The one place OpenSearch clients are made.

Serving wants short timeouts and few retries (a page must answer or fail fast);
ingestion wants long timeouts and patient retries. Both share hosts and TLS.

Each workload signs in as its own least-privileged OpenSearch user: serving -> the portal's
(reads records, only creates audit events), ingest -> the indexer's (writes records),
admin -> the admin's (``lantern index init``/``migrate``, user administration, tests' cleanup).
"""

from __future__ import annotations

from typing import Any, Literal

from opensearchpy import OpenSearch

from lantern import embedded
from lantern.observability import InstrumentedConnection
from lantern.opensearch_security import Role
from lantern.settings import Settings, get_settings

# What the client is for (not the lawful purpose of a search: see portal.security.purposes).
# Each workload signs in as its own least-privileged OpenSearch user.
Workload = Literal["serving", "ingest", "admin"]
CREDENTIALS: dict[Workload, Role] = {"serving": "portal", "ingest": "indexer", "admin": "admin"}


def hosts(settings: Settings) -> list[str]:
    """The OpenSearch URLs: the configured cluster, or every node of the embedded layout
    (so a client survives losing one)."""
    if settings.embedded:
        return embedded.node_urls(settings)
    return [str(h).rstrip("/") for h in settings.opensearch_hosts]


def request_write_params(settings: Settings) -> dict[str, Any]:
    """Parameters for the writes a portal request makes on its way (audit append,
    disclosures, rate-limit window, session): they must outlast a primary failover.

    A write to a shard whose primary was on a node that just left is held by the engine until
    a replica is promoted (up to the engine's ``timeout``). With the serving client's short
    timeout (5 s, no retry on timeout) the client gave up first, and an audit or rate-limit
    write that could not be made refuses the request (503) - tests/cluster saw this once
    right after a node stop. So these writes get ``opensearch_timeout_write`` on the client
    and a slightly shorter ``timeout`` on the engine: the engine then answers (503,
    unavailable shards; nothing written) before the client would time out not knowing
    whether the write happened, and the client retries it on another host.
    """
    # Never shorter than the serving timeout (raised on a loaded machine, e.g. for tests).
    seconds = max(settings.opensearch_timeout_write, settings.opensearch_timeout_serving)
    return {"request_timeout": seconds, "timeout": f"{max(1, int(seconds) - 2)}s"}


def make_client(settings: Settings | None = None, workload: Workload = "serving") -> OpenSearch:
    s = settings or get_settings()
    urls = hosts(s)
    auth = s.opensearch_credentials(CREDENTIALS[workload])
    use_ssl = any(h.startswith("https://") for h in urls)
    kwargs: dict[str, object] = {
        "hosts": urls,
        "http_auth": auth,
        "use_ssl": use_ssl,
        "verify_certs": s.opensearch_verify_certs if use_ssl else False,
        "ssl_show_warn": False,
        "timeout": s.opensearch_timeout_serving if workload == "serving" else s.opensearch_timeout_ingest,
        # With several hosts, a dead one is marked and the next one tried.
        "retry_on_timeout": workload == "ingest",
        "max_retries": 1 if workload == "serving" else 5,
        "http_compress": workload == "ingest",
        # Sends the request id as X-Opaque-Id and records engine latency and errors.
        "connection_class": InstrumentedConnection,
    }
    if use_ssl and s.opensearch_ca is not None:
        kwargs["ca_certs"] = str(s.opensearch_ca)
    return OpenSearch(**kwargs)  # type: ignore[arg-type]
