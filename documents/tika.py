"""The long-lived Apache Tika process (``launcher/tika``): one warm JVM extracts many files.

``java -jar tika-app --text`` costs ~3 s of JVM start per file; here the JVM starts once and
answers one JSON line per file over stdin/stdout (see ``TikaWorker.java`` for the protocol), with
several files in flight at once. The jar comes from Maven Central through Maven, built once like
the OpenSearch launcher; nothing is downloaded at run time.

A file that hangs the parser cannot stall a load: past its time limit the JVM is killed and
restarted, the file fails with ``timeout``, and other files that were in flight are resubmitted.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import subprocess
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from documents.errors import DocumentError, ExtractorUnavailable
from lantern.processes import maven_build

REPO_ROOT = Path(__file__).resolve().parent.parent
TIKA_DIR = REPO_ROOT / "launcher" / "tika"
MAIN_CLASS = "lantern.tika.TikaWorker"
_READY_TIMEOUT = 90.0


@dataclass(frozen=True)
class TikaResult:
    content_type: str
    pages: list[str]
    metadata: dict[str, str] = field(default_factory=dict)
    truncated: bool = False


class _Restarted(Exception):
    """The JVM went away (killed for another file's timeout, or crashed) while this file was in flight."""


# ---------------------------------------------------------------------------------- build


def _classpath_file() -> Path:
    return TIKA_DIR / "target" / "classpath.txt"


def _worker_class() -> Path:
    return TIKA_DIR / "target" / "classes" / "lantern" / "tika" / "TikaWorker.class"


def build_tika(force: bool = False) -> None:
    """Compile the worker and resolve tika-app from Maven Central (cached in ~/.m2)."""
    problem = maven_build(TIKA_DIR / "pom.xml", _worker_class(), _classpath_file(), force=force)
    if problem is not None:
        raise ExtractorUnavailable("building the Tika worker failed:\n" + problem)


def tika_classpath() -> str:
    deps = _classpath_file().read_text().strip()
    return f"{TIKA_DIR / 'target' / 'classes'}{os.pathsep}{deps}"


def tika_app_jar() -> Path:
    """The tika-app jar itself (for the benchmark's side-by-side run of Tika on its own)."""
    for entry in _classpath_file().read_text().strip().split(os.pathsep):
        if Path(entry).name.startswith("tika-app-"):
            return Path(entry)
    raise ExtractorUnavailable("tika-app is not on the worker's classpath")


# -------------------------------------------------------------------------------- process


class TikaProcess:
    """A running TikaWorker JVM; thread-safe, several files in flight at once."""

    def __init__(
        self,
        *,
        java: str = "java",
        heap: str = "512m",
        threads: int = 2,
        max_chars: int = 5_000_000,
        log_path: Path | None = None,
    ) -> None:
        self.java = java
        self.heap = heap
        self.threads = threads
        self.max_chars = max_chars
        self.log_path = log_path
        self.restarts = 0
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._pending: dict[str, Future[TikaResult]] = {}
        self._log: IO[bytes] | None = None

    # -- lifecycle

    def start(self) -> TikaProcess:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._spawn()
        return self

    def _spawn(self) -> None:
        build_tika()
        cmd = [
            self.java,
            f"-Xmx{self.heap}",
            "-XX:+UseSerialGC",  # small heap, a few threads: the cheapest collector
            "-Djava.awt.headless=true",
            "-Dlog4j2.disable.jmx=true",
            "-cp",
            tika_classpath(),
            MAIN_CLASS,
            str(self.threads),
        ]
        if self._log is None:
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log = open(self.log_path, "ab")  # noqa: SIM115 (lives as long as the process)
            else:
                self._log = open(os.devnull, "wb")  # noqa: SIM115
        try:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, start_new_session=True
            )
        except FileNotFoundError as exc:
            raise ExtractorUnavailable(f"Java ({self.java}) is not installed") from exc
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], _READY_TIMEOUT)
        first = proc.stdout.readline() if ready else b""
        if not first or not json.loads(first).get("ready"):
            proc.kill()
            raise ExtractorUnavailable("the Tika worker did not start (see its log)")
        self._proc = proc
        threading.Thread(target=self._read_answers, args=(proc,), name="tika-reader", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()  # the worker finishes what it holds and exits
                proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> TikaProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _kill_and_restart(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            if self._proc is not proc:
                return  # someone else already replaced it
            proc.kill()
            proc.wait()
            self._proc = None
            self.restarts += 1
            self._spawn()

    def _read_answers(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                answer: dict[str, Any] = json.loads(raw)
            except ValueError:
                continue
            fut = self._pending.pop(str(answer.get("id")), None)
            if fut is None or fut.done():
                continue
            if answer.get("ok"):
                fut.set_result(
                    TikaResult(
                        content_type=str(answer.get("content_type") or "application/octet-stream"),
                        pages=[str(p) for p in answer.get("pages", [])],
                        metadata={str(k): str(v) for k, v in (answer.get("metadata") or {}).items()},
                        truncated=bool(answer.get("truncated")),
                    )
                )
            else:
                fut.set_exception(DocumentError(answer.get("error", "internal"), str(answer.get("message"))))
        # EOF: the JVM is gone. Whatever it still held must be resubmitted by its caller.
        proc.wait()
        for key, fut in list(self._pending.items()):
            if getattr(fut, "_lantern_proc", None) is proc and not fut.done():
                self._pending.pop(key, None)
                fut.set_exception(_Restarted())

    # -- work

    def _submit(self, path: Path) -> tuple[Future[TikaResult], subprocess.Popen[bytes]]:
        text = str(Path(path).resolve())
        if "\t" in text or "\n" in text:
            raise DocumentError("unsupported", "file paths with tabs or newlines cannot be extracted")
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._spawn()
            proc = self._proc
            assert proc is not None and proc.stdin is not None
            key = str(next(self._ids))
            fut: Future[TikaResult] = Future()
            fut._lantern_proc = proc  # type: ignore[attr-defined]
            self._pending[key] = fut
            try:
                proc.stdin.write(f"{key}\t{text}\t{self.max_chars}\n".encode())
                proc.stdin.flush()
            except OSError:
                self._pending.pop(key, None)
                fut.set_exception(_Restarted())
        return fut, proc

    def extract(self, path: Path, timeout: float) -> TikaResult:
        """Text of ``path`` (PDF: one string per page). Raises ``DocumentError`` with a reason."""
        deadline = time.monotonic() + timeout
        for _attempt in range(3):
            fut, proc = self._submit(path)
            try:
                return fut.result(timeout=max(0.0, deadline - time.monotonic()))
            except FutureTimeout:
                # The parser is stuck on this file: only a new JVM frees the thread.
                self._kill_and_restart(proc)
                raise DocumentError("timeout", f"text extraction took longer than {timeout:.0f}s") from None
            except _Restarted:
                if time.monotonic() >= deadline:
                    break
                continue  # the JVM died under us (another file's timeout): ask the new one
        raise DocumentError("internal", "the extractor crashed repeatedly on this file")
