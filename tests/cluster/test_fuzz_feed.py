"""10,000 fuzzed rows through the real loader: no crash, every bad row in the rejects file
with a reason, every good row indexed (and nothing else).

A seeded mutator over valid demo rows decides, row by row, whether to keep the row valid
(possibly with harmless oddities: CRLF, BOM on line 1, escaped control characters, long but
legal text, exotic Unicode) or to break it in one of many ways (wrong types, missing fields,
huge strings, invalid UTF-8, raw control characters, deeply nested JSON, a BOM mid-file,
truncated JSON, non-objects, an oversized row). Runs on the shared test node.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch
from rich.console import Console

from demo.generator import iter_raw
from indexer.loader import load_files
from lantern import indices
from lantern.records import record_id
from lantern.settings import Settings
from mappings import records as records_index
from tests.cluster.feeds import all_ids, reject_lines

pytestmark = pytest.mark.cluster

ROWS = 10_000
SEED = 20240607
MAX_ROW_BYTES = 2 * 1024 * 1024  # the oversized row stays cheap to write
QUIET = Console(file=open("/dev/null", "w"), force_terminal=False)  # noqa: SIM115

GOOD_KINDS = ("plain", "crlf", "escaped_controls", "unicode", "long_text_ok", "padded")
BAD_KINDS = (
    "missing_required",
    "wrong_type",
    "null_required",
    "blank_required",
    "bad_date",
    "unknown_field",
    "huge_text",
    "long_title",
    "too_many_phones",
    "invalid_utf8",
    "raw_control",
    "deep_json",
    "nested_value",
    "bom_mid_file",
    "truncated",
    "not_object",
    "bad_record_type",
)
# The reason written for each kind of breakage must say what is wrong.
REASON = {
    "missing_required": "required field is missing",
    "wrong_type": "",
    "null_required": "",
    "blank_required": "",
    "bad_date": "",
    "unknown_field": "unknown field",
    "huge_text": "",
    "long_title": "title",
    "too_many_phones": "phones",
    "invalid_utf8": "not valid UTF-8",
    "raw_control": "not valid JSON",
    "deep_json": "not valid JSON",
    "nested_value": "",
    "bom_mid_file": "not valid JSON",
    "truncated": "not valid JSON",
    "not_object": "must be a JSON object",
    "bad_record_type": "record_type",
    "oversized": "byte limit",
}


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _mutate_good(kind: str, raw: dict[str, Any], rng: random.Random) -> bytes:
    if kind == "escaped_controls":
        raw["summary"] = (raw.get("summary") or "Note") + " \x00\x07\x1b\x7f\u202e\ufeff\u2028 end"
    elif kind == "unicode":
        raw["title"] = raw["title"][:200] + " — Zoë Ó Briain 👮🏽‍♀️ مرحبا e\u0301"
    elif kind == "long_text_ok":
        raw["summary"] = "lorem ipsum dolor " * rng.randint(1000, 5000)  # <= 90,000 characters
    elif kind == "padded":
        raw["title"] = "   " + raw["title"] + "\t  "
    line = _dump(raw)
    return line + (b"\r\n" if kind == "crlf" else b"\n")


def _mutate_bad(kind: str, raw: dict[str, Any], rng: random.Random) -> bytes:
    if kind == "missing_required":
        del raw[rng.choice(["title", "source_id", "created_at", "source_system"])]
    elif kind == "wrong_type":
        field, value = rng.choice(
            [
                ("title", 12345),
                ("title", ["a", "b"]),
                ("people", "Jane Doe"),
                ("created_at", True),
                ("vehicles", {"vrm": "AB12CDE"}),
                ("source_id", {"id": 1}),
            ]
        )
        raw[field] = value
    elif kind == "null_required":
        raw[rng.choice(["title", "source_id", "created_at"])] = None
    elif kind == "blank_required":
        raw["title"] = " \t "
    elif kind == "bad_date":
        raw["created_at"] = rng.choice(["2024-13-45T99:00:00Z", "yesterday", "31/02/2024", ""])
    elif kind == "unknown_field":
        raw[rng.choice(["shoe_size", "Title", "__proto__", "$where"])] = "x"
    elif kind == "huge_text":
        raw["summary"] = "A" * rng.randint(100_001, 300_000)
    elif kind == "long_title":
        raw["title"] = "T" * rng.randint(501, 5000)
    elif kind == "too_many_phones":
        raw["phones"] = [f"07700 900{n:03d}" for n in range(101)]
    elif kind == "invalid_utf8":
        line = _dump(raw)
        cut = line.index(b'"title"') + 10
        junk = rng.choice([b"\xff\xfe", b"\xc3\x28", b"\xe9", b"\xed\xa0\x80"])
        return line[:cut] + junk + line[cut:] + b"\n"
    elif kind == "raw_control":
        line = _dump(raw)
        cut = line.index(b'"title"') + 10
        return line[:cut] + bytes([rng.choice([0, 1, 7, 8, 11, 12, 27, 31])]) + line[cut:] + b"\n"
    elif kind == "deep_json":
        depth = rng.randint(5_000, 50_000)
        return b'{"record_type": "crime", "x": ' + b"[" * depth + b"]" * depth + b"}\n"
    elif kind == "nested_value":
        nested: Any = "deep"
        for _ in range(rng.randint(20, 200)):
            nested = {"a": nested}
        raw[rng.choice(["title", "borough", "summary"])] = nested
    elif kind == "bom_mid_file":
        return b"\xef\xbb\xbf" + _dump(raw) + b"\n"
    elif kind == "truncated":
        line = _dump(raw)
        return line[: rng.randint(1, len(line) - 2)] + b"\n"
    elif kind == "not_object":
        return rng.choice([b"[1, 2, 3]", b"42", b'"a string"', b"null", b"true"]) + b"\n"
    elif kind == "bad_record_type":
        raw["record_type"] = rng.choice(["parking", "CRIME ", 3, ""])
    return _dump(raw) + b"\n"


def write_fuzzed(path: Path) -> tuple[set[str], dict[int, str], Counter[str]]:
    """The feed; returns (ids of the good rows, bad line -> kind, kinds used)."""
    rng = random.Random(SEED)
    good: set[str] = set()
    bad: dict[int, str] = {}
    used: Counter[str] = Counter()
    with path.open("wb") as fh:
        for line, raw in enumerate(iter_raw(ROWS, SEED), start=1):
            raw["source_id"] = f"{raw['source_id']}-F{line}"  # every good row is its own record
            if line == 1:
                kind, data = "bom_first_line", b"\xef\xbb\xbf" + _dump(raw) + b"\n"
            elif line == ROWS // 2:
                kind, data = "oversized", b'{"title": "' + b"x" * (MAX_ROW_BYTES + 10) + b'"}\n'
            elif rng.random() < 0.5:
                kind = rng.choice(GOOD_KINDS)
                data = _mutate_good(kind, raw, rng)
            else:
                kind = rng.choice(BAD_KINDS)
                data = _mutate_bad(kind, raw, rng)
            used[kind] += 1
            if kind in GOOD_KINDS or kind == "bom_first_line":
                good.add(record_id(raw["source_system"], raw["source_id"].strip()))
            else:
                bad[line] = kind
            fh.write(data)
    return good, bad, used


def test_ten_thousand_fuzzed_rows(client: OpenSearch, settings: Settings, tmp_path: Path) -> None:
    fsettings = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}fuzz-",
            "state_dir": tmp_path / "state",
            "bulk_chunk_size": 500,
        }
    )
    feed = tmp_path / "fuzzed.ndjson"
    good, bad, used = write_fuzzed(feed)
    assert set(used) >= set(GOOD_KINDS) | set(BAD_KINDS)  # the mutator reached every kind
    assert len(good) + len(bad) == ROWS

    rejects = tmp_path / "rejects.ndjson"
    report = load_files(
        [feed],
        fsettings,
        client,
        extract_entities=False,
        rejects=rejects,
        console=QUIET,
        max_row_bytes=MAX_ROW_BYTES,
    )
    r = report.result
    assert not report.file_errors
    assert r.read == ROWS
    assert r.failed == 0, [p.errors for p in r.problems if p.kind == "failed"][:3]
    assert r.rejected == len(bad)
    assert r.indexed == len(good)

    written = reject_lines(rejects)
    assert set(written) == set(bad), (
        f"missing from rejects: {sorted(set(bad) - set(written))[:10]}, "
        f"rejected but good: {sorted(set(written) - set(bad))[:10]}"
    )
    for line, errors in written.items():
        assert errors and all(e.get("loc") and e.get("msg") for e in errors), (line, errors)
        reason = " | ".join(f"{e['loc']}: {e['msg']}" for e in errors)
        assert REASON[bad[line]] in reason, (bad[line], reason)
        assert "Traceback" not in reason

    physical = indices.current_index(client, fsettings, records_index)
    assert physical is not None
    client.indices.refresh(index=physical)
    ids = all_ids(client, physical)
    assert len(ids) == len(set(ids)) == len(good)
    assert set(ids) == good
