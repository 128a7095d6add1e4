"""The ``persons`` index: one document per nominal (resolved person), derived from records.

A nominal is derived data: everything here is recomputed from the records on every rebuild,
and the portal recomputes what it shows from the records the viewer may read (``RECORD_IDS``
and ``MENTIONS`` say which record each name, DOB and identifier came from).
Field names are constants shared with the writer (persons/store.py) and the query builders.
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings
from mappings import analysis as A

NAME = "persons"
VERSION = 1

ID: Final = "id"  # nominal id
NAMES: Final = "names"  # every full name as recorded (text, name analyzer; .keyword)
SURNAMES: Final = "surnames"  # folded surnames (keyword)
FORENAMES: Final = "forenames"  # folded forenames (keyword)
NAME_KEYS: Final = "name_keys"  # phonetic keys of every name token (keyword)
FORENAME_VARIANTS: Final = "forename_variants"  # keyword
DOBS: Final = "dobs"  # every DOB as recorded (date)
PNC_IDS: Final = "pnc_ids"
CRO_NOS: Final = "cro_nos"
RECORD_IDS: Final = "record_ids"  # records of the linked mentions (keyword)
MENTION_COUNT: Final = "mention_count"
MODEL_VERSION: Final = "model_version"
UPDATED_AT: Final = "updated_at"
MENTIONS: Final = "mentions"  # nested, one per linked mention
M_ID: Final = "mention_id"
M_RECORD_ID: Final = "record_id"
M_ROLE: Final = "role"
M_NAME: Final = "name"
M_DOB: Final = "dob"
M_PNC_ID: Final = "pnc_id"
M_CRO_NO: Final = "cro_no"
M_PROBABILITY: Final = "probability"  # of its best link inside the nominal (absent: alone)
M_LINKED_TO: Final = "linked_to"  # the mention that link is with
M_WEIGHTS: Final = "weights"  # match weight (log2 Bayes factor) per comparison
M_REASONS: Final = "reasons"  # the comparisons' labels in words, strongest first
M_MORE_LINKS: Final = "more_links"  # next-strongest links [{linked_to, probability, weights, reasons}]
M_DECIDED: Final = "decided"  # linked or kept apart by a human decision
M_SOURCE: Final = "source"  # the mention as keyed (not indexed): reloads the resolver

# Comparison names of the model (persons/model.py): one float per comparison.
WEIGHT_FIELDS: Final = (
    "forename",
    "surname",
    "middle",
    "dob",
    "pnc",
    "cro",
    "nino",
    "email",
    "address",
    "phones",
    "vrms",
    "gender",
)

KEYWORD = {"type": "keyword"}


def mappings() -> dict[str, Any]:
    mention = {
        M_ID: KEYWORD,
        M_RECORD_ID: KEYWORD,
        M_ROLE: KEYWORD,
        M_NAME: {"type": "text", "analyzer": A.NAME, "fields": {"keyword": {"type": "keyword"}}},
        M_DOB: {"type": "date"},
        M_PNC_ID: KEYWORD,
        M_CRO_NO: KEYWORD,
        M_PROBABILITY: {"type": "float"},
        M_LINKED_TO: KEYWORD,
        M_WEIGHTS: {
            "type": "object",
            "dynamic": "strict",
            "properties": {w: {"type": "float"} for w in WEIGHT_FIELDS},
        },
        M_REASONS: KEYWORD,
        # Read back only (never searched): the view falls back to these when the best
        # link's partner is in a record the viewer may not read.
        M_MORE_LINKS: {"type": "object", "enabled": False},
        M_DECIDED: {"type": "boolean"},
        M_SOURCE: {"type": "object", "enabled": False},
    }
    return {
        "dynamic": "strict",
        "properties": {
            ID: KEYWORD,
            NAMES: {"type": "text", "analyzer": A.NAME, "fields": {"keyword": {"type": "keyword"}}},
            SURNAMES: KEYWORD,
            FORENAMES: KEYWORD,
            NAME_KEYS: KEYWORD,
            FORENAME_VARIANTS: KEYWORD,
            DOBS: {"type": "date"},
            PNC_IDS: KEYWORD,
            CRO_NOS: KEYWORD,
            RECORD_IDS: KEYWORD,
            MENTION_COUNT: {"type": "integer"},
            MODEL_VERSION: KEYWORD,
            UPDATED_AT: {"type": "date"},
            MENTIONS: {"type": "nested", "dynamic": "strict", "properties": mention},
        },
    }


def body(settings: Settings) -> dict[str, Any]:
    return {"settings": A.index_settings(settings), "mappings": mappings()}
