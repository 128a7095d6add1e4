"""Feed readers: one ``Row`` at a time, never a whole file in memory.

A row that cannot even be read (invalid UTF-8, invalid JSON, not an object, too long, wrong
number of CSV cells) comes out with ``errors`` set and ``data`` None: it becomes a reject,
and the reader carries on with the next line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from indexer.csv_mapping import CsvMapping, MappingError, column_lookup

# A row longer than this is rejected unread (the model caps any one text at 100,000
# characters; a record with many long fields stays far below this).
MAX_ROW_BYTES = 16 * 1024 * 1024
RAW_PREVIEW_CHARS = 2000
_OVERSIZED = "\ue000lantern-oversized-row\ue000"


@dataclass
class Row:
    source: str
    line: int  # 1-based line where the row starts
    end_offset: int  # bytes of the file consumed once this row is read
    raw: Any  # parsed JSON object, or the row's text
    data: dict[str, Any] | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    column_for: Any = None  # path -> CSV column, for validation messages


class FileError(Exception):
    """The whole file cannot be loaded (unreadable, header does not match the mapping)."""


def _preview(text: str) -> str:
    if len(text) <= RAW_PREVIEW_CHARS:
        return text
    return text[:RAW_PREVIEW_CHARS] + f"... ({len(text)} characters, truncated)"


def _read_lines(fh: BinaryIO, max_bytes: int) -> Iterator[tuple[bytes | None, int, int]]:
    """(line bytes or None when over ``max_bytes``, size in bytes, offset after it)."""
    offset = 0
    while True:
        chunk = fh.readline(max_bytes + 1)
        if not chunk:
            return
        size = len(chunk)
        if size > max_bytes and not chunk.endswith(b"\n"):
            # Skip the rest of the monster line without keeping it.
            while True:
                more = fh.readline(1024 * 1024)
                size += len(more)
                if not more or more.endswith(b"\n"):
                    break
            offset += size
            yield None, size, offset
            continue
        offset += size
        yield chunk, size, offset


def read_ndjson(
    path: Path,
    *,
    record_type: str | None = None,
    skip_through: int = 0,
    max_row_bytes: int = MAX_ROW_BYTES,
) -> Iterator[Row]:
    source = str(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise FileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with fh:
        for number, (chunk, size, offset) in enumerate(_read_lines(fh, max_row_bytes), start=1):
            if number <= skip_through:
                continue
            if chunk is None:
                yield Row(
                    source,
                    number,
                    offset,
                    f"(row of {size} bytes not kept)",
                    errors=[
                        {
                            "loc": "(row)",
                            "msg": f"row is {size} bytes, over the {max_row_bytes}-byte limit",
                        }
                    ],
                )
                continue
            if number == 1 and chunk.startswith(b"\xef\xbb\xbf"):
                chunk = chunk[3:]
            if not chunk.strip():
                continue  # blank lines are not rows
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = (
                    f"not valid UTF-8: byte {exc.start + 1} of the line is "
                    f"{chunk[exc.start : exc.start + 1]!r}; re-export the file as UTF-8"
                )
                raw_text = _preview(chunk.decode("utf-8", "replace").rstrip("\r\n"))
                yield Row(source, number, offset, raw_text, errors=[{"loc": "(row)", "msg": msg}])
                continue
            try:
                value = json.loads(text)
            except (ValueError, RecursionError) as exc:
                where = f" (column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
                msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc) or type(exc).__name__
                yield Row(
                    source,
                    number,
                    offset,
                    _preview(text.rstrip("\r\n")),
                    errors=[{"loc": "(row)", "msg": f"not valid JSON: {msg}{where}"}],
                )
                continue
            if not isinstance(value, dict):
                msg = f"each line must be a JSON object, got a JSON {_json_kind(value)}"
                raw_value = value if len(text) <= RAW_PREVIEW_CHARS else _preview(text)
                yield Row(source, number, offset, raw_value, errors=[{"loc": "(row)", "msg": msg}])
                continue
            errors = []
            if record_type is not None:
                given = value.get("record_type")
                if given is None:
                    value["record_type"] = record_type
                elif given != record_type:
                    errors.append(
                        {
                            "loc": "record_type",
                            "msg": f"record_type {given!r} but this load is --type {record_type}",
                        }
                    )
            yield Row(source, number, offset, value, data=None if errors else value, errors=errors)


def _json_kind(value: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(
        type(value), "null"
    )


def read_csv(
    path: Path,
    mapping: CsvMapping,
    *,
    record_type: str | None = None,
    skip_through: int = 0,
    max_row_bytes: int = MAX_ROW_BYTES,
) -> Iterator[Row]:
    """Rows of a CSV export, converted through ``mapping``.

    Lines are decoded one by one (undecodable bytes kept as surrogates and reported per
    row), so a bad byte costs one row, not the file.
    """
    if record_type is not None and record_type != mapping.record_type:
        raise FileError(
            f"{path}: --type {record_type} but the mapping {mapping.source.name} is for {mapping.record_type}"
        )
    source = str(path)
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise FileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    consumed: list[str] = []
    state = {"line": 0, "offset": 0}

    def lines() -> Iterator[str]:
        for chunk, _size, offset in _read_lines(fh, max_row_bytes):
            state["line"] += 1
            state["offset"] = offset
            if chunk is None:
                text = _OVERSIZED + "\n"
            else:
                text = chunk.decode(mapping.encoding, "surrogateescape")
                if state["line"] == 1:
                    text = text.removeprefix("\ufeff")
            consumed.append(text)
            yield text

    csv.field_size_limit(max(max_row_bytes, 131072))
    with fh:
        reader = csv.reader(lines(), delimiter=mapping.delimiter)
        try:
            header = next(reader)
        except StopIteration:
            raise FileError(f"{path}: the file is empty (no header row)") from None
        except csv.Error as exc:
            raise FileError(f"{path}: cannot read the header row: {exc}") from exc
        header = [h.strip() for h in header]
        if any(_has_surrogates(h) for h in header):
            raise FileError(f"{path}: the header is not valid {mapping.encoding}")
        try:
            mapping.check_header(header)
        except MappingError as exc:
            raise FileError(f"{path}: {exc}") from exc
        consumed.clear()
        while True:
            start = state["line"] + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raw = _preview("".join(consumed).rstrip("\r\n"))
                consumed.clear()
                if start > skip_through:
                    yield Row(
                        source,
                        start,
                        state["offset"],
                        raw,
                        errors=[{"loc": "(row)", "msg": f"not valid CSV: {exc}"}],
                    )
                continue
            raw_text = "".join(consumed).rstrip("\r\n")
            consumed.clear()
            if start <= skip_through:
                continue
            if not cells or all(not c.strip() for c in cells):
                continue
            if cells == [_OVERSIZED]:
                yield Row(
                    source,
                    start,
                    state["offset"],
                    "(row not kept)",
                    errors=[{"loc": "(row)", "msg": f"row is over the {max_row_bytes}-byte limit"}],
                )
                continue
            raw = _preview(raw_text)
            bad = [
                header[i] if i < len(header) else f"#{i + 1}"
                for i, c in enumerate(cells)
                if _has_surrogates(c)
            ]
            if bad:
                yield Row(
                    source,
                    start,
                    state["offset"],
                    _preview(_clean(raw_text)),
                    errors=[
                        {
                            "loc": "(row)",
                            "msg": f"not valid {mapping.encoding} in column(s) {', '.join(bad)}",
                        }
                    ],
                )
                continue
            if len(cells) != len(header):
                if len(cells) > len(header):
                    detail = "unexpected extra values: " + ", ".join(repr(c) for c in cells[len(header) :])
                else:
                    detail = "missing the last column(s): " + ", ".join(header[len(cells) :])
                msg = f"row has {len(cells)} values but the header has {len(header)} columns ({detail})"
                yield Row(source, start, state["offset"], raw, errors=[{"loc": "(row)", "msg": msg}])
                continue
            row = dict(zip(header, cells, strict=True))
            data, locs, errors = mapping.row_to_record(row)
            yield Row(
                source,
                start,
                state["offset"],
                raw,
                data=None if errors else data,
                errors=errors,
                column_for=column_lookup(locs, mapping),
            )


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def _clean(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
