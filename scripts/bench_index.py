"""Indexing throughput: records/s for validation, bulk indexing, and end-to-end loads.

Generates ``--records`` demo records (default 20,000) with ``demo.generator.generate``,
then on the running node (``LANTERN_*`` settings; http://127.0.0.1:9200 by default) under a
throwaway index prefix:

1. validation alone: read every feed file and validate every row (no cluster);
2. bulk indexing alone: documents built beforehand (no NER), timed from first to last ack;
3. end to end without NER: ``lantern index load --no-entities`` in a child process;
4. end to end with NER: ``lantern index load`` in a child process (the real command);
5. reload of the same, unchanged files with NER on: every row is skipped on its content
   hash (target: at least 20x faster than step 4);
6. the ingest API against the file loader on the same rows, NER off, both with the alert
   hooks, interleaved (loader, API, loader, API) into fresh indices, best of each (target:
   API >= 0.8x the loader). The API runs as ``lantern ingest serve`` in a child process and
   is sent the rows as NDJSON batches of ``bulk_chunk_size`` lines, one source system per
   service account, ``--api-clients`` requests in flight;

and the peak RSS of the loader process (children's ``ru_maxrss``, so generation and the
pre-built documents of step 2 do not count). Indices and temporary files are removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from indexer.bulk import bulk_index  # noqa: E402
from indexer.csv_mapping import CsvMapping, find_mapping  # noqa: E402
from indexer.documents import build_document  # noqa: E402
from indexer.loader import expand_paths  # noqa: E402
from indexer.sources import read_csv, read_ndjson  # noqa: E402
from indexer.validation import validate  # noqa: E402
from lantern import indices, search_client  # noqa: E402
from lantern.search_client import make_client  # noqa: E402
from lantern.settings import Settings  # noqa: E402
from mappings import records as records_index  # noqa: E402


def rows_of(files: list[Path]):
    for f in files:
        if f.suffix == ".csv":
            mapping_path = find_mapping(f, None)
            if mapping_path is None:
                raise SystemExit(f"no mapping for {f}")
            yield from read_csv(f, CsvMapping.load(mapping_path))
        else:
            yield from read_ndjson(f)


def _hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def timed_child(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Run the loader; (seconds, its peak RSS in kB).

    The peak is VmHWM of the loader's own address space, polled until it exits:
    ``ru_maxrss`` of a child on Linux also counts the parent's pages copied at fork, which
    would charge this script's in-memory documents to the loader.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _hwm_kb(proc.pid) or 0)
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            out.seek(0)
            print(out.read().decode(errors="replace"), file=sys.stderr)
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return elapsed, peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", action="store_true", help="keep the indices and files")
    parser.add_argument("--skip-ner", action="store_true", help="skip the (slow) end-to-end NER load")
    parser.add_argument("--skip-api", action="store_true", help="skip the ingest API comparison")
    parser.add_argument("--api-clients", type=int, default=2, help="concurrent requests to the ingest API")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of loader vs API")
    args = parser.parse_args()

    base = Settings()
    prefix = f"lantern-bench-{uuid.uuid4().hex[:6]}-"
    work = Path(tempfile.mkdtemp(prefix="lantern-bench-"))
    settings = base.model_copy(update={"index_prefix": prefix, "state_dir": work / "state"})
    # Setup and cleanup as the OpenSearch admin; the measured bulk runs as the indexer.
    client = make_client(settings, "admin")
    ingest = make_client(settings, "ingest")
    info = client.info()
    node = search_client.hosts(settings)[0]
    print(
        f"node {node}: {info['version']['distribution']} {info['version']['number']}; "
        f"prefix {prefix}; ner_processes={settings.ner_processes}, "
        f"bulk_chunk_size={settings.bulk_chunk_size}"
    )
    try:
        try:
            from demo.generator import generate
        except ImportError:
            raise SystemExit("demo.generator.generate is not available yet") from None
        t = time.perf_counter()
        counts = generate(work / "feed", args.records, args.seed)
        print(f"generated {sum(counts.values()):,} records in {time.perf_counter() - t:.1f}s: {counts}")
        files = expand_paths([work / "feed"])
        feed_bytes = sum(f.stat().st_size for f in files)

        # 1. validation alone
        t = time.perf_counter()
        records = []
        for row in rows_of(files):
            if row.data is None:
                continue
            rec, _errors = validate(row.data, row.column_for)
            if rec is not None:
                records.append(rec)
        v_time = time.perf_counter() - t
        n = len(records)

        # 2. bulk alone (documents pre-built, no NER)
        t = time.perf_counter()
        docs = [build_document(r, None) for r in records]
        build_time = time.perf_counter() - t
        physical = indices.ensure(client, settings, records_index)
        target = indices.writer_target(settings, records_index)
        client.indices.put_settings(index=physical, body={"index": {"refresh_interval": "-1"}})
        t = time.perf_counter()
        ok = sum(1 for item in bulk_index(ingest, settings, target, docs) if item.ok)
        client.indices.put_settings(index=physical, body={"index": {"refresh_interval": None}})
        client.indices.refresh(index=physical)
        b_time = time.perf_counter() - t
        del docs, records
        client.indices.delete(index=f"{prefix}*")
        # The indexer may not create the stores its alert hooks read: `index init` does.
        indices.ensure_all(client, settings)

        env = {**os.environ, "LANTERN_INDEX_PREFIX": prefix, "LANTERN_STATE_DIR": str(work / "state")}
        lantern = str(Path(sys.executable).parent / "lantern")

        # 3. end to end without NER
        e_plain, rss_plain = timed_child(
            [lantern, "index", "load", str(work / "feed"), "--no-entities", "--restart"], env
        )
        e_ner, rss_ner = float("nan"), 0
        e_reload, rss_reload = float("nan"), 0
        if not args.skip_ner:
            client.indices.delete(index=f"{prefix}*")
            indices.ensure_all(client, settings)
            # 4. end to end with NER (the real `lantern index load`)
            e_ner, rss_ner = timed_child([lantern, "index", "load", str(work / "feed"), "--restart"], env)
            # 5. the same files again, nothing changed, NER on
            e_reload, rss_reload = timed_child(
                [lantern, "index", "load", str(work / "feed"), "--restart"], env
            )
        client.indices.refresh(index=settings.index_name("records"))
        indexed = client.count(index=settings.index_name("records"))["count"]

        print()
        print(f"records: {n:,} valid ({feed_bytes / 1e6:.1f} MB of feed files)")
        print(f"validation alone:        {n / v_time:10,.0f} records/s  ({v_time:.1f}s)")
        print(f"document build (no NER): {n / build_time:10,.0f} records/s  ({build_time:.1f}s)")
        print(f"bulk indexing alone:     {ok / b_time:10,.0f} records/s  ({b_time:.1f}s)")
        cli = "CLI incl. start-up"
        print(f"end to end, no NER:      {n / e_plain:10,.0f} records/s  ({e_plain:.1f}s, {cli})")
        print(f"end to end, with NER:    {n / e_ner:10,.0f} records/s  ({e_ner:.1f}s, {cli})")
        speedup = e_ner / e_reload if e_reload == e_reload and e_reload > 0 else float("nan")
        print(
            f"reload, unchanged, NER:  {n / e_reload:10,.0f} records/s  ({e_reload:.1f}s, {cli}); "
            f"{speedup:.1f}x faster than the first load with NER (target >= 20x)"
        )
        print(
            f"loader peak RSS:         {rss_plain / 1024:10,.0f} MB without NER, "
            f"{rss_ner / 1024:,.0f} MB with NER, {rss_reload / 1024:,.0f} MB reloading "
            "(VmHWM of the loader process)"
        )
        print(f"documents in the index after the last load: {indexed:,}")
        api = (
            None
            if args.skip_api
            else api_vs_loader(settings, client, files, work, args.rounds, args.api_clients)
        )
        print(
            json.dumps(
                {
                    "records": n,
                    "validate_rps": round(n / v_time),
                    "bulk_rps": round(ok / b_time),
                    "e2e_plain_rps": round(n / e_plain),
                    "e2e_ner_rps": None if args.skip_ner else round(n / e_ner),
                    "reload_unchanged_ner_rps": None if args.skip_ner else round(n / e_reload),
                    "reload_speedup": None if args.skip_ner else round(speedup, 1),
                    "peak_rss_mb_reload": round(rss_reload / 1024),
                    "api": api,
                    "peak_rss_mb_plain": round(rss_plain / 1024),
                    "peak_rss_mb_ner": round(rss_ner / 1024),
                }
            )
        )
    finally:
        if not args.keep:
            client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore=[404])
            shutil.rmtree(work, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_vs_loader(
    settings: Settings, client: Any, files: list[Path], work: Path, rounds: int, api_clients: int
) -> dict[str, Any]:
    """Step 6: the same NDJSON rows through the file loader and through the ingest API."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from alerts.percolation import alert_hooks
    from indexer.loader import load_files
    from indexer.service_accounts import ServiceAccounts

    # The same rows for both: every valid row as one NDJSON line (CSV rows converted).
    rows: list[dict[str, Any]] = []
    for row in rows_of(files):
        if row.data is not None and validate(row.data, row.column_for)[0] is not None:
            rows.append(row.data)
    feed = work / "api-rows.ndjson"
    with feed.open("w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    by_system: dict[str, list[bytes]] = {}
    for r in rows:
        by_system.setdefault(r["source_system"], []).append(json.dumps(r).encode() + b"\n")
    size = settings.bulk_chunk_size
    batches = [
        (system, b"".join(lines[i : i + size]))
        for system, lines in by_system.items()
        for i in range(0, len(lines), size)
    ]

    api_settings = settings.model_copy(update={"index_prefix": settings.index_prefix + "api-"})
    accounts = ServiceAccounts(client, api_settings)
    tokens = {
        system: accounts.create(system, ["custody", "crime", "case", "intel"])[1] for system in by_system
    }
    port = _free_port()
    env = {
        **os.environ,
        "LANTERN_INDEX_PREFIX": api_settings.index_prefix,
        "LANTERN_STATE_DIR": str(work / "state-api"),
        "LANTERN_INGEST_ENTITIES": "false",
        "LANTERN_INGEST_MAX_BYTES": str(64 * 1024 * 1024),
        "LANTERN_AUDIT_HEAD_FILE": str(work / "audit-head.log"),
    }
    lantern = str(Path(sys.executable).parent / "lantern")
    server = subprocess.Popen(
        [lantern, "ingest", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/ingest/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit("lantern ingest serve did not start")

        def post(http: httpx.Client, system: str, body: bytes) -> dict[str, int]:
            res = http.post(
                f"{base}/api/ingest",
                content=body,
                headers={"authorization": f"Bearer {tokens[system]}", "content-type": "application/x-ndjson"},
                timeout=600,
            )
            res.raise_for_status()
            counts: dict[str, int] = res.json()["counts"]
            return counts

        loader_times: list[float] = []
        api_times: list[float] = []
        for _round in range(rounds):
            client.indices.delete(index=f"{settings.index_prefix}records*", ignore=[404])
            client.indices.delete(index=f"{settings.index_prefix}tombstones*", ignore=[404])
            hooks = alert_hooks(settings, client)
            t = time.perf_counter()
            report = load_files([feed], settings, client, extract_entities=False, hooks=hooks, restart=True)
            for hook in hooks:
                hook.flush()
            loader_times.append(time.perf_counter() - t)
            assert report.result.indexed == len(rows), report.result

            client.indices.delete(index=f"{api_settings.index_prefix}records*", ignore=[404])
            client.indices.delete(index=f"{api_settings.index_prefix}tombstones*", ignore=[404])
            created = 0
            with httpx.Client() as http, ThreadPoolExecutor(api_clients) as pool:
                post(http, *batches[0])  # warm up (index creation), then time the rest + it again
                client.indices.delete(index=f"{api_settings.index_prefix}records*", ignore=[404])
                t = time.perf_counter()
                for counts in pool.map(lambda b: post(http, *b), batches):
                    created += counts.get("created", 0) + counts.get("updated", 0)
                api_times.append(time.perf_counter() - t)
            client.indices.refresh(index=api_settings.index_name("records"))
            assert created == len(rows), (created, len(rows))
    finally:
        server.terminate()
        server.wait(30)
        client.indices.delete(index=f"{api_settings.index_prefix}*", expand_wildcards="all", ignore=[404])
    n = len(rows)
    loader_rps, api_rps = n / min(loader_times), n / min(api_times)
    ratio = api_rps / loader_rps
    print(
        f"file loader, no NER:     {loader_rps:10,.0f} records/s  (in process, best of {rounds}: "
        f"{', '.join(f'{x:.1f}s' for x in loader_times)})"
    )
    print(
        f"ingest API, no NER:      {api_rps:10,.0f} records/s  ({api_clients} client(s), batches of {size}, "
        f"best of {rounds}: {', '.join(f'{x:.1f}s' for x in api_times)}); "
        f"{ratio:.2f}x the loader (target >= 0.8x)"
    )
    return {"loader_rps": round(loader_rps), "api_rps": round(api_rps), "ratio": round(ratio, 2)}


if __name__ == "__main__":
    main()
