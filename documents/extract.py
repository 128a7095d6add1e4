"""The extraction pipeline: original in, per-page text and a status out, never an exception.

For each file: store the original (content-addressed), unpack it if it is a plain zip (each
member becomes its own document), otherwise ask Tika for its text (PDF per page), then OCR the
pages that have no text layer (scanned PDFs through ocrmypdf, images through tesseract). One
wall-clock budget covers all of it (``time_limit``): a file that exceeds it fails with
``timeout`` and the next one starts. Every outcome is an ``ExtractedDocument`` whose ``status``
is ``extracted``, ``ocr`` (at least one page came from OCR) or ``failed`` with a reason.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from documents import archives, ocr
from documents.errors import DocumentError, FailureCode
from documents.store import ContentStore
from documents.tika import TikaProcess
from lantern.settings import Settings

Status = Literal["queued", "extracted", "ocr", "failed"]

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"GIF8", "image/gif"),
)
# A page with fewer word characters than this has no usable text layer (a scanned page often
# carries a stray glyph or a page number from the scanner software).
_MIN_TEXT_CHARS = 8
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Page:
    number: int
    text: str
    ocr: bool = False


@dataclass
class ExtractedDocument:
    name: str  # original file name (archive members: "bundle.zip/dir/file.pdf")
    digest: str | None  # SHA-256 of the original, None when it could not even be read
    status: Status
    content_type: str = "application/octet-stream"
    pages: list[Page] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    error_code: FailureCode | None = None
    error: str | None = None
    truncated: bool = False
    seconds: float = 0.0
    size: int = 0
    member: str | None = None  # path inside the zip it came from (None: not from an archive)

    @property
    def text(self) -> str:
        return "\n\n".join(p.text for p in self.pages if p.text)

    @property
    def ocr_pages(self) -> int:
        return sum(1 for p in self.pages if p.ocr)


@dataclass(frozen=True)
class Limits:
    time_limit: float = 180.0
    max_bytes: int = 200 * 1024 * 1024
    archive: archives.ArchiveLimits = field(default_factory=archives.ArchiveLimits)
    languages: str = "eng"

    @classmethod
    def from_settings(cls, s: Settings) -> Limits:
        return cls(
            time_limit=s.documents_time_limit,
            max_bytes=s.documents_max_bytes,
            archive=archives.ArchiveLimits(
                max_depth=s.archive_max_depth,
                max_members=s.archive_max_members,
                max_total_bytes=s.archive_max_total_bytes,
                max_ratio=s.archive_max_ratio,
            ),
            languages=s.ocr_languages,
        )


def _sniff_image(path: Path) -> str | None:
    with open(path, "rb") as f:
        head = f.read(16)
    for magic, mime in _IMAGE_MAGIC:
        if head.startswith(magic):
            return mime
    return None


def has_text_layer(text: str) -> bool:
    return len(_WORD.findall(text)) >= _MIN_TEXT_CHARS


def _clean(text: str) -> str:
    # Tika pads pages with blank lines; keep paragraphs, drop the padding.
    return re.sub(r"\n{3,}", "\n\n", text).strip()


class Extractor:
    """Extracts documents with one shared Tika process; safe to call from several threads."""

    def __init__(self, store: ContentStore, tika: TikaProcess, limits: Limits | None = None) -> None:
        self.store = store
        self.tika = tika
        self.limits = limits or Limits()

    @classmethod
    def from_settings(cls, settings: Settings) -> Extractor:
        tika = TikaProcess(
            java=settings.embedded_java,
            heap=settings.tika_heap,
            threads=settings.tika_threads,
            max_chars=settings.documents_max_chars,
            log_path=settings.state_dir / "tika.log",
        )
        return cls(ContentStore(settings.documents_root), tika, Limits.from_settings(settings))

    def close(self) -> None:
        self.tika.close()

    def __enter__(self) -> Extractor:
        self.tika.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one file (possibly an archive of several)

    def extract(self, path: Path, name: str | None = None) -> list[ExtractedDocument]:
        """Store and extract ``path``; a plain zip yields one result per member."""
        name = name or path.name
        started = time.monotonic()
        try:
            size = path.stat().st_size
        except OSError:
            return [self._failed(name, None, "missing", f"{name}: no such file", started)]
        if size > self.limits.max_bytes:
            return [
                self._failed(
                    name,
                    None,
                    "too_large",
                    f"{name} is {size // (1024 * 1024)} MB; the limit is "
                    f"{self.limits.max_bytes // (1024 * 1024)} MB",
                    started,
                    size=size,
                )
            ]
        digest = self.store.put_file(path)
        stored = self.store.path(digest)
        if archives.is_plain_zip(stored):
            return self._extract_archive(stored, name, digest, started)
        return [self._extract_one(stored, name, digest, started, size)]

    def _extract_archive(
        self, stored: Path, name: str, digest: str, started: float
    ) -> list[ExtractedDocument]:
        with tempfile.TemporaryDirectory(prefix="lantern-zip-") as tmp:
            try:
                members = archives.unpack(stored, Path(tmp), self.limits.archive, prefix=name)
            except DocumentError as exc:
                return [
                    self._failed(name, digest, exc.code, str(exc), started, content_type="application/zip")
                ]
            results = []
            for member in members:
                member_digest = self.store.put_file(member.path)
                doc = self._extract_one(
                    self.store.path(member_digest),
                    member.name,
                    member_digest,
                    time.monotonic(),
                    member.path.stat().st_size,
                )
                doc.member = member.name.removeprefix(f"{name}/")
                results.append(doc)
            return results

    def _extract_one(
        self, path: Path, name: str, digest: str, started: float, size: int
    ) -> ExtractedDocument:
        deadline = started + self.limits.time_limit
        try:
            image_type = _sniff_image(path)
            if image_type is not None:
                texts = ocr.ocr_image(
                    path, timeout=deadline - time.monotonic(), languages=self.limits.languages
                )
                pages = [Page(i, _clean(t), ocr=True) for i, t in enumerate(texts, start=1)]
                return self._done(name, digest, image_type, pages, {}, False, started, size)
            result = self.tika.extract(path, timeout=max(0.0, deadline - time.monotonic()))
            pages = [Page(i, _clean(t)) for i, t in enumerate(result.pages, start=1)]
            if result.content_type.startswith("application/pdf"):
                blank = [p.number for p in pages if not has_text_layer(p.text)]
                if blank:
                    found = ocr.ocr_pdf_pages(
                        path, blank, timeout=deadline - time.monotonic(), languages=self.limits.languages
                    )
                    pages = [
                        Page(p.number, _clean(found[p.number]), ocr=True) if p.number in found else p
                        for p in pages
                    ]
            elif result.content_type.startswith("image/"):
                texts = ocr.ocr_image(
                    path, timeout=deadline - time.monotonic(), languages=self.limits.languages
                )
                pages = [Page(i, _clean(t), ocr=True) for i, t in enumerate(texts, start=1)]
            if not any(p.text for p in pages):
                raise DocumentError("empty", f"no text found in {name} (not even by OCR)")
            return self._done(
                name, digest, result.content_type, pages, result.metadata, result.truncated, started, size
            )
        except DocumentError as exc:
            return self._failed(name, digest, exc.code, f"{name}: {exc}", started, size=size)
        except Exception as exc:  # one bad file must never stop a load; the reason is kept
            return self._failed(
                name, digest, "internal", f"{name}: {type(exc).__name__}: {exc}", started, size=size
            )

    def _done(
        self,
        name: str,
        digest: str,
        content_type: str,
        pages: list[Page],
        metadata: dict[str, str],
        truncated: bool,
        started: float,
        size: int,
    ) -> ExtractedDocument:
        status: Status = "ocr" if any(p.ocr for p in pages) else "extracted"
        return ExtractedDocument(
            name=name,
            digest=digest,
            status=status,
            content_type=content_type.split(";")[0].strip(),
            pages=pages,
            metadata=metadata,
            truncated=truncated,
            seconds=time.monotonic() - started,
            size=size,
        )

    @staticmethod
    def _failed(
        name: str,
        digest: str | None,
        code: FailureCode,
        message: str,
        started: float,
        content_type: str = "application/octet-stream",
        size: int = 0,
    ) -> ExtractedDocument:
        return ExtractedDocument(
            name=name,
            digest=digest,
            status="failed",
            content_type=content_type,
            error_code=code,
            error=message,
            seconds=time.monotonic() - started,
            size=size,
        )

    # -- many files

    def extract_many(
        self,
        items: Iterable[tuple[Path, str]],
        workers: int = 0,
        on_done: Callable[[ExtractedDocument], None] | None = None,
    ) -> Iterator[tuple[tuple[Path, str], list[ExtractedDocument]]]:
        """Extract ``(path, name)`` items on ``workers`` threads (0: one per core), in input order."""
        n = workers or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="extract") as pool:
            window: list[tuple[tuple[Path, str], object]] = []
            for item in items:
                window.append((item, pool.submit(self.extract, item[0], item[1])))
                if len(window) >= n * 2:
                    yield self._settle(window.pop(0), on_done)
            while window:
                yield self._settle(window.pop(0), on_done)

    @staticmethod
    def _settle(
        entry: tuple[tuple[Path, str], object], on_done: Callable[[ExtractedDocument], None] | None
    ) -> tuple[tuple[Path, str], list[ExtractedDocument]]:
        item, fut = entry
        docs: list[ExtractedDocument] = fut.result()  # type: ignore[attr-defined]
        if on_done is not None:
            for doc in docs:
                on_done(doc)
        return item, docs
