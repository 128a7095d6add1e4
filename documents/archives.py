"""Zip archives unpacked with limits, so a bomb is rejected instead of filling the disk.

Limits: nesting depth, member count, total unpacked bytes, and each member's compression ratio.
Sizes declared in the zip headers are checked first (cheap), then the bytes actually written
are counted while streaming (headers can lie). Member names never become paths: each member is
written under a generated name and keeps its original name as data, so ``../../etc/passwd``
cannot escape.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from documents.errors import DocumentError

ZIP_MAGIC = b"PK\x03\x04"
# Office and OpenDocument files are zips too; these members mark them as documents, not archives.
_DOCUMENT_MARKERS = ("[Content_Types].xml", "mimetype", "META-INF/manifest.xml")
_CHUNK = 256 * 1024


@dataclass(frozen=True)
class ArchiveLimits:
    max_depth: int = 2
    max_members: int = 500
    max_total_bytes: int = 500 * 1024 * 1024
    max_ratio: float = 200.0


@dataclass(frozen=True)
class Member:
    name: str  # path inside the archive(s), e.g. "bundle.zip/statements/s1.pdf"
    path: Path  # where it was unpacked


def is_plain_zip(path: Path) -> bool:
    """A zip archive that is not itself an Office/OpenDocument file."""
    with open(path, "rb") as f:
        if f.read(4) != ZIP_MAGIC:
            return False
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
    except (zipfile.BadZipFile, OSError):
        return True  # looks like a zip but is broken: unpack() will say so
    return not any(m in names for m in _DOCUMENT_MARKERS)


class _Budget:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.members = 0
        self.bytes = 0

    def count_member(self, name: str) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise DocumentError(
                "archive_limit", f"archive holds more than {self.limits.max_members} files (at {name})"
            )

    def add_bytes(self, n: int, name: str) -> None:
        self.bytes += n
        if self.bytes > self.limits.max_total_bytes:
            raise DocumentError(
                "archive_limit",
                f"archive unpacks to more than {self.limits.max_total_bytes // (1024 * 1024)} MB (at {name})",
            )


def unpack(archive: Path, dest: Path, limits: ArchiveLimits, prefix: str | None = None) -> list[Member]:
    """Unpack ``archive`` (and zips inside it, to ``limits.max_depth``) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    budget = _Budget(limits)
    return _unpack(archive, dest, limits, budget, prefix or archive.name, depth=1)


def _unpack(
    archive: Path, dest: Path, limits: ArchiveLimits, budget: _Budget, prefix: str, depth: int
) -> list[Member]:
    if depth > limits.max_depth:
        raise DocumentError("archive_limit", f"archives nested more than {limits.max_depth} deep ({prefix})")
    try:
        z = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DocumentError("corrupt", f"{prefix} is not a readable zip archive: {exc}") from exc
    out: list[Member] = []
    dest.mkdir(parents=True, exist_ok=True)
    with z:
        infos = [i for i in z.infolist() if not i.is_dir()]
        declared = 0
        for info in infos:
            name = f"{prefix}/{PurePosixPath(info.filename).as_posix()}"
            budget.count_member(name)
            if info.flag_bits & 0x1:
                raise DocumentError("encrypted", f"{name} is encrypted inside the archive")
            declared += info.file_size
            if declared + budget.bytes > limits.max_total_bytes:
                raise DocumentError(
                    "archive_limit",
                    f"archive declares more than {limits.max_total_bytes // (1024 * 1024)} MB unpacked",
                )
            if info.compress_size and info.file_size / info.compress_size > limits.max_ratio:
                raise DocumentError(
                    "archive_limit",
                    f"{name} expands {info.file_size / info.compress_size:.0f}x "
                    f"(limit {limits.max_ratio:.0f}x): a zip bomb",
                )
        for index, info in enumerate(infos):
            name = f"{prefix}/{PurePosixPath(info.filename).as_posix()}"
            target = dest / f"{depth}-{index:05d}{PurePosixPath(info.filename).suffix[:16]}"
            written = 0
            try:
                with z.open(info) as src, open(target, "wb") as out_f:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        budget.add_bytes(len(chunk), name)
                        if info.compress_size and written / info.compress_size > limits.max_ratio:
                            raise DocumentError("archive_limit", f"{name} expands beyond its declared size")
                        out_f.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise DocumentError("corrupt", f"{name} could not be unpacked: {exc}") from exc
            if is_plain_zip(target):
                out.extend(_unpack(target, dest / f"{depth}-{index:05d}.d", limits, budget, name, depth + 1))
                target.unlink()
            else:
                out.append(Member(name=name, path=target))
    return out
