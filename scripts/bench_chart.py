"""Link chart speed: node expansion and shortest paths, server side, through the gateway.

    python scripts/bench_chart.py [--records 100000] [--runs 20] [--paths 10] [--prefix lantern-benchchart-]
                                  [--compare REV] [--no-expand] [--no-paths] [--cold] [--churn]
                                  [--first-paths N]

Loads ``--records`` demo records (no entity extraction: the structured identifiers are
enough for a chart) into ``<prefix>records`` if the index is smaller, plus three hub
vehicles on 50, 500 and 5,000 extra records. Then, as an analyst (the access filter in
every query, as in the portal):

* expansion: each hub expanded by records, persons, phones and addresses (cap 25), p50/p95
  per hub and the JSON size of the answer;
* paths: pairs of persons exactly 4 hops apart (found by walking layers out from a random
  person), ``shortest_paths(max_hops=4)`` p50/p95.

What "cold" means. ``--cold`` clears the shard request cache before each call: the first
expansion of a node on an index nothing is written to (its global ordinals stay built).
``--churn`` is what an analyst sees while records keep arriving (a force ingests all day):
before each call one bench document is written again and the index refreshed, as the
scheduled refresh would after it, so the call meets a new reader (no request cache, global
ordinals of any field not loaded eagerly rebuilt on first use). The refresh itself is
outside the timing and printed apart (that is where eagerly loaded ordinals would be paid).

``--compare REV`` also runs ``portal/chart.py`` as it was at git revision REV on the same
pairs and the same expansions, interleaved call by call, and prints both and the p95 ratio.

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
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lantern.principal import Principal
from lantern.records import AnyRecord, parse_record
from lantern.search_client import make_client
from lantern.settings import Settings, get_settings
from portal import chart as C
from search.gateway import SecuredRecords, records_alias

HUBS = {50: "HB05 HUB", 500: "HB50 HUB", 5000: "HB55 HUB"}
HUB_VALUES = {v.replace(" ", "") for v in HUBS.values()}  # canonical VRMs: no spaces
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


def ensure(settings: Settings, wanted: int, *, hubs: bool = True) -> int:
    from demo.generator import iter_raw
    from indexer.pipeline import index_records

    client = make_client(settings, "ingest")
    alias = records_alias(settings)
    have = int(client.count(index=alias)["count"]) if client.indices.exists(index=alias) else 0
    hub_total = sum(HUBS) if hubs else 0
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
        for size, vrm in HUBS.items() if hubs else ():
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


def _mapped_fields(mapping: dict[str, object], prefix: str = "") -> list[str]:
    """Every leaf path of a mapping (the copy keeps only fields this branch's mapping has)."""
    out: list[str] = []
    props = mapping.get("properties") or {}
    assert isinstance(props, dict)
    for name, spec in props.items():
        if isinstance(spec, dict) and "properties" in spec:
            out += _mapped_fields(spec, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def copy_documents(settings: Settings, source_alias: str, wanted: int) -> int:
    """Fill the bench index from another records index of the same mapping (server-side
    ``_reindex``), and add the hubs as copies of its documents with the hub VRM.

    A shortcut for a busy machine: the documents are the indexer's output of another load,
    so the chart reads exactly what the portal reads; only their ingestion is skipped.
    """
    from opensearchpy import helpers

    from lantern.indices import ensure_once
    from mappings import records as R

    client = make_client(settings, "ingest")
    ensure_once(client, settings, [R])
    alias = records_alias(settings)
    write = settings.index_name("records") + "-write"
    have = int(client.count(index=alias)["count"])
    if have < wanted:
        print(f"copying {wanted:,} documents from {source_alias} into {alias}", flush=True)
        client.reindex(
            body={
                "source": {"index": source_alias, "_source": _mapped_fields(R.mappings())},
                "dest": {"index": write},
                "max_docs": wanted,
            },
            params={"timeout": "20m", "refresh": "true"},
            request_timeout=1800,
        )
    hits = client.search(index=alias, body={"size": sum(HUBS), "sort": ["_doc"]})["hits"]["hits"]
    actions = []
    i = 0
    for size, vrm in HUBS.items():
        for _ in range(size):
            src = dict(hits[i % len(hits)]["_source"])
            i += 1
            ents = dict(src.get("entities") or {})
            ents["vrm"] = [hub_vrm(vrm)]
            src["entities"] = ents
            src["id"] = f"hub{size}-{i}"
            actions.append({"_index": write, "_id": src["id"], "_source": src})
    helpers.bulk(client, actions, chunk_size=1000, request_timeout=600)
    client.indices.refresh(index=alias)
    return int(client.count(index=alias)["count"])


def synthesise(settings: Settings, wanted: int, base: int, seed: int) -> int:
    """Fill the bench index with ``wanted`` documents fast: ``base`` demo records go through
    the indexer, then copies of their documents are bulk-written with their people, vehicles,
    phones and postcodes redrawn from pools sized to the index (so the graph has the demo's
    shape at any size), plus the hubs.

    A shortcut for a busy machine (the indexer's own speed is ``make bench-index``'s job):
    every document is the indexer's output with identifiers swapped, so the chart reads the
    same fields and shapes the portal does.
    """
    from opensearchpy import helpers

    alias = records_alias(settings)
    client = make_client(settings, "ingest")
    have = int(client.count(index=alias)["count"]) if client.indices.exists(index=alias) else 0
    if have >= wanted + sum(HUBS):
        return have
    ensure(settings, base, hubs=False)
    docs = [
        h["_source"]
        for h in client.search(index=alias, body={"size": base, "sort": ["_doc"]})["hits"]["hits"]
    ]
    for d in docs:
        d.pop("record", None)
        d.pop("mentions", None)
    rng = random.Random(seed)
    pools = {
        "person": max(10, wanted // 3),
        "vrm": max(10, wanted // 10),
        "phone": max(10, wanted // 5),
        "postcode": max(10, wanted // 8),
    }
    write = settings.index_name("records") + "-write"

    def redraw(src: dict[str, Any], n: int, hub: str | None) -> dict[str, Any]:
        out = dict(src)
        out["id"] = f"bench-{n}"
        people = []
        for p in src.get("people") or []:
            q = dict(p)
            if q.get("role") != "officer":
                who = rng.randrange(pools["person"])
                q["person_key"] = [f"pnc:bench{who}"]
                q["nominal_id"] = f"N-bench{who}"  # resolved: one nominal per linking key
            people.append(q)
        out["people"] = people
        ents = dict(src.get("entities") or {})
        ents["vrm"] = [hub] if hub else [f"BN{rng.randrange(pools['vrm'])}X" for _ in ents.get("vrm") or []]
        ents["phone"] = [f"+4477009{rng.randrange(pools['phone']):07d}" for _ in ents.get("phone") or []]
        ents["postcode"] = [f"ZZ{rng.randrange(pools['postcode'])} 1AA" for _ in ents.get("postcode") or []]
        out["entities"] = ents
        return out

    def actions() -> Iterator[dict[str, Any]]:
        n = 0
        for size, vrm in HUBS.items():
            for _ in range(size):
                n += 1
                yield {
                    "_index": write,
                    "_id": f"bench-{n}",
                    "_source": redraw(docs[n % len(docs)], n, hub_vrm(vrm)),
                }
        for _ in range(wanted):
            n += 1
            yield {"_index": write, "_id": f"bench-{n}", "_source": redraw(docs[n % len(docs)], n, None)}

    start = time.perf_counter()
    print(
        f"bulk-writing {wanted:,} + {sum(HUBS):,} hub documents (redrawn copies of {len(docs)})", flush=True
    )
    helpers.bulk(client, actions(), chunk_size=2000, request_timeout=600)
    client.indices.refresh(index=alias)
    print(f"written in {time.perf_counter() - start:,.0f}s", flush=True)
    return int(client.count(index=alias)["count"])


def hub_vrm(vrm: str) -> str:
    from entity_extraction import canonicalise

    return canonicalise("VRM", vrm) or vrm


def hub_node(records: SecuredRecords, vrm: str) -> C.NodeRef:
    return C.NodeRef("vrm", hub_vrm(vrm))


class Churn:
    """Before each timed call: write one bench document again and refresh (see the docstring)."""

    def __init__(self, records: SecuredRecords, on: bool) -> None:
        self.on = on
        self.client = make_client(records.settings, "ingest")
        self.alias = records_alias(records.settings)
        self.write = records.settings.index_name("records") + "-write"
        self.refresh_ms: list[float] = []
        self.docs: list[tuple[str, dict[str, Any]]] = []
        if on:
            res = self.client.search(index=self.alias, body={"size": 50, "sort": ["_doc"]})
            self.docs = [(str(h["_id"]), h["_source"]) for h in res["hits"]["hits"]]

    def __call__(self) -> None:
        if not self.on:
            return
        doc_id, src = self.docs[len(self.refresh_ms) % len(self.docs)]
        self.client.index(index=self.write, id=doc_id, body=src)
        t0 = time.perf_counter()
        self.client.indices.refresh(index=self.alias)
        self.refresh_ms.append((time.perf_counter() - t0) * 1000)

    def report(self) -> None:
        if self.refresh_ms:
            print(
                f"  refresh after each write (not timed above): p50 {p(self.refresh_ms, 50):.0f} ms, "
                f"p95 {p(self.refresh_ms, 95):.0f} ms over {len(self.refresh_ms)}"
            )


_ADMIN: list[Any] = []


def clear_request_cache(settings: Settings) -> None:
    """Empty the records index's shard request cache (the portal's own user may not: an admin
    client, made once)."""
    if not _ADMIN:
        _ADMIN.append(make_client(settings, "admin"))
    _ADMIN[0].indices.clear_cache(index=records_alias(settings), request=True)


def load() -> str:
    import os

    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench_expand(
    records: SecuredRecords, runs: int, compare: str = "", *, cold: bool = False, churn: bool = False
) -> bool:
    """Each hub expanded by four relations ``runs`` times; with ``compare`` the code at that
    revision too, interleaved call by call (the order swapped every run), so load hits both alike."""
    impls: list[tuple[str, Any]] = [("this code", C)]
    if compare:
        impls.append((f"at {compare}", chart_at(compare)))
    ok = True
    cache = "request cache cleared before each call" if cold else "request cache on"
    if churn:
        cache = "one document written and the index refreshed before each call"
    fresh = Churn(records, churn)
    print(f"\nexpansion (cap {C.DEFAULT_CAP}; records/persons/phone/postcode; {runs} runs each; {cache})")
    print(f"  {load()}")
    print(
        f"{'linked records':>15} {'code':>16} {'p50 ms':>8} {'p95 ms':>8} {'max KB':>8}   "
        f"target p95 <= {EXPAND_TARGET_MS:.0f} ms"
    )
    for vrm in HUBS.values():
        ref = hub_node(records, vrm)
        times: dict[str, list[float]] = {name: [] for name, _ in impls}
        sizes: dict[str, list[int]] = {name: [] for name, _ in impls}
        linked = 0
        for i in range(runs):
            for rel in ("records", "persons", "phone", "postcode"):
                for name, impl in impls if i % 2 == 0 else impls[::-1]:
                    if cold:
                        clear_request_cache(records.settings)
                    fresh()
                    t0 = time.perf_counter()
                    g = impl.expand(records, impl.NodeRef(ref.kind, ref.value), rel)
                    body = json.dumps(g.to_json())
                    times[name].append((time.perf_counter() - t0) * 1000)
                    sizes[name].append(len(body))
                    if name == "this code":
                        linked = g.nodes[ref.id].count or linked
        for name, _ in impls:
            p95 = p(times[name], 95)
            flag = ""
            if name == "this code":
                ok &= p95 <= EXPAND_TARGET_MS
                flag = "ok" if p95 <= EXPAND_TARGET_MS else "MISSED"
            print(
                f"{linked:>15,} {name:>16} {p(times[name], 50):>8.0f} {p95:>8.0f} "
                f"{max(sizes[name]) / 1024:>8.1f}   {flag}"
            )
        if compare:
            ratio = p(times["this code"], 95) / p(times[f"at {compare}"], 95)
            print(f"{'':>15} p95 ratio this/before: {ratio:.2f}")
    fresh.report()
    print(f"  {load()}")
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
            layer = {n for n in found if n not in seen and n.value not in HUB_VALUES}
            seen |= layer
            if not layer:
                break
        people_far = sorted(n for n in layer if n.kind == C.PERSON)
        if people_far:
            return a, rng.choice(people_far)
    return None


def chart_at(rev: str) -> Any:
    """``portal/chart.py`` as it was at git revision ``rev``, imported as its own module (for a
    side-by-side run: the same pairs, the same node, interleaved)."""
    import importlib.util
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(
        ["git", "-C", str(root), "show", f"{rev}:portal/chart.py"], capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="bench-chart-")) / "chart_before.py"
    path.write_text(src, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("chart_before", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["chart_before"] = module
    spec.loader.exec_module(module)
    return module


def bench_paths(
    records: SecuredRecords, n: int, seed: int, compare: str = "", *, churn: bool = False
) -> bool:
    rng = random.Random(seed)
    pairs = [pair for pair in (four_hops_apart(records, rng) for _ in range(n)) if pair is not None]
    fresh = Churn(records, churn)
    before_load = load()
    impls: list[tuple[str, Any]] = [("this code", C)]
    if compare:
        impls.append((f"at {compare}", chart_at(compare)))
    times: dict[str, list[float]] = {name: [] for name, _ in impls}
    lengths: dict[str, list[int]] = {name: [] for name, _ in impls}
    answers: dict[str, list[list[list[str]]]] = {name: [] for name, _ in impls}
    for i, (a, b) in enumerate(pairs):
        # Interleaved, the order swapped every pair, so load on the machine hits both alike.
        for name, impl in impls if i % 2 == 0 else impls[::-1]:
            pa, pb = impl.NodeRef(a.kind, a.value), impl.NodeRef(b.kind, b.value)
            fresh()
            t0 = time.perf_counter()
            result = impl.shortest_paths(records, pa, pb, 4)
            times[name].append((time.perf_counter() - t0) * 1000)
            lengths[name].append(len(result.paths[0]) - 1 if result.paths else -1)
            answers[name].append(result.paths)
    found = sorted(lengths["this code"])
    print(f"\nshortest paths, persons 4 hops apart ({len(pairs)} pairs; hops found: {found})")
    print(
        f"  {before_load} before, {load()} after"
        + ("; a write and a refresh before each call" if churn else "")
    )
    fresh.report()
    if not pairs:
        print("  no pair 4 hops apart found")
        return False
    p95 = p(times["this code"], 95)
    for name, _ in impls:
        t = times[name]
        flag = ("ok" if p(t, 95) <= PATH_TARGET_MS else "MISSED") if name == "this code" else ""
        print(
            f"  {name:>16}: p50 {p(t, 50):6.0f} ms  p95 {p(t, 95):6.0f} ms   "
            f"target p95 <= {PATH_TARGET_MS:.0f} ms  {flag}"
        )
    if compare:
        before = times[f"at {compare}"]
        print(f"  p95 ratio this/before: {p95 / p(before, 95):.2f}  (same pairs, interleaved)")
        mine, theirs = lengths["this code"], lengths[f"at {compare}"]
        differ = [i for i, (x, y) in enumerate(zip(mine, theirs, strict=True)) if x != y]
        if differ:
            # Paths go around hubs now (chart.HUB_LIST): an answer may differ only where the
            # code compared with walked through one.
            hubs = {n.id for n in C.hub_nodes(records)}
            unexplained = [
                i for i in differ if not any(set(path[1:-1]) & hubs for path in answers[f"at {compare}"][i])
            ]
            print(
                f"  {len(differ)} of {len(pairs)} answers differ; {len(differ) - len(unexplained)} because "
                f"the code at {compare} walked through a hub (on more than {C.HUB_SAMPLE:,} records; "
                "paths go around those now)"
            )
            if unexplained:
                print(
                    f"  PATH LENGTHS DIFFER: {[mine[i] for i in unexplained]} "
                    f"vs {[theirs[i] for i in unexplained]}"
                )
                return False
    return p95 <= PATH_TARGET_MS


def bench_first_path(records: SecuredRecords, n: int, seed: int, compare: str = "") -> None:
    """The first path search of an access group, the hub list not held: as it was (``compare``:
    fetched first, then the search), now with the list fetched in the first step's multi-search,
    and now after a chart page warmed it (``warm_hubs``, the wait for it outside the timing).
    Interleaved pair by pair; the hub cache and the request cache are emptied before each call
    (and before the warming). Figures only (no target:
    the path target is the p95 above)."""
    rng = random.Random(seed)
    pairs = [pair for pair in (four_hops_apart(records, rng) for _ in range(n)) if pair is not None]
    impls: list[tuple[str, Any]] = [("this code", C)]
    if compare:
        impls.append((f"at {compare}", chart_at(compare)))
    times: dict[str, list[float]] = {name: [] for name, _ in impls}
    times["this code, warmed"] = []
    print(f"\nfirst path search of an access group, hub list not held ({len(pairs)} pairs)")
    print(f"  {load()} before")
    for i, (a, b) in enumerate(pairs):
        runs = [*impls, ("this code, warmed", C)]
        for name, impl in runs if i % 2 == 0 else runs[::-1]:
            impl._HUBS.clear()
            # As after a refresh: the index-wide hub aggregation is not in the request cache.
            clear_request_cache(records.settings)
            if name.endswith("warmed"):
                warming = impl.warm_hubs(records)
                assert warming is not None
                warming.result()
            t0 = time.perf_counter()
            impl.shortest_paths(records, impl.NodeRef(a.kind, a.value), impl.NodeRef(b.kind, b.value), 4)
            times[name].append((time.perf_counter() - t0) * 1000)
    for name, t in times.items():
        print(f"  {name:>18}: p50 {p(t, 50):6.0f} ms  max {max(t):6.0f} ms")
    print(f"  {load()} after")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--paths", type=int, default=10)
    ap.add_argument("--prefix", default="lantern-benchchart-")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--copy-from", default="", help="a records alias to copy documents from")
    ap.add_argument(
        "--compare",
        default="",
        help="also time portal/chart.py at this git revision on the same pairs, interleaved",
    )
    ap.add_argument("--no-expand", action="store_true", help="paths only")
    ap.add_argument("--no-paths", action="store_true", help="expansion only")
    ap.add_argument(
        "--first-paths",
        type=int,
        default=0,
        help="also time the first path search of an access group (hub list not held, and warmed) on N pairs",
    )
    ap.add_argument(
        "--cold",
        action="store_true",
        help="clear the index's request cache before each expansion (the first expansion after a refresh)",
    )
    ap.add_argument(
        "--churn",
        action="store_true",
        help="write one document and refresh before each call (records arriving while analysts work)",
    )
    ap.add_argument(
        "--synthesise-from",
        type=int,
        default=0,
        help="demo records to index first; redrawn copies of their documents fill --records",
    )
    args = ap.parse_args()
    settings = get_settings().model_copy(update={"index_prefix": args.prefix})
    if args.synthesise_from:
        total = synthesise(settings, args.records, args.synthesise_from, args.seed)
    elif args.copy_from:
        total = copy_documents(settings, args.copy_from, args.records)
    else:
        total = ensure(settings, args.records)
    print(f"index {records_alias(settings)}: {total:,} records")
    records = SecuredRecords(make_client(settings, "serving"), settings, ANALYST)
    ok = True
    if not args.no_expand:
        ok &= bench_expand(records, args.runs, args.compare, cold=args.cold, churn=args.churn)
    if not args.no_paths:
        ok &= bench_paths(records, args.paths, args.seed, args.compare, churn=args.churn)
    if args.first_paths:
        bench_first_path(records, args.first_paths, args.seed + 1, args.compare)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
