"""Document extraction throughput, in pages per second, against the engines run on their own.

Inputs are generated (demo/documents.py): ``--text-files`` text-layer PDFs of ``--text-pages``
pages, and ``--scan-files`` image-only PDFs of ``--scan-pages`` "scanned" pages each.

(a) text-layer PDFs: Lantern's ``Extractor`` (content store + Tika worker, per-page text),
    one worker and one Tika thread, its JVM start included, against ``java -jar tika-app --text``
    on the same files in one JVM (Tika's own CLI, also one thread). Target >= 0.9x.
(b) scanned pages: Lantern's ``Extractor`` (Tika finds no text layer, ocrmypdf --skip-text
    OCRs those pages), one worker, with the Tika worker already running (a load starts it once;
    the engines run directly have no JVM to start), against ``pdftoppm -r 300`` + ``tesseract`` per page
    (both with OMP_THREAD_LIMIT=1). Target >= 0.9x.
Runs are interleaved (Lantern, engine, engine, Lantern, ...) over ``--rounds`` rounds and each
side reports its best round, so a neighbour's load spike does not decide the ratio. Peak memory:
the Tika JVM's high-water RSS and the largest OCR child process. Exits 1 below a target.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from demo import documents as gen  # noqa: E402
from documents.extract import Extractor, Limits  # noqa: E402
from documents.store import ContentStore  # noqa: E402
from documents.tika import TikaProcess, build_tika, tika_app_jar  # noqa: E402

TARGET = 0.9
LINES = [
    "Statement of witness. On the evening in question I was walking along Mill Lane",
    "when I saw a silver Ford Focus, registration KX19 LMN, stop outside number 14.",
    "The driver, a man I know as Daniel Hughes, got out and spoke to a woman.",
    "I rang 07700 900123 and later gave this statement to PC 4411 at the station.",
]


def make_inputs(work: Path, text_files: int, text_pages: int, scan_files: int, scan_pages: int):  # type: ignore[no-untyped-def]
    text_dir, scan_dir = work / "text", work / "scan"
    text_dir.mkdir()
    scan_dir.mkdir()
    texts = []
    for i in range(text_files):
        pages = [f"Page {p + 1} of document {i}. " + " ".join(LINES) * 6 for p in range(text_pages)]
        texts.append(gen.text_pdf(text_dir / f"t{i:03d}.pdf", pages))
    scans = []
    for i in range(scan_files):
        scanned = [[f"CONTINUATION SHEET {i}.{p + 1}", *LINES] for p in range(scan_pages)]
        scans.append(gen.scanned_pdf(scan_dir / f"s{i:03d}.pdf", scanned, seed=i * 10))
    return texts, scans


def vm_hwm_kb(pid: int | None) -> int:
    if pid is None:
        return 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Lantern:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.tika_peak_kb = 0
        self.rounds = 0
        self.warm: TikaProcess | None = None
        self.start_seconds = 0.0

    def run(self, files: list[Path], cold: bool) -> tuple[float, int]:
        """Seconds and pages for one pass. ``cold``: the Tika JVM start is billed to this pass."""
        self.rounds += 1
        t0 = time.perf_counter()
        if cold:
            tika = TikaProcess(threads=1).start()
        else:
            if self.warm is None:
                s = time.perf_counter()
                self.warm = TikaProcess(threads=1).start()
                self.start_seconds = time.perf_counter() - s
            tika = self.warm
            t0 = time.perf_counter()
        ex = Extractor(ContentStore(self.work / f"store-{self.rounds}"), tika, Limits(time_limit=600))
        pages = 0
        for _item, docs in ex.extract_many(((f, f.name) for f in files), workers=1):
            for d in docs:
                if d.status == "failed":
                    raise SystemExit(f"{d.name} failed: {d.error}")
                pages += len(d.pages)
        self.tika_peak_kb = max(self.tika_peak_kb, vm_hwm_kb(tika.pid))
        if cold:
            tika.close()
        return time.perf_counter() - t0, pages

    def close(self) -> None:
        if self.warm is not None:
            self.warm.close()


def tika_direct(files: list[Path]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["java", "-Djava.awt.headless=true", "-jar", str(tika_app_jar()), "--text", *map(str, files)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - t0


def tesseract_direct(files: list[Path], work: Path) -> float:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    t0 = time.perf_counter()
    for f in files:
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            subprocess.run(["pdftoppm", "-r", "300", "-gray", "-png", str(f), f"{tmp}/p"], check=True)
            for img in sorted(Path(tmp).glob("p-*.png")):
                subprocess.run(
                    ["tesseract", str(img), "stdout", "-l", "eng"],
                    check=True,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
    return time.perf_counter() - t0


def interleave(rounds: int, ours, theirs):  # type: ignore[no-untyped-def]
    best_ours, best_theirs, pages = float("inf"), float("inf"), 0
    for r in range(rounds):
        order = [("ours", ours), ("theirs", theirs)] if r % 2 == 0 else [("theirs", theirs), ("ours", ours)]
        for name, fn in order:
            if name == "ours":
                secs, pages = fn()
                best_ours = min(best_ours, secs)
            else:
                best_theirs = min(best_theirs, fn())
    return best_ours, best_theirs, pages


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--text-files", type=int, default=40)
    ap.add_argument("--text-pages", type=int, default=5)
    ap.add_argument("--scan-files", type=int, default=3)
    ap.add_argument("--scan-pages", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    os.environ["OMP_THREAD_LIMIT"] = "1"
    build_tika()
    with tempfile.TemporaryDirectory(prefix="lantern-bench-docs-") as tmp:
        work = Path(tmp)
        texts, scans = make_inputs(work, args.text_files, args.text_pages, args.scan_files, args.scan_pages)
        lantern = Lantern(work)

        ours_t, tika_t, text_pages = interleave(
            args.rounds, lambda: lantern.run(texts, cold=True), lambda: tika_direct(texts)
        )
        ours_o, tess_o, scan_pages = interleave(
            args.rounds, lambda: lantern.run(scans, cold=False), lambda: tesseract_direct(scans, work)
        )
        lantern.close()
    child_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    self_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    rows = [
        ("text-layer PDFs", text_pages, ours_t, tika_t, "Tika CLI (tika-app --text, one JVM)"),
        ("scanned pages (OCR)", scan_pages, ours_o, tess_o, "pdftoppm -r 300 + tesseract"),
    ]
    print(
        f"bench-docs: best of {args.rounds} interleaved rounds, one worker each side, cores={os.cpu_count()}"
    )
    ok = True
    for label, pages, ours, theirs, engine in rows:
        ratio = theirs / ours
        ok &= ratio >= TARGET
        print(
            f"  {label:<22} {pages:>4} pages  Lantern {pages / ours:7.2f} pages/s   "
            f"{engine} {pages / theirs:7.2f} pages/s   ratio {ratio:5.2f}x  (target >= {TARGET}x)"
            f"  {'OK' if ratio >= TARGET else 'BELOW TARGET'}"
        )
    print(
        f"  Tika worker start (once per load; billed to (a) each round, not to (b)): "
        f"{lantern.start_seconds:.1f} s"
    )
    print(
        f"  peak memory: Tika JVM {lantern.tika_peak_kb / 1024:.0f} MB RSS, largest child process "
        f"{child_peak_mb:.0f} MB, this Python process {self_peak_mb:.0f} MB"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
