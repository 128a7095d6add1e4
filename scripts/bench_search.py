"""Search latency: the portal's search page against the same raw OpenSearch queries.

    python scripts/bench_search.py [--records 100000] [--queries 40] [--prefix lantern-bench-]

With ``--records`` demo records in ``<prefix>records`` (loaded through the indexer if the
index is missing or smaller), runs a mix of query kinds (name, misspelt name, VRM, phone,
free text with facets) and prints p50/p95/p99 for:

* portal: the whole ``GET /search`` page in-process (session check, parsing, secured query,
  facets, rendering, the synchronous audit write), timed around the request;
* raw: the identical secured request body sent straight to OpenSearch (client wall time,
  and the engine's own ``took``).

Target: portal p95 <= 2 x raw p95 + 30 ms. A script, not a test: it prints figures.

Audit and rate limiting are on as in production: every search passes the per-user rate limiter
(its limit set high enough that the benchmark is never refused: the check is what is timed) and
writes its audit event and its per-record disclosures. The audit write cost per action (the
hash-chained event, anomaly flags and disclosure documents, i.e. all of ``AuditLog.record``) is
printed as p50/p95 for search, record views (with their linked records), an export's events and
manifest, and an inline batch search.
"""

from __future__ import annotations

import argparse
import random
import statistics
import string
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lantern.clock import today_utc
from lantern.principal import Principal
from lantern.records import AnyRecord, parse_record
from lantern.search_client import make_client
from lantern.settings import Settings, get_settings
from mappings import fields as F
from search import builders as B
from search.gateway import records_alias, secure_body
from search.parser import parse

BENCH_USER = "bench-analyst"
BENCH_PASSWORD = "bench password for the search benchmark"


def percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3
    qs = statistics.quantiles(values, n=100, method="inclusive")
    return qs[49], qs[94], qs[98]


def ensure_records(settings: Settings, wanted: int, ner: bool) -> int:
    from demo.generator import iter_raw
    from indexer.pipeline import index_records

    client = make_client(settings, "ingest")
    alias = records_alias(settings)
    have = 0
    if client.indices.exists(index=alias):
        have = int(client.count(index=alias)["count"])
    if have >= wanted:
        return have
    ner_state = "on" if ner else "off"
    print(
        f"loading {wanted:,} demo records into {alias} (have {have:,}; entity extraction {ner_state})",
        flush=True,
    )
    start = time.perf_counter()

    def records() -> Iterator[AnyRecord]:
        for n, raw in enumerate(iter_raw(wanted, 42), start=1):
            if n % 10_000 == 0:
                print(f"  {n:,} records ({n / (time.perf_counter() - start):,.0f}/s)", flush=True)
            yield parse_record(raw)

    result = index_records(records(), settings, client, extract_entities=ner, refresh=True)
    print(f"loaded in {time.perf_counter() - start:,.0f}s: {result}", flush=True)
    return int(client.count(index=alias)["count"])


def misspell(name: str, rng: random.Random) -> str:
    words = name.split()
    i = max(range(len(words)), key=lambda k: len(words[k]))
    w = words[i]
    if len(w) > 3:
        j = rng.randrange(1, len(w) - 1)
        op = rng.choice(("drop", "swap", "sub"))
        if op == "drop":
            w = w[:j] + w[j + 1 :]
        elif op == "swap":
            w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
        else:
            w = w[:j] + rng.choice("aeiouy") + w[j + 1 :]
    words[i] = w
    return " ".join(words)


def phone_variant(canonical: str, rng: random.Random) -> str:
    national = "0" + canonical[3:] if canonical.startswith("+44") else canonical
    return rng.choice([national, f"{national[:5]} {national[5:]}", f"+44 {national[1:5]} {national[5:]}"])


Queries = dict[str, list[tuple[str, dict[str, list[str]]]]]


def sample_queries(settings: Settings, n: int, seed: int) -> Queries:
    client = make_client(settings, "serving")
    rng = random.Random(seed)
    body = {
        "size": n * 6,
        "query": {"function_score": {"random_score": {"seed": seed, "field": "_seq_no"}}},
        "_source": [F.PEOPLE + "." + F.P_NAME, F.PEOPLE + "." + F.P_ROLE, F.ENTITIES, F.OFFENCE_TEXT],
    }
    hits = client.search(index=records_alias(settings), body=body)["hits"]["hits"]
    names, vrms, phones, words = [], [], [], []
    for h in hits:
        src = h["_source"]
        for p in src.get(F.PEOPLE) or []:
            if p.get(F.P_ROLE) != "officer" and p.get(F.P_NAME):
                names.append(p[F.P_NAME])
        ents = src.get(F.ENTITIES) or {}
        vrms += ents.get("vrm", [])
        phones += ents.get("phone", [])
        for text in src.get(F.OFFENCE_TEXT) or []:
            words += [w.strip(string.punctuation).lower() for w in text.split() if len(w) > 4]
    rng.shuffle(names)
    out: Queries = {
        "name": [(x, {}) for x in names[:n]],
        "misspelt name": [(misspell(x, rng), {}) for x in names[n : 2 * n]],
        "VRM": [
            (v.lower() if rng.random() < 0.5 else f"{v[:4]} {v[4:]}", {})
            for v in rng.sample(vrms, min(n, len(vrms)))
        ],
        "phone": [(phone_variant(p, rng), {}) for p in rng.sample(phones, min(n, len(phones)))],
        "text + facets": [
            (" ".join(rng.sample(words, 2)), {"type": [rng.choice(["crime", "custody", "case", "intel"])]})
            for _ in range(n)
        ],
    }
    return out


def portal_client(settings: Settings) -> Any:
    from fastapi.testclient import TestClient

    from lantern.users import UserStore, create_user
    from portal.app import create_app

    ingest = make_client(settings, "admin")  # user administration is the admin's
    if UserStore(ingest, settings).get(BENCH_USER) is None:
        create_user(
            ingest,
            settings,
            BENCH_USER,
            BENCH_PASSWORD,
            roles=["analyst"],
            units=["INTEL"],
            clearances=["intel", "intel_c"],
            display_name="Bench Analyst",
        )
    app = create_app(settings)
    tc = TestClient(app, base_url="https://testserver", follow_redirects=False)
    tc.__enter__()
    import re

    def token(html: str) -> str:
        m = re.search(r'name="csrf_token"\s+value="([^"]+)"', html)
        assert m, "no csrf token"
        return m.group(1)

    page = tc.get("/login")
    res = tc.post(
        "/login",
        data={
            "username": BENCH_USER,
            "password": BENCH_PASSWORD,
            "csrf_token": token(page.text),
            "next": "/",
        },
    )
    assert res.status_code == 303, f"bench login failed: {res.status_code}"
    page = tc.get("/purpose")
    res = tc.post(
        "/purpose", data={"code": "training", "reference": "", "csrf_token": token(page.text), "next": "/"}
    )
    assert res.status_code == 303, f"bench purpose failed: {res.status_code} {res.text[:200]}"
    return tc


def time_audit_writes(tc: Any) -> dict[str, list[tuple[float, int]]]:
    """Wrap the app's AuditLog.record so each write is timed, per action."""
    audit = tc.app.state.security.audit
    inner = audit.record
    out: dict[str, list[tuple[float, int]]] = {}

    def record(request: Any, action: str, **kw: Any) -> dict[str, Any]:
        t = time.perf_counter()
        ev: dict[str, Any] = inner(request, action, **kw)
        ms = (time.perf_counter() - t) * 1000
        out.setdefault(action, []).append((ms, len(ev.get("shown_ids") or [])))
        return ev

    audit.record = record
    return out


def bulk_actions(tc: Any, qs: list[str]) -> None:
    """Record views (with linked records), exports and an inline batch, for the audit figures."""
    import re

    page = tc.get("/")
    token = re.search(r'name="csrf_token"\s+value="([^"]+)"', page.text)
    assert token, "no csrf token"
    ids: list[str] = []
    for q in qs[:30]:
        ids += re.findall(r'href="/records/([^"?#]+)"', tc.get("/search", params={"q": q}).text)[:2]
    for rid in ids[:60]:
        assert tc.get(f"/records/{rid}").status_code == 200
    for q in ("a", "the", "london")[:3]:
        res = tc.post("/export", data={"q": q, "csrf_token": token.group(1)})
        assert res.status_code == 200, res.text[:200]
    res = tc.post(
        "/batch", data={"text": "\n".join(qs[:50]), "format": "lines", "csrf_token": token.group(1)}
    )
    assert res.status_code == 200, res.text[:200]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t) * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=40, help="queries per kind")
    ap.add_argument("--prefix", default="lantern-bench-")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-ner", action="store_true", help="load without entity extraction (faster)")
    args = ap.parse_args()

    base = get_settings()
    settings = base.model_copy(
        update={
            "index_prefix": args.prefix,
            "state_dir": Path(base.state_dir) / "bench-search",
            "audit_head_file": Path(base.state_dir) / "bench-search" / "audit-head.log",
            "rate_limits_enabled": True,
            "rate_limit_search": "1000000/minute",
            "rate_limit_record": "1000000/minute",
            "rate_limit_export": "1000000/minute",
            "rate_limit_batch": "1000000/minute",
            "export_daily_rows": 10_000_000,
        }
    )
    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    total = ensure_records(settings, args.records, not args.no_ner)
    queries = sample_queries(settings, args.queries, args.seed)
    tc = portal_client(settings)
    audit_ms = time_audit_writes(tc)
    raw_client = make_client(settings, "serving")
    user = Principal(
        BENCH_USER,
        "Bench Analyst",
        frozenset({"analyst"}),
        frozenset({"INTEL"}),
        frozenset({"intel", "intel_c"}),
    )
    alias = records_alias(settings)

    # Warm both paths (caches, JIT, connection pools).
    for sample in queries.values():
        for q, facets in sample[:3]:
            tc.get("/search", params={"q": q, **facets})

    print(f"\n{total:,} records in {alias}; {args.queries} queries per kind\n")
    header = f"{'kind':<16}{'portal p50/p95/p99 ms':>26}{'raw p50/p95/p99 ms':>24}{'engine took p95':>17}"
    print(header)
    print("-" * len(header))
    all_portal: list[float] = []
    all_raw: list[float] = []
    for kind, items in queries.items():
        portal_ms: list[float] = []
        raw_ms: list[float] = []
        took: list[float] = []
        for q, facets in items:
            ms, res = timed(partial(tc.get, "/search", params={"q": q, **facets}))
            assert res.status_code == 200, (q, res.status_code)
            portal_ms.append(ms)
            req = B.SearchRequest(parse(q, today=today_utc()), facets=facets)
            body = secure_body(B.build_search(req), user)
            ms, resp = timed(partial(raw_client.search, index=alias, body=body))
            raw_ms.append(ms)
            took.append(float(resp["took"]))
        all_portal += portal_ms
        all_raw += raw_ms
        p, r, t = percentiles(portal_ms), percentiles(raw_ms), percentiles(took)
        print(
            f"{kind:<16}{p[0]:>10.1f}{p[1]:>8.1f}{p[2]:>8.1f}{r[0]:>10.1f}{r[1]:>7.1f}{r[2]:>7.1f}{t[1]:>17.1f}"
        )
    p, r = percentiles(all_portal), percentiles(all_raw)
    print("-" * len(header))
    print(f"{'all':<16}{p[0]:>10.1f}{p[1]:>8.1f}{p[2]:>8.1f}{r[0]:>10.1f}{r[1]:>7.1f}{r[2]:>7.1f}")
    target = 2 * r[1] + 30
    verdict = "meets" if p[1] <= target else "MISSES"
    print(f"\nportal p95 {p[1]:.1f} ms vs target 2 x raw p95 + 30 = {target:.1f} ms: {verdict} the target")
    print("(rate limiting on: every search above passed the per-user limiter; audit and disclosures on)")
    bulk_actions(tc, [q for items in queries.values() for q, _ in items[:5]])
    print("\naudit write cost per action (AuditLog.record: chained event + flags + disclosures)")
    print(f"{'action':<26}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'ids/event p50':>15}")
    for action, rows in sorted(audit_ms.items()):
        costs = [m for m, _ in rows]
        ids = sorted(n for _, n in rows)
        a = percentiles(costs) if len(costs) > 1 else (costs[0], costs[0], costs[0])
        print(f"{action:<26}{len(costs):>6}{a[0]:>10.1f}{a[1]:>10.1f}{ids[len(ids) // 2]:>15}")
    tc.__exit__(None, None, None)


if __name__ == "__main__":
    main()
