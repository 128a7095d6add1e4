"""Lawful purposes a user states before searching, and the references they need.

The table below is the default. A force replaces it with a TOML file named by the
environment variable ``LANTERN_PURPOSES_FILE``::

    [[purpose]]
    code = "investigation"
    label = "Criminal investigation"
    reference_required = true
    reference_kinds = ["crime", "incident", "urn", "custody"]

``reference_kinds`` names entries of ``REFERENCE_PATTERNS`` (a reference must match one of
them); an empty list accepts any reference text.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Sanity patterns (after upper-casing and collapsing spaces): they catch typos and
# placeholder text ("n/a", "test"), not prove that a reference exists.
REFERENCE_PATTERNS: dict[str, tuple[str, re.Pattern[str]]] = {
    "crime": ("crime reference, e.g. CR/012345/24", re.compile(r"^CR/\d{6}/\d{2}$")),
    "incident": (
        "incident / CAD log, e.g. INC-240312-0042 or CAD 1234 12/03/24",
        re.compile(r"^(INC|CAD|LOG)[ /-]?\d{1,8}([ /-]\d{1,8}){0,3}$"),
    ),
    "urn": ("case URN, e.g. 01MP1234524", re.compile(r"^\d{2}[A-Z]{2}\d{7}$")),
    "custody": ("custody number, e.g. 01MP/2024/012345", re.compile(r"^\d{2}[A-Z]{2}/\d{4}/\d{6}$")),
    "intel": ("intelligence reference, e.g. IR/2024/000123", re.compile(r"^IR/\d{4}/\d{6}$")),
    "operation": ("operation name, e.g. OP KINGFISHER", re.compile(r"^OP(ERATION)? [A-Z][A-Z -]{2,40}$")),
    "safeguarding": (
        "safeguarding / MASH referral, e.g. MASH/2024/00123",
        re.compile(r"^(MASH|SG|SAFE)[ /-]?\d{2,4}([ /-]\d{1,8}){0,2}$"),
    ),
    "vetting": ("vetting case, e.g. VET/2024/0042", re.compile(r"^VET[ /-]?\d{2,4}([ /-]\d{1,8}){0,2}$")),
}


@dataclass(frozen=True)
class Purpose:
    code: str
    label: str
    reference_required: bool
    reference_kinds: tuple[str, ...] = ()

    def hint(self) -> str:
        return "; ".join(REFERENCE_PATTERNS[k][0] for k in self.reference_kinds if k in REFERENCE_PATTERNS)


@dataclass(frozen=True)
class PurposeInfo:
    """The purpose in force for a request (``request.state.purpose``)."""

    code: str
    label: str
    reference: str | None = None

    def __str__(self) -> str:
        return f"{self.label} ({self.reference})" if self.reference else self.label


DEFAULT_PURPOSES: tuple[Purpose, ...] = (
    Purpose(
        "investigation", "Criminal investigation", True, ("crime", "incident", "urn", "custody", "operation")
    ),
    Purpose("intelligence_development", "Intelligence development", True, ("intel", "operation", "crime")),
    Purpose("safeguarding", "Safeguarding / vulnerability", True, ("safeguarding", "incident", "crime")),
    Purpose("custody", "Custody management", True, ("custody",)),
    Purpose("incident_response", "Responding to an incident", True, ("incident",)),
    Purpose("prosecution", "Case file / prosecution", True, ("urn", "crime")),
    Purpose("vetting", "Vetting", True, ("vetting",)),
    Purpose("missing_person", "Missing person enquiry", True, ("incident", "crime")),
    Purpose("training", "Training (synthetic data only)", False, ()),
)


class PurposeError(ValueError):
    pass


def normalise_reference(reference: str | None) -> str | None:
    if reference is None:
        return None
    ref = " ".join(reference.upper().split())
    return ref or None


@lru_cache(maxsize=4)
def _load(path: str | None) -> tuple[Purpose, ...]:
    if not path:
        return DEFAULT_PURPOSES
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    out = []
    for item in data.get("purpose", []):
        kinds = tuple(item.get("reference_kinds", ()))
        unknown = [k for k in kinds if k not in REFERENCE_PATTERNS]
        if unknown:
            raise PurposeError(f"{path}: unknown reference kinds {unknown}")
        required = bool(item.get("reference_required"))
        out.append(Purpose(str(item["code"]), str(item["label"]), required, kinds))
    if not out:
        raise PurposeError(f"{path}: no [[purpose]] entries")
    return tuple(out)


def purposes() -> tuple[Purpose, ...]:
    return _load(os.environ.get("LANTERN_PURPOSES_FILE"))


def get_purpose(code: str) -> Purpose | None:
    return next((p for p in purposes() if p.code == code), None)


def validate(code: str, reference: str | None) -> PurposeInfo:
    """A PurposeInfo for a stated purpose, or PurposeError saying what is wrong."""
    purpose = get_purpose((code or "").strip())
    if purpose is None:
        raise PurposeError("Choose a purpose from the list.")
    ref = normalise_reference(reference)
    if ref and len(ref) > 64:
        raise PurposeError("The reference is too long (64 characters at most).")
    if purpose.reference_required and not ref:
        raise PurposeError(f"{purpose.label} needs a reference: {purpose.hint()}.")
    if (
        ref
        and purpose.reference_kinds
        and not any(REFERENCE_PATTERNS[k][1].match(ref) for k in purpose.reference_kinds)
    ):
        raise PurposeError(
            f"{ref!s} does not look like a reference for {purpose.label}: expected {purpose.hint()}."
        )
    return PurposeInfo(purpose.code, purpose.label, ref)


def from_stored(code: str | None, reference: str | None) -> PurposeInfo | None:
    if not code:
        return None
    purpose = get_purpose(code)
    if purpose is None:  # the table changed since the purpose was set: ask again
        return None
    return PurposeInfo(purpose.code, purpose.label, reference)


def parse_header(value: str) -> PurposeInfo:
    """``X-Lantern-Purpose: CODE;REFERENCE`` for API clients."""
    code, _, ref = value.partition(";")
    return validate(code.strip(), ref.strip() or None)
