"""Worker for scripts/bench_search_compare.py: one code version, timed searches on request.

Run with ``PYTHONPATH=<tree>`` so ``search``, ``portal``, ``indexer`` come from that tree (the
current one or a worktree of the base commit). Loads the demo records into ``--prefix`` with
that tree's own indexer when the index is missing (so each version searches documents it
built), then reads one JSON query per line on stdin and answers one JSON line: the
milliseconds of parse + build + secured search through the portal's ``run_search``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--records", type=int, required=True)
    args = ap.parse_args()

    from demo.generator import iter_raw
    from indexer.pipeline import index_records
    from lantern.principal import Principal
    from lantern.records import Sensitivity, parse_record
    from lantern.search_client import make_client
    from lantern.settings import get_settings
    from portal.reads import run_search
    from search import builders as B
    from search.parser import parse

    base = get_settings()
    settings = base.model_copy(
        update={
            "index_prefix": args.prefix,
            "state_dir": Path(base.state_dir) / "bench-compare",
            "audit_head_file": Path(base.state_dir) / "bench-compare" / "audit-head.log",
        }
    )
    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    ingest = make_client(settings, "ingest")
    alias = settings.index_name("records")
    have = int(ingest.count(index=alias)["count"]) if ingest.indices.exists(index=alias) else 0
    if have < args.records * 0.95:
        recs = []
        for raw in iter_raw(args.records, 42):
            try:
                recs.append(parse_record(raw))
            except ValueError:
                continue
        index_records(recs, settings, ingest, extract_entities=False, refresh=True)
    client = make_client(settings, "serving")
    user = Principal(
        "bench-analyst",
        "Bench Analyst",
        frozenset({"analyst"}),
        frozenset({"CID", "MIT", "CSU", "CAIT", "SAPPHIRE", "PSD", "INTEL"}),
        frozenset({*(s.value for s in Sensitivity), "intel", "intel_c"}),
    )
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)
        t = time.perf_counter()
        out = run_search(client, settings, user, B.SearchRequest(parse(q["q"]), facets=q.get("facets", {})))
        ms = (time.perf_counter() - t) * 1000
        print(json.dumps({"ms": ms, "total": out.total}), flush=True)


if __name__ == "__main__":
    main()
