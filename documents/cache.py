"""Extracted text kept next to the originals, keyed by the original's SHA-256.

Re-indexing a record (new markings, a reload) re-derives its documents' search documents from
here without running Tika or OCR again; only documents that failed are extracted again. Only
complete successes are cached, so a failure is always retried.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path

from documents.extract import ExtractedDocument, Page

_VERSION = 1  # bump when extraction changes in a way that should redo cached documents


class TextCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root) / f"text-v{_VERSION}"

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / f"{digest}.json"

    def get(self, digest: str) -> list[ExtractedDocument] | None:
        try:
            raw = json.loads(self._path(digest).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        out = []
        for d in raw:
            pages = [Page(**p) for p in d.pop("pages")]
            out.append(ExtractedDocument(pages=pages, **d))
        return out

    def put(self, digest: str, docs: list[ExtractedDocument]) -> None:
        if not docs or any(d.status == "failed" for d in docs):
            return
        target = self._path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump([asdict(d) for d in docs], f, ensure_ascii=False)
        os.replace(tmp, target)
