"""What the cap on crowded blocks costs in accuracy where it bites: pairwise precision and
recall of a full rebuild of N synthetic mentions with the cap (persons/blocking.py) and
without it, side by side.

    python scripts/eval_persons_scale.py --size 100000

Diagnostic, not the verdict: `make eval-persons` (20,000 mentions a split, where no block
reaches the cap) decides. The data comes from a seed that is neither the tuning nor the
held-out split's, and nothing is tuned on it.
"""

from __future__ import annotations

import argparse
import logging
import time

from demo.persons import generate
from persons import blocking
from persons import model as pm
from persons.evaluate import pairwise
from persons.resolver import Resolver

SEED = 424242
NO_CAP = 10**9


def candidate_pairs(r: Resolver) -> int:
    """Pairs the blocking rules give to score (exact, Splink's own count)."""
    from splink.backends.duckdb import DuckDBAPI
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    counts = count_comparisons_from_blocking_rules(
        DuckDBAPI(connection=r.con).register("mentions"),
        blocking_rules=pm.BLOCKING_RULES,
        link_type="dedupe_only",
        record_sample_proportion=1.0,
    )
    return int(counts[-1]["cumulative_comparison_count"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    args = ap.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    data = generate(args.size, SEED)
    truth = {x.mention.mention_id: x.pid for x in data}
    mentions = [x.mention for x in data]
    for cap in (blocking.BLOCK_CAP, NO_CAP):
        r = Resolver(block_cap=cap)
        t = time.perf_counter()
        res = r.rebuild(mentions)
        took = time.perf_counter() - t
        score = pairwise(res.nominal_of, truth)
        pairs = candidate_pairs(r)
        crowded = r.cap_stats.summary() if r.cap_stats else ""
        label = f"cap {cap}" if cap != NO_CAP else "no cap"
        print(
            f"{args.size} mentions, {label}: pairwise precision {score.precision:.4f} "
            f"recall {score.recall:.4f} ({took:.0f} s wall); candidate pairs {pairs:,}; "
            f"blocks over the cap: {crowded}",
            flush=True,
        )
        del r, res
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
