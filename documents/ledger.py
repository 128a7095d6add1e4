"""Per-document status ledger: what was queued, extracted, OCR'd or failed, and why.

SQLite in the state directory (stdlib, one file, safe across processes): the CLI writes it as a
load progresses, ``--retry-failed`` reads the failed rows back, and the admin page shows
counts and the latest failures. One row per document; a zip's members each get a row keyed
``<source key>!<member name>`` next to the zip's own row.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from documents.extract import ExtractedDocument

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    key         TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    record_id   TEXT,
    name        TEXT NOT NULL,
    digest      TEXT,
    status      TEXT NOT NULL,
    error_code  TEXT,
    error       TEXT,
    pages       INTEGER NOT NULL DEFAULT 0,
    ocr_pages   INTEGER NOT NULL DEFAULT 0,
    seconds     REAL NOT NULL DEFAULT 0,
    updated_at  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_status ON documents(status);
"""


@dataclass(frozen=True)
class LedgerRow:
    key: str
    source: str
    record_id: str | None
    name: str
    digest: str | None
    status: str
    error_code: str | None
    error: str | None
    pages: int
    ocr_pages: int
    seconds: float
    updated_at: float


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
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

    def queue(self, key: str, source: str, name: str, record_id: str | None = None) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO documents(key, source, record_id, name, status, updated_at) "
                "VALUES (?, ?, ?, ?, 'queued', ?) "
                "ON CONFLICT(key) DO UPDATE SET status='queued', error_code=NULL, error=NULL, "
                "updated_at=excluded.updated_at",
                (key, source, record_id, name, time.time()),
            )

    def record(self, key: str, source: str, doc: ExtractedDocument, record_id: str | None = None) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO documents(key, source, record_id, name, digest, status, error_code, error, "
                "pages, ocr_pages, seconds, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(key) DO UPDATE SET digest=excluded.digest, status=excluded.status, "
                "error_code=excluded.error_code, error=excluded.error, pages=excluded.pages, "
                "ocr_pages=excluded.ocr_pages, seconds=excluded.seconds, updated_at=excluded.updated_at",
                (
                    key,
                    source,
                    record_id,
                    doc.name,
                    doc.digest,
                    doc.status,
                    doc.error_code,
                    doc.error,
                    len(doc.pages),
                    doc.ocr_pages,
                    doc.seconds,
                    time.time(),
                ),
            )

    def counts(self) -> dict[str, int]:
        with self._db() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM documents GROUP BY status").fetchall()
        out = {"queued": 0, "extracted": 0, "ocr": 0, "failed": 0}
        out.update({str(s): int(n) for s, n in rows})
        return out

    def rows(self, status: str | None = None, limit: int = 100) -> list[LedgerRow]:
        sql = "SELECT * FROM documents"
        args: tuple[object, ...] = ()
        if status:
            sql += " WHERE status = ?"
            args = (status,)
        sql += " ORDER BY updated_at DESC LIMIT ?"
        with self._db() as db:
            return [LedgerRow(*r) for r in db.execute(sql, (*args, limit)).fetchall()]

    def failed_sources(self) -> list[str]:
        """Sources with at least one failed document: what ``--retry-failed`` extracts again."""
        with self._db() as db:
            rows = db.execute("SELECT DISTINCT source FROM documents WHERE status = 'failed'").fetchall()
        return [str(r[0]) for r in rows]
