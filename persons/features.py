"""Person mentions and the comparison features Splink reads.

A *mention* is one person as one record keyed them (detainee, suspect, victim...). Features
are computed here once, in Python, so that the same values feed training, full resolution,
incremental resolution and the search side; Splink's SQL then only compares columns.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

import pyarrow as pa

from entity_extraction import names as nk
from entity_extraction.identifiers import (
    canonical_cro,
    canonical_email,
    canonical_nino,
    canonical_pnc,
    canonical_postcode,
)
from lantern.records import AnyRecord, Person, Role

_RAW = re.compile(r"[\W\d_]+")
_NON_DIGIT = re.compile(r"\D+")
# How entity_extraction.names splits a name into tokens (spaces, hyphens, commas).
_SPLIT = re.compile(r"[\s\-,]+")
MENTION_NAMESPACE = uuid.UUID("0f3b7c52-92a4-4a8e-8d67-7d6a3f1c2b90")

# Roles that are people the force deals with; officers are staff, not nominals.
RESOLVED_ROLES = frozenset(r.value for r in Role if r not in (Role.OFFICER,))


@dataclass(frozen=True)
class Mention:
    """One person in one record, as keyed. ``mention_id`` is stable across reloads."""

    mention_id: str
    record_id: str
    role: str
    surname: str
    forename: str | None = None
    middle_names: str | None = None
    dob: date | None = None
    gender: str | None = None
    pnc_id: str | None = None
    cro_no: str | None = None
    postcode: str | None = None
    address_line: str | None = None
    phones: tuple[str, ...] = ()
    vrms: tuple[str, ...] = ()
    # ISO date of the record: the earliest mention of a nominal names it (stable ids).
    record_date: str = ""
    nino: str | None = None
    email: str | None = None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.forename, self.middle_names, self.surname) if p)


def mention_id(record_id: str, role: str, person: Person, occurrence: int) -> str:
    """Deterministic id: the same person in the same record keeps it across reloads, whatever
    the order of the record's people list."""
    key = "\x1f".join(
        [record_id, role, nk.fold(person.forename or ""), nk.fold(person.surname), str(person.dob or "")]
    )
    return str(uuid.uuid5(MENTION_NAMESPACE, f"{key}\x1f{occurrence}"))


def person_mentions(record: AnyRecord) -> list[Mention | None]:
    """One entry per ``record.all_people()`` person, in that order: its mention, or None for
    an officer (staff are not resolved). The record's vehicles go with every mention."""
    rid = record.record_id
    vrms = tuple(v.vrm for v in record.vehicles)
    seen: Counter[str] = Counter()
    out: list[Mention | None] = []
    for person in record.all_people():
        if person.role.value not in RESOLVED_ROLES:
            out.append(None)
            continue
        base = mention_id(rid, person.role.value, person, 0)
        seen[base] += 1
        mid = base if seen[base] == 1 else mention_id(rid, person.role.value, person, seen[base] - 1)
        addr = person.address
        out.append(
            Mention(
                mention_id=mid,
                record_id=rid,
                role=person.role.value,
                surname=person.surname,
                forename=person.forename,
                middle_names=person.middle_names,
                dob=person.dob,
                gender=person.gender,
                pnc_id=person.pnc_id,
                cro_no=person.cro_no,
                postcode=addr.postcode if addr else None,
                address_line=addr.line1 if addr else None,
                phones=tuple(person.phones),
                vrms=vrms,
                record_date=record.record_date.date().isoformat(),
                nino=person.nino,
                email=person.email,
            )
        )
    return out


def mentions_from_record(record: AnyRecord) -> list[Mention]:
    """Every resolvable person of a record (officers excluded)."""
    return [m for m in person_mentions(record) if m is not None]


# ----------------------------------------------------------------------------- features


def _swap_day_month(d: date) -> str | None:
    if d.day > 12 or d.day == d.month:
        return None
    return date(d.year, d.day, d.month).isoformat()


def _norm_pnc(value: str | None) -> str | None:
    if not value:
        return None
    # Keyed without the slash (``20160004581X``) is common; put it back before validating.
    v = value.strip().upper().replace(" ", "")
    if "/" not in v and len(v) >= 4 and v[:-1].isdigit():
        v = f"{v[:4]}/{v[4:]}" if len(v) >= 12 else f"{v[:2]}/{v[2:]}"
    return canonical_pnc(v)


def _norm_postcode(value: str | None) -> str | None:
    if not value:
        return None
    return canonical_postcode(value)


def phone_key(value: str) -> str | None:
    """A phone number as comparable digits (UK national form: ``07700900123``).

    Not ``canonical_phone``: phonenumbers' validation costs ~2 ms a number, which alone would
    make ingest-time resolution miss its budget; linkage only needs two spellings of one
    number to be equal, and numbers were validated when the record was indexed.
    """
    digits = _NON_DIGIT.sub("", value)
    if value.strip().startswith("+") or digits.startswith("00"):
        digits = digits.lstrip("0")
        if not digits.startswith("44"):
            return "+" + digits if len(digits) >= 8 else None
        digits = digits[2:]
    elif digits.startswith("44") and len(digits) >= 12:
        digits = digits[2:]
    if not digits.startswith("0"):
        digits = "0" + digits
    return digits if 10 <= len(digits) <= 11 else None


def _norm_vrm(value: str) -> str:
    return "".join(ch for ch in value.upper() if ch.isalnum())


COLUMNS: dict[str, pa.DataType] = {
    "unique_id": pa.string(),
    "record_id": pa.string(),
    "record_date": pa.string(),
    "forename": pa.string(),
    "surname": pa.string(),
    "surname_raw": pa.string(),
    "forename_key": pa.string(),
    "surname_key": pa.string(),
    "forename_initial": pa.string(),
    "middle": pa.string(),
    "forename_phon": pa.list_(pa.string()),
    "surname_phon": pa.list_(pa.string()),
    "forename_variants": pa.list_(pa.string()),
    "surname_tokens": pa.list_(pa.string()),
    "name_tokens": pa.list_(pa.string()),
    "dob": pa.string(),
    "dob_swapped": pa.string(),
    "dob_year": pa.int32(),
    "dob_md": pa.string(),
    "gender": pa.string(),
    "pnc": pa.string(),
    "cro": pa.string(),
    "nino": pa.string(),
    "email": pa.string(),
    "postcode": pa.string(),
    "address": pa.string(),
    "phones": pa.list_(pa.string()),
    "vrms": pa.list_(pa.string()),
    # Single-valued blocking keys for the list columns above (see model.BLOCKING_RULES).
    "phone_key": pa.string(),
    "vrm_key": pa.string(),
    "forename_group": pa.string(),
}

SCHEMA = pa.schema(list(COLUMNS.items()))


def _first_token(name: str | None) -> str | None:
    """The first given name as written (diacritics kept: the sound-alike keys hear them)."""
    parts = [p for p in _SPLIT.split(name or "") if nk.fold(p)]
    return parts[0] if parts else None


# A short form is at least this long and the full form at least this much longer: "Abdi" /
# "Abdirahman", "Chris" / "Christopher", "Nike" / "Adenike", "Beth" / "Elizabeth", but not
# "Dan" / "Dana" or "Daniel" / "Daniela" (different people, often twins or siblings).
SHORT_FORM_MIN = 3
SHORT_FORM_EXTRA = 2


def is_short_form(a: str | None, b: str | None) -> bool:
    """Is one folded forename the start or the end of the other (a clipped form)?

    A general rule rather than more rows in the variant tables: clipping is how diminutives
    are made in most naming traditions a force meets (English "Alex", Somali "Abdi", Yoruba
    "Seun" for Oluwaseun), so a name outside both tables is still recognised. The SQL twin of
    this is ``persons.model.SHORT_FORM``; the two must agree.
    """
    if not a or not b:
        return False
    short, full = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < SHORT_FORM_MIN or len(full) < len(short) + SHORT_FORM_EXTRA:
        return False
    return full.startswith(short) or full.endswith(short)


def blocking_key(token: str) -> str | None:
    """One sound-alike value per name, for equality blocking (a join needs a single value;
    comparisons use every key family). Double Metaphone's primary code, as search keys it."""
    return nk.double_metaphone(token)[0] or None


# Names repeat (a force holds thousands of Smiths and Johns): each distinct forename and
# surname is keyed once. Ingest computes features for every batch and for every member of the
# nominals it rewrites, and the name keys were most of that time.
NAME_CACHE = 65_536


@lru_cache(maxsize=NAME_CACHE)
def _given(forename: str) -> tuple[list[str], str | None, str | None, list[str], list[str], str | None]:
    """(tokens, first folded, blocking key, sound-alike keys, variants, variant group) of a
    forename as keyed. Callers copy the lists (the cache hands out the same objects)."""
    tokens = nk.name_tokens(forename)
    first = tokens[0] if tokens else None
    first_raw = _first_token(forename)
    phon = sorted(nk.phonetic_keys(first_raw)) if first_raw else []
    variants = nk.forename_variants(first) if first else set()
    return (
        tokens,
        first,
        blocking_key(first_raw) if first_raw else None,
        phon,
        sorted(variants),
        # The alphabetically first of the forename's variants: "Jim" and "James" both give
        # "james", so a diminutive meets its formal form in one equality join.
        min(variants) if first else None,
    )


@lru_cache(maxsize=NAME_CACHE)
def _family(surname: str) -> tuple[list[str], str | None, list[str], str | None, str | None]:
    """(tokens, folded, sound-alike keys, lower-cased with accents, blocking key) of a surname."""
    tokens = nk.name_tokens(surname)
    folded = "".join(tokens) or None
    phon = set(nk.phonetic_keys_for_name(surname)) | nk.phonetic_keys(surname)
    return (
        tokens,
        folded,
        sorted(phon),
        # Lower-cased with its accents: agreement here is stronger than after folding.
        _RAW.sub("", surname.lower()) or None,
        blocking_key(surname) if folded else None,
    )


def features(m: Mention) -> dict[str, Any]:
    """The Splink input row of one mention. Missing values are NULL (neutral), never ''.

    All name handling is ``entity_extraction.names`` (the same folding, sound-alike keys and
    forename variants search uses), so a person is linked and found by one set of rules.
    """
    fore_tokens, first, fore_key, fore_phon, variants, group = _given(m.forename or "")
    sur_tokens, surname, sur_phon, surname_raw, surname_key = _family(m.surname)
    middle = nk.name_tokens(m.middle_names or "")
    gender = m.gender if m.gender in ("male", "female") else None
    phones = sorted({p for p in (phone_key(x) for x in m.phones) if p})
    vrms = sorted({_norm_vrm(v) for v in m.vrms if v.strip()})
    postcode = _norm_postcode(m.postcode)
    line = nk.fold(m.address_line or "")
    return {
        "unique_id": m.mention_id,
        "record_id": m.record_id,
        "record_date": m.record_date,
        "forename": first,
        "surname": surname,
        "surname_raw": surname_raw,
        "forename_key": fore_key,
        "surname_key": surname_key,
        "forename_initial": first[0] if first else None,
        "middle": middle[0] if middle else None,
        "forename_phon": list(fore_phon) or None,
        "surname_phon": list(sur_phon) or None,
        "forename_variants": list(variants) if first else None,
        "surname_tokens": list(sur_tokens) or None,
        # Every name token: a forename keyed into the surname box still meets its other half.
        "name_tokens": sorted(set(fore_tokens + middle + sur_tokens)) or None,
        "dob": m.dob.isoformat() if m.dob else None,
        "dob_swapped": _swap_day_month(m.dob) if m.dob else None,
        "dob_year": m.dob.year if m.dob else None,
        "dob_md": m.dob.isoformat()[5:] if m.dob else None,
        "gender": gender,
        "pnc": _norm_pnc(m.pnc_id),
        "cro": canonical_cro(m.cro_no) if m.cro_no else None,
        # Validated and in one form ("QQ 12 34 56 C" and "qq123456c" agree); an invalid value
        # is no evidence either way.
        "nino": canonical_nino(m.nino) if m.nino else None,
        "email": canonical_email(m.email) if m.email else None,
        "postcode": postcode,
        "address": f"{line}|{postcode}" if (line and postcode) else None,
        "phones": phones or None,
        "vrms": vrms or None,
        "phone_key": phones[0] if phones else None,
        "vrm_key": vrms[0] if vrms else None,
        "forename_group": group,
    }


# Rows turned into Arrow per chunk: a million mentions as one list of dicts was gigabytes at
# once (the peak memory of a full rebuild), the Arrow columns a tenth of that.
FEATURE_CHUNK = 50_000


def feature_table(mentions: Iterable[Mention]) -> pa.Table:
    parts: list[pa.Table] = []
    rows: list[dict[str, Any]] = []
    for m in mentions:
        rows.append(features(m))
        if len(rows) == FEATURE_CHUNK:
            parts.append(pa.Table.from_pylist(rows, schema=SCHEMA))
            rows = []
    if rows or not parts:
        parts.append(pa.Table.from_pylist(rows, schema=SCHEMA))
    # One chunk per column, as one from_pylist gives (DuckDB reads and samples it alike).
    return parts[0] if len(parts) == 1 else pa.concat_tables(parts).combine_chunks()


def feature_rows(mentions: Sequence[Mention]) -> list[dict[str, Any]]:
    return [features(m) for m in mentions]
