"""Entity extraction for Lantern: UK police identifiers by rule, names/places by spaCy.

Public API (stable; the indexer and the portal import it)::

    from entity_extraction import Entity, Label, extract, extract_many, find_identifiers, canonicalise

* :func:`extract` / :func:`extract_many`: rules + ``en_core_web_sm`` NER, sorted by start,
  non-overlapping.
* :func:`find_identifiers`: rules only, never loads spaCy (search-box queries).
* :func:`canonicalise`: canonical value of one identifier string, or ``None`` if invalid.
"""

from __future__ import annotations

from entity_extraction.identifiers import CANONICALISERS
from entity_extraction.lexicon import canonical_lexicon
from entity_extraction.pipeline import extract, extract_many, find_identifiers, load_model
from entity_extraction.types import Entity, Label

__all__ = [
    "Entity",
    "Label",
    "canonicalise",
    "extract",
    "extract_many",
    "find_identifiers",
    "load_model",
]


def canonicalise(label: str, text: str) -> str | None:
    """Canonical value of one identifier/weapon/drug string, or ``None`` if it is not valid.

    >>> canonicalise("VRM", "ab12 cde")
    'AB12CDE'
    """
    fn = CANONICALISERS.get(label)
    if fn is not None:
        return fn(text)
    if label in (Label.WEAPON, Label.DRUG):
        return canonical_lexicon(label, text)
    return None
