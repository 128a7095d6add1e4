"""Feed files for the fault tests: demo rows with a known set of bad rows mixed in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.helpers import scan

from demo.generator import iter_raw
from lantern.records import record_id


def write_feed(
    path: Path, n: int, seed: int, bad_every: int = 40, id_suffix: str = ""
) -> tuple[set[str], set[int]]:
    """``n`` rows; every ``bad_every``-th is broken. Returns (ids of the valid rows, bad line numbers).

    Demo source ids repeat across seeds; ``id_suffix`` makes a feed's records distinct.
    """
    ids: set[str] = set()
    bad_lines: set[int] = set()
    with path.open("w", encoding="utf-8") as fh:
        for line, raw in enumerate(iter_raw(n, seed), start=1):
            raw["source_id"] += id_suffix
            if line % bad_every == 3:
                kind = (line // bad_every) % 3
                if kind == 0:
                    broken: Any = {k: v for k, v in raw.items() if k != "title"}
                    text = json.dumps(broken)
                elif kind == 1:
                    text = json.dumps({**raw, "record_type": "parking-ticket"})
                else:
                    text = json.dumps(raw)[:-7]  # truncated JSON
                bad_lines.add(line)
            else:
                text = json.dumps(raw, ensure_ascii=False)
                ids.add(record_id(raw["source_system"], raw["source_id"]))
            fh.write(text + "\n")
    return ids, bad_lines


def all_ids(client: OpenSearch, index: str, **params: Any) -> list[str]:
    """Every document id in ``index`` (duplicates kept, so a test can see them)."""
    return [
        h["_id"]
        for h in scan(
            client, index=index, query={"query": {"match_all": {}}}, _source=False, size=1000, **params
        )
    ]


def reject_lines(path: Path) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    if not path.exists():
        return out
    for text in path.read_text(encoding="utf-8").splitlines():
        item = json.loads(text)
        out.setdefault(int(item["line"]), []).extend(item["errors"])
    return out


def iter_sources(client: OpenSearch, index: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for h in scan(client, index=index, query={"query": {"match_all": {}}}, size=500):
        yield h["_id"], h["_source"]
