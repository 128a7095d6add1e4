"""The one place OpenSearch clients are made.

Serving wants short timeouts and few retries (a page must answer or fail fast);
ingestion wants long timeouts and patient retries. Both share hosts, TLS and credentials.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from opensearchpy import OpenSearch

from lantern.settings import Settings, get_settings

Purpose = Literal["serving", "ingest"]


def make_client(settings: Settings | None = None, purpose: Purpose = "serving") -> OpenSearch:
    s = settings or get_settings()
    auth = None
    if s.opensearch_username:
        password = s.opensearch_password.get_secret_value() if s.opensearch_password else ""
        auth = (s.opensearch_username, password)
    use_ssl = any(h.startswith("https://") for h in s.hosts)
    kwargs: dict[str, object] = {
        "hosts": s.hosts,
        "http_auth": auth,
        "use_ssl": use_ssl,
        "verify_certs": s.opensearch_verify_certs if use_ssl else False,
        "ssl_show_warn": False,
        "timeout": s.opensearch_timeout_serving if purpose == "serving" else s.opensearch_timeout_ingest,
        # With several hosts, a dead one is marked and the next one tried.
        "retry_on_timeout": purpose == "ingest",
        "max_retries": 1 if purpose == "serving" else 5,
        "http_compress": purpose == "ingest",
    }
    if use_ssl and s.opensearch_ca_file:
        kwargs["ca_certs"] = str(s.opensearch_ca_file)
    return OpenSearch(**kwargs)  # type: ignore[arg-type]


@lru_cache(maxsize=4)
def _cached(purpose: Purpose) -> OpenSearch:
    return make_client(get_settings(), purpose)


def get_client(purpose: Purpose = "serving") -> OpenSearch:
    """Process-wide client for the global settings (the portal's default dependency)."""
    return _cached(purpose)
