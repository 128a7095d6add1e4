"""Person resolution benchmark: full resolution time and peak memory per size, incremental rate.

    python scripts/bench_persons.py --sizes 10000,100000,1000000

Each size runs in a fresh child process so its peak RSS is its own (ru_maxrss of the child).
Mentions are synthetic (demo/persons.py). Targets printed beside the figures: full resolution
of 1M mentions within 30 min on one machine, near-linear growth (time per mention roughly flat
across sizes).

The incremental cost is measured side by side, interleaved: demo records (demo/generator.py)
in load batches of ``--load-batch`` records; for each batch, entity extraction of its free
text (what makes ``index load`` NER-bound; same model and processes as the load) and then resolution of its
people against ``--held`` nominals already held, both timed on the same machine moments
apart. The cost is resolution time / extraction time; target under 10%. Extraction alone is
less than a whole load (validation, bulk indexing and refreshes are left out), so the figure
is an upper bound of the share of the load; writing the touched nominals to the persons index
is left out too (one bulk request per batch).
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import subprocess
import sys
import time

TARGET_1M_SECONDS = 30 * 60
# The earlier, non-interleaved projection (README: `make bench-index` loads 92 records/s with NER
# on 2 processes; demo records carry 2.04 people each): the rate resolution would need for 10%.
LOAD_MENTIONS_PER_S = 92 * 2.04
INCREMENTAL_TARGET = LOAD_MENTIONS_PER_S / 0.10
INCREMENTAL_COST_TARGET = 0.10


def run_one(size: int, batch: int) -> dict[str, float]:
    logging.getLogger("splink").setLevel(logging.ERROR)
    from demo.persons import generate
    from persons.resolver import Resolver

    t = time.perf_counter()
    data = [x.mention for x in generate(size, seed=size)]
    gen = time.perf_counter() - t
    r = Resolver()
    t = time.perf_counter()
    res = r.rebuild(data)
    full = time.perf_counter() - t
    # Incremental: new mentions (other people and more of the same, another seed) resolved in
    # batches against everything held, as `index load` does.
    new = [x.mention for x in generate(batch * 3, seed=size + 1, prefix="new-")]
    t = time.perf_counter()
    for i in range(0, len(new), batch):
        r.resolve_new(new[i : i + batch])
    inc = (time.perf_counter() - t) / 3
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "size": size,
        "generate_s": gen,
        "full_s": full,
        "nominals": len(set(res.nominal_of.values())),
        "incremental_batch": batch,
        "incremental_s": inc,
        "peak_mb": peak_mb,
    }


def run_interleaved(held: int, records: int, load_batch: int) -> dict[str, float]:
    logging.getLogger("splink").setLevel(logging.ERROR)
    from demo.generator import sample_records
    from demo.persons import generate
    from entity_extraction import extract_many
    from lantern.settings import get_settings
    from persons.features import mentions_from_record
    from persons.resolver import Resolver

    r = Resolver()
    r.rebuild([x.mention for x in generate(held, seed=held)])
    recs = sample_records(records, seed=held + 2)
    # Extraction as `index load` runs it (LANTERN_NER_PROCESSES; `make bench-persons` passes nproc,
    # as `make demo` does for its load).
    settings = get_settings()
    list(extract_many(["Warm-up: John Smith was seen in Leeds."]))  # model load is not load time
    ner_s = res_s = 0.0
    mentions = 0
    for i in range(0, len(recs), load_batch):
        batch = recs[i : i + load_batch]
        texts = [t for rec in batch for t in rec.free_text().values()]
        t = time.perf_counter()
        list(extract_many(texts, batch_size=settings.ner_batch_size, n_process=settings.ner_processes))
        ner_s += time.perf_counter() - t
        ms = [m for rec in batch for m in mentions_from_record(rec)]
        mentions += len(ms)
        t = time.perf_counter()
        r.resolve_new(ms)
        res_s += time.perf_counter() - t
    return {"held": held, "records": len(recs), "mentions": mentions, "ner_s": ner_s, "resolve_s": res_s}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated mention counts")
    ap.add_argument("--batch", type=int, default=1000, help="mentions per incremental batch")
    ap.add_argument("--held", type=int, default=100_000, help="mentions held before the interleaved load")
    ap.add_argument("--records", type=int, default=2000, help="demo records loaded in the interleaved run")
    ap.add_argument("--load-batch", type=int, default=500, help="records per load batch (bulk_chunk_size)")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--interleaved-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child, args.batch)))
        return 0
    if args.interleaved_child:
        print(json.dumps(run_interleaved(args.held, args.records, args.load_batch)))
        return 0
    print(
        f"{'mentions':>9} {'full (s)':>9} {'µs/mention':>11} {'peak MB':>8} {'nominals':>9} "
        f"{'incr. batch':>11} {'incr. mentions/s':>16}   targets"
    )
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--batch", str(args.batch)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            print(f"{size:>9} FAILED: {out.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rate = r["incremental_batch"] / r["incremental_s"]
        per = r["full_s"] / size * 1e6
        projected = per * 1_000_000 / 1e6
        print(
            f"{size:>9} {r['full_s']:>9.1f} {per:>11.0f} {r['peak_mb']:>8.0f} {r['nominals']:>9} "
            f"{r['incremental_batch']:>11} {rate:>16.0f}   "
            f"1M projected {projected / 60:.1f} min (target <= {TARGET_1M_SECONDS // 60} min); "
            f"incremental target >= {INCREMENTAL_TARGET:.0f}/s"
        )
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--interleaved-child",
            "--held",
            str(args.held),
            "--records",
            str(args.records),
            "--load-batch",
            str(args.load_batch),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        print(f"interleaved run FAILED: {out.stderr.strip().splitlines()[-1:]}")
        return 1
    r = json.loads(out.stdout.strip().splitlines()[-1])
    cost = r["resolve_s"] / r["ner_s"]
    ok = cost < INCREMENTAL_COST_TARGET
    print(
        f"\nincremental, interleaved per load batch of {args.load_batch} records against {r['held']} held "
        f"mentions: {r['records']} records, {r['mentions']} people; entity extraction {r['ner_s']:.1f}s, "
        f"resolution {r['resolve_s']:.1f}s ({r['mentions'] / r['resolve_s']:.0f} mentions/s)\n"
        f"resolution cost = {cost:.1%} of extraction time (target < {INCREMENTAL_COST_TARGET:.0%}): "
        f"{'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
