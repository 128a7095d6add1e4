"""``lantern backup`` / ``restore`` on a real node with a filesystem snapshot repository.

The embedded test node lists a snapshot directory in ``path.repo``, as every node
``lantern opensearch start`` starts does, so the tests use it: a repository of their own in a
directory of their own under it, and index prefixes under the run's (restoring "into an empty
cluster" means no index of that prefix). A node without ``path.repo`` (an external cluster)
gets a private embedded node for the module (ports 9290/9390 unless LANTERN_BACKUP_TEST_PORT
says otherwise), as before: starting a second JVM costs about a minute.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opensearchpy import OpenSearch

from lantern import backup, embedded, indices
from lantern.audit import AuditLog
from lantern.search_client import make_client
from lantern.settings import Settings
from lantern.users import create_user
from portal.app import create_app
from tests.analyst.conftest import Loader, crime, tag
from tests.portal_fixtures import PASSWORD, login, make_test_client

PORT = int(os.environ.get("LANTERN_BACKUP_TEST_PORT", "9290"))


def _path_repo(client: OpenSearch) -> list[Path]:
    """The directories every node lists in ``path.repo`` (empty if any node lists none)."""
    info = client.nodes.info(metric="settings")["nodes"].values()
    listed = [n.get("settings", {}).get("path", {}).get("repo") for n in info]
    if not listed or not all(listed):
        return []
    first = listed[0]
    return [Path(d) for d in ([first] if isinstance(first, str) else first)]


@pytest.fixture(scope="module")
def node(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    repo_dirs = _path_repo(client)
    if not repo_dirs:
        yield from _private_node(tmp_path_factory)
        return
    base = tmp_path_factory.mktemp("backup")
    name = f"test-{uuid.uuid4().hex[:6]}"
    location = repo_dirs[0] / name
    shared = settings.model_copy(
        update={
            "snapshot_location": location,
            "snapshot_repository": name,
            "audit_head_file": base / "audit-head.log",
            "index_prefix": f"{settings.index_prefix}bk-",
        }
    )
    try:
        yield shared
    finally:
        client.snapshot.delete_repository(repository=name, ignore=[404])
        shutil.rmtree(location, ignore_errors=True)


def _private_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    home = embedded.REPO_ROOT / ".lantern" / "backup-test-opensearch"
    shutil.rmtree(home, ignore_errors=True)
    base = tmp_path_factory.mktemp("backup")
    settings = Settings(
        env="test",
        opensearch_hosts=[],
        embedded_port=PORT,
        embedded_transport_port=PORT + 100,
        embedded_home=home,
        embedded_heap="512m",
        embedded_start_timeout=240,
        snapshot_location=base / "snapshots",
        snapshot_repository=f"test-{uuid.uuid4().hex[:6]}",
        audit_head_file=base / "audit-head.log",
        index_prefix=f"lantern-bk-{uuid.uuid4().hex[:6]}-",
    )
    embedded.start(settings, nodes=1)
    try:
        yield settings
    finally:
        embedded.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


def test_backup_restores_into_an_empty_cluster_with_a_verified_chain(node: Settings) -> None:
    s = node
    # Backup and restore are the OpenSearch admin's (as `lantern backup`/`restore` run).
    client: OpenSearch = make_client(s, "admin")
    create_user(
        client, s, "bk", PASSWORD, roles=["officer"], units=["RESPONSE"], clearances=[], display_name="Bk"
    )
    t = tag()
    Loader(client, s).load([crime(t)], alerts=False)
    audit = AuditLog(client, s)
    for i in range(3):
        audit.record(None, "test.event", details={"i": i})
    for module in indices.discover().values():
        indices.ensure(client, s, module)

    taken = backup.backup(client, s)
    assert taken.counts[s.index_name("records")] == 1
    assert taken.counts[s.index_name("audit")] == taken.audit_head >= 3
    assert set(taken.counts) == {indices.read_alias(s, m) for m in indices.discover().values()}

    # Restoring over live indices is refused unless asked.
    with pytest.raises(backup.BackupError, match="--replace"):
        backup.restore(client, s, taken.snapshot)

    audit.record(None, "test.after_backup")  # lost by the restore: the recovery point
    # An empty cluster (of Lantern indices): delete everything we own.
    for targets in backup.owned(client, s).values():
        for index in targets:
            client.indices.delete(index=index)
    assert backup.owned(client, s) == {}
    # Snapshots leave global state out: restore must put the append-only guards back itself.
    client.ingest.delete_pipeline(id=f"{s.index_prefix}*")

    restored = backup.restore(client, s)  # the latest snapshot of this prefix
    assert restored.snapshot == taken.snapshot
    assert restored.counts == taken.counts
    assert restored.lost_audit_events == 1 and restored.anchor_archive is not None
    assert restored.anchor_archive.exists()

    fresh = AuditLog(client, s)
    result = fresh.verify()
    assert result.ok, result.problem
    assert result.last_seq == taken.audit_head
    fresh.record(None, "system.restore", details={"snapshot": restored.snapshot})
    assert fresh.verify().ok

    # The portal serves the restored data.

    indices.forget_ensured()
    query = {"query": {"match": {"title": t}}}
    hits = client.search(index=s.index_name("records"), body=query)["hits"]["hits"]
    assert len(hits) == 1
    app = create_app(s)
    with make_test_client(app) as tc:
        login(tc, "bk", PASSWORD, purpose="investigation", reference="CR/012345/24")
        page = tc.get("/search", params={"q": t})
        # The title is highlighted in segments; the result card carries the record's id.
        assert page.status_code == 200 and f'id="r-{hits[0]["_id"]}"' in page.text


def test_a_tampered_anchor_fails_the_restore(node: Settings) -> None:
    s = node.model_copy(update={"index_prefix": f"{node.index_prefix}{uuid.uuid4().hex[:6]}-"})
    client = make_client(s, "admin")
    audit = AuditLog(client, s)
    audit.record(None, "test.event")
    taken = backup.backup(client, s)
    head_file = Path(s.audit_head_file)
    mine = s.index_name("audit")
    edited = 0
    lines: list[str] = []
    for ln in head_file.read_text().splitlines():
        cp = json.loads(ln)
        if cp["index"] == mine and cp["seq"] == taken.audit_head:
            cp["mac"] = "0" * 64  # the signed checkpoint of the backed-up head, edited
            edited += 1
        lines.append(json.dumps(cp))
    assert edited == 1
    head_file.write_text("".join(f"{ln}\n" for ln in lines))
    with pytest.raises(backup.BackupError, match="altered"):
        backup.restore(client, s, taken.snapshot, replace=True)
    assert head_file.read_text() == "".join(f"{ln}\n" for ln in lines)  # nothing changed
