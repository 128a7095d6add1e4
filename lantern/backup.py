"""``lantern backup`` / ``lantern restore``: OpenSearch snapshots of every index Lantern owns.

Owned means: every physical index behind the read alias of a ``mappings`` module under
this deployment's prefix (records, percolator, saved queries, notifications, users,
sessions, audit, jobs, ... whatever ``indices.discover()`` finds), so a new index module is
backed up without touching this file. Aliases travel with the snapshot.

The snapshot's metadata records each index's document count and the audit chain head at
backup time. ``restore`` refuses to overwrite live indices unless told to (``replace``),
checks the restored counts equal the recorded ones, and reconciles the local audit anchor
(``settings.audit_head_file``): entries up to the restored head must match the restored
chain (else restore fails: the backup or the anchor was tampered with); entries past it
are the events lost since the backup (the recovery point), so the old anchor file is kept
beside it for investigators and the new one holds only what the restored chain proves.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from lantern import indices
from lantern.audit_anchor import AuditKeyError, Checkpoint, event_mac_input, load_keys
from lantern.settings import Settings
from mappings import audit as audit_mapping


class BackupError(RuntimeError):
    """The backup or restore could not be done as asked; nothing was overwritten."""


@dataclass(frozen=True)
class Outcome:
    snapshot: str
    counts: dict[str, int]  # by read alias
    seconds: float
    audit_head: int
    lost_audit_events: int = 0
    anchor_archive: Path | None = None


def ensure_repository(client: OpenSearch, settings: Settings) -> str:
    """The repository name; registers a filesystem one at ``snapshot_location`` if missing."""
    name = settings.snapshot_repository
    try:
        client.snapshot.get_repository(repository=name)
        return name
    except NotFoundError:
        pass
    location = settings.snapshot_location.resolve()
    client.snapshot.create_repository(
        repository=name, body={"type": "fs", "settings": {"location": str(location), "compress": True}}
    )
    return name


def owned(client: OpenSearch, settings: Settings) -> dict[str, list[str]]:
    """Read alias -> physical indices behind it, for every index module that exists here."""
    out: dict[str, list[str]] = {}
    for module in indices.discover().values():
        alias = indices.read_alias(settings, module)
        targets = indices.alias_targets(client, alias)
        if targets:
            out[alias] = targets
    return out


def _counts(client: OpenSearch, aliases: list[str]) -> dict[str, int]:
    client.indices.refresh(index=",".join(aliases))
    return {a: int(client.count(index=a)["count"]) for a in aliases}


def _audit_head(client: OpenSearch, settings: Settings) -> tuple[int, str | None]:
    alias = indices.read_alias(settings, audit_mapping)
    try:
        res = client.search(
            index=alias, body={"size": 1, "sort": [{"seq": "desc"}], "_source": ["seq", "hash"]}
        )
    except NotFoundError:
        return 0, None
    hits = res["hits"]["hits"]
    if not hits:
        return 0, None
    return int(hits[0]["_source"]["seq"]), str(hits[0]["_source"]["hash"])


def backup(client: OpenSearch, settings: Settings, name: str | None = None) -> Outcome:
    """Take a snapshot of every owned index and wait for it; raises BackupError on failure."""
    repo = ensure_repository(client, settings)
    targets = owned(client, settings)
    if not targets:
        raise BackupError(
            f"no Lantern indices under the prefix {settings.index_prefix!r}: nothing to back up"
        )
    started = time.perf_counter()
    counts = _counts(client, sorted(targets))
    head, head_hash = _audit_head(client, settings)
    snapshot = name or f"{settings.index_prefix}{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}"
    res = client.snapshot.create(
        repository=repo,
        snapshot=snapshot,
        body={
            "indices": ",".join(sorted(i for t in targets.values() for i in t)),
            "include_global_state": False,
            "metadata": {
                "lantern_prefix": settings.index_prefix,
                "counts": counts,
                "audit_head": head,
                "audit_head_hash": head_hash,
            },
        },
        wait_for_completion=True,
        request_timeout=3600,
    )
    info = res.get("snapshot", {})
    if info.get("state") != "SUCCESS" or info.get("shards", {}).get("failed"):
        raise BackupError(f"snapshot {snapshot} ended {info.get('state')}: {info.get('failures')}")
    return Outcome(snapshot, counts, time.perf_counter() - started, head)


def list_snapshots(client: OpenSearch, settings: Settings) -> list[dict[str, Any]]:
    repo = ensure_repository(client, settings)
    res = client.snapshot.get(repository=repo, snapshot="_all")
    return [
        s
        for s in res.get("snapshots", [])
        if (s.get("metadata") or {}).get("lantern_prefix") == settings.index_prefix
    ]


def restore(
    client: OpenSearch,
    settings: Settings,
    snapshot: str | None = None,
    *,
    replace: bool = False,
) -> Outcome:
    """Restore ``snapshot`` (default: the latest of this prefix) and check it; see the module doc."""
    repo = ensure_repository(client, settings)
    if snapshot is None:
        mine = sorted(list_snapshots(client, settings), key=lambda s: s.get("start_time_in_millis", 0))
        if not mine:
            raise BackupError(f"no snapshot of prefix {settings.index_prefix!r} in repository {repo}")
        snapshot = str(mine[-1]["snapshot"])
    try:
        info = client.snapshot.get(repository=repo, snapshot=snapshot)["snapshots"][0]
    except NotFoundError as exc:
        raise BackupError(f"no snapshot {snapshot} in repository {repo}") from exc
    meta = info.get("metadata") or {}
    if meta.get("lantern_prefix") != settings.index_prefix:
        raise BackupError(
            f"snapshot {snapshot} holds prefix {meta.get('lantern_prefix')!r}, not {settings.index_prefix!r}"
        )
    wanted: list[str] = list(info["indices"])
    live = owned(client, settings)
    clashes = sorted(
        {i for t in live.values() for i in t} | {i for i in wanted if client.indices.exists(index=i)}
    )
    if clashes and not replace:
        raise BackupError(
            f"{len(clashes)} Lantern index(es) exist ({', '.join(clashes[:4])}...): restore into an empty "
            "cluster, or pass --replace to delete them first (everything since the backup is lost)"
        )
    started = time.perf_counter()
    for index in clashes:
        client.indices.delete(index=index, ignore=[404])
    # Snapshots leave the global state out, so the ingest pipelines the restored indices name
    # as final_pipeline (the append-only guards) are put first: into an empty cluster an
    # index without its pipeline would refuse every write.
    for module in indices.discover().values():
        indices.put_pipelines(client, settings, module)
    res = client.snapshot.restore(
        repository=repo,
        snapshot=snapshot,
        body={"indices": ",".join(wanted), "include_aliases": True, "include_global_state": False},
        wait_for_completion=True,
        request_timeout=3600,
    )
    shards = res.get("snapshot", {}).get("shards", {})
    if shards.get("failed"):
        raise BackupError(f"restore of {snapshot}: {shards.get('failed')} shard(s) failed")
    client.cluster.health(index=",".join(wanted), wait_for_status="yellow", request_timeout=300)
    indices.forget_ensured()
    expected: dict[str, int] = {str(k): int(v) for k, v in (meta.get("counts") or {}).items()}
    counts = _counts(client, sorted(expected))
    if counts != expected:
        raise BackupError(f"restored counts {counts} differ from the backup's {expected}")
    seconds = time.perf_counter() - started
    head = int(meta.get("audit_head") or 0)
    lost, archive = _reconcile_anchor(settings, head, meta.get("audit_head_hash"))
    return Outcome(snapshot, counts, seconds, head, lost, archive)


def _reconcile_anchor(settings: Settings, head: int, head_hash: str | None) -> tuple[int, Path | None]:
    """Keep the anchor checkpoints the restored chain proves; archive the file if any go (see above).

    Checkpoints are signed (``lantern.audit_anchor``): one of this chain's whose signature
    fails, or whose MAC at the restored head is not that of the backup's head event, means
    the backup or the anchor was altered, and nothing is changed.
    """
    path = Path(settings.audit_head_file).absolute()
    if not path.exists():
        return 0, None
    audit_index = settings.index_name("audit")
    try:
        keys = load_keys(settings.audit_key_file, create=False)
    except AuditKeyError as exc:
        raise BackupError(f"cannot check the audit anchor: {exc}") from exc
    keep: list[str] = []
    lost_top = head
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            cp = Checkpoint.from_line(line)
        except (ValueError, KeyError, TypeError):
            keep.append(line)  # not a checkpoint: left for `lantern audit verify` to report
            continue
        if cp.index != audit_index:
            keep.append(line)  # another deployment's chain: left alone
            continue
        if not keys.check(cp.signed_text(), cp.key_id, cp.sig):
            raise BackupError(
                f"the audit anchor's checkpoint for event {cp.seq} has a bad signature: "
                "the anchor was altered; nothing changed"
            )
        if cp.seq > head:
            lost_top = max(lost_top, cp.seq)
            continue
        if (
            cp.seq == head
            and head_hash
            and not keys.check(event_mac_input({"seq": head, "hash": head_hash}), cp.key_id, cp.mac)
        ):
            raise BackupError(
                f"the audit anchor records a different MAC for event {head} than the backup's: "
                "the backup or the anchor was altered; nothing changed"
            )
        keep.append(line)
    if lost_top == head:
        return 0, None
    archive = path.with_name(f"{path.name}.before-restore-{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}")
    shutil.copy2(path, archive)
    path.write_text("".join(f"{ln}\n" for ln in keep), encoding="utf-8")
    return lost_top - head, archive
