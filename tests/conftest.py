"""Shared fixtures: a real, secured OpenSearch node and a per-run index prefix.

By default the session starts the embedded node (TLS + authentication, like the demo) on
test ports (``LANTERN_TEST_PORT``, default 9250, transport +100; data, certificates and
generated passwords under ``.lantern/test-opensearch``) unless this checkout's node already
runs there, and stops it afterwards only if it started it.

If ``LANTERN_OPENSEARCH_HOSTS`` is set, tests run against that cluster instead; give it the
three components' credentials and its CA (``LANTERN_OPENSEARCH_{PORTAL,INDEXER,ADMIN}_PASSWORD``,
``LANTERN_OPENSEARCH_CA_FILE``), or, for a plain-HTTP development node,
nothing (the role tests then fail: they need a secured node).

``client`` signs in as Lantern's OpenSearch admin (it creates fixtures and deletes this run's
indices); the portal under test uses its own least-privileged user, as in production.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from opensearchpy import OpenSearch

from lantern import embedded, indices
from lantern.search_client import make_client
from lantern.settings import Settings

# Login/users/app fixtures shared by the portal, security and analyst tests.
pytest_plugins = ["tests.portal_fixtures"]

TEST_PORT = int(os.environ.get("LANTERN_TEST_PORT", "9250"))


def _base_settings() -> Settings:
    if os.environ.get("LANTERN_OPENSEARCH_HOSTS"):
        return Settings(env="test")
    return Settings(
        env="test",
        embedded_port=TEST_PORT,
        embedded_transport_port=TEST_PORT + 100,
        embedded_home=embedded.REPO_ROOT / ".lantern" / "test-opensearch",
        embedded_heap="768m",
    )


@pytest.fixture(scope="session")
def opensearch_node() -> Iterator[Settings]:
    settings = _base_settings()
    started_here = False
    if settings.embedded:
        started_here = not any(s.alive for s in embedded.status(settings))
        # Harmless on a running node: waits for health and brings users/roles in step.
        embedded.start(settings, nodes=1)
    try:
        yield settings
    finally:
        if started_here:
            embedded.stop(settings)


@pytest.fixture(scope="session")
def settings(opensearch_node: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a prefix unique to this test run, so runs never see each other."""
    run = uuid.uuid4().hex[:8]
    state = tmp_path_factory.mktemp("state")
    return opensearch_node.model_copy(
        update={
            "index_prefix": f"lantern-test-{run}-",
            "state_dir": state,
            "audit_head_file": state / "audit-head.log",
            "audit_key_file": state / "audit-keys.json",
            # Rate limits stay on, set far above what any test does in a minute; the limits
            # themselves are tested with tight values (tests/security/test_limits.py).
            "rate_limit_search": "100000/minute",
            "rate_limit_suggest": "100000/minute",
            "rate_limit_record": "100000/minute",
            "rate_limit_batch": "100000/minute",
            "rate_limit_export": "100000/minute",
            "review_sample_one_in": 0,
        }
    )


@pytest.fixture(scope="session")
def client(settings: Settings) -> Iterator[OpenSearch]:
    c = make_client(settings, "admin")
    # `lantern index init` for this run's prefix: the portal's and the indexer's OpenSearch
    # users may not create indices (tests with a prefix of their own call ensure_all too).
    indices.ensure_all(c, settings)
    yield c
    # Clean up everything this run created (aliases go with their indices).
    c.indices.delete(index=f"{settings.index_prefix}*", expand_wildcards="all", ignore=[404])
    c.ingest.delete_pipeline(id=f"{settings.index_prefix}*", ignore=[404])
