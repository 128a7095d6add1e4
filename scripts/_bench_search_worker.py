"""Worker for scripts/bench_search_compare.py: one code version, timed searches on request.

Run with ``PYTHONPATH=<tree>`` so ``search``, ``portal``, ``indexer`` come from that tree (the
current one or a worktree of the base commit). Loads the demo records into ``--prefix`` with
that tree's own indexer when the index is missing (so each version searches documents it
built), then reads one JSON query per line on stdin and answers one JSON line with two
timings in milliseconds:

* ``ms``: parse + build + secured search through the portal's ``run_search`` (the query path);
* ``full_ms``: the same plus what the search route adds around it in that version, as
  production runs it: the per-user rate-limit check (where the version has one; its
  OpenSearch storage, windows shaped like the defaults) and the search's audit event through
  that version's ``AuditLog.record`` (chained and, where the version has them, keyed with a
  MAC, anchored with fsync, and with its disclosures written). ``audit_ms`` and ``limit_ms``
  are those two parts.

The code under test may predate the secured node's settings (users per component): the
driver then names the node in ``LANTERN_OPENSEARCH_HOSTS`` / ``_CA_FILE`` / ``_USERNAME`` /
``_PASSWORD`` (the admin, for the setup) and the portal's OpenSearch user in
``LANTERN_BENCH_SEARCH_USERNAME`` / ``_PASSWORD``, so both versions search as the same
least-privileged user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--records", type=int, required=True)
    args = ap.parse_args()

    from pydantic import SecretStr

    from demo.generator import iter_raw
    from indexer.pipeline import index_records
    from lantern import indices
    from lantern.audit import AuditLog
    from lantern.principal import Principal
    from lantern.records import Sensitivity, parse_record
    from lantern.search_client import make_client
    from lantern.settings import get_settings
    from portal.reads import run_search
    from search import builders as B
    from search.parser import parse

    base = get_settings()
    state = Path(base.state_dir).absolute() / f"bench-compare-{args.prefix.strip('-')}"
    update: dict[str, Any] = {
        "index_prefix": args.prefix,
        "state_dir": state,
        "audit_head_file": state / "audit-anchor.log",
        "audit_key_file": state / "audit-keys.json",
    }
    fields = type(base).model_fields
    settings = base.model_copy(update={k: v for k, v in update.items() if k in fields})
    state.mkdir(parents=True, exist_ok=True)
    # "admin" is the OpenSearch admin in code with a user per component; older code has one
    # client, signed in as the user the driver named (the admin).
    setup = make_client(settings, "admin")  # type: ignore[arg-type,unused-ignore]
    alias = settings.index_name("records")
    have = int(setup.count(index=alias)["count"]) if setup.indices.exists(index=alias) else 0
    if hasattr(indices, "ensure_all"):
        indices.ensure_all(setup, settings)  # `lantern index init`, as the admin
    if hasattr(indices, "outdated"):
        # Indices an earlier run left at an older version of their definition (e.g. the
        # rate-limit windows before their asynchronous translog) are timed as this code builds them.
        for module in indices.outdated(setup, settings):
            indices.migrate(setup, settings, module)
    if have < args.records * 0.95:
        recs = []
        for raw in iter_raw(args.records, 42):
            try:
                recs.append(parse_record(raw))
            except ValueError:
                continue
        index_records(recs, settings, setup, extract_entities=False, refresh=True)
    if hasattr(indices, "ensure_security_indices"):
        indices.ensure_security_indices(setup, settings)
    search_user = os.environ.get("LANTERN_BENCH_SEARCH_USERNAME")
    serving_settings = settings
    if search_user:
        serving_settings = settings.model_copy(
            update={
                "opensearch_username": search_user,
                "opensearch_password": SecretStr(os.environ.get("LANTERN_BENCH_SEARCH_PASSWORD", "")),
            }
        )
    client = make_client(serving_settings, "serving")
    audit = AuditLog(client, serving_settings)
    limits: Any = None
    try:
        from portal.security.ratelimit import RateLimits
    except ImportError:  # the version has no rate limits
        pass
    else:
        from limits import parse_many

        # The default windows (per minute and per hour), each 100x wider so the benchmark is
        # never refused: every search still makes one storage round trip per window.
        shaped = {
            f"rate_limit_{kind}": ";".join(
                f"{item.amount * 100}/{item.multiples} {item.GRANULARITY.name}"
                for item in parse_many(getattr(settings, f"rate_limit_{kind}"))
            )
            for kind in ("search", "suggest", "record", "batch", "export")
        }
        limits = RateLimits(
            serving_settings.model_copy(update={**shaped, "rate_limits_enabled": True}), client=client
        )
        limits.reset()
    user = Principal(
        "bench-analyst",
        "Bench Analyst",
        frozenset({"analyst"}),
        frozenset({"CID", "MIT", "CSU", "CAIT", "SAPPHIRE", "PSD", "INTEL"}),
        frozenset({*(s.value for s in Sensitivity), "intel", "intel_c"}),
    )
    timings: dict[str, float] = {}
    if limits is not None:
        real_hit = limits.hit

        def timed_hit(kind: str, username: str) -> Any:
            a = time.perf_counter()
            try:
                return real_hit(kind, username)
            finally:
                timings["limit_ms"] = (time.perf_counter() - a) * 1000

        limits.hit = timed_hit
    # This version's route: the limit checked beside the query when its RateLimits can
    # (``RateLimits.run``, as the search page does), else before it.
    beside = limits is not None and hasattr(limits, "run")
    print(json.dumps({"ready": True, "limits": limits is not None, "beside": beside}), flush=True)
    for line in sys.stdin:
        q = json.loads(line)
        timings.clear()

        def query(q: dict[str, Any] = q) -> Any:
            a = time.perf_counter()
            try:
                return run_search(
                    client, serving_settings, user, B.SearchRequest(parse(q["q"]), facets=q.get("facets", {}))
                )
            finally:
                timings["ms"] = (time.perf_counter() - a) * 1000

        t0 = time.perf_counter()
        if beside:
            out, broken = limits.run("search", user.username, query)
        else:
            broken = limits.hit("search", user.username) if limits is not None else None
            out = None if broken is not None else query()
        if broken is not None:
            raise SystemExit("the benchmark was rate limited: widen the windows")
        t2 = time.perf_counter()
        audit.record(
            None,
            "search",
            principal=user,
            details={
                "query": q["q"],
                "filters": q.get("facets", {}),
                "result_count": out.total,
                "shown_ids": [i.id for i in out.items],
            },
        )
        t3 = time.perf_counter()
        print(
            json.dumps(
                {
                    "ms": timings["ms"],
                    "full_ms": (t3 - t0) * 1000,
                    "limit_ms": timings.get("limit_ms", 0.0),
                    "audit_ms": (t3 - t2) * 1000,
                    "total": out.total,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
