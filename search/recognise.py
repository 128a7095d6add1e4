"""Recognisers that run on the raw search-box text before the boolean parser sees it.

A phone number written ``+44 (0)7700 900123`` or ``(020) 7946 0123`` contains brackets that
the boolean parser would read as a group, and spaces that split it into words; a bare year
(``knife Peckham 2021``) would otherwise be a word every record must contain. Both are
recognised here, on the whole text, so the parser can treat them as single leaves.
"""

from __future__ import annotations

import logging
import re

import phonenumbers

log = logging.getLogger(__name__)

YEAR_MIN, YEAR_MAX = 1900, 2099
_YEAR = re.compile(r"(?:19|20)\d{2}")


def phone_spans(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping ``(start, end, E.164)`` for every UK phone number in ``text``.

    Two recognisers, longest span wins: the extraction rules (the spellings narratives use,
    so search and extraction agree) and ``phonenumbers``' own matcher with region GB (any
    spelling it can parse as a UK number: odd groupings, ``ext``, brackets). Each match is
    validated by the extraction's canonicaliser, so a year or a short number is never taken.
    """
    from entity_extraction import canonicalise, find_identifiers

    found: list[tuple[int, int, str]] = []
    try:
        others: list[tuple[int, int]] = []
        for e in find_identifiers(text):
            if str(e.label) == "PHONE":
                found.append((e.start, e.end, e.value))
            else:
                others.append((e.start, e.end))
        matcher = phonenumbers.PhoneNumberMatcher(text, "GB", leniency=phonenumbers.Leniency.POSSIBLE)
        for m in matcher:
            # Inside a longer token ("16/1231107C" is a PNC ID) or over another identifier:
            # not a phone number.
            if (m.end < len(text) and text[m.end].isalnum()) or (m.start > 0 and text[m.start - 1].isalnum()):
                continue
            if any(m.start < b and a < m.end for a, b in others):
                continue
            value = canonicalise("PHONE", m.raw_string)
            if value is None:
                # "020 7946 0123 ext 4": validate the number without its extension
                e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
                value = canonicalise("PHONE", e164)
            if value is not None:
                found.append((m.start, m.end, value))
    except Exception:  # a recogniser bug must not take search down
        log.exception("phone recognition failed")
        return []
    found.sort(key=lambda t: (-(t[1] - t[0]), t[0]))
    kept: list[tuple[int, int, str]] = []
    for start, end, value in found:
        if not any(start < b and a < end for a, b, _ in kept):
            kept.append((start, end, value))
    return sorted(kept)


def bare_year(word: str) -> int | None:
    """``2021`` -> 2021 for a word that is only a year in 1900..2099, else None."""
    w = word.strip()
    if _YEAR.fullmatch(w):
        year = int(w)
        if YEAR_MIN <= year <= YEAR_MAX:
            return year
    return None
