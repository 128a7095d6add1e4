"""Faults on a real three-node cluster (3 JVMs on loopback): a data node SIGKILLed during a
bulk load, the loader SIGKILLed and rerun, a host going away under the clients.

Index layout as production: 3 shards, 1 replica, writes acknowledged only once every copy
is active (``write_wait_for_active_shards=all``). The cluster is started once for the module
through ``lantern opensearch start --nodes 3`` and stopped at the end (see conftest.py).
"""

from __future__ import annotations

import html
import json
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from rich.console import Console

from indexer.loader import load_files
from lantern import embedded, indices, search_client
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index
from tests.cluster.conftest import LANTERN, NODES, Cluster, external_env, run_cli
from tests.cluster.feeds import all_ids, iter_sources, reject_lines, write_feed

pytestmark = pytest.mark.cluster

QUIET = Console(file=open("/dev/null", "w"), force_terminal=False)  # noqa: SIM115


def _prefixed(cluster: Cluster, name: str, *, init: bool = False, **extra: Any) -> Settings:
    """Settings with their own index prefix. ``init``: `lantern index init` as the admin first,
    for a test whose loads or pages run as the indexer or the portal (they may not create
    indices); a test working as the admin has each index created when first used, which
    saves creating the 16 indices on this slow-to-allocate cluster (about 25 s)."""
    s = cluster.settings.model_copy(
        update={"index_prefix": f"{cluster.settings.index_prefix}{name}-", **extra}
    )
    if init:
        indices.ensure_all(cluster.client("admin"), s)
    return s


def _physical(client: OpenSearch, settings: Settings) -> str:
    physical = indices.current_index(client, settings, records_index)
    assert physical is not None
    return physical


def _node_index(name: str) -> int:
    return int(name.rsplit("-", 1)[1])


def _victim(client: OpenSearch, physical: str) -> str:
    """A node that holds primaries of ``physical`` and is not the elected cluster manager."""
    manager = client.cat.cluster_manager(format="json")[0]["node"]
    shards = client.cat.shards(index=physical, format="json")
    holders = sorted({s["node"] for s in shards if s["prirep"] == "p" and s["node"] != manager})
    assert holders, f"no primaries outside the cluster manager: {shards}"
    return holders[0]


def test_cli_start_status_stop_show_every_node_and_health(cluster: Cluster) -> None:
    # start (in the fixture) printed a table with the three nodes
    for i in range(NODES):
        assert f"lantern-node-{i}" in cluster.start_output
    status = run_cli(cluster.home, "opensearch", "status", timeout=60)
    assert status.returncode == 0, status.stderr
    out = status.stdout + status.stderr
    for i in range(NODES):
        assert f"lantern-node-{i}" in out
        assert f"https://127.0.0.1:{cluster.node_settings.embedded_port + i}" in out
    assert out.count("running") == NODES
    assert f"green, {NODES} node(s)" in out
    members = embedded.cluster_members(cluster.node_settings)
    assert sorted(members) == [f"lantern-node-{i}" for i in range(NODES)]
    assert sum(1 for m in members.values() if m["cluster_manager"] == "*") == 1


def test_index_settings_come_from_settings_and_writes_wait_for_all_copies(cluster: Cluster) -> None:
    settings = _prefixed(cluster, "layout")
    client = cluster.client()
    indices.ensure(client, settings, records_index)
    physical = _physical(client, settings)
    idx = client.indices.get_settings(index=physical)[physical]["settings"]["index"]
    assert idx["number_of_shards"] == "3"
    assert idx["number_of_replicas"] == "1"
    assert idx["write"]["wait_for_active_shards"] == "all"
    health = client.cluster.health(index=physical, wait_for_status="green", request_timeout=70)
    assert health["active_shards"] == 6  # 3 primaries + 3 replicas, each pair on two nodes
    shards = client.cat.shards(index=physical, format="json")
    for n in range(3):
        nodes = {s["node"] for s in shards if s["shard"] == str(n)}
        assert len(nodes) == 2


def test_sigkill_data_node_mid_bulk_load_loses_nothing(cluster: Cluster, tmp_path: Path) -> None:
    settings = _prefixed(cluster, "nodekill", bulk_chunk_size=100)
    client = cluster.client()
    feed = tmp_path / "feed.ndjson"
    expected, bad_lines = write_feed(feed, 2000, seed=11)
    indices.ensure(client, settings, records_index)
    physical = _physical(client, settings)
    client.cluster.health(index=physical, wait_for_status="green", request_timeout=70)
    # By default a lost node's replicas wait 1 minute for it to come back; with
    # wait_for_active_shards=all the writes to those shards wait as long. Production keeps
    # the default (see the sizing notes); the test shortens it to stay fast.
    client.indices.put_settings(index=physical, body={"index.unassigned.node_left.delayed_timeout": "3s"})
    victim = _victim(client, physical)
    killed: dict[str, Any] = {}

    def kill_later() -> None:
        time.sleep(0.3)  # lands while the next bulk request is in flight
        killed["pid"] = embedded.kill_node(cluster.node_settings, _node_index(victim), signal.SIGKILL)
        killed["at_rows"] = acked["rows"]

    acked = {"rows": 0}

    def hook(docs: list[dict[str, Any]]) -> None:
        acked["rows"] += len(docs)
        if acked["rows"] >= 400 and "thread" not in killed:
            killed["thread"] = threading.Thread(target=kill_later)
            killed["thread"].start()

    rejects = tmp_path / "rejects.ndjson"
    report = load_files(
        [feed], settings, client, extract_entities=False, rejects=rejects, hooks=[hook], console=QUIET
    )
    killed["thread"].join()
    assert killed["pid"], "the victim node was not running"
    assert killed["at_rows"] < len(expected), "the node died after the load, not during it"
    assert not any(s.alive for s in embedded.status(cluster.node_settings) if s.spec.name == victim)

    r = report.result
    assert r.failed == 0, [p.errors for p in r.problems if p.kind == "failed"][:3]
    assert r.rejected == len(bad_lines)
    assert set(reject_lines(rejects)) == bad_lines
    # Exactly the valid rows, each once: on the two surviving nodes ...
    client.indices.refresh(index=physical)
    ids = all_ids(client, physical)
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert client.count(index=physical)["count"] == len(expected)

    # ... and after the node is back: green, every copy complete.
    embedded.start_node(cluster.node_settings, _node_index(victim))
    health = embedded.wait_for_status(cluster.node_settings, "green", timeout=180, nodes=NODES)
    assert health["status"] == "green" and health["number_of_nodes"] == NODES
    client.indices.refresh(index=physical)
    for preference in ("_primary", "_replica"):
        assert client.count(index=physical, params={"preference": preference})["count"] == len(expected)
    assert set(all_ids(client, physical, preference="_replica")) == expected


def _loader_env(cluster: Cluster, settings: Settings) -> dict[str, str]:
    from tests.cluster.conftest import cli_env

    env = cli_env(cluster.home)
    env.update(
        {
            "LANTERN_OPENSEARCH_HOSTS": ",".join(cluster.urls()),
            **external_env(settings),
            "LANTERN_INDEX_PREFIX": settings.index_prefix,
            "LANTERN_STATE_DIR": str(settings.state_dir),
            "LANTERN_INDEX_SHARDS": str(settings.index_shards),
            "LANTERN_INDEX_REPLICAS": str(settings.index_replicas),
            "LANTERN_WRITE_WAIT_FOR_ACTIVE_SHARDS": settings.write_wait_for_active_shards,
            "LANTERN_BULK_CHUNK_SIZE": str(settings.bulk_chunk_size),
        }
    )
    return env


def _comparable(source: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in source.items() if k != F.INDEXED_AT}


def test_loader_sigkilled_and_rerun_gives_the_same_documents_once(cluster: Cluster, tmp_path: Path) -> None:
    settings = _prefixed(cluster, "loaderkill", init=True, bulk_chunk_size=100, state_dir=tmp_path / "state")
    client = cluster.client()
    feed = tmp_path / "feed.ndjson"
    expected, bad_lines = write_feed(feed, 1500, seed=12)
    rejects = tmp_path / "rejects.ndjson"
    # --no-persons: this compares record documents with one uninterrupted load_files() of the
    # same file, which resolves no people; person resolution has its own tests (tests/persons).
    cmd = [
        LANTERN,
        "index",
        "load",
        str(feed),
        "--no-entities",
        "--no-persons",
        "--allow-rejects",
        "--rejects",
        str(rejects),
    ]
    env = _loader_env(cluster, settings)

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    checkpoints = settings.state_dir / "checkpoints"
    deadline = time.monotonic() + 120
    done_line = 0
    while time.monotonic() < deadline and proc.poll() is None:
        files = list(checkpoints.glob("*.json")) if checkpoints.exists() else []
        if files:
            try:
                done_line = json.loads(files[0].read_text())["line"]
            except (OSError, ValueError, KeyError):
                done_line = 0
            if done_line >= 300:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, f"the loader ended by itself: {proc.stdout.read()}"  # type: ignore[union-attr]
    assert 0 < done_line < 1500
    # The killed load left the index not refreshing; nothing of it is lost.
    physical = _physical(client, settings)
    client.indices.refresh(index=physical)
    partial = client.count(index=physical)["count"]
    assert 0 < partial < len(expected)

    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "resumed" in rerun.stdout + rerun.stderr

    client.indices.refresh(index=physical)
    ids = all_ids(client, physical)
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == expected
    assert set(reject_lines(rejects)) == bad_lines
    assert all(errors for errors in reject_lines(rejects).values())
    refresh = client.indices.get_settings(index=physical, name="index.refresh_interval")
    assert refresh.get(physical, {}).get("settings", {}).get("index", {}).get("refresh_interval") != "-1"

    # Same documents as one uninterrupted load of the same file.
    ref_settings = _prefixed(cluster, "loaderref", bulk_chunk_size=500, state_dir=tmp_path / "ref")
    load_files(
        [feed], ref_settings, client, extract_entities=False, rejects=tmp_path / "ref.ndjson", console=QUIET
    )
    ref_physical = _physical(client, ref_settings)
    client.indices.refresh(index=ref_physical)
    reference = {i: _comparable(s) for i, s in iter_sources(client, ref_physical)}
    resumed = {i: _comparable(s) for i, s in iter_sources(client, physical)}
    assert resumed.keys() == reference.keys()
    differing = [i for i in reference if reference[i] != resumed[i]]
    assert not differing, f"{len(differing)} documents differ, e.g. {differing[0]}"


def test_clients_keep_working_when_one_host_goes_away(cluster: Cluster, tmp_path: Path) -> None:
    """The host list is what production configures; node 0 (the first host) stops.

    While the cluster reacts to the loss (electing a new cluster manager if node 0 was it,
    promoting replicas) a request may fail: the portal answers that with its 503 page. What
    this test holds is the state after that: with the dead host still first in every
    client's list, pages, counts and bulk loads keep working and nothing is lost.
    """
    settings = _prefixed(cluster, "hostloss", init=True, bulk_chunk_size=100)
    assert len(search_client.hosts(settings)) == NODES
    ingest = cluster.client("ingest")
    serving = cluster.client("serving")
    first, _ = write_feed(tmp_path / "a.ndjson", 400, seed=13, bad_every=10_000)
    load_files([tmp_path / "a.ndjson"], settings, ingest, extract_entities=False, console=QUIET)
    physical = _physical(ingest, settings)

    # The portal on the same host list, signed in before the host goes away.
    from lantern.users import create_user
    from portal.app import create_app
    from tests.portal_fixtures import PASSWORD, login, make_test_client

    create_user(
        cluster.client("admin"),
        settings,
        "cluster-analyst",
        PASSWORD,
        roles=["analyst"],
        units=["INTEL"],
        clearances=["intel", "intel_c"],
        display_name="Cluster Analyst",
    )
    some_id = sorted(first)[0]
    name = ingest.get(index=physical, id=some_id)["_source"][F.TITLE]
    alias = settings.index_name("records")
    with make_test_client(create_app(settings), raise_server_exceptions=False) as tc:
        login(tc, "cluster-analyst", PASSWORD)
        assert tc.get(f"/records/{some_id}").status_code == 200
        # Every index of this test (records and the portal's own) re-homes the copies node 0
        # held after 3 s rather than the 1 min default (see the node-kill test above). Index
        # settings are administration: the indexer's OpenSearch user may not change them.
        cluster.client("admin").indices.put_settings(
            index=f"{settings.index_prefix}*",
            body={"index.unassigned.node_left.delayed_timeout": "3s"},
        )
        ingest.cluster.health(
            index=f"{settings.index_prefix}*",
            wait_for_status="green",
            request_timeout=120,
            params={"timeout": "110s"},
        )
        assert embedded.stop_node(cluster.node_settings, 0, grace=20)
        try:
            settled = ingest.cluster.health(
                wait_for_status="yellow",
                wait_for_nodes=str(NODES - 1),
                request_timeout=130,
                params={"timeout": "120s"},
            )
            assert not settled["timed_out"], settled
            for _ in range(2 * NODES):  # round-robin reaches the dead host
                page = tc.get("/search", params={"q": "theft OR robbery OR burglary OR assault"})
                assert page.status_code == 200, page.text[:300]
                record = tc.get(f"/records/{some_id}")
                assert record.status_code == 200 and html.escape(name, quote=True) in record.text
            for _ in range(3 * NODES):
                assert serving.count(index=alias)["count"] == len(first)
            second, _ = write_feed(tmp_path / "b.ndjson", 300, seed=14, bad_every=10_000, id_suffix="-B")
            report = load_files(
                [tmp_path / "b.ndjson"], settings, ingest, extract_entities=False, console=QUIET
            )
            assert report.result.failed == 0
            ingest.indices.refresh(index=physical)
            assert not first & second
            assert set(all_ids(ingest, physical)) == first | second
        finally:
            # Back to three nodes for whatever runs next; the shards' recovery onto node 0 is
            # not waited for here (a later test that needs green waits for it itself).
            embedded.start_node(cluster.node_settings, 0)
            embedded.wait_for_status(cluster.node_settings, "yellow", timeout=300, nodes=NODES)
