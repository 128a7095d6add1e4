"""The ``records`` index: one document per source record (see ``indexer.documents``).

Convention for every index definition module in ``mappings/`` (``lantern index init``
discovers them by these names):

- ``NAME``: the logical name; the read alias is ``settings.index_name(NAME)``.
- ``VERSION``: bump it when ``body()`` changes incompatibly; ``lantern index migrate NAME``
  then builds ``<prefix><NAME>-v<VERSION>-<timestamp>`` and moves the aliases.
- ``body(settings) -> dict``: the full create-index body (settings incl. shards/replicas and
  analysis from ``mappings.analysis.index_settings``, mappings with ``"dynamic": "strict"``).
- ``WRITE_ALIAS`` (optional, default True): also maintain ``<prefix><NAME>-write``.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings import analysis as A
from mappings import fields as F

NAME = "records"
# 2: folded names and phonetic key families (issue 11); 3: attached documents (F.DOCUMENT);
# 4: reference normalizer, source_modified_at, not_recorded, content/NER hashes (issue 12)
# 5: people.mention_id and people.nominal_id (person resolution, issue 10)
# 6: places from the gazetteer (F.GEO_POINTS, F.GEO_UNLOCATED; issue 14)
VERSION = 6
WRITE_ALIAS = True

KEYWORD: dict[str, Any] = {"type": "keyword"}
DATE: dict[str, Any] = {"type": "date"}
IDENT: dict[str, Any] = {"type": "keyword", "normalizer": A.IDENTIFIER}
# A keyword kept as written (facets show it), with a case/accent-free twin for lookups.
DISPLAY_KEYWORD: dict[str, Any] = {
    "type": "keyword",
    "ignore_above": 512,
    "fields": {"norm": {"type": "keyword", "normalizer": A.KEYWORD, "ignore_above": 512}},
}

# How each entity label's canonical values are normalised in the index. Canonical values
# come from ``entity_extraction.canonicalise``; the normalizer makes a hand-typed variant
# in a term query land on the same term.
ENTITY_FIELD: dict[str, dict[str, Any]] = {
    "PERSON": DISPLAY_KEYWORD,
    "ORG": DISPLAY_KEYWORD,
    "LOCATION": DISPLAY_KEYWORD,
    "DATE": DISPLAY_KEYWORD,
    "POSTCODE": {"type": "keyword", "normalizer": A.POSTCODE},
    "VRM": IDENT,
    "PHONE": IDENT,
    "EMAIL": {"type": "keyword", "normalizer": A.KEYWORD},
    "NINO": IDENT,
    "PNC_ID": IDENT,
    "CRO_NO": IDENT,
    "IMEI": IDENT,
    "WEAPON": {"type": "keyword", "normalizer": A.KEYWORD},
    "DRUG": {"type": "keyword", "normalizer": A.KEYWORD},
}


def _english(**extra: Any) -> dict[str, Any]:
    return {"type": "text", "analyzer": A.ENGLISH, **extra}


def _name(**extra: Any) -> dict[str, Any]:
    return {"type": "text", "analyzer": A.NAME, **extra}


def mappings() -> dict[str, Any]:
    people: dict[str, Any] = {
        F.P_ROLE: KEYWORD,
        F.P_NAME: _name(
            fields={
                "keyword": {"type": "keyword", "ignore_above": 256},
                "prefix": {"type": "text", "analyzer": A.NAME_PREFIX, "search_analyzer": A.NAME},
            }
        ),
        F.P_FORENAME: _name(),
        F.P_SURNAME: _name(),
        F.P_NAME_PHONETIC: KEYWORD,
        F.P_FORENAME_VARIANTS: KEYWORD,
        F.P_FORENAME_FOLDED: KEYWORD,
        F.P_SURNAME_FOLDED: KEYWORD,
        F.P_FORENAME_PHONETIC: KEYWORD,
        F.P_SURNAME_PHONETIC: KEYWORD,
        F.P_DOB: DATE,
        F.P_PNC_ID: IDENT,
        F.P_CRO_NO: IDENT,
        F.P_NINO: IDENT,
        F.P_PERSON_KEY: KEYWORD,
        F.P_MENTION_ID: KEYWORD,
        F.P_NOMINAL_ID: KEYWORD,
        F.P_ALIASES: _name(),
    }
    entities = {label.lower(): ENTITY_FIELD[label] for label in F.ENTITY_LABELS}
    document: dict[str, Any] = {
        F.D_PARENT_ID: KEYWORD,
        F.D_DIGEST: KEYWORD,
        F.D_PATH: KEYWORD,
        F.D_NAME: KEYWORD,
        F.D_TITLE: _english(fields={"keyword": {"type": "keyword", "ignore_above": 512}}),
        F.D_KIND: KEYWORD,
        F.D_CONTENT_TYPE: KEYWORD,
        F.D_STATUS: KEYWORD,
        F.D_PAGE_COUNT: {"type": "integer"},
        F.D_OCR_PAGES: {"type": "integer"},
        F.D_PAGES: {"type": "object", "enabled": False},
    }
    props: dict[str, Any] = {
        F.ID: KEYWORD,
        F.RECORD_TYPE: KEYWORD,
        F.SOURCE_SYSTEM: KEYWORD,
        F.SOURCE_ID: KEYWORD,
        F.REFERENCE: {"type": "keyword", "normalizer": A.REFERENCE},
        F.TITLE: _english(fields={"keyword": {"type": "keyword", "ignore_above": 512}}),
        F.SUMMARY: _english(),
        F.TEXT: _english(fields={"exact": {"type": "text", "analyzer": A.STANDARD}}),
        F.RECORD_DATE: DATE,
        F.CREATED_AT: DATE,
        F.UPDATED_AT: DATE,
        F.INDEXED_AT: DATE,
        F.SOURCE_MODIFIED_AT: DATE,
        F.STATION: {**KEYWORD, "fields": {"text": _english()}},  # F.text_sub()
        F.COURT: KEYWORD,
        F.BOROUGH: {**KEYWORD, "fields": {"text": _english()}},  # F.text_sub()
        F.GEO_POINTS: {"type": "geo_point"},
        F.GEO_UNLOCATED: {"type": "keyword", "normalizer": A.POSTCODE},
        F.UNIT: KEYWORD,
        F.STATUS: KEYWORD,
        F.OUTCOME: KEYWORD,
        F.OFFENCE_CODES: KEYWORD,
        F.OFFENCE_CATEGORIES: KEYWORD,
        F.OFFENCE_TEXT: _english(),
        F.GRADING: KEYWORD,
        F.SOURCE_EVALUATION: KEYWORD,
        F.INTEL_ASSESSMENT: KEYWORD,
        F.PEOPLE: {"type": "nested", "dynamic": "strict", "properties": people},
        F.ENTITIES: {"type": "object", "dynamic": "strict", "properties": entities},
        F.MENTIONS: {"type": "object", "enabled": False},
        F.SUGGEST: {"type": "search_as_you_type", "analyzer": A.NAME, "max_shingle_size": 3},
        F.ACCESS_SENSITIVITY: KEYWORD,
        F.ACCESS_SENSITIVITY_COUNT: {"type": "integer"},
        F.ACCESS_UNITS: KEYWORD,
        F.ACCESS_HANDLING: KEYWORD,
        F.REVIEW_DATE: DATE,
        F.DOCUMENT: {"type": "object", "dynamic": "strict", "properties": document},
        F.NOT_RECORDED: KEYWORD,
        F.CONTENT_HASH: {"type": "keyword", "index": False},
        F.NER_TEXT_HASH: {"type": "keyword", "index": False},
        F.RECORD: {"type": "object", "enabled": False},
    }
    return {"dynamic": "strict", "properties": props}


def body(settings: Settings) -> dict[str, Any]:
    return {"settings": A.index_settings(settings), "mappings": mappings()}
