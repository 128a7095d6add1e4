"""Versioned indices behind aliases: ensure, migrate (no downtime, nothing lost), rebuild."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from indexer.loader import load_files
from lantern import indices
from lantern.records import parse_record
from lantern.settings import Settings
from mappings import fields as F
from mappings import records as records_index
from tests.indexer.conftest import count, crime, write_ndjson


def _aliases(client: OpenSearch, settings: Settings) -> dict[str, Any]:
    return client.indices.get_alias(index=f"{settings.index_prefix}records*")


def test_ensure_is_idempotent_and_race_safe(client: OpenSearch, isettings: Settings) -> None:
    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(lambda _: indices.ensure(client, isettings, records_index), range(4)))
    assert len(set(names)) == 1
    assert names[0] == f"{isettings.index_prefix}records-v{records_index.VERSION}"
    got = _aliases(client, isettings)
    assert list(got) == [names[0]]
    assert got[names[0]]["aliases"] == {
        f"{isettings.index_prefix}records": {},
        f"{isettings.index_prefix}records-write": {"is_write_index": True},
    }
    assert indices.ensure(client, isettings, records_index) == names[0]


def test_migrate_moves_both_aliases_loses_nothing_and_keeps_serving(
    client: OpenSearch, isettings: Settings
) -> None:
    from indexer.pipeline import index_records

    n = 300
    index_records(
        [parse_record(crime(i)) for i in range(n)], isettings, client, extract_entities=False, refresh=True
    )
    old = indices.current_index(client, isettings, records_index)
    read_alias = isettings.index_name("records")
    write_alias = indices.writer_target(isettings, records_index)
    stop = threading.Event()
    problems: list[str] = []
    reads = {"n": 0}
    written: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                got = client.count(index=read_alias)["count"]
                reads["n"] += 1
                if got < n:
                    problems.append(f"read alias saw {got} documents")
            except Exception as exc:
                problems.append(f"read failed: {exc!r}")

    def writer() -> None:
        # Writes through the write alias while the migration runs must all survive.
        i = 0
        while not stop.is_set():
            doc_id = f"during-{i}"
            client.index(index=write_alias, id=doc_id, body={F.ID: doc_id, F.TITLE: "written during"})
            written.append(doc_id)
            i += 1
            time.sleep(0.01)

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    try:
        new = indices.migrate(client, isettings, records_index)
        time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join()

    assert problems == []
    assert reads["n"] > 0 and written
    assert new != old and new.startswith(f"{isettings.index_prefix}records-v{records_index.VERSION}-")
    got = _aliases(client, isettings)
    assert list(got) == [new]  # the old index is gone
    assert set(got[new]["aliases"]) == {read_alias, write_alias}
    assert count(client, isettings) == n + len(written)
    ids = {
        h["_id"]
        for h in client.search(
            index=read_alias, body={"size": 10_000, "_source": False, "query": {"prefix": {F.ID: "during-"}}}
        )["hits"]["hits"]
    }
    assert ids == set(written)
    # The rebuilt index has its serving settings back.
    s = client.indices.get_settings(index=new)[new]["settings"]["index"]
    assert s.get("refresh_interval") in (None, "1s")
    assert s["number_of_replicas"] == str(isettings.index_replicas)


def test_failed_migration_leaves_the_old_index_serving(
    client: OpenSearch, isettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.pipeline import index_records

    index_records(
        [parse_record(crime(i)) for i in range(5)], isettings, client, extract_entities=False, refresh=True
    )
    before = _aliases(client, isettings)

    def broken(*_a: Any, **_k: Any) -> Any:
        raise indices.MigrationError("reindex exploded")

    monkeypatch.setattr(indices, "_reindex", broken)
    with pytest.raises(indices.MigrationError, match="exploded"):
        indices.migrate(client, isettings, records_index)
    assert _aliases(client, isettings) == before  # the half-built index was deleted
    assert count(client, isettings) == 5


def test_rebuild_loads_a_new_index_and_swaps_to_it(
    client: OpenSearch, isettings: Settings, tmp_path: Path
) -> None:
    from rich.console import Console

    quiet = Console(file=open("/dev/null", "w"))  # noqa: SIM115
    first = write_ndjson(tmp_path / "a.ndjson", [crime(i) for i in range(8)])
    load_files([first], isettings, client, extract_entities=False, console=quiet)
    old = indices.current_index(client, isettings, records_index)
    # The rebuild holds only what this load brings: records gone from the feed disappear.
    second = write_ndjson(tmp_path / "b.ndjson", [crime(i) for i in range(3)])
    report = load_files([second], isettings, client, extract_entities=False, rebuild=True, console=quiet)
    new = indices.current_index(client, isettings, records_index)
    assert report.index == new != old
    assert not client.indices.exists(index=old)
    assert count(client, isettings) == 3
    assert indices.alias_targets(client, indices.writer_target(isettings, records_index)) == [new]


def test_only_the_rate_limit_windows_skip_the_per_request_fsync(
    client: OpenSearch, isettings: Settings
) -> None:
    """Rate-limit counters are ephemeral (``mappings/ratelimits.py``: a crash may forget the
    last seconds' hits); the audit chain and the disclosures must be fsynced per request."""
    from mappings import audit, disclosures, ratelimits

    for module, expected in ((ratelimits, "async"), (audit, "request"), (disclosures, "request")):
        physical = indices.ensure(client, isettings, module)
        got = client.indices.get_settings(index=physical, params={"include_defaults": "true"})[physical]
        durability = got["settings"]["index"].get("translog", {}).get("durability")
        durability = durability or got["defaults"]["index"]["translog"]["durability"]
        assert durability.lower() == expected, module.NAME
