"""Content-addressed store for original documents: a file's name is the SHA-256 of its bytes.

The same statement attached to two records is stored once; a name can be checked against the
bytes at any time (tamper evidence for disclosure); nothing about a file's origin leaks into
its name. Layout: ``<root>/sha256/ab/cd/abcd...`` (two fan-out levels keep directories small).

Production: the same keys map one-to-one onto an S3-compatible object store (bucket
``lantern-documents``, key ``sha256/ab/cd/<hex>``, object lock in compliance mode for
retention); only this class knows the layout, so swapping it for an object-store client
with the same three methods (``put_file``, ``path``/``open``, ``exists``) is the whole change.
Originals never go into OpenSearch.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, BinaryIO

_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class ContentStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, digest: str) -> Path:
        if not _HEX.match(digest):
            # The digest may come from a URL: never let it become a path outside the store.
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / "sha256" / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def open(self, digest: str) -> BinaryIO:
        return open(self.path(digest), "rb")

    def put_bytes(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._install(digest, lambda f: f.write(data))
        return digest

    def put_file(self, source: Path) -> str:
        """Copy ``source`` in (hashing while copying); returns its digest. Idempotent."""
        h = hashlib.sha256()
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            digest = h.hexdigest()
            target = self.path(digest)
            if target.exists():
                os.unlink(tmp)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, target)
            return digest
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def verify(self, digest: str) -> bool:
        """True when the stored bytes still hash to their name."""
        return sha256_file(self.path(digest)) == digest

    def _install(self, digest: str, write: Callable[[IO[bytes]], object]) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
            os.chmod(tmp, 0o444)
            os.replace(tmp, target)  # atomic: readers never see half a file
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def copy_out(self, digest: str, dest: Path) -> Path:
        shutil.copyfile(self.path(digest), dest)
        return dest
