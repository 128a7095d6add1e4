"""The one place persons/ touches name handling from ``entity_extraction.names``.

``entity_extraction.names`` is being extended (issue 11: transliterating ``fold``, more
phonetic keys, a curated forename-variant table). Record linkage must use the same keys as
search, so it calls that module; where the module does not offer something yet, this adapter
fills the gap, and swapping in the new functions is a change to this file only.
"""

from __future__ import annotations

import re
from functools import lru_cache

import jellyfish
from anyascii import anyascii

from entity_extraction import names

_NON_ALPHA = re.compile(r"[^a-z]+")
_SPLIT = re.compile(r"[\s\-]+")


@lru_cache(maxsize=200_000)
def fold(name: str) -> str:
    """Lowercase ASCII letters: ``Łukasz`` -> ``lukasz``, ``Søren`` -> ``soren``.

    anyascii transliterates instead of dropping (NFKD + ascii-ignore turns ``Ł`` into nothing),
    so the same person gets the same key with and without diacritics.
    """
    return _NON_ALPHA.sub("", anyascii(name).lower())


def tokens(name: str) -> list[str]:
    """Folded tokens of a name, split on spaces and hyphens (double-barrelled halves)."""
    return [t for t in (fold(p) for p in _SPLIT.split(name)) if t]


@lru_cache(maxsize=200_000)
def phonetic_key(token: str) -> str:
    """One sound-alike key per token, used for blocking (equality joins need one value)."""
    folded = fold(token)
    return jellyfish.metaphone(folded) if folded else ""


@lru_cache(maxsize=200_000)
def phonetic_keys(token: str) -> tuple[str, ...]:
    """Every sound-alike key ``entity_extraction.names`` computes for a token (compared as sets)."""
    return tuple(sorted(names.phonetic_keys(fold(token))))


@lru_cache(maxsize=200_000)
def forename_variants(forename: str) -> tuple[str, ...]:
    """The forename with its diminutives and formal forms, folded (``bill`` -> william, ...)."""
    folded = fold(forename)
    if not folded:
        return ()
    return tuple(sorted({fold(v) for v in names.forename_variants(folded)} | {folded}))
