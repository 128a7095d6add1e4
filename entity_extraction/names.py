"""Name keys shared by the indexer (to index) and the portal (to query).

Phonetic keys are computed here because no phonetic analysis plugin is available to the
embedded node; computing them in Python also keeps the keys identical on any cluster.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache

import jellyfish
from nicknames import NickNamer

_NON_ALPHA = re.compile(r"[^a-z]+")


def fold(name: str) -> str:
    """Lowercase ASCII letters only: ``O'Neill`` -> ``oneill``, ``Zoë`` -> ``zoe``."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return _NON_ALPHA.sub("", ascii_name.lower())


def name_tokens(name: str) -> list[str]:
    """Folded tokens of a full name, splitting on spaces and hyphens."""
    return [t for t in (fold(p) for p in re.split(r"[\s\-]+", name)) if t]


def phonetic_keys(token: str) -> set[str]:
    """Sound-alike keys for one name token (Metaphone and NYSIIS, prefixed)."""
    folded = fold(token)
    if not folded:
        return set()
    keys = {f"m:{jellyfish.metaphone(folded)}", f"n:{jellyfish.nysiis(folded)}"}
    return {k for k in keys if len(k) > 2}


def phonetic_keys_for_name(name: str) -> list[str]:
    out: set[str] = set()
    for token in name_tokens(name):
        out |= phonetic_keys(token)
    return sorted(out)


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=20_000)
def forename_variants(forename: str) -> frozenset[str]:
    """The forename with its nicknames and formal forms: ``bill`` -> william, will, billy...

    Symmetric on purpose: indexing ``William`` and searching ``Bill`` must meet, and so must
    indexing ``Bill`` and searching ``William``.
    """
    folded = fold(forename)
    if not folded:
        return frozenset()
    namer = _namer()
    out = {folded}
    out |= {fold(n) for n in namer.nicknames_of(folded)}
    out |= {fold(n) for n in namer.canonicals_of(folded)}
    return frozenset(n for n in out if n)


def person_keys(forename: str | None, surname: str, dob: date | None, pnc_id: str | None) -> list[str]:
    """Golden-nominal linking keys: records sharing a key are probably the same person.

    ``pnc:<id>`` is authoritative. ``dob:<date>:<surname key>:<forename key>`` links
    spelling variants with the same date of birth.
    """
    keys = []
    if pnc_id:
        keys.append(f"pnc:{pnc_id}")
    if dob is not None:
        s = fold(surname)
        f = fold(forename or "")
        if s:
            skey = jellyfish.metaphone(s)
            fkey = jellyfish.metaphone(f)[:2] if f else ""
            keys.append(f"dob:{dob.isoformat()}:{skey}:{fkey}")
    return keys


_WS = re.compile(r"\s+")
_WORD_START = re.compile(r"(^|[\s'’\-])([a-zà-ÿ])")


def _capitalise(token: str) -> str:
    # ``o'neill`` -> ``O'Neill``, ``smith-jones`` -> ``Smith-Jones``; McX and MacX are left
    # as written (capitalising them by rule gets ``Macey`` wrong).
    if any(c.isupper() for c in token[1:]) and not token.isupper():
        return token[0].upper() + token[1:]
    return _WORD_START.sub(lambda m: m.group(1) + m.group(2).upper(), token.lower())


def person_display(name: str) -> str:
    """One spelling for a person entity: ``Forename SURNAME`` (the last word is the surname).

    Applied to structured names and to names found in narratives alike, so ``john smith``,
    ``John SMITH`` and ``JOHN SMITH`` are one entity value.
    """
    tokens = _WS.sub(" ", name).strip().split(" ")
    if not tokens or not tokens[0]:
        return ""
    *given, surname = tokens
    return " ".join([*(_capitalise(t) for t in given), surname.upper()])
