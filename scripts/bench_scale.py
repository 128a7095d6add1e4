"""How cost grows with N on this machine (``make bench-scale``). A script, not a test.

Stages (each can be skipped; every N is a flag so a quick run is possible):

1. scale: generate ``max(--scale)`` demo records as NDJSON parts (10k, +90k, +900k by
   default), load each part with the real loader (``indexer.loader.load_files``) in a child
   process, and after each part measure records/s, the loader's peak RSS, index size on
   disk per record and search latency p50/p95/p99 for the query mix.
   Entities for these loads are NOT computed by the spaCy model: they are computed once by
   ``entity_extraction.find_identifiers`` (identifier and lexicon rules), written to a
   sidecar file next to each part, and reused by every run. The output says so.
2. loadtest: 20 concurrent users (one account each) for 2 minutes against the index built in
   stage 1: through 1 and then 2 live ``lantern serve`` processes behind nginx on loopback
   (``--portals``, interleaved ``--rounds`` times), with searches/s, p95 and the CPU the
   portals and OpenSearch used (where the bottleneck is; target: 2 processes >= 1.7x one
   while OpenSearch is not saturated); straight at OpenSearch with the same query mix when
   the portal is not installed (the output says which).
3. pipeline: the full pipeline (read + validate + NER on all cores + documents + bulk) on
   ``--pipeline-n`` records, with records/s overall and per stage.

Everything streams (files are read line by line, records are generated lazily) and runs
against a private embedded node (own ports, own data directory, ``--heap``), stopped at the end
unless ``--keep-node``. Results: printed, and written to ``<workdir>/results.json``.

    python scripts/bench_scale.py                       # the full run (1M: about an hour)
    python scripts/bench_scale.py --scale 2000,5000 --pipeline-n 1000 --load-seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from lantern import embedded, search_client  # noqa: E402
from lantern.settings import Settings  # noqa: E402
from mappings import fields as F  # noqa: E402

ENTITY_NOTE = (
    "NER REPLACED for the scale loads: entities come from entity_extraction.find_identifiers "
    "(identifier + weapon/drug lexicon rules, no spaCy model), computed once into a sidecar file "
    "next to each part and reused by every run; narrative PERSON/ORG/LOCATION/DATE mentions are "
    "therefore missing (structured people/addresses are still indexed). The pipeline stage "
    "measures the full NER on all cores."
)


# ------------------------------------------------------------------------ settings


def bench_settings(args: argparse.Namespace, prefix: str) -> Settings:
    return Settings(
        env="test",
        embedded_port=args.port,
        embedded_transport_port=args.port + 100,
        embedded_home=Path(args.workdir) / "opensearch",
        embedded_heap=args.heap,
        index_prefix=prefix,
        index_shards=args.shards,
        index_replicas=0,
        state_dir=Path(args.workdir) / "state" / prefix.rstrip("-"),
        bulk_chunk_size=args.chunk,
        ner_processes=os.cpu_count() or 1,
    )


def _client(settings: Settings, purpose: str = "ingest") -> Any:
    from lantern.search_client import make_client

    return make_client(settings, purpose)  # type: ignore[arg-type]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    """This process's own high-water RSS (VmHWM). Not ru_maxrss: Linux carries that across
    exec, so a child would report the parent's RSS at fork time."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------------ data


def _rules_line(line: str) -> str:
    """Sidecar line for one feed line: {field: [[label, start, end, text, value], ...]}."""
    from entity_extraction import find_identifiers
    from lantern.records import parse_record

    try:
        record = parse_record(json.loads(line))
    except Exception:
        return "{}"
    out = {
        name: [[e.label, e.start, e.end, e.text, e.value] for e in find_identifiers(text)]
        for name, text in record.free_text().items()
    }
    return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def part_sizes(ns: list[int]) -> list[int]:
    out, prev = [], 0
    for n in sorted(ns):
        out.append(n - prev)
        prev = n
    return out


def write_parts(workdir: Path, ns: list[int], seed: int) -> list[tuple[Path, Path, int]]:
    """NDJSON parts whose cumulative sizes are ``ns`` (one generator stream), with sidecars.

    Reused when a previous run wrote the same parts (same sizes, same seed).
    """
    from demo.generator import iter_raw

    data = workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    manifest = data / "manifest.json"
    sizes = part_sizes(ns)
    parts = [(data / f"part-{i}.ndjson", data / f"part-{i}.entities.ndjson", n) for i, n in enumerate(sizes)]
    wanted = {"ns": sorted(ns), "seed": seed}
    if (
        manifest.exists()
        and json.loads(manifest.read_text()) == wanted
        and all(p.exists() and s.exists() for p, s, _ in parts)
    ):
        print(f"data: reusing {data} ({sum(sizes):,} records and their entity sidecars)")
        return parts
    total = sum(sizes)
    t0 = time.perf_counter()
    stream = (json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in iter_raw(total, seed))
    ctx = mp.get_context("fork")
    with ctx.Pool(os.cpu_count() or 1) as pool:
        done = 0
        for feed, side, n in parts:
            with feed.open("w", encoding="utf-8") as fh, side.open("w", encoding="utf-8") as sh:
                lines = _take(stream, n)
                for line, ents in pool.imap(_rules_tee, lines, chunksize=256):
                    fh.write(line + "\n")
                    sh.write(ents + "\n")
                    done += 1
                    if done % 50_000 == 0:
                        rate = done / (time.perf_counter() - t0)
                        print(f"data: {done:,}/{total:,} records + rule entities ({rate:,.0f}/s)", flush=True)
    manifest.write_text(json.dumps(wanted))
    print(f"data: {total:,} records + rule entities in {time.perf_counter() - t0:,.0f}s", flush=True)
    return parts


def _rules_tee(line: str) -> tuple[str, str]:
    return line, _rules_line(line)


def _take(it: Iterator[str], n: int) -> Iterator[str]:
    for _ in range(n):
        try:
            yield next(it)
        except StopIteration:
            return


# ------------------------------------------------------------------------ loader child


def child_load(args: argparse.Namespace) -> None:
    """Runs in a child process: load one feed file, print a JSON summary as the last line."""
    from entity_extraction.types import Entity
    from indexer import loader, pipeline

    settings = bench_settings(args, args.prefix)
    client = _client(settings)
    stage_time: dict[str, float] = {"validate": 0.0, "entities": 0.0, "documents": 0.0, "bulk": 0.0}

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                stage_time[name] += time.perf_counter() - t

        return wrapper

    def timed_gen(name: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        def wrapper(*a: Any, **kw: Any) -> Iterator[Any]:
            it = fn(*a, **kw)
            while True:
                t = time.perf_counter()
                try:
                    item = next(it)
                except StopIteration:
                    stage_time[name] += time.perf_counter() - t
                    return
                stage_time[name] += time.perf_counter() - t
                yield item

        return wrapper

    loader.validate = timed("validate", loader.validate)  # type: ignore[attr-defined]
    pipeline.build_document = timed("documents", pipeline.build_document)  # type: ignore[attr-defined]
    pipeline.bulk_index = timed_gen("bulk", pipeline.bulk_index)  # type: ignore[attr-defined]

    if args.sidecar:
        # Entities computed once (rules) and reused: read the sidecar in step with the feed.
        side = open(args.sidecar, encoding="utf-8")  # noqa: SIM115 (lives for the process)
        cursor: dict[str, Any] = {"line": 0, "data": "{}"}

        def sidecar_mentions(self: Any, entries: Any) -> list[dict[str, Any]]:
            out = []
            for entry in entries:
                while cursor["line"] < entry.line:
                    cursor["data"] = side.readline()
                    cursor["line"] += 1
                raw = json.loads(cursor["data"] or "{}")
                out.append({k: [Entity(*e) for e in v] for k, v in raw.items()})
            return out

        pipeline.BatchIndexer._mentions = timed("entities", sidecar_mentions)  # type: ignore[method-assign]
    else:
        pipeline.BatchIndexer._mentions = timed(  # type: ignore[method-assign]
            "entities", pipeline.BatchIndexer._mentions
        )
        from entity_extraction import load_model

        load_model()  # model loading is start-up cost, not per-record cost

    samples: list[dict[str, float]] = []
    counter = {"rows": 0, "next": args.sample_every}
    started = time.perf_counter()

    def memory_hook(docs: list[dict[str, Any]]) -> None:
        counter["rows"] += len(docs)
        if counter["rows"] >= counter["next"]:
            counter["next"] += args.sample_every
            samples.append(
                {
                    "rows": counter["rows"],
                    "rss_mb": round(rss_mb(), 1),
                    "rate": round(counter["rows"] / (time.perf_counter() - started), 1),
                }
            )
            print(json.dumps({"progress": samples[-1]}), flush=True)

    report = loader.load_files(
        [Path(args.feed)],
        settings,
        client,
        extract_entities=True,
        rejects=Path(args.workdir) / "state" / f"rejects-{Path(args.feed).stem}.ndjson",
        restart=True,
        hooks=[memory_hook],
    )
    seconds = time.perf_counter() - started
    r = report.result
    print(
        json.dumps(
            {
                "summary": {
                    "read": r.read,
                    "indexed": r.indexed,
                    "rejected": r.rejected,
                    "failed": r.failed,
                    "seconds": round(seconds, 2),
                    "records_per_s": round(r.indexed / seconds, 1),
                    "stage_seconds": {k: round(v, 2) for k, v in stage_time.items()},
                    "peak_rss_mb": round(peak_rss_mb(), 1),
                    "rss_samples": samples,
                }
            }
        ),
        flush=True,
    )


def run_child_load(args: argparse.Namespace, prefix: str, feed: Path, sidecar: Path | None) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "_load",
        "--feed",
        str(feed),
        "--prefix",
        prefix,
        "--port",
        str(args.port),
        "--heap",
        args.heap,
        "--workdir",
        str(args.workdir),
        "--shards",
        str(args.shards),
        "--chunk",
        str(args.chunk),
        "--sample-every",
        str(args.sample_every),
    ]
    if sidecar is not None:
        cmd += ["--sidecar", str(sidecar)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=REPO)
    summary: dict[str, Any] | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "progress" in msg:
            p = msg["progress"]
            print(
                f"  loaded {p['rows']:,} ({p['rate']:,.0f} rec/s, loader RSS {p['rss_mb']:.0f} MB)",
                flush=True,
            )
        if "summary" in msg:
            summary = msg["summary"]
    if proc.wait() != 0 or summary is None:
        raise SystemExit(f"loader child failed (exit {proc.returncode}) for {feed}")
    return summary


# ------------------------------------------------------------------------ queries


@dataclass
class Query:
    kind: str
    body: dict[str, Any]
    text: str = ""  # what a user types in the portal's search box for the same query
    params: dict[str, str] | None = None  # portal filters (e.g. type=crime)


def _misspell(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 2)
    op = rng.choice(("swap", "drop", "double"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def sample_terms(feed: Path, sidecar: Path | None, limit: int, seed: int) -> dict[str, list[str]]:
    """Names, VRMs, phones and narrative words from the first ``limit`` records of ``feed``."""
    from lantern.records import parse_record

    rng = random.Random(seed)
    out: dict[str, list[str]] = {"name": [], "vrm": [], "phone": [], "words": []}
    with feed.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh):
            if n >= limit:
                break
            try:
                rec = parse_record(json.loads(line))
            except Exception:  # a bad demo row is just not sampled
                continue
            for p in rec.all_people():
                if getattr(p, "forename", None) and getattr(p, "surname", None):
                    out["name"].append(f"{p.forename} {p.surname}")
            for v in getattr(rec, "vehicles", []) or []:
                if getattr(v, "vrm", None):
                    out["vrm"].append(v.vrm)
            for p in rec.all_people():
                out["phone"].extend(getattr(p, "phones", []) or [])
            for text in rec.free_text().values():
                words = [w for w in re.findall(r"[a-z]{5,}", text.lower())]
                if len(words) >= 2:
                    w = rng.randrange(len(words) - 1)
                    out["words"].append(f"{words[w]} {words[w + 1]}")
    for k in out:
        rng.shuffle(out[k])
        out[k] = out[k][:500]
    return out


def query_mix(terms: dict[str, list[str]], n: int, seed: int) -> list[Query]:
    """The representative mix: name, misspelt name, VRM, phone, free text with facets,
    each behind the access filter of an analyst (what every portal query carries)."""
    from lantern.principal import Principal
    from search.access import secure

    user = Principal(
        "bench",
        "Bench Analyst",
        frozenset({"analyst"}),
        frozenset({"INTEL"}),
        frozenset({"intel", "intel_c"}),
    )
    today = date.today()
    rng = random.Random(seed)
    facets = {
        "record_type": {"terms": {"field": F.RECORD_TYPE}},
        "borough": {"terms": {"field": F.BOROUGH, "size": 10}},
        "offence": {"terms": {"field": F.OFFENCE_CATEGORIES, "size": 10}},
        "years": {"date_histogram": {"field": F.RECORD_DATE, "calendar_interval": "year"}},
    }
    src = [F.ID, F.RECORD_TYPE, F.REFERENCE, F.TITLE, F.RECORD_DATE, F.STATION]
    out: list[Query] = []
    kinds = [
        k
        for k, need in (
            ("name", "name"),
            ("misspelt_name", "name"),
            ("vrm", "vrm"),
            ("phone", "phone"),
            ("free_text_facets", "words"),
        )
        if terms[need]
    ]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind in ("name", "misspelt_name"):
            name = rng.choice(terms["name"])
            if kind == "misspelt_name":
                name = " ".join(_misspell(rng, w) for w in name.split())
            match: dict[str, Any] = {"query": name, "operator": "and"}
            if kind == "misspelt_name":
                match["fuzziness"] = "AUTO"
            q = {
                "nested": {
                    "path": F.PEOPLE,
                    "score_mode": "max",
                    "query": {"match": {F.people(F.P_NAME): match}},
                }
            }
            body: dict[str, Any] = {"query": secure(q, user, today)}
            text, params = name, None
        elif kind == "vrm":
            vrm = rng.choice(terms["vrm"]).replace(" ", "")
            body = {"query": secure({"term": {F.entity("VRM"): vrm}}, user, today)}
            text, params = vrm, None
        elif kind == "phone":
            phone = rng.choice(terms["phone"])
            from entity_extraction import canonicalise

            value = canonicalise("PHONE", phone) or phone
            body = {"query": secure({"term": {F.entity("PHONE"): value}}, user, today)}
            text, params = phone, None
        else:
            words = rng.choice(terms["words"])
            q = {
                "simple_query_string": {
                    "query": words,
                    "fields": [F.TEXT, F.TITLE],
                    "default_operator": "and",
                }
            }
            body = {
                "query": secure(q, user, today),
                "aggs": facets,
                "highlight": {"fields": {F.TEXT: {"fragment_size": 150, "number_of_fragments": 2}}},
            }
            text, params = words, {"type": rng.choice(["crime", "custody", "case", "intel"])}
        body.update({"size": 20, "_source": src, "track_total_hits": True})
        out.append(Query(kind, body, text, params))
    return out


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))
    return s[k]


def latency(client: Any, index: str, queries: list[Query], warmup: int) -> dict[str, Any]:
    for q in queries[:warmup]:
        client.search(index=index, body=q.body)
    per_kind: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    for q in queries[warmup:]:
        t = time.perf_counter()
        res = client.search(index=index, body=q.body)
        ms = (time.perf_counter() - t) * 1000
        per_kind.setdefault(q.kind, []).append(ms)
        hits.setdefault(q.kind, []).append(int(res["hits"]["total"]["value"]))
    all_ms = [v for vs in per_kind.values() for v in vs]
    return {
        "queries": len(all_ms),
        "p50_ms": round(pct(all_ms, 50), 1),
        "p95_ms": round(pct(all_ms, 95), 1),
        "p99_ms": round(pct(all_ms, 99), 1),
        "by_kind": {
            k: {
                "p50_ms": round(pct(v, 50), 1),
                "p95_ms": round(pct(v, 95), 1),
                "p99_ms": round(pct(v, 99), 1),
                "median_hits": statistics.median(hits[k]),
            }
            for k, v in per_kind.items()
        },
    }


def index_stats(client: Any, index: str) -> dict[str, Any]:
    client.indices.refresh(index=index)
    client.indices.flush(index=index)
    # Top-level records (index stats count every nested person as a Lucene doc too).
    docs = int(client.count(index=index)["count"])
    # Segment sizes, not store stats: those are cached for index.store.stats_refresh_interval.
    segs = client.cat.segments(index=index, format="json", bytes="b")
    primaries = [s for s in segs if s.get("prirep") == "p"]
    size = sum(int(s["size"]) for s in primaries)
    return {
        "records": docs,
        "lucene_docs": sum(int(s["docs.count"]) for s in primaries),
        "store_bytes": size,
        "bytes_per_record": round(size / docs, 1) if docs else None,
        "segments": len(primaries),
    }


# ------------------------------------------------------------------------ stages


def stage_scale(args: argparse.Namespace, results: dict[str, Any]) -> tuple[Settings, list[Query]]:
    ns = sorted(int(x) for x in args.scale.split(","))
    parts = write_parts(Path(args.workdir), ns, args.seed)
    settings = bench_settings(args, "bench-scale-")
    # Setup and cleanup (deleting indices) are the OpenSearch admin's; loads run as the indexer.
    client = _client(settings, "admin")
    client.indices.delete(index=f"{settings.index_prefix}*", expand_wildcards="all", ignore=[404])
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    # As `lantern index init` before a load: the indexer may write, not create indices.
    from lantern import indices

    indices.forget_ensured()
    for module in indices.discover().values():
        indices.ensure(client, settings, module)
    terms = sample_terms(parts[0][0], parts[0][1], min(ns[0], 5000), args.seed)
    queries = query_mix(terms, args.queries + args.warmup, args.seed)
    out: dict[str, Any] = {"note": ENTITY_NOTE, "steps": []}
    results["scale"] = out
    total = 0
    for (feed, side, n), cumulative in zip(parts, ns, strict=True):
        print(f"scale: loading {n:,} records ({feed.name}) -> {cumulative:,} in the index", flush=True)
        summary = run_child_load(args, settings.index_prefix, feed, side)
        total += summary["indexed"]
        alias = settings.index_name("records")
        st = index_stats(client, alias)
        lat = latency(client, alias, queries, args.warmup)
        step = {"n": cumulative, "load": summary, "index": st, "search": lat}
        out["steps"].append(step)
        print(
            f"scale: N={cumulative:,}: {summary['records_per_s']:,.0f} rec/s for this part, loader peak "
            f"RSS "
            f"{summary['peak_rss_mb']:.0f} MB, {st['bytes_per_record']:,.0f} B/record on disk, search "
            f"p50/p95/p99 {lat['p50_ms']}/{lat['p95_ms']}/{lat['p99_ms']} ms",
            flush=True,
        )
        save(args, results)
    return settings, queries


async def _user_loop(
    send: Callable[[Query], Any],
    queries: list[Query],
    seconds: float,
    seed: int,
    lat: list[float],
    errors: list[str],
) -> None:
    rng = random.Random(seed)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        q = rng.choice(queries)
        t = time.perf_counter()
        try:
            await send(q)
            lat.append((time.perf_counter() - t) * 1000)
        except Exception as exc:
            errors.append(type(exc).__name__ + ": " + str(exc)[:200])


def stage_loadtest(
    args: argparse.Namespace, results: dict[str, Any], settings: Settings, queries: list[Query]
) -> None:
    """Concurrent users against the built index; portal mode when the portal exists.

    Portal mode runs each count in ``--portals`` (default 1 and 2 ``lantern serve`` processes
    behind nginx on loopback, no sticky sessions), interleaved over ``--rounds``, and records
    the CPU seconds the portal processes and the OpenSearch node used during each run: the
    side that ran out of CPU is the bottleneck.
    """
    mode = "portal" if _portal_available() and not args.loadtest_direct else "opensearch"
    out: dict[str, Any] = {"users": args.users, "seconds": args.load_seconds, "mode": mode}
    if mode == "portal":
        counts = [int(x) for x in args.portals.split(",")]
        runs: list[dict[str, Any]] = []
        for r in range(args.rounds):
            for n in counts:
                run = asyncio.run(_loadtest_portal(args, settings, queries, n))
                run.update(portals=n, round=r + 1)
                runs.append(run)
                print(
                    f"loadtest: {n} portal(s) behind nginx, round {r + 1}: {run['throughput_per_s']:.1f} "
                    f"searches/s, p95 {run['p95_ms']} ms, errors {run['error_rate']:.2%}; CPU used: "
                    f"portals {run['portal_cpu_share']:.0%}, OpenSearch {run['node_cpu_share']:.0%} of "
                    f"{run['cores']} cores",
                    flush=True,
                )
        out["runs"] = runs
        best = {n: max(x["throughput_per_s"] for x in runs if x["portals"] == n) for n in counts}
        out["best_throughput_per_s"] = best
        if 1 in best and 2 in best and best[1]:
            ratio = best[2] / best[1]
            out["two_vs_one"] = round(ratio, 2)
            node_share = max(x["node_cpu_share"] for x in runs if x["portals"] == 2)
            saturated = node_share > 0.8 or max(x["machine_cpu_share"] for x in runs) > 0.9
            out["opensearch_saturated"] = saturated
            verdict = "meets" if ratio >= 1.7 else "MISSES"
            caveat = (
                "; the machine or OpenSearch was saturated: the target does not apply" if saturated else ""
            )
            print(f"loadtest: 2 portals / 1 portal = {ratio:.2f}x ({verdict} the >= 1.7x target{caveat})")
        results["loadtest"] = out
        save(args, results)
        return
    out["note"] = (
        "the portal app was not available: the users query OpenSearch directly with the "
        "portal's query mix (access filter included)"
    )
    out.update(asyncio.run(_loadtest_opensearch(args, settings, queries)))
    results["loadtest"] = out
    print(
        f"loadtest ({mode}): {out['requests']:,} requests in {args.load_seconds}s by {args.users} users: "
        f"{out['throughput_per_s']:.1f} req/s, error rate {out['error_rate']:.2%}, "
        f"p50/p95/p99 {out['p50_ms']}/{out['p95_ms']}/{out['p99_ms']} ms",
        flush=True,
    )
    save(args, results)


def _portal_available() -> bool:
    try:
        import portal.app  # noqa: F401
    except Exception:
        return False
    return True


def _summarise_load(lat: list[float], errors: list[str], seconds: float) -> dict[str, Any]:
    n = len(lat) + len(errors)
    return {
        "requests": n,
        "errors": len(errors),
        "error_rate": len(errors) / n if n else 0.0,
        "throughput_per_s": round(len(lat) / seconds, 1),
        "p50_ms": round(pct(lat, 50), 1),
        "p95_ms": round(pct(lat, 95), 1),
        "p99_ms": round(pct(lat, 99), 1),
        "error_samples": sorted(set(errors))[:5],
    }


async def _loadtest_opensearch(
    args: argparse.Namespace, settings: Settings, queries: list[Query]
) -> dict[str, Any]:
    import httpx

    index = settings.index_name("records")
    lat: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=args.users)
    base_url = search_client.hosts(settings)[0]
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as http:

        async def send(q: Query) -> None:
            r = await http.post(f"/{index}/_search", json=q.body)
            r.raise_for_status()

        t = time.perf_counter()
        await asyncio.gather(
            *(_user_loop(send, queries, args.load_seconds, i, lat, errors) for i in range(args.users))
        )
        elapsed = time.perf_counter() - t
    return _summarise_load(lat, errors, elapsed)


def _cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of a process (Linux /proc), 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_cpu_seconds() -> float:
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(x) for i, x in enumerate(parts) if i not in (3, 4))  # all but idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


LANTERN = str(Path(sys.executable).parent / "lantern")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _loadtest_portal(
    args: argparse.Namespace, settings: Settings, queries: list[Query], portals: int = 1
) -> dict[str, Any]:
    """Start ``portals`` ``lantern serve`` processes behind nginx on loopback (one process
    straight, when nginx is not installed), sign each virtual user in, search through the page."""
    import string

    import httpx

    from lantern.search_client import make_client
    from lantern.users import UserStore, create_user

    client = make_client(settings, "admin")  # creates the bench users
    password = "bench load-test password, loopback only"
    users = [f"bench-load-{i:02d}" for i in range(args.users)]
    store = UserStore(client, settings)
    for username in users:
        if store.get(username) is None:
            create_user(
                client,
                settings,
                username,
                password,
                roles=["analyst"],
                units=["INTEL"],
                clearances=["intel", "intel_c"],
                display_name="Bench Analyst",
            )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANTERN_")}
    env.update(
        {
            "LANTERN_ENV": "test",
            "LANTERN_EMBEDDED_PORT": str(args.port),
            "LANTERN_EMBEDDED_TRANSPORT_PORT": str(args.port + 100),
            "LANTERN_EMBEDDED_HOME": str(settings.embedded_home),
            "LANTERN_INDEX_PREFIX": settings.index_prefix,
            "LANTERN_STATE_DIR": str(settings.state_dir),
            "LANTERN_AUDIT_HEAD_FILE": str(Path(args.workdir) / "audit-head.log"),
            # Counted in the shared ratelimits index as in production, but high enough that
            # the load test measures searches, not refusals (one account per virtual user).
            "LANTERN_RATE_LIMIT_SEARCH": "100000/hour",
        }
    )
    workdir = Path(args.workdir) / f"portals-{portals}"
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    ports = [args.portal_port + i for i in range(portals)]
    servers: list[subprocess.Popen[bytes]] = []
    logs = []
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    proxy: subprocess.Popen[bytes] | None = None
    for i, port in enumerate(ports):
        log = (workdir / f"serve-{i}.log").open("wb")
        logs.append(log)
        servers.append(
            subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "lantern"),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    base = f"http://127.0.0.1:{ports[0]}"
    try:
        for port in ports:
            await _wait_http(f"http://127.0.0.1:{port}/healthz", 90)
        if nginx is not None:
            listen = _free_port()
            template = (REPO / "deploy" / "nginx-lantern.conf.template").read_text()
            conf = string.Template(template).safe_substitute(
                PREFIX=str(workdir),
                LISTEN=str(listen),
                UPSTREAMS="\n".join(f"        server 127.0.0.1:{p};" for p in ports),
            )
            (workdir / "nginx.conf").write_text(conf)
            proxy = subprocess.Popen(
                [nginx, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{listen}"
            await _wait_http(base + "/healthz", 30)
        elif portals > 1:
            raise SystemExit("nginx is not installed (make system-deps): cannot put 2 portals behind a proxy")
        lat: list[float] = []
        errors: list[str] = []
        sessions = [await _portal_login(base, u, password) for u in users]

        async def run_user(i: int, http: httpx.AsyncClient) -> None:
            async def send(q: Query) -> None:
                r = await http.get("/search", params={"q": q.text, **(q.params or {})})
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}")

            await _user_loop(send, queries, args.load_seconds, i, lat, errors)

        node_pid = next((st.pid for st in embedded.status(settings) if st.alive), None)
        pids = [sv.pid for sv in servers]
        cpu0 = sum(_cpu_seconds(p) for p in pids), _cpu_seconds(node_pid), _machine_cpu_seconds()
        t = time.perf_counter()
        await asyncio.gather(*(run_user(i, s) for i, s in enumerate(sessions)))
        elapsed = time.perf_counter() - t
        cpu1 = sum(_cpu_seconds(p) for p in pids), _cpu_seconds(node_pid), _machine_cpu_seconds()
        for s in sessions:
            await s.aclose()
        cores = os.cpu_count() or 1
        out = _summarise_load(lat, errors, elapsed)
        out.update(
            cores=cores,
            proxy="nginx" if proxy is not None else "none",
            portal_cpu_share=(cpu1[0] - cpu0[0]) / (elapsed * cores),
            node_cpu_share=(cpu1[1] - cpu0[1]) / (elapsed * cores),
            machine_cpu_share=(cpu1[2] - cpu0[2]) / (elapsed * cores),
        )
        return out
    finally:
        for proc in [*servers, *([proxy] if proxy is not None else [])]:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


async def _wait_http(url: str, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(url)).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise SystemExit(f"lantern serve did not answer at {url}")


_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


async def _portal_login(base: str, username: str, password: str) -> Any:
    """Sign in through the real form and state a purpose; a failure stops the load test."""
    import httpx

    http = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=False)
    page = await http.get("/login")
    token = _CSRF.search(page.text)
    r = await http.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "next": "/",
            "csrf_token": token.group(1) if token else "",
        },
    )
    if r.status_code != 303:
        raise SystemExit(f"load-test login failed: HTTP {r.status_code}")
    page = await http.get("/purpose")
    token = _CSRF.search(page.text)
    r = await http.post(
        "/purpose",
        data={
            "code": "training",
            "reference": "",
            "next": "/",
            "csrf_token": token.group(1) if token else "",
        },
    )
    if r.status_code != 303:
        raise SystemExit(f"load-test purpose failed: HTTP {r.status_code}")
    return http


def stage_pipeline(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from demo.generator import iter_raw

    n = args.pipeline_n
    data = Path(args.workdir) / "data"
    data.mkdir(parents=True, exist_ok=True)
    feed = data / f"pipeline-{n}-{args.seed + 1}.ndjson"
    if not feed.exists():
        t = time.perf_counter()
        tmp = feed.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for rec in iter_raw(n, args.seed + 1):
                fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
        tmp.rename(feed)
        print(f"pipeline: generated {n:,} records in {time.perf_counter() - t:,.0f}s (not counted)")
    settings = bench_settings(args, "bench-pipe-")
    client = _client(settings, "admin")
    client.indices.delete(index=f"{settings.index_prefix}*", expand_wildcards="all", ignore=[404])
    shutil.rmtree(settings.state_dir, ignore_errors=True)
    print(
        f"pipeline: full load of {n:,} records (validation + spaCy NER on {settings.ner_processes} "
        f"process(es) + documents + bulk)",
        flush=True,
    )
    summary = run_child_load(args, settings.index_prefix, feed, None)
    secs = summary["seconds"]
    stages = summary["stage_seconds"]
    other = max(0.0, secs - sum(stages.values()))
    per_stage = {
        k: {"seconds": v, "records_per_s": round(summary["read"] / v, 1) if v else None}
        for k, v in {**stages, "read_parse_checkpoint_other": round(other, 2)}.items()
    }
    st = index_stats(client, settings.index_name("records"))
    results["pipeline"] = {
        "n": n,
        "ner_processes": settings.ner_processes,
        "load": summary,
        "per_stage": per_stage,
        "index": st,
    }
    print(
        f"pipeline: {summary['records_per_s']:,.1f} rec/s overall; per stage (rec/s if the stage ran "
        "alone): " + ", ".join(f"{k} {v['records_per_s']}" for k, v in per_stage.items()),
        flush=True,
    )
    save(args, results)


def save(args: argparse.Namespace, results: dict[str, Any]) -> None:
    path = Path(args.workdir) / "results.json"
    path.write_text(json.dumps(results, indent=2, default=str))


def machine() -> dict[str, Any]:
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        "?",
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(int(mem) / 1024 / 1024, 1),
        "python": sys.version.split()[0],
    }


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", nargs="?", default="run", choices=["run", "_load"])
    ap.add_argument("--scale", default="10000,100000,1000000", help="cumulative N values for the scale stage")
    ap.add_argument("--pipeline-n", type=int, default=100_000)
    ap.add_argument("--users", type=int, default=20)
    ap.add_argument("--load-seconds", type=float, default=120)
    ap.add_argument("--loadtest-direct", action="store_true", help="load-test OpenSearch, not the portal")
    ap.add_argument("--portal-port", type=int, default=8799, help="first portal process (others follow)")
    ap.add_argument("--portals", default="1,2", help="portal processes behind nginx, each a load-test run")
    ap.add_argument("--rounds", type=int, default=1, help="the --portals runs, interleaved, this many times")
    ap.add_argument("--queries", type=int, default=300, help="timed queries per N")
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--stages", default="scale,loadtest,pipeline")
    ap.add_argument("--port", type=int, default=9800, help="HTTP port of the private node (transport +100)")
    ap.add_argument("--heap", default="4g")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=500, help="bulk chunk size (records per batch)")
    ap.add_argument("--workdir", default=str(REPO / ".lantern" / "bench-scale"))
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--keep-node", action="store_true")
    ap.add_argument("--sample-every", type=int, default=10_000)
    # child-only
    ap.add_argument("--feed")
    ap.add_argument("--sidecar")
    ap.add_argument("--prefix")
    return ap.parse_args(list(argv) if argv is not None else None)


def main(argv: Iterable[str] | None = None) -> None:
    args = parse_args(argv)
    if args.mode == "_load":
        child_load(args)
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    stages = set(args.stages.split(","))
    node = bench_settings(args, "bench-")
    previous = Path(args.workdir) / "results.json"
    rerun = previous.exists() and "scale" not in stages
    results: dict[str, Any] = json.loads(previous.read_text()) if rerun else {}
    results.update(
        {
            "started": datetime.now(UTC).isoformat(),
            "machine": machine(),
            "node": {"heap": args.heap, "shards": args.shards, "replicas": 0, "port": args.port},
            "args": vars(args),
        }
    )
    print(
        f"bench-scale on {results['machine']}; private node on :{args.port} with {args.heap} heap", flush=True
    )
    embedded.start(node, nodes=1)
    try:
        settings, queries = None, None
        if "scale" in stages:
            settings, queries = stage_scale(args, results)
        if "loadtest" in stages:
            if settings is None or queries is None:
                ns = sorted(int(x) for x in args.scale.split(","))
                parts = write_parts(Path(args.workdir), ns, args.seed)
                settings = bench_settings(args, "bench-scale-")
                queries = query_mix(
                    sample_terms(parts[0][0], None, 5000, args.seed), args.queries + args.warmup, args.seed
                )
            stage_loadtest(args, results, settings, queries)
        if "pipeline" in stages:
            stage_pipeline(args, results)
    finally:
        results["finished"] = datetime.now(UTC).isoformat()
        save(args, results)
        if not args.keep_node:
            embedded.stop(node)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
