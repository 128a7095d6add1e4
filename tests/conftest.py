"""Shared fixtures: a real, secured OpenSearch node and a per-run index prefix.

By default the session starts the embedded node (TLS + authentication, like the demo) on
test ports (``LANTERN_TEST_PORT``, default 9250, transport +100; data, certificates and
generated passwords under ``.lantern/test-opensearch``) unless this checkout's node already
runs there, and stops it afterwards only if this run started it.

The suite runs under pytest-xdist (``make test`` uses ``-n 2``): the first worker that needs
the node starts it under a file lock and marks it with the run's id; the controller process
stops it when every worker is done. A plain ``pytest`` run is its own controller.
``--dist loadscope`` keeps a module's tests on one worker, so a module-scoped world is built
once; the three-node cluster (fixed ports) is used by one module only, tests/cluster/test_faults.py.
(``--dist loadgroup`` with ``xdist_group`` marks does not group under pytest 9: xdist 3.8
renames the node id, which pytest 9 no longer reads, and every test was spread on its own.)

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
from pathlib import Path

import pytest
from filelock import FileLock
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


_RUN_ENV = "LANTERN_TEST_RUN_ID"


def _started_marker(settings: Settings) -> Path:
    return settings.embedded_home / "started-by-test-run"


def pytest_configure(config: pytest.Config) -> None:
    # Set in the controller before xdist starts its workers, so they all inherit one run id.
    if not hasattr(config, "workerinput"):
        os.environ.setdefault(_RUN_ENV, uuid.uuid4().hex)


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    stop_node_if_started_by_this_run()


def start_node() -> Settings:
    """The embedded test node, started (marked with this run's id) unless it already runs.

    Also run before pytest by ``python -m tests.node start`` (``make test`` starts the node
    while mypy runs); the file lock makes a fixture that comes meanwhile wait for it.
    """
    settings = _base_settings()
    if settings.embedded:
        settings.embedded_home.mkdir(parents=True, exist_ok=True)
        # Two xdist workers must not both launch a node on the same ports.
        with FileLock(str(settings.embedded_home / "start.lock")):
            if not any(s.alive for s in embedded.status(settings)):
                embedded.start(settings, nodes=1)
                run_id = os.environ.setdefault(_RUN_ENV, uuid.uuid4().hex)
                _started_marker(settings).write_text(run_id, encoding="utf-8")
            else:
                # Harmless on a running node: waits for health and brings users/roles in step.
                embedded.start(settings, nodes=1)
        _quicken_refresh(settings)
    return settings


def stop_node_if_started_by_this_run() -> None:
    settings = _base_settings()
    if not settings.embedded:
        return
    marker = _started_marker(settings)
    if marker.exists() and marker.read_text(encoding="utf-8") == os.environ.get(_RUN_ENV):
        embedded.stop(settings)
        marker.unlink(missing_ok=True)


# Modules that take minutes start first: under ``--dist loadscope`` a module runs whole on one
# worker, and one of these handed out last would leave the other worker idle at the end.
LONGEST_FIRST = (
    "tests/cluster/test_faults.py",
    "tests/security/test_leak_matrix.py",
    "tests/cluster/test_fuzz_feed.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


@pytest.fixture(scope="session")
def opensearch_node() -> Iterator[Settings]:
    yield start_node()


# The embedded test node's default refresh interval (OpenSearch's ``cluster.default.index.
# refresh_interval``; 1 s out of the box). Stores write with ``refresh="wait_for"`` (users,
# saved queries, jobs, charts), and such a write returns only after the next scheduled refresh:
# about 1 s per user created or query saved, thousands of times over a run. Indices whose
# definition sets an interval (and a load's ``-1``) keep theirs; nothing in a test depends on
# the interval's length. Production and external clusters keep their own default.
TEST_REFRESH_INTERVAL = os.environ.get("LANTERN_TEST_REFRESH_INTERVAL", "100ms")


def _quicken_refresh(settings: Settings) -> None:
    admin = make_client(settings, "admin")
    admin.cluster.put_settings(
        body={"persistent": {"cluster.default.index.refresh_interval": TEST_REFRESH_INTERVAL}}
    )


@pytest.fixture(scope="session")
def settings(opensearch_node: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with a prefix unique to this test run, so runs never see each other."""
    run = uuid.uuid4().hex[:8]
    state = tmp_path_factory.mktemp("state")
    files = tmp_path_factory.mktemp("files")
    return opensearch_node.model_copy(
        update={
            "index_prefix": f"lantern-test-{run}-",
            "state_dir": state,
            # Attached documents (tests/portal/conftest.py attaches one) stay out of the repository.
            "documents_root": files / "documents",
            "attachments_root": files / "attachments",
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
