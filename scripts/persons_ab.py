"""Incremental resolution side by side: another git revision's resolver against this tree's.

    python scripts/persons_ab.py --against main --held 100000 --records 2000

Both resolvers hold the same synthetic mentions (demo/persons.py), then resolve the same demo
records' people (demo/generator.py) in load batches of ``--load-batch`` records, in one
process, alternating which runs first per batch. Per batch: CPU time of each and whether the
results are identical (the nominal of every new mention, the nominals changed and mentions
moved, every link with its probability and waterfall, every held mention's nominal). Exits
non-zero when any batch differs. The other revision's ``persons/resolver.py``,
``persons/cluster.py`` and ``persons/blocking.py`` are read with ``git show`` and imported
under other names. A resolver with ``prepare`` (ingest's set-up) runs it once before the
batches, timed apart. ``--threads``: this tree's resolver's DuckDB threads (wall is printed
as well as CPU: more threads spend more CPU to take less wall).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any


def _import_revision(rev: str, into: Path) -> ModuleType:
    def show(path: str) -> str:
        got = subprocess.run(["git", "show", f"{rev}:{path}"], check=True, capture_output=True, text=True)
        return got.stdout

    (into / "ab_cluster.py").write_text(show("persons/cluster.py"))
    (into / "ab_blocking.py").write_text(show("persons/blocking.py"))
    resolver = show("persons/resolver.py").replace("from persons.cluster import", "from ab_cluster import")
    resolver = resolver.replace("from persons import blocking\n", "import ab_blocking as blocking\n")
    (into / "ab_resolver.py").write_text(resolver)
    sys.path.insert(0, str(into))
    return importlib.import_module("ab_resolver")


def _fingerprint(r: Any, out: dict[str, str]) -> tuple[Any, ...]:
    def link(lk: Any) -> tuple[Any, ...]:
        return (lk.other, lk.probability, lk.weights, lk.labels)

    links = {m: (link(lk), [link(x) for x in r.more_links.get(m, [])]) for m, lk in r.links.items()}
    return out, r.last_changed, r.last_moved, links, r.nominal_of


def _explain_difference(x: tuple[Any, ...], y: tuple[Any, ...]) -> None:
    """Which parts of two fingerprints differ, and how many entries of each."""
    parts = ("new mentions' nominals", "nominals changed", "mentions moved", "links", "every nominal")
    for name, a, b in zip(parts, x, y, strict=True):
        if a == b:
            continue
        if isinstance(a, dict):
            keys = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
            print(f"  differs: {name}: {len(keys)} entries, e.g. {sorted(keys)[:3]}", flush=True)
        else:
            print(f"  differs: {name}: {len(set(a) ^ set(b))} entries", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="main", help="git revision to compare with")
    ap.add_argument("--held", type=int, default=100_000)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--load-batch", type=int, default=500)
    ap.add_argument("--threads", type=int, default=1, help="DuckDB threads of this tree's resolver")
    args = ap.parse_args()
    logging.getLogger("splink").setLevel(logging.ERROR)
    from demo.generator import sample_records
    from demo.persons import generate
    from persons.features import mentions_from_record
    from persons.resolver import Resolver

    with tempfile.TemporaryDirectory() as tmp:
        other = _import_revision(args.against, Path(tmp))
        print(f"load average at the start {os.getloadavg()[0]:.1f}", flush=True)
        held = [x.mention for x in generate(args.held, seed=args.held)]
        rs = {args.against: other.Resolver(), "this tree": Resolver(threads=args.threads)}
        for r in rs.values():
            r.rebuild(held)
        for name, r in rs.items():
            if hasattr(r, "prepare"):
                c = time.process_time()
                r.prepare()
                print(f"{name}: prepare (once per load) {time.process_time() - c:.2f}s CPU", flush=True)
        recs = sample_records(args.records, seed=args.held + 2)
        total = dict.fromkeys(rs, 0.0)
        same = True
        names = list(rs)
        for j, i in enumerate(range(0, len(recs), args.load_batch)):
            batch = [m for rec in recs[i : i + args.load_batch] for m in mentions_from_record(rec)]
            cpu: dict[str, float] = {}
            wall: dict[str, float] = {}
            prints = {}
            for name in names if j % 2 == 0 else names[::-1]:
                c, w = time.process_time(), time.perf_counter()
                out = rs[name].resolve_new(batch)
                cpu[name] = time.process_time() - c
                wall[name] = time.perf_counter() - w
                total[name] += cpu[name]
                prints[name] = _fingerprint(rs[name], out)
            equal = prints[names[0]] == prints[names[1]]
            same = same and equal
            if not equal:
                _explain_difference(prints[names[0]], prints[names[1]])
            print(
                f"batch {j}: {len(batch)} people; {names[0]} {cpu[names[0]]:.2f}s, {names[1]} "
                f"{cpu[names[1]]:.2f}s CPU ({cpu[names[1]] / cpu[names[0]]:.2f}x); "
                f"wall {wall[names[0]]:.2f}s, {wall[names[1]]:.2f}s; identical: {equal}",
                flush=True,
            )
        print(
            f"total CPU: {names[0]} {total[names[0]]:.2f}s, {names[1]} {total[names[1]]:.2f}s "
            f"({total[names[1]] / total[names[0]]:.2f}x); identical: {same}; "
            f"load average at the end {os.getloadavg()[0]:.1f}"
        )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
