"""Synthetic documents for tests, benchmarks and the demo: nothing real, nothing downloaded.

Text-layer PDFs come from reportlab, DOCX from python-docx, "scanned" pages from text rendered
with Pillow (noise, a slight rotation) and wrapped as an image-only PDF, so OCR is the only way
to read them. ODT, RTF and EML are small enough to write directly (ODT: a zip holding
``content.xml``; odfpy, the one writer library, has not been released since 2020 and would be a
dependency for twenty lines). There is no free generator for Word 97 ``.doc`` or Outlook
``.msg`` without LibreOffice/Outlook, so those formats are not generated here.
"""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any
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


# ------------------------------------------------------------------------ demo attachments

_VRM_LETTERS = "ABCDEFGHJKLMNPRSTUVWXY"  # no I, Q, Z; no O either: OCR reads it as 0


def _needle_vrm(rnd: random.Random, taken: str) -> str:
    """A valid current-format VRM that appears nowhere in ``taken`` (the feeds' text)."""
    from entity_extraction import canonicalise

    while True:
        vrm = (
            "".join(rnd.choice(_VRM_LETTERS) for _ in range(2))
            + f"{rnd.choice([19, 20, 21, 22, 23, 69, 70, 71, 72, 73]):02d}"
            + "".join(rnd.choice(_VRM_LETTERS) for _ in range(3))
        )
        spaced = f"{vrm[:4]} {vrm[4:]}"
        if canonicalise("VRM", spaced) == vrm and vrm not in taken and spaced not in taken:
            return spaced


def _open_to_all(row: dict[str, Any]) -> bool:
    m = row.get("markings") or {}
    return not (m.get("sensitivity") or m.get("restricted_units") or m.get("handling_code") == "C")


def attach_demo_documents(
    feed_dir: Path, attachments_root: Path, count: int = 24, seed: int = 42
) -> dict[str, object]:
    """Give demo records documents: statements and scanned notebook pages on crime reports (in
    the feed's ``attachments``), interview transcripts on case files (through a manifest).

    Each scanned page names a VRM that appears nowhere else (listed in the returned summary and
    in ``<attachments_root>/demo/NEEDLES.txt``): the demo's "find it only in a scan" check.
    """
    rnd = random.Random(seed)
    crime_feed = feed_dir / "crime.ndjson"
    case_feed = feed_dir / "case.ndjson"
    taken = "".join(p.read_text(encoding="utf-8", errors="replace") for p in feed_dir.glob("*.*"))
    crimes = [
        json.loads(line) for line in crime_feed.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    demo_dir = attachments_root / "demo"
    demo_dir.mkdir(parents=True, exist_ok=True)
    open_rows = [i for i, r in enumerate(crimes) if _open_to_all(r)]
    restricted_rows = [i for i, r in enumerate(crimes) if not _open_to_all(r)]
    chosen = sorted(rnd.sample(open_rows, min(count, len(open_rows))))
    if restricted_rows:
        chosen.append(rnd.choice(restricted_rows))  # one restricted record with a scan too
    needles: list[dict[str, str]] = []
    for n, i in enumerate(chosen):
        row = crimes[i]
        folder = demo_dir / row["source_id"].replace("/", "-")
        folder.mkdir(exist_ok=True)
        rel = folder.relative_to(attachments_root).as_posix()
        people = row.get("people") or []
        witness = next(
            (p for p in people if p.get("role") in ("victim", "witness")), people[0] if people else None
        )
        other = next((p for p in people if p is not witness), witness)
        wname = f"{witness['forename']} {witness['surname']}" if witness else "the witness"
        oname = f"{other['forename']} {other['surname']}" if other else "an unknown man"
        phone = f"07700 900{rnd.randint(0, 999):03d}"
        text_pdf(
            folder / "statement.pdf",
            [
                f"WITNESS STATEMENT (MG11)\nStatement of {wname}.\n"
                "This statement, consisting of 3 pages each signed by me, is true to the best of my "
                "knowledge and belief.",
                f"{row.get('modus_operandi', '')}\nI have known {oname} for about two years.",
                f"After the incident I received a call from {phone}. I recognised the voice as {oname}.\n"
                "I am willing to attend court.",
            ],
            title=f"Statement of {wname}",
        )
        attachments = [
            {"path": f"{rel}/statement.pdf", "title": f"Statement of {wname}", "kind": "statement"}
        ]
        if n % 2 == 0 or i in restricted_rows:
            vrm = _needle_vrm(rnd, taken)
            taken += vrm
            mixed_pdf(
                folder / "notebook.pdf",
                [
                    f"Continuation sheet for {row['crime_reference']}. "
                    "Scanned pocket notebook entry follows.",
                    [
                        "POCKET NOTEBOOK - ENTRY 14",
                        f"Stopped a silver Vauxhall Astra {vrm}",
                        f"on {row.get('location', {}).get('line1', 'the High Street')}.",
                        f"Driver gave his name as {oname}.",
                        "Vehicle searched, nothing found. Words said: no comment.",
                    ],
                ],
                seed=seed + i,
            )
            attachments.append(
                {
                    "path": f"{rel}/notebook.pdf",
                    "title": "Pocket notebook (scanned)",
                    "kind": "scanned_document",
                }
            )
            needles.append(
                {
                    "vrm": vrm,
                    "record": row["crime_reference"],
                    "page": "2",
                    "restricted": "yes" if i in restricted_rows else "no",
                }
            )
        row["attachments"] = [*row.get("attachments", []), *attachments]
    with crime_feed.open("w", encoding="utf-8", newline="\n") as fh:
        for row in crimes:
            fh.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")

    manifest_rows = 0
    if case_feed.exists():
        cases = [
            json.loads(line) for line in case_feed.read_text(encoding="utf-8").splitlines() if line.strip()
        ]
        manifest_dir = attachments_root / "demo-case-papers"
        manifest_dir.mkdir(parents=True, exist_ok=True)
        picked = rnd.sample(range(len(cases)), min(max(count // 3, 1), len(cases)))
        with (manifest_dir / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["file", "source_system", "source_id", "title", "kind"])
            for k in sorted(picked):
                case = cases[k]
                defendant = next((p for p in case.get("people", []) if p.get("role") == "defendant"), None)
                dname = f"{defendant['forename']} {defendant['surname']}" if defendant else "the defendant"
                name = f"{case['urn']}-interview.docx"
                docx(
                    manifest_dir / name,
                    [
                        f"Record of taped interview with {dname}.",
                        "Q: Where were you on the evening in question? A: No comment.",
                        "Q: Do you know anyone with the phone number "
                        f"07700 900{rnd.randint(0, 999):03d}? A: No comment.",
                    ],
                    title="Record of taped interview (ROTI)",
                )
                writer.writerow(
                    [name, case["source_system"], case["source_id"], f"Interview of {dname}", "transcript"]
                )
                manifest_rows += 1
    (demo_dir / "NEEDLES.txt").write_text(
        "VRMs that appear only inside a scanned page (record, page, restricted):\n"
        + "".join(
            f"{n['vrm']}\t{n['record']}\tpage {n['page']}\trestricted={n['restricted']}\n" for n in needles
        )
    )
    return {"records_with_documents": len(chosen), "case_papers": manifest_rows, "needles": needles}
