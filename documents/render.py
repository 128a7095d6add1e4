"""Page images for the document viewer, rendered on the server (no PDF.js, nothing from a CDN).

PDF pages go through poppler's ``pdftoppm``; images through Pillow (a TIFF's frames are its
pages). Rendered pages are cached next to the originals, keyed by digest, page and width, so a
page is rendered once however often it is viewed. Formats without pages (DOCX, e-mail...)
have no image: the viewer shows their text.
"""

from __future__ import annotations

import io
import os
import subprocess
import tempfile
from pathlib import Path

from documents.errors import DocumentError
from documents.store import ContentStore

RENDERABLE = ("application/pdf", "image/")
MAX_WIDTH = 2000


def renderable(content_type: str) -> bool:
    return content_type.startswith(RENDERABLE)


class PageRenderer:
    def __init__(self, store: ContentStore, cache_root: Path, timeout: float = 30.0) -> None:
        self.store = store
        self.cache_root = Path(cache_root)
        self.timeout = timeout

    def _cache_path(self, digest: str, page: int, width: int) -> Path:
        return self.cache_root / "pages-v1" / digest[:2] / digest / f"{page}-{width}.png"

    def page_png(self, digest: str, content_type: str, page: int, width: int = 1000) -> bytes:
        """PNG bytes of ``page`` (1-based), ``width`` pixels wide. Raises ``DocumentError``."""
        if page < 1:
            raise DocumentError("unsupported", "pages are numbered from 1")
        width = max(200, min(int(width), MAX_WIDTH))
        cached = self._cache_path(digest, page, width)
        if cached.is_file():
            return cached.read_bytes()
        source = self.store.path(digest)
        if not source.is_file():
            raise DocumentError("missing", "the original is not in the document store")
        if content_type.startswith("application/pdf"):
            data = self._pdf_page(source, page, width)
        elif content_type.startswith("image/"):
            data = self._image_page(source, page, width)
        else:
            raise DocumentError("unsupported", f"{content_type} has no page images")
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, cached)
        return data

    def _pdf_page(self, source: Path, page: int, width: int) -> bytes:
        with tempfile.TemporaryDirectory(prefix="lantern-render-") as tmp:
            prefix = Path(tmp) / "page"
            cmd = [
                "pdftoppm",
                "-png",
                "-f",
                str(page),
                "-l",
                str(page),
                "-scale-to-x",
                str(width),
                "-scale-to-y",
                "-1",
                "-singlefile",
                str(source),
                str(prefix),
            ]
            try:
                proc = subprocess.run(cmd, capture_output=True, timeout=self.timeout, check=False)
            except subprocess.TimeoutExpired:
                raise DocumentError("timeout", "rendering the page took too long") from None
            except FileNotFoundError as exc:
                raise DocumentError("unsupported", "pdftoppm is not installed (poppler-utils)") from exc
            out = prefix.with_suffix(".png")
            if proc.returncode != 0 or not out.is_file():
                raise DocumentError("corrupt", f"page {page} could not be rendered")
            return out.read_bytes()

    def _image_page(self, source: Path, page: int, width: int) -> bytes:
        from PIL import Image, ImageSequence

        with Image.open(source) as img:
            frames = list(ImageSequence.Iterator(img))
            if page > len(frames):
                raise DocumentError("unsupported", f"the image has {len(frames)} page(s)")
            frame = frames[page - 1].convert("RGB")
            if frame.width > width:
                frame = frame.resize((width, max(1, frame.height * width // frame.width)))
            buf = io.BytesIO()
            frame.save(buf, "PNG")
            return buf.getvalue()
