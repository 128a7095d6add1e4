"""Where matching one batch costs, in CPU time (load-independent): the node's
(``_nodes/stats/process`` cpu.total_in_millis) and this process's, for loading the batch
and for each step of the alert hook (stored queries, batch forms, the matching searches,
recipients and access checks, notification writes). Same saved queries and records as
``bench_alerts`` (1,000 queries, demo records, NER off).

    python scripts/profile_match.py --records 4000 [--rounds 2] [--profile]

``--profile`` also runs the OpenSearch profile API on the first matching search.
Runs against the configured node under a throwaway index prefix, deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_alerts as BA  # noqa: E402

from alerts import percolation as PC  # noqa: E402
from demo.generator import iter_raw  # noqa: E402
from indexer.pipeline import index_records  # noqa: E402
from lantern.clock import today_utc  # noqa: E402
from lantern.records import parse_record  # noqa: E402
from lantern.search_client import make_client  # noqa: E402
from lantern.settings import get_settings  # noqa: E402
from mappings import fields as F  # noqa: E402
from search.access import can_read  # noqa: E402


def node_cpu_ms(client: Any) -> int:
    stats = client.nodes.stats(metric="process")
    return sum(int(n["process"]["cpu"]["total_in_millis"]) for n in stats["nodes"].values())


class Meter:
    def __init__(self, client: Any) -> None:
        self.client = client
        self.rows: list[tuple[str, float, float, float]] = []

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        n0, p0, w0 = node_cpu_ms(self.client), time.process_time(), time.perf_counter()
        yield
        w = time.perf_counter() - w0
        p = time.process_time() - p0
        n = (node_cpu_ms(self.client) - n0) / 1000
        self.rows.append((name, w, p, n))

    def show(self) -> None:
        print(f"  {'step':<28}{'wall s':>9}{'python cpu s':>14}{'node cpu s':>12}")
        for name, w, p, n in self.rows:
            print(f"  {name:<28}{w:9.2f}{p:14.2f}{n:12.2f}")
        self.rows.clear()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=4000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument(
        "--notifications",
        type=int,
        default=0,
        metavar="N",
        help="Also write the batch's notifications N times into a fresh index, each followed by a replay",
    )
    args = ap.parse_args()
    base = get_settings()
    prefix = f"{base.index_prefix}profile-match-{uuid.uuid4().hex[:6]}-"
    s = base.model_copy(update={"index_prefix": prefix})
    client = make_client(s, "admin")
    rng = random.Random(42)
    meter = Meter(client)
    try:
        raws = list(iter_raw(args.records, 42))
        records = [parse_record(r) for r in raws]
        users = BA.make_users(client, s, rng)
        BA.make_saved_queries(client, s, users, args.queries, BA.query_material(raws), rng)
        for r in range(args.rounds):
            client.indices.delete(index=f"{prefix}records*", ignore=[404])
            client.indices.delete(index=f"{prefix}notifications*", ignore=[404])
            from lantern.indices import forget_ensured

            forget_ensured()
            docs: list[dict[str, Any]] = []
            with meter.step("load (no alerts)"):
                index_records(records, s, client, extract_entities=False, refresh=True, hooks=[docs.extend])
            hook = PC.AlertHook(s, client, overlap=0)
            pending = steps(meter, client, s, hook, docs, profile=args.profile and r == 0)
            print(f"round {r + 1}: {len(docs)} documents")
            meter.show()
        for i in range(args.notifications):
            write_and_replay(meter, client, s, pending, i)
        if args.notifications:
            meter.show()
    finally:
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore=[404])


def steps(
    meter: Meter, client: Any, s: Any, hook: PC.AlertHook, docs: list[dict[str, Any]], profile: bool
) -> list[tuple[str, str, str]]:
    with meter.step("stored_queries"):
        stored = PC.stored_queries(client, s)
    documents = [{k: v for k, v in d.items() if k not in PC.NOT_PERCOLATED} for d in docs]
    with meter.step("batch_forms"):
        forms = PC.batch_forms(client, s, documents, [sq.query for sq in stored])
    names: dict[str, str] = {}
    queries: dict[str, Any] = {}
    form_of: list[str] = []
    with meter.step("dedupe forms"):
        for form in forms:
            key = json.dumps(form, sort_keys=True, separators=(",", ":"))
            name = names.setdefault(key, f"q{len(names)}")
            queries[name] = form
            form_of.append(name)
    ids = sorted({str(d[F.ID]) for d in docs})
    from search.gateway import alert_matches

    with meter.step("alert_matches"):
        hits, _ = alert_matches(client, s, ids, queries, group=PC.MATCH_GROUP)
    print(f"  {len(stored)} stored, {len(queries)} distinct forms, {len(hits)} matching forms")
    if profile:
        run_profile(client, s, ids, queries)
    today = today_utc()
    by_id = {str(d[F.ID]): d for d in docs}
    pending: list[tuple[str, str, str]] = []
    with meter.step("recipients + can_read"):
        for sq, name in zip(stored, form_of, strict=True):
            for rid in sorted(hits.get(name, ())):
                for person in hook.directory.recipients(sq.owner, sq.shared_unit):
                    if can_read(person, by_id[rid], today):
                        pending.append((sq.saved_id, rid, person.username))
    with meter.step("add_matches"):
        created = hook.notifications.add_matches(pending)
    print(f"  {len(pending)} readable matches, {created.groups} notifications ({created.records} matches)")
    with meter.step("match_batch (again)"):
        ms = PC.match_batch(client, s, docs)
    print(f"  {len(ms)} matching queries")
    return pending


def write_and_replay(meter: Meter, client: Any, s: Any, pending: list[tuple[str, str, str]], i: int) -> None:
    """The batch's notifications into a fresh notifications index (grouped, as the hook writes
    them), then the same batch again (the lookup finds every one: nothing is written)."""
    from alerts.notifications import NotificationStore
    from lantern.indices import forget_ensured

    client.indices.delete(index=f"{s.index_prefix}notifications*", ignore=[404])
    forget_ensured()
    store = NotificationStore(client, s)
    with meter.step("notifications, grouped write"):
        first = store.add_matches(pending)
    with meter.step("notifications, replay"):
        again = store.add_matches(pending)
    print(f"  write {i + 1}: {first.groups} groups ({first.records} matches); replay: {again.groups}")


def run_profile(client: Any, s: Any, ids: list[str], queries: dict[str, Any]) -> None:
    index = f"{s.index_prefix}records"
    part = list(queries)[:50]
    body = {
        "size": 0,
        "profile": True,
        "query": {"ids": {"values": ids}},
        "aggs": {
            "q": {
                "filters": {"filters": {n: queries[n] for n in part}},
                "aggs": {"ids": {"terms": {"field": F.ID, "size": len(ids), "execution_hint": "map"}}},
            }
        },
    }
    res = client.search(index=index, body=body, request_timeout=600)
    prof = res["profile"]["shards"][0]
    for agg in prof["aggregations"]:
        breakdown = json.dumps(agg["breakdown"])[:400]
        print(f"  profile agg {agg['type']} {agg['time_in_nanos'] / 1e6:.1f} ms {breakdown}")
        for child in agg.get("children") or []:
            print(f"     child {child['type']} {child['time_in_nanos'] / 1e6:.1f} ms")
    query = prof["searches"][0]["query"][0]
    print(f"  profile query {query['type']} {query['time_in_nanos'] / 1e6:.1f} ms")


if __name__ == "__main__":
    main()
