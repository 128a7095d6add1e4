"""Matching one batch, side by side: one percolate request with every alert query as stored;
``alerts.percolation.percolate`` (the exact form where no fuzzy clause can match); and
``alerts.percolation.match_batch`` (what the alert hook runs: the queries on the batch as the
records index holds it, fuzzy clauses expanded to the batch's terms). Same documents, same
saved queries (``bench_alerts``' 1,000), matches compared (the command fails if they differ).

    python scripts/profile_percolate.py 25 400    # batch sizes

Runs against the configured node under a throwaway index prefix, deleted at the end.
"""

from __future__ import annotations

import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_alerts as BA  # noqa: E402

from alerts import percolation as PC  # noqa: E402
from demo.generator import iter_raw  # noqa: E402
from indexer.pipeline import index_records  # noqa: E402
from lantern.records import parse_record  # noqa: E402
from lantern.search_client import make_client  # noqa: E402
from lantern.settings import Settings, get_settings  # noqa: E402
from mappings import percolator as P  # noqa: E402


def main() -> None:
    sizes = [int(x) for x in sys.argv[1:]] or [25, 400]
    base = get_settings()
    prefix = f"{base.index_prefix}profile-perc-{uuid.uuid4().hex[:6]}-"
    s = base.model_copy(update={"index_prefix": prefix})
    client = make_client(s, "ingest")
    rng = random.Random(42)
    try:
        raws = list(iter_raw(max(sizes), 42))
        users = BA.make_users(client, s, rng)
        BA.make_saved_queries(client, s, users, 1000, BA.query_material(list(iter_raw(5000, 42))), rng)
        docs: list[dict[str, Any]] = []
        index_records(
            [parse_record(r) for r in raws],
            s,
            client,
            extract_entities=False,
            refresh=True,
            hooks=[docs.extend],
        )
        keys = PC.fuzzy_keys(client, s)
        print(f"{len(keys)} distinct fuzzy clauses among the saved queries", flush=True)
        smart = PC._percolate_query

        def as_stored(_c: Any, _s: Settings, documents: list[dict[str, Any]], _k: Any) -> dict[str, Any]:
            return {"percolate": {"field": P.QUERY, "documents": documents}}

        for n in sizes:
            batch = docs[:n]
            stripped = [{k: v for k, v in d.items() if k not in PC.NOT_PERCOLATED} for d in batch]
            live = PC.live_fuzzy(client, s, stripped, keys)
            print(f"{n} documents: {len(live)} of {len(keys)} fuzzy clauses live", flush=True)
            for _ in range(2):
                PC._percolate_query = as_stored  # type: ignore[assignment]
                t = time.perf_counter()
                a = PC.percolate(client, s, batch)
                t_stored = time.perf_counter() - t
                PC._percolate_query = smart
                t = time.perf_counter()
                b = PC.percolate(client, s, batch)
                t_exact = time.perf_counter() - t
                t = time.perf_counter()
                c = PC.match_batch(client, s, batch)
                t_batch = time.perf_counter() - t
                pairs = sorted((m.saved_id, m.slots) for m in a)
                same = (
                    pairs
                    == sorted((m.saved_id, m.slots) for m in b)
                    == sorted((m.saved_id, m.slots) for m in c)
                )
                print(
                    f"  as stored {t_stored:6.1f} s   exact where possible {t_exact:6.1f} s   "
                    f"match_batch {t_batch:6.1f} s   ({len(a)} matching queries, "
                    f"{sum(len(m.slots) for m in a)} matches; same matches: {same})",
                    flush=True,
                )
                if not same:
                    sys.exit(1)
    finally:
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore=[404])


if __name__ == "__main__":
    main()
