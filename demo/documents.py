"""Synthetic documents for tests, benchmarks and the demo: nothing real, nothing downloaded.

Text-layer PDFs come from reportlab, DOCX from python-docx, "scanned" pages from text rendered
with Pillow (noise, a slight rotation) and wrapped as an image-only PDF, so OCR is the only way
to read them. ODT, RTF and EML are small enough to write directly (ODT: a zip holding
``content.xml``; odfpy, the one writer library, has not been released since 2020 and would be a
dependency for twenty lines). There is no free generator for Word 97 ``.doc`` or Outlook
``.msg`` without LibreOffice/Outlook, so those formats are not generated here.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from PIL import Image

A4_300DPI = (2480, 3508)


def text_pdf(path: Path, pages: Sequence[str], title: str = "Witness statement") -> Path:
    """A PDF with a real text layer, one string per page (wrapped to the page width)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    c.setTitle(title)
    width, height = A4
    for text in pages:
        y = height - 72
        c.setFont("Helvetica", 11)
        for para in text.split("\n"):
            for line in simpleSplit(para, "Helvetica", 11, width - 144) or [""]:
                if y < 72:
                    c.showPage()
                    c.setFont("Helvetica", 11)
                    y = height - 72
                c.drawString(72, y, line)
                y -= 15
        c.showPage()
    c.save()
    return path


def mixed_pdf(path: Path, pages: Sequence[str | Sequence[str]], seed: int = 0) -> Path:
    """Typed pages (a string) and scanned pages (a list of lines, drawn as an image only) in one PDF."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader, simpleSplit
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    width, height = A4
    for i, page in enumerate(pages):
        if isinstance(page, str):
            c.setFont("Helvetica", 11)
            y = height - 72
            for para in page.split("\n"):
                for line in simpleSplit(para, "Helvetica", 11, width - 144) or [""]:
                    c.drawString(72, y, line)
                    y -= 15
        else:
            c.drawImage(ImageReader(scanned_image(page, seed=seed + i)), 0, 0, width=width, height=height)
        c.showPage()
    c.save()
    return path


def encrypted_pdf(path: Path, text: str = "Restricted content", password: str = "s3cret") -> Path:  # noqa: S107 (synthetic test file)
    """A PDF that needs a password to open (reportlab's standard encryption)."""
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), encrypt=password)
    c.drawString(72, 720, text)
    c.showPage()
    c.save()
    return path


def docx(path: Path, paragraphs: Sequence[str], title: str = "Statement") -> Path:
    import docx as python_docx

    doc = python_docx.Document()
    doc.add_heading(title, level=1)
    for para in paragraphs:
        doc.add_paragraph(para)
    doc.save(str(path))
    return path


_ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
 <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
 <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""


def odt(path: Path, paragraphs: Sequence[str]) -> Path:
    body = "".join(f"<text:p>{escape(p)}</text:p>" for p in paragraphs)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:text>{body}</office:text></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as z:
        # The OpenDocument spec wants "mimetype" first and stored uncompressed.
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", _ODT_MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return path


def rtf(path: Path, paragraphs: Sequence[str]) -> Path:
    def esc(s: str) -> str:
        out = s.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
        return "".join(c if ord(c) < 128 else f"\\u{ord(c)}?" for c in out)

    body = "".join(f"{esc(p)}\\par\n" for p in paragraphs)
    path.write_text("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Times New Roman;}}\\f0\\fs24\n" + body + "}\n")
    return path


def eml(
    path: Path,
    subject: str,
    body: str,
    sender: str = "duty.sergeant@example.com",
    to: str = "intel.unit@example.com",
    attachment: tuple[str, bytes, str] | None = None,
) -> Path:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    if attachment is not None:
        name, data, mime = attachment
        maintype, subtype = mime.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    path.write_bytes(bytes(msg))
    return path


def html(path: Path, title: str, paragraphs: Sequence[str]) -> Path:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    path.write_text(
        f"<!doctype html><html><head><title>{escape(title)}</title></head><body>{body}</body></html>"
    )
    return path


def txt(path: Path, paragraphs: Sequence[str]) -> Path:
    path.write_text("\n\n".join(paragraphs) + "\n")
    return path


def scanned_image(lines: Sequence[str], seed: int = 0, size: tuple[int, int] = A4_300DPI) -> Image.Image:
    """A page of typed text as a photocopier would give it: grey speckle, a slight skew."""
    from PIL import Image, ImageDraw, ImageFilter, ImageFont

    rnd = random.Random(seed)
    img = Image.new("L", size, 255)
    draw = ImageDraw.Draw(img)
    # Pillow's bundled scalable font: no system font needed on a fresh machine.
    font_size = max(24, size[0] // 62)
    font = ImageFont.load_default(size=font_size)
    y = size[1] // 14
    for line in lines:
        draw.text((size[0] // 12, y), line, fill=rnd.randint(0, 40), font=font)
        y += int(font_size * 1.6)
    # Speckle: a few thousand grey dots, like dust on the glass.
    for _ in range(size[0] * size[1] // 2000):
        x, yy = rnd.randrange(size[0]), rnd.randrange(size[1])
        draw.point((x, yy), fill=rnd.randint(120, 220))
    img = img.rotate(rnd.uniform(-1.2, 1.2), resample=Image.Resampling.BICUBIC, fillcolor=255, expand=False)
    return img.filter(ImageFilter.GaussianBlur(radius=0.6))


def scanned_pdf(path: Path, pages: Sequence[Sequence[str]], seed: int = 0, dpi: int = 300) -> Path:
    """An image-only PDF (no text layer), one rendered page per list of lines."""
    images = [scanned_image(lines, seed=seed + i) for i, lines in enumerate(pages)]
    first, rest = images[0], images[1:]
    first.save(path, "PDF", resolution=float(dpi), save_all=True, append_images=rest)
    return path


def scanned_png(path: Path, lines: Sequence[str], seed: int = 0) -> Path:
    scanned_image(lines, seed=seed).save(path, "PNG", dpi=(300, 300))
    return path


def zip_bomb(path: Path, inflated_bytes: int = 256 * 1024**2, layers: int = 1) -> Path:
    """A small zip that claims ``inflated_bytes`` of zeros (nested ``layers`` deep)."""
    chunk = b"\0" * (1024 * 1024)
    buf = io.BytesIO()
    with (
        zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z,
        z.open("zeros.txt", "w", force_zip64=True) as f,
    ):
        for _ in range(inflated_bytes // len(chunk)):
            f.write(chunk)
    data = buf.getvalue()
    for i in range(1, layers):
        outer = io.BytesIO()
        with zipfile.ZipFile(outer, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for j in range(4):
                z.writestr(f"layer{i}-{j}.zip", data)
        data = outer.getvalue()
    path.write_bytes(data)
    return path
