"""Link chart speed: node expansion and shortest paths, server side, through the gateway.

    python scripts/bench_chart.py [--records 100000] [--runs 20] [--paths 10] [--prefix lantern-benchchart-]

Loads ``--records`` demo records (no entity extraction: the structured identifiers are
enough for a chart) into ``<prefix>records`` if the index is smaller, plus three hub
vehicles on 50, 500 and 5,000 extra records. Then, as an analyst (the access filter in
every query, as in the portal):

* expansion: each hub expanded by records, persons, phones and addresses (cap 25), p50/p95
  per hub and the JSON size of the answer;
* paths: pairs of persons exactly 4 hops apart (found by walking layers out from a random
  person), ``shortest_paths(max_hops=4)`` p50/p95.

Targets: expansion p95 <= 300 ms, path p95 <= 1 s (2-core machine, 100k records). A script,
not a test: it prints figures and the targets beside them, and exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lantern.principal import Principal
from lantern.records import AnyRecord, parse_record
from lantern.search_client import make_client
from lantern.settings import Settings, get_settings
from portal import chart as C
from search.gateway import SecuredRecords, records_alias

HUBS = {50: "BN50 HUB", 500: "BN500 HUB", 5000: "BN5000 HUB"}
EXPAND_TARGET_MS = 300.0
PATH_TARGET_MS = 1000.0
ANALYST = Principal(
    "bench-analyst",
    "Bench Analyst",
    frozenset({"analyst"}),
    frozenset({"INTEL"}),
    frozenset({"intel", "intel_c"}),
)


def p(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def ensure(settings: Settings, wanted: int) -> int:
    from demo.generator import iter_raw
    from indexer.pipeline import index_records

    client = make_client(settings, "ingest")
    alias = records_alias(settings)
    have = int(client.count(index=alias)["count"]) if client.indices.exists(index=alias) else 0
    hub_total = sum(HUBS)
    if have >= wanted + hub_total:
        return have
    print(
        f"loading {wanted:,} demo records + {hub_total:,} hub records into {alias} (have {have:,})",
        flush=True,
    )
    start = time.perf_counter()

    def records() -> Iterator[AnyRecord]:
        for n, raw in enumerate(iter_raw(wanted, 42), start=1):
            if n % 10_000 == 0:
                print(f"  {n:,} records ({n / (time.perf_counter() - start):,.0f}/s)", flush=True)
            yield parse_record(raw)
        for size, vrm in HUBS.items():
            made = 0
            for raw in iter_raw(size * 8, 1000 + size):
                if "vehicles" not in raw:
                    continue
                raw["source_id"] = f"hub{size}-{made}"
                raw["vehicles"] = [{"vrm": vrm, "make": "Ford"}]
                yield parse_record(raw)
                made += 1
                if made >= size:
                    break

    result = index_records(records(), settings, client, extract_entities=False, refresh=True)
    print(f"loaded in {time.perf_counter() - start:,.0f}s: {result}", flush=True)
    return int(client.count(index=alias)["count"])


def hub_node(records: SecuredRecords, vrm: str) -> C.NodeRef:
    from entity_extraction import canonicalise

    return C.NodeRef("vrm", canonicalise("VRM", vrm) or vrm)


def bench_expand(records: SecuredRecords, runs: int) -> bool:
    ok = True
    print(f"\nexpansion (cap {C.DEFAULT_CAP}; relations records/persons/phone/postcode; {runs} runs each)")
    print(
        f"{'linked records':>15} {'p50 ms':>8} {'p95 ms':>8} {'max KB':>8}   "
        f"target p95 <= {EXPAND_TARGET_MS:.0f} ms"
    )
    for vrm in HUBS.values():
        ref = hub_node(records, vrm)
        times: list[float] = []
        sizes: list[int] = []
        linked = 0
        for _ in range(runs):
            for rel in ("records", "persons", "phone", "postcode"):
                t0 = time.perf_counter()
                g = C.expand(records, ref, rel)
                body = json.dumps(g.to_json())
                times.append((time.perf_counter() - t0) * 1000)
                sizes.append(len(body))
                linked = g.nodes[ref.id].count or linked
        p95 = p(times, 95)
        ok &= p95 <= EXPAND_TARGET_MS
        flag = "ok" if p95 <= EXPAND_TARGET_MS else "MISSED"
        print(f"{linked:>15,} {p(times, 50):>8.0f} {p95:>8.0f} {max(sizes) / 1024:>8.1f}   {flag}")
    return ok


def four_hops_apart(
    records: SecuredRecords, rng: random.Random, tries: int = 40
) -> tuple[C.NodeRef, C.NodeRef] | None:
    """A random person and a node exactly four hops from them (layers walked out)."""
    res = records.search(
        {"query": {"match_all": {}}, "size": 200, "_source": {"includes": [C.PERSON_FIELD, "people.role"]}}
    )
    people = []
    for h in res["hits"]["hits"]:
        for person in (h.get("_source") or {}).get("people") or []:
            key = C.person_key(person)
            if key:
                people.append(C.NodeRef(C.PERSON, key))
    for _ in range(tries):
        a = rng.choice(people)
        seen = {a}
        layer = {a}
        for _depth in range(4):
            found = C._neighbours(records.search(C.build_layer(sorted(layer), 200))["aggregations"])
            layer = {n for n in found if n not in seen and not n.value.startswith("BN")}
            seen |= layer
            if not layer:
                break
        people_far = sorted(n for n in layer if n.kind == C.PERSON)
        if people_far:
            return a, rng.choice(people_far)
    return None


def bench_paths(records: SecuredRecords, n: int, seed: int) -> bool:
    rng = random.Random(seed)
    times: list[float] = []
    lengths: list[int] = []
    for _ in range(n):
        pair = four_hops_apart(records, rng)
        if pair is None:
            continue
        t0 = time.perf_counter()
        result = C.shortest_paths(records, pair[0], pair[1], 4)
        times.append((time.perf_counter() - t0) * 1000)
        lengths.append(len(result.paths[0]) - 1 if result.paths else -1)
    print(f"\nshortest paths, persons 4 hops apart ({len(times)} pairs; hops found: {sorted(lengths)})")
    if not times:
        print("  no pair 4 hops apart found")
        return False
    p95 = p(times, 95)
    flag = "ok" if p95 <= PATH_TARGET_MS else "MISSED"
    print(f"  p50 {p(times, 50):.0f} ms  p95 {p95:.0f} ms   target p95 <= {PATH_TARGET_MS:.0f} ms  {flag}")
    return p95 <= PATH_TARGET_MS


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--paths", type=int, default=10)
    ap.add_argument("--prefix", default="lantern-benchchart-")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    settings = get_settings().model_copy(update={"index_prefix": args.prefix})
    total = ensure(settings, args.records)
    print(f"index {records_alias(settings)}: {total:,} records")
    records = SecuredRecords(make_client(settings, "serving"), settings, ANALYST)
    ok = bench_expand(records, args.runs)
    ok &= bench_paths(records, args.paths, args.seed)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
