"""``lantern index load``: feed files -> validated records -> the records index.

Per file: rows are read one at a time, validated, grouped into batches of
``settings.bulk_chunk_size`` and indexed; once a batch is acknowledged, its rejects and
failures are written to the rejects file and the file's checkpoint moves to the batch's
last line. A crash or Ctrl-C loses at most the batch in flight; the same command resumes
after the checkpoint, and deterministic ids make the replayed batch harmless. The
checkpoint also remembers the line range in flight, so the replay writes those rows even
when their content is unchanged (their hooks, e.g. alerts, may not have run).

A reload skips rows whose validated content has not changed (see ``indexer.pipeline``).
``--retry-rejects FILE`` re-reads the rows of an earlier rejects file (after the profile or
the CSV mapping was fixed), loads those that now pass and writes those that still fail to
a new rejects file.

While loading, the write index does not refresh (``refresh_interval: -1``); the previous
value is restored at the end, on failure and on Ctrl-C, and by the next load if this
process was killed outright (a guard file in ``state_dir`` remembers it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from opensearchpy import OpenSearch
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from indexer.csv_mapping import CsvMapping, MappingError, find_mapping
from indexer.pipeline import (
    RECORD_COUNTERS,
    BatchIndexer,
    Entry,
    Hook,
    LoadResult,
    PeopleResolver,
    Problem,
)
from indexer.sources import FileError, Row, read_csv, read_ndjson
from indexer.validation import validate
from lantern import indices
from lantern.processes import pid_alive
from lantern.profile import ForceProfile, profile_for
from lantern.settings import Settings
from mappings import records as records_index

log = logging.getLogger(__name__)

NDJSON_SUFFIXES = {".ndjson", ".jsonl", ".json"}
CSV_SUFFIXES = {".csv"}
IGNORED_SUFFIXES = {".toml", ".md", ".txt"}


# --------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    path: Path

    @staticmethod
    def for_file(settings: Settings, index: str, feed: Path) -> Checkpoint:
        key = hashlib.sha256(f"{index}\x1f{feed.resolve()}".encode()).hexdigest()[:24]
        return Checkpoint(settings.state_dir / "checkpoints" / f"{key}.json")

    @staticmethod
    def identity(feed: Path) -> dict[str, Any]:
        st = feed.stat()
        return {"file": str(feed.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def load(self, feed: Path) -> int:
        """The last line already done, or 0 (no checkpoint, or the file has changed)."""
        return self.load_state(feed)[0]

    def load_state(self, feed: Path) -> tuple[int, int]:
        """(last line done, last line of the batch that was in flight: replayed in full)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0, 0
        if data.get("identity") != self.identity(feed):
            log.warning("%s changed since its checkpoint; loading it from the start", feed)
            return 0, 0
        line = int(data.get("line", 0))
        return line, max(line, int(data.get("inflight_through", 0)))

    def save(self, feed: Path, line: int, inflight_through: int = 0) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        state = {"identity": self.identity(feed), "line": line, "at": datetime.now(UTC).isoformat()}
        if inflight_through > line:
            state["inflight_through"] = inflight_through
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self.path)

    def clear(self) -> None:
        self.path.unlink(missing_ok=True)


# --------------------------------------------------------------------- refresh guard


@contextlib.contextmanager
def refresh_paused(client: OpenSearch, settings: Settings, index: str) -> Iterator[None]:
    """``refresh_interval: -1`` on the physical index behind ``index`` for the duration."""
    physical = indices.alias_targets(client, index) or [index]
    guards_dir = settings.state_dir / "refresh-guards"
    guards_dir.mkdir(parents=True, exist_ok=True)
    mine: list[tuple[str, Path, Any]] = []
    try:
        for name in physical:
            guard = guards_dir / f"{name}.json"
            if guard.exists():
                try:
                    held = json.loads(guard.read_text(encoding="utf-8"))
                except ValueError:
                    held = {"pid": -1, "previous": None}
                if pid_alive(int(held.get("pid", -1))) and held.get("pid") != os.getpid():
                    log.info("another load (pid %s) holds %s's refresh; leaving it", held["pid"], name)
                    continue
                # A load that was killed outright: put its saved value back first.
                _set_refresh(client, name, held.get("previous"))
            current = client.indices.get_settings(index=name, name="index.refresh_interval")
            previous = current.get(name, {}).get("settings", {}).get("index", {}).get("refresh_interval")
            if previous == "-1":
                previous = None  # never "restore" to paused
            guard.write_text(json.dumps({"pid": os.getpid(), "previous": previous}), encoding="utf-8")
            _set_refresh(client, name, "-1")
            mine.append((name, guard, previous))
        yield
    finally:
        for name, guard, previous in mine:
            try:
                _set_refresh(client, name, previous)
                client.indices.refresh(index=name)
                guard.unlink(missing_ok=True)
            except Exception:  # keep the guard: the next load restores it
                log.exception("could not restore refresh_interval on %s", name)


def _set_refresh(client: OpenSearch, index: str, value: Any) -> None:
    client.indices.put_settings(index=index, body={"index": {"refresh_interval": value}})


# --------------------------------------------------------------------- progress


class _RowRate(ProgressColumn):
    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0
        rows = task.fields.get("rows", 0)
        rate = rows / elapsed if elapsed > 0 else 0
        docs = task.fields.get("documents", 0)
        failed = task.fields.get("documents_failed", 0)
        extra = (
            f"  {docs:,} docs ({failed:,} failed) {docs / elapsed if elapsed > 0 else 0:,.1f} docs/s"
            if docs or failed
            else ""
        )
        return Text(f"{rows:,} rows  {rate:,.0f} rows/s{extra}", style="progress.data.speed")


@dataclass
class Meter:
    """Rows and bytes of one file, or of the whole load, against the clock."""

    total_bytes: int
    started: float
    rows: int = 0
    done_bytes: int = 0

    def line(self, now: float) -> str:
        """``1,234 rows, 410 rows/s, 1.2 of 3.4 MB (35%), ETA 0:00:05``: rows/s over the
        elapsed time, ETA from the bytes still to read at the byte rate so far."""
        elapsed = max(now - self.started, 1e-9)
        rate = self.rows / elapsed
        mb = 1024 * 1024
        text = (
            f"{self.rows:,} rows, {rate:,.0f} rows/s, "
            f"{self.done_bytes / mb:,.1f} of {self.total_bytes / mb:,.1f} MB"
        )
        if self.total_bytes:
            text += f" ({100 * self.done_bytes / self.total_bytes:.0f}%)"
        if self.done_bytes and self.total_bytes > self.done_bytes:
            eta = (self.total_bytes - self.done_bytes) * elapsed / self.done_bytes
            text += f", ETA {int(eta) // 3600}:{int(eta) % 3600 // 60:02d}:{int(eta) % 60:02d}"
        return text


class _Progress:
    """Per file and overall: rows, rows/s, bytes done of total, ETA.

    A rich progress display (two bars) on a terminal; a plain log line every few seconds
    otherwise. Both advance with every acknowledged batch, not once per file.
    """

    LOG_EVERY = 5.0

    def __init__(self, console: Console | None, total_bytes: int) -> None:
        self.console = console
        now = time.monotonic()
        self.overall = Meter(total_bytes, now)
        self.current: Meter | None = None
        self.name = ""
        self.last_log = now
        self.documents = 0
        self.documents_failed = 0
        self.done_before = 0
        self.bar: Progress | None = None
        self.task: Any = None
        self.file_task: Any = None
        if console is not None and console.is_terminal:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(),
                _RowRate(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self.task = self.bar.add_task("overall", total=total_bytes or None, rows=0)
            self.bar.start()

    @property
    def rows(self) -> int:
        return self.overall.rows

    def file(self, name: str, size: int, offset: int = 0) -> None:
        self.name = name
        self.current = Meter(size, time.monotonic(), done_bytes=offset)
        if self.bar is not None:
            if self.file_task is not None:
                self.bar.remove_task(self.file_task)
            self.file_task = self.bar.add_task(name, total=size or None, completed=offset, rows=0)
            self.bar.update(self.task, completed=self.done_before + offset)
        else:
            self._log(force=True)

    def advance(self, rows: int, offset: int, documents: int = 0, documents_failed: int = 0) -> None:
        self.overall.rows += rows
        self.overall.done_bytes = self.done_before + offset
        self.documents += documents
        self.documents_failed += documents_failed
        if self.current is not None:
            self.current.rows += rows
            self.current.done_bytes = offset
        if self.bar is not None:
            self.bar.update(
                self.task,
                completed=self.overall.done_bytes,
                rows=self.overall.rows,
                documents=self.documents,
                documents_failed=self.documents_failed,
            )
            if self.file_task is not None and self.current is not None:
                self.bar.update(self.file_task, completed=offset, rows=self.current.rows)
        else:
            self._log()

    def end_file(self, size: int) -> None:
        self.done_before += size
        self.overall.done_bytes = self.done_before

    def status_line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        parts = []
        if self.current is not None:
            parts.append(f"{self.name}: {self.current.line(now)}")
        parts.append(f"overall: {self.overall.line(now)}")
        if self.documents or self.documents_failed:
            parts.append(f"{self.documents:,} documents ({self.documents_failed:,} failed)")
        return " | ".join(parts)

    def _log(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_log < self.LOG_EVERY:
            return
        self.last_log = now
        line = self.status_line(now)
        if self.console is not None:
            self.console.print(line, highlight=False)
        else:
            log.info("%s", line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# --------------------------------------------------------------------- the load


@dataclass
class FileProblem:
    source: str
    message: str


@dataclass
class LoadReport:
    result: LoadResult
    file_errors: list[FileProblem]
    rejects_path: Path | None
    index: str
    resumed: dict[str, int]


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files as given; directories expand to the feed files inside (sorted); mapping files and
    notes lying next to feeds are skipped."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(
                p
                for p in sorted(path.iterdir())
                if p.is_file() and p.suffix.lower() in NDJSON_SUFFIXES | CSV_SUFFIXES
            )
        elif path.suffix.lower() in IGNORED_SUFFIXES:
            continue
        else:
            out.append(path)
    return out


class _RejectsWriter:
    def __init__(self, path: Path, append: bool) -> None:
        self.path = path
        self.append = append
        self.fh: TextIO | None = None
        self.count = 0

    def write(self, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        if self.fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fh = self.path.open("a" if self.append else "w", encoding="utf-8")
        for p in sorted(problems, key=lambda p: (p.source, p.line)):
            self.fh.write(json.dumps(p.as_json(), ensure_ascii=False, default=str) + "\n")
            self.count += 1
        self.fh.flush()
        os.fsync(self.fh.fileno())

    def close(self) -> None:
        if self.fh is not None:
            self.fh.close()


def load_files(
    paths: Sequence[Path],
    settings: Settings,
    client: OpenSearch,
    *,
    record_type: str | None = None,
    mapping: Path | None = None,
    rejects: Path | None = None,
    extract_entities: bool = True,
    restart: bool = False,
    rebuild: bool = False,
    hooks: Sequence[Hook] = (),
    console: Console | None = None,
    max_row_bytes: int | None = None,
    profile: ForceProfile | None = None,
    people_resolver: PeopleResolver | None = None,
) -> LoadReport:
    """Load feed files into the records index; see the module docstring."""
    profile = profile or profile_for(settings.force_profile)
    files = expand_paths(paths)
    file_errors: list[FileProblem] = []
    explicit_mapping: CsvMapping | None = None
    if mapping is not None:
        explicit_mapping = CsvMapping.load(mapping)

    if rebuild:
        target = indices.create_building(client, settings, records_index)
    else:
        indices.ensure(client, settings, records_index)
        target = indices.writer_target(settings, records_index)

    resume = (
        {}
        if restart or rebuild
        else {str(f): Checkpoint.for_file(settings, target, f).load_state(f) for f in files if f.is_file()}
    )
    resumed = {k: v[0] for k, v in resume.items() if v[0] > 0}
    if rejects is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        rejects = settings.state_dir / "rejects" / f"load-{stamp}.ndjson"
    writer = _RejectsWriter(rejects, append=bool(resumed))
    total = LoadResult()
    sizes = {f: (f.stat().st_size if f.is_file() else 0) for f in files}
    progress = _Progress(console, sum(sizes.values()))
    indexer = BatchIndexer(
        settings,
        client,
        index=target,
        extract_entities=extract_entities,
        hooks=hooks,
        profile=profile,
        people_resolver=people_resolver,
    )
    promoted = False
    try:
        with refresh_paused(client, settings, target):
            for feed in files:
                checkpoint = Checkpoint.for_file(settings, target, feed)
                skip, replay_through = (0, 0) if restart or rebuild else resume.get(str(feed), (0, 0))
                try:
                    rows = _open_rows(feed, record_type, explicit_mapping, skip, max_row_bytes)
                    progress.file(feed.name, sizes.get(feed, 0))
                    _load_rows(
                        rows,
                        feed,
                        indexer,
                        checkpoint,
                        writer,
                        total,
                        progress,
                        settings,
                        profile,
                        skip,
                        replay_through,
                    )
                except (FileError, MappingError) as exc:
                    file_errors.append(FileProblem(str(feed), str(exc)))
                    log.error("%s", exc)
                    continue
                finally:
                    progress.end_file(sizes.get(feed, 0))
                checkpoint.clear()
        if rebuild:
            indices.promote(client, settings, records_index, target)
            promoted = True
    finally:
        indexer.close()
        progress.close()
        writer.close()
        if rebuild and not promoted:
            client.indices.delete(index=target, ignore=[404])
    return LoadReport(total, file_errors, rejects if writer.count else None, target, resumed)


def _open_rows(
    feed: Path, record_type: str | None, explicit: CsvMapping | None, skip: int, max_row_bytes: int | None
) -> Iterator[Row]:
    if not feed.is_file():
        raise FileError(f"{feed}: no such file")
    limit = {"max_row_bytes": max_row_bytes} if max_row_bytes else {}
    suffix = feed.suffix.lower()
    if suffix in NDJSON_SUFFIXES:
        return read_ndjson(feed, record_type=record_type, skip_through=skip, **limit)
    if suffix in CSV_SUFFIXES:
        mapping = explicit
        if mapping is None:
            found = find_mapping(feed, None)
            if found is None:
                raise FileError(
                    f"{feed}: no column mapping: pass --mapping FILE, or put {feed.stem}.toml in "
                    f"indexer/csv_mappings/ or next to the CSV"
                )
            mapping = CsvMapping.load(found)
        return read_csv(feed, mapping, record_type=record_type, skip_through=skip, **limit)
    raise FileError(f"{feed}: unknown feed type {suffix!r} (expected .ndjson, .jsonl or .csv)")


def _load_rows(
    rows: Iterator[Row],
    feed: Path,
    indexer: BatchIndexer,
    checkpoint: Checkpoint,
    writer: _RejectsWriter,
    total: LoadResult,
    progress: _Progress,
    settings: Settings,
    profile: ForceProfile,
    start_line: int = 0,
    replay_through: int = 0,
) -> None:
    entries: list[Entry] = []
    rejected: list[Problem] = []
    last_line = 0
    last_offset = 0
    pending = 0
    done_line = start_line

    def flush() -> None:
        nonlocal entries, rejected, pending, done_line
        checkpoint.save(feed, done_line, inflight_through=last_line)
        outcome = indexer.run(entries)
        result = outcome.result
        result.rejected = len(rejected)
        result.read = pending
        writer.write([*rejected, *outcome.problems])
        result.problems = [*rejected, *outcome.problems]
        total.add(result)
        checkpoint.save(feed, last_line)
        done_line = last_line
        progress.advance(pending, last_offset, result.documents, result.documents_failed)
        entries, rejected, pending = [], [], 0

    for row in rows:
        pending += 1
        last_line, last_offset = row.line, row.end_offset
        record = None
        errors = row.errors
        if row.data is not None and not errors:
            record, errors = validate(row.data, row.column_for, profile)
        if record is None:
            rejected.append(Problem("rejected", row.source, row.line, errors, raw=row.raw))
        else:
            entries.append(Entry(record, row.source, row.line, force=row.line <= replay_through))
        if len(entries) >= settings.bulk_chunk_size or pending >= 4 * settings.bulk_chunk_size:
            flush()
    if pending:
        flush()


# --------------------------------------------------------------------- command


def print_summary(report: LoadReport, console: Console) -> None:
    r = report.result
    # One row per count: eleven columns do not fit a terminal.
    table = Table(title=f"load into {report.index}", show_header=False)
    table.add_column("rows")
    table.add_column("count", justify="right")
    for name in RECORD_COUNTERS:
        table.add_row(name.replace("_", " "), f"{getattr(r, name):,}")
    Console().print(table)
    if r.documents or r.documents_failed:
        console.print(
            f"attached documents: {r.documents:,} indexed "
            f"({r.document_pages:,} pages, {r.ocr_pages:,} by OCR; "
            f"{r.documents_extracted:,} extracted now, the rest from the text cache), "
            f"{r.documents_failed:,} failed (in the rejects file with their reason)",
            highlight=False,
        )
    for source, line in report.resumed.items():
        console.print(f"resumed {source} after line {line:,} (checkpoint)")
    for sample in r.warning_samples:
        console.print(f"[yellow]warning:[/yellow] {escape(sample)}", highlight=False)
    if r.warnings > len(r.warning_samples):
        console.print(f"... and {r.warnings - len(r.warning_samples)} more warning(s)")
    for fe in report.file_errors:
        console.print(f"[red]file not loaded:[/red] {escape(fe.message)}", highlight=False)
    if report.rejects_path is not None:
        console.print(f"rejected/failed rows written to {report.rejects_path}")
        for p in r.problems[:5]:
            first = p.errors[0] if p.errors else {"loc": "", "msg": ""}
            console.print(
                f"  {p.source}:{p.line}: {first.get('loc')}: {first.get('msg')}",
                highlight=False,
                markup=False,
            )


def run_load_command(
    paths: Sequence[Path],
    *,
    settings: Settings,
    record_type: str | None,
    mapping: Path | None,
    rejects: Path | None,
    allow_rejects: bool,
    extract_entities: bool,
    restart: bool,
    rebuild: bool,
    console: Console,
    hooks: Sequence[Hook] = (),
    resolve_people: bool = False,
) -> int:
    from lantern.search_client import make_client

    client = make_client(settings, "ingest")
    people_resolver: PeopleResolver | None = None
    if resolve_people:
        from indexer.nominals import ingest_resolver
        from lantern.indices import OutdatedIndexError

        try:
            people_resolver = ingest_resolver(client, settings)
        except OutdatedIndexError as exc:  # before anything is loaded
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            return 2
    try:
        report = load_files(
            paths,
            settings,
            client,
            record_type=record_type,
            mapping=mapping,
            rejects=rejects,
            extract_entities=extract_entities,
            restart=restart,
            rebuild=rebuild,
            console=console,
            hooks=hooks,
            people_resolver=people_resolver,
        )
    except MappingError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        console.print(
            "[yellow]interrupted[/yellow]: rerun the same command to resume from the last acknowledged batch"
        )
        return 130
    print_summary(report, console)
    if report.file_errors:
        return 2
    if not report.result.ok and not allow_rejects:
        return 1
    return 0
