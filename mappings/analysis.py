"""Analyzers and normalizers shared by every index definition, plus the common index settings.

Names used in mappings (import the constants rather than retyping the strings):

- ``ENGLISH`` (``lantern_english``): narrative text. Standard tokenizer, English possessive,
  lowercase, asciifolding, English stop words, English (Porter) stemmer.
- ``STANDARD`` (``lantern_standard``): the same without stemming or stop words, for exact
  phrase sub-fields (``text.exact``) where stemming would blur a quoted search.
- ``NAME`` (``lantern_name``): person names. Apostrophes are dropped so ``O'Neill``,
  ``O’Neill`` and ``ONeill`` meet; lowercase + asciifolding so ``Zoë`` and ``ZOE`` meet.
- ``NAME_PREFIX`` (``lantern_name_prefix``): index-side edge n-grams of ``NAME`` tokens, for
  prefix matching of names; search with ``NAME``.
- ``IDENTIFIER`` (``lantern_identifier``) normalizer: uppercase, ascii, spaces, hyphens and
  dots removed: ``ab12 cde`` / ``AB12-CDE`` -> ``AB12CDE``, ``qq 12 34 56 c`` -> ``QQ123456C``.
  Term queries on a keyword field run the query value through the same normalizer.
- ``POSTCODE`` (``lantern_postcode``) normalizer: any spacing -> ``SE1 7PB``, keeping the
  canonical display form in facets while ``se17pb`` still matches.
- ``KEYWORD`` (``lantern_keyword``) normalizer: lowercase + asciifolding (emails, case-free
  lookups of drugs and weapons).
- ``REFERENCE`` (``lantern_reference``) normalizer: letters and digits only, upper-cased:
  ``CR/2021/4417203``, ``CR-2021-4417203`` and ``cr 2021 4417203`` are one term
  (``lantern.profile.reference_key`` does the same in Python).

The node was checked to accept a ``pattern_replace`` char_filter inside a normalizer.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

ENGLISH = "lantern_english"
STANDARD = "lantern_standard"
NAME = "lantern_name"
NAME_PREFIX = "lantern_name_prefix"
IDENTIFIER = "lantern_identifier"
POSTCODE = "lantern_postcode"
KEYWORD = "lantern_keyword"
REFERENCE = "lantern_reference"

ANALYSIS: dict[str, Any] = {
    "char_filter": {
        "lantern_strip_separators": {
            "type": "pattern_replace",
            "pattern": r"[\s\-\.]+",
            "replacement": "",
        },
        "lantern_strip_whitespace": {"type": "pattern_replace", "pattern": r"\s+", "replacement": ""},
        "lantern_strip_non_alphanumeric": {
            "type": "pattern_replace",
            "pattern": "[^0-9A-Za-z]+",
            "replacement": "",
        },
        # Every UK inward code is digit + two letters: re-insert the single space before it.
        "lantern_postcode_space": {
            "type": "pattern_replace",
            "pattern": r"^(.+?)(\d[A-Za-z]{2})$",
            "replacement": "$1 $2",
        },
        "lantern_drop_apostrophes": {
            "type": "pattern_replace",
            "pattern": "['\u2019\u2018`]",
            "replacement": "",
        },
    },
    "filter": {
        "lantern_english_possessive": {"type": "stemmer", "language": "possessive_english"},
        "lantern_english_stop": {"type": "stop", "stopwords": "_english_"},
        "lantern_english_stemmer": {"type": "stemmer", "language": "english"},
        "lantern_edge_ngram": {"type": "edge_ngram", "min_gram": 1, "max_gram": 20},
    },
    "analyzer": {
        ENGLISH: {
            "type": "custom",
            "tokenizer": "standard",
            "filter": [
                "lantern_english_possessive",
                "lowercase",
                "asciifolding",
                "lantern_english_stop",
                "lantern_english_stemmer",
            ],
        },
        STANDARD: {
            "type": "custom",
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding"],
        },
        NAME: {
            "type": "custom",
            "char_filter": ["lantern_drop_apostrophes"],
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding"],
        },
        NAME_PREFIX: {
            "type": "custom",
            "char_filter": ["lantern_drop_apostrophes"],
            "tokenizer": "standard",
            "filter": ["lowercase", "asciifolding", "lantern_edge_ngram"],
        },
    },
    "normalizer": {
        IDENTIFIER: {
            "type": "custom",
            "char_filter": ["lantern_strip_separators"],
            "filter": ["uppercase", "asciifolding"],
        },
        POSTCODE: {
            "type": "custom",
            "char_filter": ["lantern_strip_whitespace", "lantern_postcode_space"],
            "filter": ["uppercase", "asciifolding"],
        },
        KEYWORD: {"type": "custom", "filter": ["lowercase", "asciifolding"]},
        REFERENCE: {
            "type": "custom",
            "char_filter": ["lantern_strip_non_alphanumeric"],
            "filter": ["uppercase"],
        },
    },
}


def index_settings(settings: Settings, *, analysis: bool = True, **extra: Any) -> dict[str, Any]:
    """The ``settings`` block of a new index: shards/replicas from Settings, the shared analysis."""
    out: dict[str, Any] = {
        "index": {
            "number_of_shards": settings.index_shards,
            "number_of_replicas": settings.index_replicas,
            "write.wait_for_active_shards": settings.write_wait_for_active_shards,
        }
    }
    if analysis:
        out["analysis"] = ANALYSIS
    out["index"].update(extra)
    return out
