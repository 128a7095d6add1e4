"""Backup and restore times (``make bench-backup``): a snapshot of every Lantern index on one
node, restored into a second, empty node sharing the filesystem repository.

Steps: start node A (private ports and data directory, ``path.repo`` set as the launcher
sets it), load ``--records`` demo records (100,000 by default; entity extraction off: its
cost is not what is measured) plus accounts and audit events, ``lantern backup`` (timed),
stop A; start node B, empty, on the same snapshot directory, ``lantern restore`` (timed:
restore, wait for the shards, count check), then check every index's count equals the
backup's and ``lantern audit verify`` passes against the anchor. Exits non-zero if a count
differs or the chain does not verify. Both nodes are stopped and their data removed at the
end unless ``--keep``.

The recovery point is the time of the last backup (everything after it is lost, and
``restore`` says how many audit events); the recovery time is the restore figure plus
starting a node.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from itertools import islice
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from demo.generator import iter_raw  # noqa: E402
from indexer.pipeline import index_records  # noqa: E402
from lantern import backup, embedded, indices  # noqa: E402
from lantern.audit import AuditLog  # noqa: E402
from lantern.records import parse_record  # noqa: E402
from lantern.search_client import make_client  # noqa: E402
from lantern.settings import Settings  # noqa: E402
from lantern.users import create_user  # noqa: E402


def node_settings(workdir: Path, name: str, port: int, heap: str) -> Settings:
    return Settings(
        env="test",
        opensearch_hosts=[],
        embedded_port=port,
        embedded_transport_port=port + 100,
        embedded_home=workdir / name,
        embedded_heap=heap,
        embedded_start_timeout=300,
        snapshot_location=workdir / "snapshots",
        snapshot_repository="lantern-bench",
        audit_head_file=workdir / "audit-head.log",
        index_prefix="lantern-bench-",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--port", type=int, default=9290, help="node A; node B uses port + 2")
    ap.add_argument("--heap", default="1g")
    ap.add_argument("--workdir", type=Path, default=REPO / ".lantern" / "bench-backup")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    a = node_settings(args.workdir, "node-a", args.port, args.heap)
    b = node_settings(args.workdir, "node-b", args.port + 2, args.heap)
    ok = True
    try:
        print(f"starting node A on {args.port}...", flush=True)
        embedded.start(a)
        client = make_client(a, "admin")
        for module in indices.discover().values():
            indices.ensure(client, a, module)
        create_user(
            client,
            a,
            "bench",
            "correct horse battery staple",
            roles=["analyst"],
            units=["CID"],
            clearances=[],
        )
        audit = AuditLog(client, a)
        t = time.perf_counter()
        raws = iter_raw(args.records, args.seed)
        loaded = 0
        while chunk := list(islice(raws, 5000)):
            result = index_records([parse_record(r) for r in chunk], a, client, extract_entities=False)
            loaded += result.indexed
            audit.record(None, "bench.load", details={"indexed": loaded})
        client.indices.refresh(index=a.index_name("records"))
        print(f"loaded {loaded:,} records in {time.perf_counter() - t:.1f} s", flush=True)

        taken = backup.backup(client, a)
        print(f"backup: {taken.seconds:.1f} s (snapshot {taken.snapshot})", flush=True)
        embedded.stop(a)
        indices.forget_ensured()

        print(f"starting empty node B on {args.port + 2}...", flush=True)
        t = time.perf_counter()
        embedded.start(b)
        started = time.perf_counter() - t
        client_b = make_client(b, "admin")
        assert backup.owned(client_b, b) == {}, "node B is not empty"
        restored = backup.restore(client_b, b)
        print(f"restore: {restored.seconds:.1f} s (node B started in {started:.1f} s)", flush=True)
        verify = AuditLog(client_b, b).verify()
        equal = restored.counts == taken.counts
        ok = equal and verify.ok
        print()
        print(f"records: {taken.counts.get(a.index_name('records'), 0):,}; indices: {len(taken.counts)}")
        for alias in sorted(taken.counts):
            mark = "=" if restored.counts.get(alias) == taken.counts[alias] else "!="
            back = restored.counts.get(alias, 0)
            print(f"  {alias}: backed up {taken.counts[alias]:,} {mark} restored {back:,}")
        print(f"backup {taken.seconds:.1f} s; restore {restored.seconds:.1f} s (node B up: {started:.0f} s)")
        verdict = "passes" if verify.ok else f"FAILS: {verify.problem}"
        print(f"counts equal: {equal}; audit verify: {verdict}")
        print(f"  ({verify.checked} events checked, head {verify.last_seq})")
    finally:
        for s in (a, b):
            embedded.stop(s)
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
