"""Tesseract OCR, run only where a page has no text layer.

Scanned PDFs go through ``ocrmypdf --skip-text`` restricted to the pages that came back empty
from Tika (it rasterises them, deskews nothing, runs Tesseract and writes a per-page sidecar);
images go to ``tesseract`` directly. Each Tesseract is single-threaded
(``OMP_THREAD_LIMIT=1``): parallelism comes from running one document per core, which is
faster on a loaded machine than OpenMP threads inside one page.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from documents.errors import DocumentError

_SKIPPED_PREFIX = "[OCR skipped on page"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


def _run(cmd: list[str], timeout: float, what: str) -> subprocess.CompletedProcess[bytes]:
    if timeout <= 0:
        raise DocumentError("timeout", f"no time left for {what}")
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=_env(), check=False)
    except subprocess.TimeoutExpired:
        raise DocumentError("timeout", f"{what} took longer than {timeout:.0f}s") from None
    except FileNotFoundError as exc:
        raise DocumentError("ocr_failed", f"{cmd[0]} is not installed (run `make system-deps`)") from exc
    return proc


def ocr_pdf_pages(
    pdf: Path, pages: Sequence[int], *, timeout: float, languages: str = "eng"
) -> dict[int, str]:
    """OCR text of the given 1-based ``pages`` of ``pdf`` (pages with text are never touched)."""
    if not pages:
        return {}
    with tempfile.TemporaryDirectory(prefix="lantern-ocr-") as tmp:
        sidecar = Path(tmp) / "sidecar.txt"
        cmd = [
            "ocrmypdf",
            "--quiet",
            "--skip-text",
            "--output-type",
            "none",
            "--sidecar",
            str(sidecar),
            "--language",
            languages,
            "--jobs",
            "1",
            "--pages",
            ",".join(str(p) for p in sorted(set(pages))),
            str(pdf),
            "-",
        ]
        proc = _run(cmd, timeout, "OCR")
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
            raise DocumentError("ocr_failed", "OCR failed: " + " / ".join(tail))
        chunks = sidecar.read_text(errors="replace").split("\f")
    out: dict[int, str] = {}
    wanted = set(pages)
    for number, chunk in enumerate(chunks, start=1):
        if number in wanted and not chunk.startswith(_SKIPPED_PREFIX):
            out[number] = chunk.strip("\n")
    return out


def ocr_image(image: Path, *, timeout: float, languages: str = "eng") -> list[str]:
    """OCR text of an image file, one string per frame (a multi-page TIFF has several)."""
    proc = _run(["tesseract", str(image), "stdout", "-l", languages], timeout, "OCR")
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-2:]
        raise DocumentError("ocr_failed", "OCR failed: " + " / ".join(tail))
    text = proc.stdout.decode(errors="replace")
    pages = text.split("\f")
    if len(pages) > 1 and not pages[-1].strip():
        pages = pages[:-1]
    return [p.strip("\n") for p in pages] or [""]
