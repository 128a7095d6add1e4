"""Document extraction against the real Tika process and Debian's Tesseract.

Every input is generated here (reportlab, python-docx, Pillow); nothing real, nothing downloaded.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from demo import documents as gen
from documents.archives import ArchiveLimits
from documents.extract import ExtractedDocument, Extractor, Limits
from documents.ledger import Ledger
from documents.store import ContentStore, sha256_file
from documents.tika import TikaProcess
from entity_extraction import Label, extract

STATEMENT = [
    "Statement of Aisha Rahman, aged over 18.",
    "On 3 March 2026 at 21:40 I saw a silver Ford Focus, registration KX19 LMN, parked on Mill Lane.",
]


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Extractor]:
    root = tmp_path_factory.mktemp("store")
    tika = TikaProcess(threads=2, log_path=root / "tika.log")
    limits = Limits(
        time_limit=120,
        archive=ArchiveLimits(max_depth=2, max_members=20, max_total_bytes=20 * 1024 * 1024, max_ratio=100),
    )
    with Extractor(ContentStore(root / "objects"), tika, limits) as ex:
        yield ex


def _one(extractor: Extractor, path: Path) -> ExtractedDocument:
    docs = extractor.extract(path)
    assert len(docs) == 1
    return docs[0]


def test_text_pdf_keeps_page_numbers(extractor: Extractor, tmp_path: Path) -> None:
    pdf = gen.text_pdf(
        tmp_path / "s.pdf", ["First page mentions nothing.", "Second page: " + STATEMENT[1], "Third page."]
    )
    doc = _one(extractor, pdf)
    assert doc.status == "extracted", doc.error
    assert doc.content_type == "application/pdf"
    assert [p.number for p in doc.pages] == [1, 2, 3]
    assert "KX19 LMN" in doc.pages[1].text and "KX19" not in doc.pages[0].text
    assert not any(p.ocr for p in doc.pages)
    assert doc.digest == sha256_file(pdf)
    assert extractor.store.exists(doc.digest) and extractor.store.verify(doc.digest)


@pytest.mark.parametrize(
    ("suffix", "make", "mime"),
    [
        ("docx", lambda p: gen.docx(p, STATEMENT), "wordprocessingml"),
        ("odt", lambda p: gen.odt(p, STATEMENT), "opendocument.text"),
        ("rtf", lambda p: gen.rtf(p, STATEMENT), "rtf"),
        ("html", lambda p: gen.html(p, "Intel report", STATEMENT), "html"),
        ("txt", lambda p: gen.txt(p, STATEMENT), "text/plain"),
        ("eml", lambda p: gen.eml(p, "Sighting on Mill Lane", "\n".join(STATEMENT)), "message/rfc822"),
    ],
)
def test_each_format_extracts(
    extractor: Extractor, tmp_path: Path, suffix: str, make: Callable[[Path], Path], mime: str
) -> None:
    path = tmp_path / f"doc.{suffix}"
    make(path)
    doc = _one(extractor, path)
    assert doc.status == "extracted", doc.error
    assert mime in doc.content_type
    assert "KX19 LMN" in doc.text and "Aisha Rahman" in doc.text


def test_email_attachment_text_is_extracted(extractor: Extractor, tmp_path: Path) -> None:
    inner = gen.text_pdf(tmp_path / "inner.pdf", ["Attached: vehicle YB07 XYZ seen twice."])
    mail = gen.eml(
        tmp_path / "m.eml",
        "FW: sighting",
        "See attached.",
        attachment=("s.pdf", inner.read_bytes(), "application/pdf"),
    )
    doc = _one(extractor, mail)
    assert doc.status == "extracted", doc.error
    assert "See attached." in doc.text and "YB07 XYZ" in doc.text


def test_scanned_pdf_is_ocred_and_entities_found(extractor: Extractor, tmp_path: Path) -> None:
    scanned = gen.scanned_pdf(
        tmp_path / "scan.pdf",
        [
            ["CONTINUATION SHEET", "Page intentionally about nothing much at all."],
            [
                "WITNESS STATEMENT",
                "I saw a silver Ford Focus registration KX19 LMN",
                "driven by a man I know as Daniel Hughes.",
            ],
        ],
        seed=7,
    )
    doc = _one(extractor, scanned)
    assert doc.status == "ocr", doc.error
    assert [p.number for p in doc.pages] == [1, 2]
    assert all(p.ocr for p in doc.pages)
    page2 = doc.pages[1].text
    entities = extract(page2)
    vrms = {e.value for e in entities if e.label == Label.VRM}
    people = [e.text for e in entities if e.label == Label.PERSON]
    assert "KX19LMN" in vrms, page2
    assert any("Daniel Hughes" in p for p in people), (page2, entities)


def test_only_pages_without_text_layer_are_ocred(extractor: Extractor, tmp_path: Path) -> None:
    out = gen.mixed_pdf(
        tmp_path / "mixed.pdf",
        ["A typed page about vehicle KX19 LMN and nothing else.", ["SCANNED PAGE", "Contact Daniel Hughes"]],
        seed=2,
    )
    doc = _one(extractor, out)
    assert doc.status == "ocr", doc.error
    assert [p.ocr for p in doc.pages] == [False, True]
    assert "KX19 LMN" in doc.pages[0].text
    assert "Hughes" in doc.pages[1].text


def test_image_goes_straight_to_tesseract(extractor: Extractor, tmp_path: Path) -> None:
    png = gen.scanned_png(
        tmp_path / "photo.png", ["INTELLIGENCE REPORT", "Vehicle KX19 LMN seen on Mill Lane"], seed=4
    )
    doc = _one(extractor, png)
    assert doc.status == "ocr", doc.error
    assert doc.content_type == "image/png"
    assert "KX19 LMN" in doc.text


def test_encrypted_pdf_rejected_with_reason(extractor: Extractor, tmp_path: Path) -> None:
    doc = _one(extractor, gen.encrypted_pdf(tmp_path / "locked.pdf"))
    assert doc.status == "failed"
    assert doc.error_code == "encrypted"
    assert "password" in (doc.error or "")
    assert doc.digest is not None  # the original is kept, so it can be retried with a password


def test_corrupt_and_empty_files_rejected_with_reasons(extractor: Extractor, tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage")
    doc = _one(extractor, bad)
    assert (doc.status, doc.error_code) == ("failed", "corrupt")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    doc = _one(extractor, empty)
    assert (doc.status, doc.error_code) == ("failed", "empty")
    missing = _one(extractor, tmp_path / "nope.pdf")
    assert (missing.status, missing.error_code) == ("failed", "missing")


def test_zip_members_become_documents(extractor: Extractor, tmp_path: Path) -> None:
    inner = tmp_path / "inner.zip"
    with zipfile.ZipFile(inner, "w") as z:
        z.write(gen.txt(tmp_path / "note.txt", ["Note: phone 07700 900123."]), "note.txt")
    bundle = tmp_path / "bundle.zip"
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(gen.text_pdf(tmp_path / "a.pdf", STATEMENT), "statements/a.pdf")
        z.write(gen.docx(tmp_path / "b.docx", ["Second statement, Daniel Hughes."]), "b.docx")
        z.write(inner, "nested/inner.zip")
        z.writestr("../../escape.txt", "path traversal attempt: KX19 LMN")
    docs = extractor.extract(bundle)
    names = sorted(d.name for d in docs)
    assert names == [  # (on failure, show why)
        "bundle.zip/../../escape.txt",
        "bundle.zip/b.docx",
        "bundle.zip/nested/inner.zip/note.txt",
        "bundle.zip/statements/a.pdf",
    ], [d.error for d in docs]
    assert all(d.status == "extracted" for d in docs), [d.error for d in docs]
    assert not (tmp_path.parent / "escape.txt").exists()
    # The docx inside stays one document (a docx is a zip, but not an archive).
    assert next(d for d in docs if d.name.endswith("b.docx")).content_type.endswith(
        "wordprocessingml.document"
    )


def test_zip_bomb_rejected_with_reason(extractor: Extractor, tmp_path: Path) -> None:
    bomb = gen.zip_bomb(tmp_path / "bomb.zip", inflated_bytes=64 * 1024 * 1024)
    assert bomb.stat().st_size < 1024 * 1024
    docs = extractor.extract(bomb)
    assert len(docs) == 1
    assert docs[0].status == "failed" and docs[0].error_code == "archive_limit"
    assert "zip bomb" in (docs[0].error or "") or "MB" in (docs[0].error or "")


def test_nested_zip_deeper_than_limit_rejected(extractor: Extractor, tmp_path: Path) -> None:
    current = gen.txt(tmp_path / "leaf.txt", ["deep"])
    for level in range(4):
        nxt = tmp_path / f"level{level}.zip"
        with zipfile.ZipFile(nxt, "w") as z:
            z.write(current, current.name)
        current = nxt
    docs = extractor.extract(current)
    assert [(d.status, d.error_code) for d in docs] == [("failed", "archive_limit")]
    assert "nested" in (docs[0].error or "")


def test_zip_with_too_many_members_rejected(extractor: Extractor, tmp_path: Path) -> None:
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for i in range(25):
            z.writestr(f"f{i}.txt", f"file {i}")
    docs = extractor.extract(many)
    assert [(d.status, d.error_code) for d in docs] == [("failed", "archive_limit")]
    assert "more than 20 files" in (docs[0].error or "")


def test_time_limit_fails_the_document_and_the_next_one_still_works(tmp_path: Path) -> None:
    scan = gen.scanned_pdf(tmp_path / "slow.pdf", [["A page that needs OCR", "KX19 LMN"]] * 3, seed=1)
    with Extractor(ContentStore(tmp_path / "o"), TikaProcess(threads=1), Limits(time_limit=1.5)) as ex:
        doc = _one(ex, scan)
        assert (doc.status, doc.error_code) == ("failed", "timeout"), doc
        assert "longer than" in (doc.error or "") or "no time left" in (doc.error or "")
        # The same Tika process (restarted if it was the one over time) serves the next file;
        # a generous limit here, so a loaded machine cannot make this half flaky.
        after = Extractor(ex.store, ex.tika, Limits(time_limit=120))
        fine = _one(after, gen.txt(tmp_path / "ok.txt", ["quick one"]))
        assert fine.status == "extracted"


def test_tika_process_restarts_after_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "hang.pdf"
    import os

    os.mkfifo(fifo)  # opening a FIFO with no writer blocks the parser thread forever
    from documents.errors import DocumentError

    with TikaProcess(threads=1) as tika:
        first_pid = tika.pid
        with pytest.raises(DocumentError) as err:
            tika.extract(fifo, timeout=3)
        assert err.value.code == "timeout"
        assert tika.pid != first_pid and tika.restarts == 1
        ok = tika.extract(gen.txt(tmp_path / "after.txt", ["still alive"]), timeout=30)
        assert "still alive" in ok.pages[0]


def test_ledger_tracks_status_and_failed_sources(extractor: Extractor, tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    good = gen.txt(tmp_path / "g.txt", ["fine"])
    bad = gen.encrypted_pdf(tmp_path / "e.pdf")
    for path in (good, bad):
        ledger.queue(str(path), str(path), path.name, record_id="R1")
    assert ledger.counts()["queued"] == 2
    for path in (good, bad):
        for doc in extractor.extract(path):
            ledger.record(str(path), str(path), doc, record_id="R1")
    counts = ledger.counts()
    assert (counts["queued"], counts["extracted"], counts["failed"]) == (0, 1, 1)
    assert ledger.failed_sources() == [str(bad)]
    (row,) = ledger.rows(status="failed")
    assert row.error_code == "encrypted" and row.record_id == "R1"


def test_store_is_content_addressed(tmp_path: Path) -> None:
    store = ContentStore(tmp_path / "s")
    a = store.put_bytes(b"same bytes")
    f = tmp_path / "f.bin"
    f.write_bytes(b"same bytes")
    assert store.put_file(f) == a
    assert store.path(a).relative_to(store.root).parts[:3] == ("sha256", a[:2], a[2:4])
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
    assert store.verify(a)


def test_pages_render_as_png_and_are_cached(extractor: Extractor, tmp_path: Path) -> None:
    from documents.errors import DocumentError
    from documents.render import PageRenderer

    pdf = gen.text_pdf(tmp_path / "r.pdf", ["one", "two"])
    doc = _one(extractor, pdf)
    renderer = PageRenderer(extractor.store, tmp_path / "cache")
    assert doc.digest is not None
    png = renderer.page_png(doc.digest, doc.content_type, 2, width=400)
    assert png.startswith(b"\x89PNG")
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(png)).width == 400
    assert renderer.page_png(doc.digest, doc.content_type, 2, width=400) == png
    assert list((tmp_path / "cache").rglob("2-400.png"))
    with pytest.raises(DocumentError):
        renderer.page_png(doc.digest, doc.content_type, 3)
    img = _one(extractor, gen.scanned_png(tmp_path / "i.png", ["IMAGE"], seed=1))
    assert img.digest is not None
    assert renderer.page_png(img.digest, img.content_type, 1, width=300).startswith(b"\x89PNG")
    with pytest.raises(DocumentError):
        renderer.page_png(
            doc.digest, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 1
        )
