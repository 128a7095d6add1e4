"""A private three-node OpenSearch cluster for the fault tests (marker ``cluster``).

It runs on its own ports (HTTP 9600-9602, transport 9700-9702) with its own data under
``.lantern/cluster-test`` and, like every embedded node, TLS and authentication (one CA and
node certificate for the three nodes, generated at start-up), so killing its nodes never
disturbs the shared nodes on 9200/9250. A module that asks for ``cluster`` starts it once
and stops it at the end.
Override the ports with ``LANTERN_CLUSTER_TEST_PORT`` if they are taken.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from lantern import embedded
from lantern.search_client import make_client
from lantern.settings import Settings

CLUSTER_PORT = int(os.environ.get("LANTERN_CLUSTER_TEST_PORT", "9600"))
NODES = 3
# Three JVMs starting at once on two cores, each with the security plugin, beside the rest of
# the suite: measured 106-140 s to a secured, green cluster at load 8-15 and over 5 min at
# load 30 on the shared development machine. A failed start is seen at once (a node exits);
# the timeout only bounds a cluster that never becomes ready.
START_TIMEOUT = 480.0


LANTERN = str(Path(sys.executable).parent / "lantern")


def cli_env(home: Path) -> dict[str, str]:
    """Environment that points the ``lantern`` CLI at the private cluster."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    env.update(
        {
            "LANTERN_ENV": "test",
            "LANTERN_EMBEDDED_PORT": str(CLUSTER_PORT),
            "LANTERN_EMBEDDED_TRANSPORT_PORT": str(CLUSTER_PORT + 100),
            "LANTERN_EMBEDDED_HOME": str(home),
            "LANTERN_EMBEDDED_HEAP": "512m",
            "LANTERN_EMBEDDED_START_TIMEOUT": str(START_TIMEOUT),
            "COLUMNS": "200",
        }
    )
    return env


def external_env(settings: Settings) -> dict[str, str]:
    """``LANTERN_*`` variables carrying an explicit-hosts settings' CA and component passwords
    to a child process (what an operator sets for an external cluster)."""
    env = {}
    if settings.opensearch_ca_file is not None:
        env["LANTERN_OPENSEARCH_CA_FILE"] = str(settings.opensearch_ca_file)
    for role in ("portal", "indexer", "admin"):
        secret = getattr(settings, f"opensearch_{role}_password")
        if secret is not None:
            env[f"LANTERN_OPENSEARCH_{role.upper()}_PASSWORD"] = secret.get_secret_value()
    return env


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LANTERN, *args],
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=embedded.REPO_ROOT,
    )


@dataclass
class Cluster:
    """``node_settings`` starts/stops the JVMs; ``settings`` is what clients use."""

    node_settings: Settings
    settings: Settings
    home: Path
    start_output: str

    def client(self, purpose: str = "admin") -> OpenSearch:
        return make_client(self.settings, purpose)  # type: ignore[arg-type]

    def urls(self) -> list[str]:
        return embedded.node_urls(self.node_settings)


def cluster_node_settings(home: Path) -> Settings:
    return Settings(
        env="test",
        embedded_port=CLUSTER_PORT,
        embedded_transport_port=CLUSTER_PORT + 100,
        embedded_home=home,
        embedded_heap="512m",
        embedded_start_timeout=START_TIMEOUT,
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    if os.environ.get("LANTERN_OPENSEARCH_HOSTS"):
        pytest.fail("the cluster tests start their own embedded cluster; unset LANTERN_OPENSEARCH_HOSTS")
    home = embedded.REPO_ROOT / ".lantern" / "cluster-test"
    node_settings = cluster_node_settings(home)
    # A cluster left behind by an interrupted run is stopped and wiped: fault tests need a
    # known starting state.
    embedded.stop(node_settings, grace=20)
    shutil.rmtree(home, ignore_errors=True)
    # Started through the CLI an operator uses: ``lantern opensearch start --nodes 3``.
    started = run_cli(home, "opensearch", "start", "--nodes", str(NODES), timeout=START_TIMEOUT + 60)
    if started.returncode != 0:
        # A start that failed part-way may leave nodes running on the fixed ports, which would
        # make every later cluster test (this run's or another checkout's) fail too.
        embedded.stop(node_settings, grace=20)
        pytest.fail("lantern opensearch start --nodes 3 failed:\n" + started.stdout + started.stderr)
    state = tmp_path_factory.mktemp("cluster-state")
    run = uuid.uuid4().hex[:8]
    # Explicit host list, credentials and CA: what a production deployment configures.
    settings = embedded.external_settings(node_settings, embedded.node_urls(node_settings)).model_copy(
        update={
            "index_prefix": f"lantern-ct-{run}-",
            "index_shards": 3,
            "index_replicas": 1,
            "write_wait_for_active_shards": "all",
            "state_dir": state,
            # Three JVMs and the rest of the suite share two cores here: a 5 s serving timeout
            # (production's default) then fails searches for slowness alone, which is not what
            # these tests are about (dead hosts, killed nodes, lost rows).
            "opensearch_timeout_serving": max(node_settings.opensearch_timeout_serving, 30.0),
            "audit_head_file": state / "audit-head.log",
        }
    )
    try:
        embedded.wait_for_status(node_settings, "green", timeout=120, nodes=NODES)
        yield Cluster(node_settings, settings, home, started.stdout + started.stderr)
    finally:
        stopped = run_cli(home, "opensearch", "stop")
        if stopped.returncode != 0 or any(s.alive for s in embedded.status(node_settings)):
            embedded.stop(node_settings, grace=20)
