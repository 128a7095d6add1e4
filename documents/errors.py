"""Why a document could not be read. The ``code`` is stable (shown on the admin page and in the
rejects queue); the message is for people."""

from __future__ import annotations

from typing import Literal

from lantern.errors import LanternError

FailureCode = Literal[
    "encrypted",
    "corrupt",
    "empty",
    "missing",
    "unsupported",
    "timeout",
    "too_large",
    "archive_limit",
    "ocr_failed",
    "internal",
]


class DocumentError(LanternError):
    """A document was rejected; ``code`` says why in one word, ``str(self)`` in a sentence."""

    def __init__(self, code: FailureCode, message: str) -> None:
        super().__init__(message)
        self.code: FailureCode = code


class ExtractorUnavailable(LanternError):
    """The Tika process could not be built or started (Java or Maven missing, build failed)."""
