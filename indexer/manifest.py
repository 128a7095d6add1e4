"""Standalone document feeds: a folder of files and a manifest CSV linking each file to a record.

``manifest.csv`` columns: ``file`` (path relative to the manifest's folder), ``source_system``
and ``source_id`` (the record it belongs to), ``title``, ``kind`` (optional, default ``other``).
The folder must lie inside ``settings.attachments_root``: a link is stored as an ordinary
attachment path under that root, so it is extracted, access-controlled and re-derived exactly
like an attachment named in a record feed.

Links are kept in the documents database (state dir), so a record loaded later, or loaded
again from a feed that does not name the file, still carries it. Records already indexed are
re-indexed right away from the copy kept when they were last indexed with documents; the
others pick their links up when they are next loaded (``lantern index load`` of their feed).
"""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lantern.records import AnyRecord, Attachment, parse_record, record_id
from lantern.settings import Settings

REQUIRED = ("file", "source_system", "source_id", "title")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parents (
    record_id  TEXT PRIMARY KEY,
    record     TEXT NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
    record_id TEXT NOT NULL,
    path      TEXT NOT NULL,
    title     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    manifest  TEXT NOT NULL,
    PRIMARY KEY (record_id, path)
);
"""


@dataclass(frozen=True)
class ManifestProblem:
    line: int
    message: str
    raw: dict[str, Any]


class LinkStore:
    def __init__(self, settings: Settings) -> None:
        self.path = settings.state_dir / "documents.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, rid: str, att: Attachment, manifest: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO links(record_id, path, title, kind, manifest) VALUES (?,?,?,?,?) "
                "ON CONFLICT(record_id, path) DO UPDATE SET title=excluded.title, kind=excluded.kind, "
                "manifest=excluded.manifest",
                (rid, att.path, att.title, att.kind.value, manifest),
            )

    # The validated original of every record indexed WITH documents, as last indexed: what
    # `documents retry` and a manifest re-index from. Reading it back from the records index
    # is not an option (only the access-filtered gateway reads that index), and these copies
    # are exactly as fresh as the documents derived from them: rewritten on every index of
    # the record, dropped when it is indexed without documents.
    def save_parents(self, records: Sequence[AnyRecord]) -> None:
        if not records:
            return
        now = time.time()
        with self._db() as db:
            db.executemany(
                "INSERT INTO parents(record_id, record, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(record_id) DO UPDATE SET record=excluded.record, updated_at=excluded.updated_at",
                [(r.record_id, r.model_dump_json(), now) for r in records],
            )

    def forget_parents(self, record_ids: Sequence[str]) -> None:
        if not record_ids:
            return
        with self._db() as db:
            db.executemany("DELETE FROM parents WHERE record_id = ?", [(rid,) for rid in record_ids])

    def forget_record(self, record_id: str) -> None:
        """A record deleted at source: its kept copy and its manifest links go with it."""
        with self._db() as db:
            db.execute("DELETE FROM parents WHERE record_id = ?", (record_id,))
            db.execute("DELETE FROM links WHERE record_id = ?", (record_id,))

    def parents(self, record_ids: Sequence[str]) -> dict[str, AnyRecord]:
        out: dict[str, AnyRecord] = {}
        with self._db() as db:
            for rid in record_ids:
                row = db.execute("SELECT record FROM parents WHERE record_id = ?", (rid,)).fetchone()
                if row is not None:
                    out[rid] = parse_record(json.loads(row[0]))
        return out

    def links_for(self, record_ids: Sequence[str]) -> dict[str, list[Attachment]]:
        if not record_ids:
            return {}
        out: dict[str, list[Attachment]] = {}
        with self._db() as db:
            for start in range(0, len(record_ids), 500):
                chunk = list(record_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT record_id, path, title, kind FROM links WHERE record_id IN ({marks})",  # noqa: S608 (placeholders only)
                    chunk,
                ).fetchall()
                for rid, path, title, kind in rows:
                    out.setdefault(rid, []).append(Attachment(path=path, title=title, kind=kind))
        return out


def with_links(record: AnyRecord, links: Sequence[Attachment]) -> AnyRecord:
    """``record`` with manifest links added to its attachments (a path already there wins)."""
    have = {a.path for a in record.attachments}
    extra = [a for a in links if a.path not in have]
    if not extra:
        return record
    return record.model_copy(update={"attachments": [*record.attachments, *extra]})


def read_manifest(
    manifest: Path, settings: Settings
) -> tuple[list[tuple[str, Attachment]], list[ManifestProblem]]:
    """Valid (record id, attachment) links and the rows rejected with their reason."""
    root = settings.attachments_root.resolve()
    folder = manifest.parent.resolve()
    if not folder.is_relative_to(root):
        raise ValueError(f"{manifest}: its folder must be inside the attachments root {root}")
    links: list[tuple[str, Attachment]] = []
    problems: list[ManifestProblem] = []
    with manifest.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{manifest}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            values = {k: (v or "").strip() for k, v in row.items() if k}
            empty = [c for c in REQUIRED if not values.get(c)]
            if empty:
                problems.append(ManifestProblem(line, f"empty {', '.join(empty)}", values))
                continue
            file = (folder / values["file"]).resolve()
            if not file.is_relative_to(folder):
                problems.append(ManifestProblem(line, "file must be inside the manifest's folder", values))
                continue
            if not file.is_file():
                problems.append(ManifestProblem(line, f"no such file: {values['file']}", values))
                continue
            try:
                att = Attachment(
                    path=file.relative_to(root).as_posix(),
                    title=values["title"],
                    kind=values.get("kind") or "other",
                )
            except ValidationError as exc:
                problems.append(ManifestProblem(line, exc.errors()[0]["msg"], values))
                continue
            links.append((record_id(values["source_system"], values["source_id"]), att))
    return links, problems
