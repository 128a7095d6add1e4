"""``lantern index load --retry-rejects FILE``: the rejects file as a work queue.

Every row a load rejected (or the engine refused) is in a rejects file with its source,
line, errors and the row as read. After the cause is fixed (the force profile extended, a
CSV mapping corrected, or the row itself edited in the rejects file), this re-reads each
rejected row, validates it again, loads those that now pass and reports, row by row,
which now pass and which still fail. Rows still failing go to a new rejects file, so the
queue shrinks run by run.

How a row is re-read: a JSON object (an NDJSON row, or a record the engine refused) is
validated as it stands; the text of a CSV row is parsed again with the CSV mapping of its
source file (and that file's header); any other text is parsed as JSON (a line that was
not valid JSON and has since been corrected in the rejects file).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from opensearchpy import OpenSearch
from rich.markup import escape

from indexer.csv_mapping import CsvMapping, MappingError, column_lookup, find_mapping
from indexer.pipeline import BatchIndexer, Entry, Hook, LoadResult, PeopleResolver, Problem
from indexer.validation import validate
from lantern.profile import ForceProfile, profile_for
from lantern.settings import Settings


@dataclass
class RetriedRow:
    source: str
    line: int
    status: str  # created | updated | unchanged | stale | deleted | rejected | failed
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status not in ("rejected", "failed")


@dataclass
class RetryReport:
    rows: list[RetriedRow]
    result: LoadResult
    still_failing: Path | None

    @property
    def passed(self) -> int:
        return sum(1 for r in self.rows if r.passed)


class RejectsFileError(ValueError):
    """The rejects file cannot be read at all."""


def _read_rejects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise RejectsFileError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with fh:
        for n, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                item = json.loads(text)
            except ValueError as exc:
                raise RejectsFileError(f"{path}:{n}: not a rejects-file line (invalid JSON: {exc})") from exc
            if not isinstance(item, dict) or "raw" not in item:
                raise RejectsFileError(f"{path}:{n}: not a rejects-file line (no 'raw' field)")
            yield n, item


class _CsvSources:
    """The mapping and header of each CSV source named in the rejects file (read once)."""

    def __init__(self, explicit: CsvMapping | None) -> None:
        self.explicit = explicit
        self.cache: dict[str, tuple[CsvMapping, list[str]] | str] = {}

    def get(self, source: str) -> tuple[CsvMapping, list[str]] | str:
        if source not in self.cache:
            self.cache[source] = self._load(Path(source))
        return self.cache[source]

    def _load(self, path: Path) -> tuple[CsvMapping, list[str]] | str:
        try:
            mapping = self.explicit
            if mapping is None:
                found = find_mapping(path, None)
                if found is None:
                    return f"no column mapping for {path} (pass --mapping FILE)"
                mapping = CsvMapping.load(found)
            with path.open(encoding=mapping.encoding, newline="") as fh:
                header = next(csv.reader(fh, delimiter=mapping.delimiter), None)
        except MappingError as exc:
            return str(exc)
        except (OSError, UnicodeDecodeError) as exc:
            return f"cannot read the header of {path}: {exc}"
        if header is None:
            return f"{path} is empty (no header row)"
        return mapping, [h.strip().removeprefix("\ufeff") for h in header]


def _reread(
    item: dict[str, Any], csv_sources: _CsvSources
) -> tuple[dict[str, Any] | None, Any, list[dict[str, Any]]]:
    """(data, column_for, errors) for one rejects-file item."""
    raw = item.get("raw")
    source = str(item.get("source", ""))
    if isinstance(raw, dict):
        return raw, None, []
    if not isinstance(raw, str):
        return None, None, [{"loc": "(row)", "msg": f"the rejected row is not a record: {raw!r}"}]
    if raw.endswith("truncated)") or raw.startswith("(row"):
        return None, None, [{"loc": "(row)", "msg": "the row was too long to keep; reload it from its file"}]
    if source.lower().endswith(".csv"):
        found = csv_sources.get(source)
        if isinstance(found, str):
            return None, None, [{"loc": "(row)", "msg": found}]
        mapping, header = found
        try:
            cells = next(csv.reader([raw], delimiter=mapping.delimiter))
        except (csv.Error, StopIteration) as exc:
            return None, None, [{"loc": "(row)", "msg": f"not valid CSV: {exc}"}]
        if len(cells) != len(header):
            return (
                None,
                None,
                [
                    {
                        "loc": "(row)",
                        "msg": f"row has {len(cells)} values but the header has {len(header)} columns",
                    }
                ],
            )
        data, locs, errors = mapping.row_to_record(dict(zip(header, cells, strict=True)))
        return (None if errors else data), column_lookup(locs, mapping), errors
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return None, None, [{"loc": "(row)", "msg": f"not valid JSON: {exc}"}]
    if not isinstance(value, dict):
        return None, None, [{"loc": "(row)", "msg": "each line must be a JSON object"}]
    return value, None, []


def retry_rejects(
    rejects_file: Path,
    settings: Settings,
    client: OpenSearch,
    *,
    mapping: Path | None = None,
    out: Path | None = None,
    extract_entities: bool = True,
    hooks: tuple[Hook, ...] | list[Hook] = (),
    profile: ForceProfile | None = None,
    people_resolver: PeopleResolver | None = None,
) -> RetryReport:
    profile = profile or profile_for(settings.force_profile)
    csv_sources = _CsvSources(CsvMapping.load(mapping) if mapping is not None else None)
    indexer = BatchIndexer(
        settings,
        client,
        extract_entities=extract_entities,
        hooks=hooks,
        profile=profile,
        people_resolver=people_resolver,
    )
    rows: list[RetriedRow] = []
    failing: list[Problem] = []
    total = LoadResult()
    batch: list[tuple[RetriedRow, Entry, dict[str, Any]]] = []

    def flush() -> None:
        if not batch:
            return
        outcome = indexer.run([e for _, e, _ in batch])
        total.add(outcome.result)
        for (row, _entry, item), status, errors in zip(batch, outcome.statuses, outcome.errors, strict=True):
            row.status, row.errors = status, errors
            if status == "failed":
                failing.append(Problem("failed", row.source, row.line, errors, raw=item.get("raw")))
        batch.clear()

    for _n, item in _read_rejects(rejects_file):
        source, line = str(item.get("source", "")), int(item.get("line", 0) or 0)
        total.read += 1
        row = RetriedRow(source, line, "rejected")
        rows.append(row)
        data, column_for, errors = _reread(item, csv_sources)
        record = None
        if data is not None:
            record, errors = validate(data, column_for, profile)
        if record is None:
            row.errors = errors
            total.rejected += 1
            failing.append(Problem("rejected", source, line, errors, raw=item.get("raw")))
            continue
        batch.append((row, Entry(record, source, line, force=True), item))
        if len(batch) >= settings.bulk_chunk_size:
            flush()
    flush()
    client.indices.refresh(index=indexer.index)

    still: Path | None = None
    if failing:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        still = out or rejects_file.with_name(f"{rejects_file.stem}.retry-{stamp}.ndjson")
        with still.open("w", encoding="utf-8") as fh:
            for p in failing:
                fh.write(json.dumps(p.as_json(), ensure_ascii=False, default=str) + "\n")
    total.problems = failing[:1000]
    return RetryReport(rows, total, still)


def print_retry_report(report: RetryReport, console: Any) -> None:
    total = len(report.rows)
    console.print(f"{report.passed:,} of {total:,} rejected row(s) now pass", highlight=False)
    for row in report.rows:
        where = escape(f"{row.source}:{row.line}")
        if row.passed:
            console.print(f"  [green]pass[/green] {where}: {row.status}", highlight=False)
        else:
            first = row.errors[0] if row.errors else {"loc": "", "msg": ""}
            detail = escape(f"{first.get('loc')}: {first.get('msg')}")
            console.print(f"  [red]still {row.status}[/red] {where}: {detail}", highlight=False)
    if report.still_failing is not None:
        console.print(
            f"rows that still fail written to {report.still_failing}", highlight=False, markup=False
        )
