"""Search latency per query kind: this code against the code before issue 11, side by side.

    python scripts/bench_search_compare.py [--base REF] [--records 20000] [--per-kind 40] [--rounds 2]

The base version runs from a git worktree of ``--base`` (default: the commit before issue 11's
first change, found from history), the current version from this tree. Each runs in its own
worker process (scripts/_bench_search_worker.py) that loads the same seeded demo records into
its own index prefix with its own indexer (entity extraction off: the timed paths are the
query paths), then answers timed searches through the portal's ``run_search``. The driver
sends every query to both, alternating which goes first, so neither gets the other's warm
caches. Prints p50/p95 per kind for both and the ratio; target: every kind's p95 <= 1.2 x
the base's. Exit 1 when a kind misses. A script, not a test.

Each version also times the search as its route runs it in production (``full``): the query
plus that version's per-user rate-limit check and its audit event (keyed MAC, fsynced anchor
and disclosures in this code; the unkeyed chain before). The verdict holds on both: the query
path alone, and the query with its audit write and rate limit. Both workers search the
secured node as the portal's least-privileged OpenSearch user (the base code predates the
users per component: the driver hands it the node's address, CA and users).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
WORKER = ROOT / "scripts" / "_bench_search_worker.py"
TARGET = 1.2


def base_commit() -> str:
    # The commit before issue 11's first change (the one that added the variant table).
    out = subprocess.run(
        [
            "git",
            "-C",
            str(ROOT),
            "log",
            "--diff-filter=A",
            "--format=%H",
            "--",
            "entity_extraction/data/name_variants.csv",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    if not out:
        raise SystemExit("cannot find issue 11's first commit; pass --base")
    return f"{out[-1]}^"


def worktree(ref: str) -> Path:
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", ref], check=True, capture_output=True, text=True
    ).stdout.strip()
    path = Path("/tmp") / f"lantern-bench-base-{sha[:12]}"
    if not path.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), sha], check=True)
    return path


def older_code_env() -> dict[str, str]:
    """The secured node for code that predates its settings: the URLs, the CA, the admin
    (setup) and the portal's user (searches), which the worker signs in as."""
    from lantern.search_client import hosts
    from lantern.settings import get_settings

    s = get_settings()
    admin, portal = s.opensearch_credentials("admin"), s.opensearch_credentials("portal")
    env = {"LANTERN_OPENSEARCH_HOSTS": ",".join(hosts(s))}
    if s.opensearch_ca is not None:
        env["LANTERN_OPENSEARCH_CA_FILE"] = str(s.opensearch_ca.absolute())
    if admin:
        env["LANTERN_OPENSEARCH_USERNAME"], env["LANTERN_OPENSEARCH_PASSWORD"] = admin
    if portal:
        env["LANTERN_BENCH_SEARCH_USERNAME"], env["LANTERN_BENCH_SEARCH_PASSWORD"] = portal
    return env


Timing = dict[str, float]


class Worker:
    def __init__(
        self, tree: Path, prefix: str, records: int, extra_env: dict[str, str] | None = None
    ) -> None:
        env = {**os.environ, **(extra_env or {}), "PYTHONPATH": str(tree)}
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), "--prefix", prefix, "--records", str(records)],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if not ready:
            raise SystemExit(f"worker for {tree} failed to start")

    def run(self, q: str, facets: dict[str, list[str]]) -> Timing:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"q": q, "facets": facets}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("a worker died (see its error above)")
        out = json.loads(line)
        return {k: float(out[k]) for k in ("ms", "full_ms", "audit_ms", "limit_ms")}

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


Item = tuple[str, dict[str, list[str]]]


def queries(records: int, per_kind: int, seed: int) -> dict[str, list[Item]]:
    """Query kinds from the seeded demo data (the same records both workers load)."""
    import phonenumbers

    from demo.generator import iter_raw
    from lantern.records import parse_record

    rng = random.Random(seed)
    names: list[tuple[str, str, str | None]] = []
    vrms: list[str] = []
    phones: list[str] = []
    for raw in iter_raw(min(records, 5000), 42):
        try:
            rec = parse_record(raw)
        except ValueError:
            continue
        for p in rec.all_people():
            if p.forename and p.role.value != "officer":
                names.append((p.forename, p.surname, p.dob.strftime("%d/%m/%Y") if p.dob else None))
            phones += list(p.phones)
        vrms += [v.vrm for v in rec.vehicles]
    rng.shuffle(names)
    name_dob: list[Item] = [(f"{f} {s} {d}", {}) for f, s, d in names[3 * per_kind :] if d]
    out: dict[str, list[Item]] = {
        "exact name": [(f"{f} {s}", {}) for f, s, _ in names[:per_kind]],
        "surname first": [(f"{s.upper()}, {f}", {}) for f, s, _ in names[per_kind : 2 * per_kind]],
        "misspelt name": [
            (f"{f} {s[:-2] + s[-1] + s[-2] if len(s) > 3 else s}", {})
            for f, s, _ in names[2 * per_kind : 3 * per_kind]
        ],
        "name + DOB": name_dob[:per_kind],
        "VRM": [(rng.choice([v, v.lower().replace(" ", "")]), {}) for v in rng.sample(vrms, per_kind)],
    }
    phone_qs: list[Item] = []
    for ph in rng.sample(phones, per_kind):
        num = phonenumbers.parse(ph, "GB")
        nat = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
        phone_qs.append((rng.choice([nat, nat.replace(" ", ""), f"+44 (0){nat[1:]}"]), {}))
    out["phone"] = phone_qs
    words = ["burglary", "robbery", "knife", "assault", "theft", "cannabis", "vehicle", "damage"]
    boroughs = ["Lambeth", "Southwark", "Hackney", "Newham", "Croydon", "Brent", "Ealing", "Camden"]
    out["text + year"] = [
        (f"{rng.choice(words)} {rng.choice(boroughs)} {rng.randint(2019, 2025)}", {}) for _ in range(per_kind)
    ]
    out["text + facets"] = [
        (rng.choice(words), {"type": [rng.choice(["crime", "custody", "case", "intel"])]})
        for _ in range(per_kind)
    ]
    return out


def p(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def load() -> str:
    return "load average " + " / ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict_table(title: str, times: dict[str, dict[str, list[Timing]]], key: str) -> bool:
    print(f"\n{title}")
    print(f"{'kind':<16}{'base p50':>10}{'base p95':>10}{'new p50':>10}{'new p95':>10}{'ratio':>8}  target")
    ok = True
    for kind, t in times.items():
        b = [x[key] for x in t["base"]]
        n = [x[key] for x in t["new"]]
        b50, b95, n50, n95 = p(b, 50), p(b, 95), p(n, 50), p(n, 95)
        ratio = n95 / b95
        met = ratio <= TARGET
        ok &= met
        print(
            f"{kind:<16}{b50:>10.1f}{b95:>10.1f}{n50:>10.1f}{n95:>10.1f}{ratio:>8.2f}"
            f"  p95 <= {TARGET} x base: {'ok' if met else 'MISSED'}"
        )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default=None, help="git ref of the code before (default: found from history)")
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--per-kind", type=int, default=40)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep-worktree", action="store_true", help="leave the base worktree for the next run")
    args = ap.parse_args()
    ref = args.base or base_commit()
    base_tree = worktree(ref)
    print(f"base {ref} in {base_tree}; current {ROOT}; {args.records:,} records each; {load()}", flush=True)
    base = Worker(base_tree, "lantern-benchcmp-base-", args.records, older_code_env())
    new = Worker(ROOT, "lantern-benchcmp-new-", args.records)
    kinds = queries(args.records, args.per_kind, args.seed)
    # warm-up, both sides
    for items in kinds.values():
        for q, f in items[:3]:
            base.run(q, f)
            new.run(q, f)
    times: dict[str, dict[str, list[Timing]]] = {k: {"base": [], "new": []} for k in kinds}
    n = 0
    for _ in range(args.rounds):
        for kind, items in kinds.items():
            for q, f in items:
                order: list[tuple[str, Worker]] = [("base", base), ("new", new)]
                if n % 2:
                    order.reverse()
                for side, w in order:
                    times[kind][side].append(w.run(q, f))
                n += 1
    base.close()
    new.close()
    if not args.keep_worktree:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
    query_ok = verdict_table("query path (parse + build + secured search), ms", times, "ms")
    full_ok = verdict_table(
        "as the search route runs it: rate-limit check + query + audit event (new: keyed MAC, "
        "fsynced anchor, disclosures; base: its unkeyed chain), ms",
        times,
        "full_ms",
    )
    print("\nwhere the new search's extra time goes, ms (p50 / p95 over every query)")
    for part, label in (("limit_ms", "rate-limit check"), ("audit_ms", "audit event")):
        for side in ("base", "new"):
            v = [x[part] for t in times.values() for x in t[side]]
            print(f"  {label:<18}{side:<6}{p(v, 50):>8.1f}{p(v, 95):>8.1f}")
    ok = query_ok and full_ok
    print(
        f"\nEvery kind's p95 <= {TARGET} x its p95 before issue 11, query path and with audit and rate "
        f"limits: {'MET' if ok else 'NOT MET'} ({load()})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
