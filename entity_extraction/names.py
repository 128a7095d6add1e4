"""Name keys shared by the indexer (to index), search (to query) and person resolution.

Public API (stable; ``persons/`` and ``search/`` import these names):

* :func:`fold` -- one name to lowercase ASCII letters via ``anyascii`` (``Łukasz`` -> ``lukasz``).
* :func:`name_tokens` -- folded tokens of a full name.
* :func:`double_metaphone` -- (primary, alternate) Double Metaphone codes of one token.
* :func:`nysiis` -- the NYSIIS code of one token.
* :func:`sound_skeleton` -- a spelt-by-ear key (see below) of one token.
* :func:`phonetic_keys` -- every sound-alike key of one token, prefixed by family.
* :func:`phonetic_keys_for_name` -- the union over the tokens of a full name.
* :func:`key_families_agreeing` -- how many key families two tokens share (0..3).
* :func:`forename_variants` -- the forename with its diminutives, formal forms and
  transliterations (``nicknames`` + the curated table ``data/name_variants.csv``).
* :func:`variant_groups` -- the curated table's rows containing a name (for explanations).
* :func:`person_keys` -- golden-nominal linking keys (PNC ID, DOB + sound-alike name).

Phonetic keys are computed here because no phonetic analysis plugin is available to the
embedded node; computing them in Python also keeps the keys identical on any cluster.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

import jellyfish
from anyascii import anyascii
from doublemetaphone import doublemetaphone
from nicknames import NickNamer

_NON_ALPHA = re.compile(r"[^a-z]+")
VARIANTS_CSV = Path(__file__).with_name("data") / "name_variants.csv"

# Key family prefixes. Double Metaphone's primary and alternate codes share one family so
# that a query's primary meets a record's alternate (``Siobhan`` SPN/XPN, ``Shivaun`` XFN).
DM = "dm:"
NY = "ny:"
SK = "sk:"
FAMILIES = (DM, NY, SK)

# Letters whose sound anyascii's transliteration loses: Romanian ``ș``/``ț`` are heard as
# ``sh``/``ts`` and spelt that way by ear; anyascii (rightly, for display) gives ``s``/``t``.
_HEARD = str.maketrans(
    {"ș": "sh", "ş": "sh", "Ș": "sh", "Ş": "sh", "ț": "ts", "ţ": "ts", "Ț": "ts", "Ţ": "ts"}
)


def fold(name: str) -> str:
    """Lowercase ASCII letters only: ``O'Neill`` -> ``oneill``, ``Łukasz`` -> ``lukasz``,
    ``Søren`` -> ``soren`` (transliterated by anyascii, never dropped)."""
    return _NON_ALPHA.sub("", anyascii(name).lower())


def name_tokens(name: str) -> list[str]:
    """Folded tokens of a full name, splitting on spaces, hyphens and commas."""
    return [t for t in (fold(p) for p in re.split(r"[\s\-,]+", name)) if t]


def double_metaphone(token: str) -> tuple[str, str]:
    """Double Metaphone (primary, alternate) of one name token, after folding."""
    folded = fold(token)
    if not folded:
        return "", ""
    primary, alternate = doublemetaphone(folded)
    return primary, alternate or primary


def nysiis(token: str) -> str:
    folded = fold(token)
    return jellyfish.nysiis(folded) if folded else ""


# Spelt-by-ear rewrites, longest first. Hand-written because the one library with a
# Beider-Morse implementation on PyPI (abydos) is unmaintained since 2020 and heavy; this
# is a small, explicit approximation of the same idea for the orthographies a London
# force sees (Polish sz/cz/w, Romanian ș/ț, Irish bh/mh, Somali/Arabic kh/dh, doubled letters).
_RESPELL: tuple[tuple[str, str], ...] = (
    ("sch", "s"),
    ("tsh", "c"),
    ("tch", "c"),
    ("sh", "s"),
    ("sz", "s"),
    ("zh", "s"),
    ("rz", "s"),
    ("cz", "c"),
    ("ch", "c"),
    ("tz", "c"),
    ("ts", "c"),
    ("ph", "f"),
    ("bh", "v"),
    ("mh", "v"),
    ("kh", "h"),
    ("gh", "g"),
    ("dh", "d"),
    ("th", "t"),
    ("ck", "k"),
    ("qu", "k"),
    ("x", "ks"),
)
_CLASS = str.maketrans(
    {
        "b": "P",
        "p": "P",
        "f": "F",
        "v": "F",
        "w": "F",
        "k": "K",
        "q": "K",
        "g": "K",
        "c": "K",
        "s": "S",
        "z": "S",
        "d": "T",
        "t": "T",
        "m": "M",
        "n": "N",
        "l": "L",
        "r": "R",
    }
)
_VOWELS = set("aeiouyjh")


@lru_cache(maxsize=50_000)
def sound_skeleton(token: str) -> str:
    """Consonant skeleton after spelt-by-ear rewrites: ``Kowalski``/``Kovalsky`` -> ``KFLSK``.

    A leading vowel is kept as ``A`` (``Aoife``/``Eefa`` -> ``AF``); other vowels, ``h``,
    ``j`` and ``y`` are dropped; runs of one class collapse.
    """
    s = fold(token.translate(_HEARD))
    if not s:
        return ""
    for a, b in _RESPELL:
        s = s.replace(a, b)
    out: list[str] = ["A"] if s[0] in "aeiouy" else []
    prev = ""
    for i, ch in enumerate(s):
        # ``w`` before a vowel is a consonant (Polish ``Nowak`` = Novak); elsewhere a glide
        # (``Brown``, ``Dawson``).
        glide = ch == "w" and (i + 1 == len(s) or s[i + 1] not in "aeiouy")
        if ch in _VOWELS or glide:
            prev = ""
            continue
        cls = ch.translate(_CLASS)
        if cls != prev:
            out.append(cls)
        prev = cls
    return "".join(out)


@lru_cache(maxsize=50_000)
def _keys(token: str) -> frozenset[str]:
    folded = fold(token)
    if not folded:
        return frozenset()
    keys: set[str] = set()
    heard = fold(token.translate(_HEARD))
    for spelling in {folded, heard}:
        primary, alternate = doublemetaphone(spelling)
        keys |= {DM + c for c in (primary, alternate) if c}
        keys.add(NY + jellyfish.nysiis(spelling))
    skel = sound_skeleton(token)
    if len(skel) >= 2:
        keys.add(SK + skel)
    return frozenset(k for k in keys if k.split(":", 1)[1])


def phonetic_keys(token: str) -> set[str]:
    """Sound-alike keys for one name token: ``dm:`` Double Metaphone (primary and alternate),
    ``ny:`` NYSIIS, ``sk:`` spelt-by-ear skeleton. Two tokens sound alike when they share a key;
    :func:`key_families_agreeing` says how strongly."""
    return set(_keys(token))


def key_families_agreeing(a: str, b: str) -> int:
    """How many key families (of :data:`FAMILIES`) two tokens share a key in."""
    shared = _keys(a) & _keys(b)
    return sum(1 for fam in FAMILIES if any(k.startswith(fam) for k in shared))


def phonetic_keys_for_name(name: str) -> list[str]:
    out: set[str] = set()
    for token in re.split(r"[\s\-,]+", name):
        out |= _keys(token)
    return sorted(out)


# ------------------------------------------------------------------- forename variants


@dataclass(frozen=True)
class VariantGroup:
    """One row of ``data/name_variants.csv``: names an officer may meet for one person."""

    group: str
    community: str
    basis: str  # diminutive | transliteration | anglicisation | spelling
    names: tuple[str, ...]  # as written in the table (with diacritics)
    source: str

    @property
    def folded(self) -> frozenset[str]:
        return frozenset(f for f in (fold(n) for n in self.names) if f)


@lru_cache(maxsize=1)
def load_variant_groups() -> tuple[VariantGroup, ...]:
    groups: list[VariantGroup] = []
    with VARIANTS_CSV.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            names = tuple(n.strip() for n in row["names"].split("|") if n.strip())
            groups.append(VariantGroup(row["group"], row["community"], row["basis"], names, row["source"]))
    return tuple(groups)


@lru_cache(maxsize=1)
def _variant_index() -> dict[str, frozenset[int]]:
    index: dict[str, set[int]] = {}
    for i, g in enumerate(load_variant_groups()):
        for n in g.folded:
            index.setdefault(n, set()).add(i)
    return {k: frozenset(v) for k, v in index.items()}


def variant_groups(name: str) -> list[VariantGroup]:
    """The curated rows that contain ``name`` (folded), for explanations ("Gosia is a
    diminutive of Małgorzata (Polish)")."""
    groups = load_variant_groups()
    return [groups[i] for i in sorted(_variant_index().get(fold(name), ()))]


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=20_000)
def forename_variants(forename: str) -> frozenset[str]:
    """The folded forename with its nicknames, formal forms and transliterations.

    ``bill`` -> william, will, billy...; ``Gosia`` -> małgorzata (folded), małgosia...;
    ``Mo`` -> mohammed, muhammad, mohamed... Symmetric on purpose (indexing ``William`` and
    searching ``Bill`` must meet, and so must the reverse), and not transitive beyond one
    step, so a chain of nicknames cannot drift to an unrelated name.
    """
    folded = fold(forename)
    if not folded:
        return frozenset()
    namer = _namer()
    out = {folded}
    out |= {fold(n) for n in namer.nicknames_of(folded)}
    out |= {fold(n) for n in namer.canonicals_of(folded)}
    for g in variant_groups(folded):
        out |= g.folded
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
