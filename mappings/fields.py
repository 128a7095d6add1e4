"""Field names of the search documents, shared by the mappings, the indexer and the
query builders. A rename here is a rename everywhere, and a test checks that every
constant is mapped and every mapped field has a constant.

The ``records`` index holds one document per source record: a flat projection for search
and facets, plus the validated original under ``RECORD`` (stored, not indexed) from which
detail pages render.
"""

from __future__ import annotations

from typing import Final

# --- identity -----------------------------------------------------------------------
ID: Final = "id"  # deterministic uuid5(source_system, source_id)
RECORD_TYPE: Final = "record_type"  # custody | crime | case | intel
SOURCE_SYSTEM: Final = "source_system"
SOURCE_ID: Final = "source_id"
# custody number / crime ref / URN / intel ref, in the force profile's normalised form;
# keyword with the reference normalizer (letters and digits only), so any separators match.
REFERENCE: Final = "reference"

# --- display and text ---------------------------------------------------------------
TITLE: Final = "title"  # text (english) + .keyword
SUMMARY: Final = "summary"  # text (english)
TEXT: Final = "text"  # all narrative fields joined: text (english) + .exact (standard)

# --- dates --------------------------------------------------------------------------
RECORD_DATE: Final = "record_date"  # date: arrest / offence / charge / report
CREATED_AT: Final = "created_at"
UPDATED_AT: Final = "updated_at"
INDEXED_AT: Final = "indexed_at"
# When the source system last changed the record (updated_at, else created_at); also the
# document's external version, so an older write never replaces a newer one.
SOURCE_MODIFIED_AT: Final = "source_modified_at"

# --- places and organisation ----------------------------------------------------------
STATION: Final = "station"  # custody suite (keyword)
COURT: Final = "court"  # latest court (keyword)
BOROUGH: Final = "borough"  # keyword; the "station/borough" facet


# BOROUGH and STATION also have an english-analysed ``.text`` sub-field, so their words are
# searchable as text ("robbery Ealing 2024"): see ``text_sub``.
def text_sub(field: str) -> str:
    """``borough`` -> ``borough.text``: the english-analysed sub-field of a keyword field
    (``mappings.records`` maps it under the name ``text``)."""
    return f"{field}.text"


def keyword_sub(field: str) -> str:
    """``people.name`` -> ``people.name.keyword``: the keyword (doc values) sub-field of a text
    field (``mappings.records`` maps it under the name ``keyword``: titles and people's names)."""
    return f"{field}.keyword"


# Where the record happened or who it involves lives: every postcode of the record
# (``entities.postcode``) the gazetteer knows, as points (issue 14: the map, ``near:``).
# Postcodes the gazetteer does not know are kept by name in GEO_UNLOCATED, so a record
# missing from the map says why instead of vanishing.
GEO_POINTS: Final = "geo_points"  # geo_point[]
GEO_UNLOCATED: Final = "geo_unlocated"  # keyword[]: canonical postcodes not in the gazetteer

UNIT: Final = "unit"  # owning unit (keyword)

# --- status and classification -----------------------------------------------------
STATUS: Final = "status"  # crime/case status or custody outcome (keyword)
OUTCOME: Final = "outcome"  # keyword
OFFENCE_CODES: Final = "offence_codes"  # keyword[]
OFFENCE_CATEGORIES: Final = "offence_categories"  # keyword[] (facet)
OFFENCE_TEXT: Final = "offence_text"  # text: offence descriptions

# --- intelligence grading (3x5x2) ---------------------------------------------------
GRADING: Final = "grading"  # keyword, e.g. "1AP"
SOURCE_EVALUATION: Final = "source_evaluation"  # keyword "1".."3"
INTEL_ASSESSMENT: Final = "intel_assessment"  # keyword "A".."E"

# --- people (nested: one object per person as this record recorded them) ----------
PEOPLE: Final = "people"
P_ROLE: Final = "role"  # keyword
P_NAME: Final = "name"  # text, name analyzer (lowercase + asciifolding); .keyword
P_FORENAME: Final = "forename"  # text, name analyzer
P_SURNAME: Final = "surname"  # text, name analyzer
P_NAME_PHONETIC: Final = "name_phonetic"  # keyword[]: phonetic keys (dm:/ny:/sk:) of every name token
P_FORENAME_VARIANTS: Final = "forename_variants"  # keyword[]: nickname group (bill -> william ...)
# Issue 11: per-part keys so a query can ask "forename sounds like X AND surname sounds like Y"
# on one person, and folded spellings so an exact (transliterated) match outranks a variant.
P_FORENAME_FOLDED: Final = "forename_folded"  # keyword: anyascii-folded forename (``lukasz``)
P_SURNAME_FOLDED: Final = "surname_folded"  # keyword[]: folded surname tokens (double-barrelled split)
P_FORENAME_PHONETIC: Final = "forename_phonetic"  # keyword[]: key families of the forename tokens
P_SURNAME_PHONETIC: Final = "surname_phonetic"  # keyword[]: key families of the surname tokens
P_DOB: Final = "dob"  # date
P_PNC_ID: Final = "pnc_id"  # keyword (identifier normalizer), canonical
P_CRO_NO: Final = "cro_no"
P_NINO: Final = "nino"
P_PERSON_KEY: Final = "person_key"  # keyword[]: golden-nominal linking keys
P_MENTION_ID: Final = "mention_id"  # keyword: this person in this record (persons/features.py)
P_NOMINAL_ID: Final = "nominal_id"  # keyword: the resolved person (persons index), kept current
P_ALIASES: Final = "aliases"  # text, name analyzer


def people(sub: str) -> str:
    return f"{PEOPLE}.{sub}"


# --- entities: canonical values per label (exact lookup, facets, entity pages) -----
ENTITIES: Final = "entities"
ENTITY_LABELS: Final = (
    "PERSON",
    "ORG",
    "LOCATION",
    "DATE",
    "POSTCODE",
    "VRM",
    "PHONE",
    "EMAIL",
    "NINO",
    "PNC_ID",
    "CRO_NO",
    "IMEI",
    "WEAPON",
    "DRUG",
)
IDENTIFIER_LABELS: Final = (
    "POSTCODE",
    "VRM",
    "PHONE",
    "EMAIL",
    "NINO",
    "PNC_ID",
    "CRO_NO",
    "IMEI",
)


def entity(label: str) -> str:
    """``entities.vrm`` etc.: keyword array of canonical values for one label."""
    if label.upper() not in ENTITY_LABELS:
        raise KeyError(f"unknown entity label {label!r}")
    return f"{ENTITIES}.{label.lower()}"


# Mentions with offsets into the original record's free-text fields: stored for
# highlighting and linking, not indexed ({field, label, start, end, text, value}).
MENTIONS: Final = "mentions"

# --- type-ahead ---------------------------------------------------------------------
SUGGEST: Final = "suggest"  # search_as_you_type: people names and identifiers

# --- access control (compared with the user's clearances inside every query) ------
ACCESS_SENSITIVITY: Final = "access_sensitivity"  # keyword[] of Sensitivity
# How many sensitivity flags the record carries: a terms_set query requires the user to
# hold all of them, so a flag nobody anticipated denies rather than allows.
ACCESS_SENSITIVITY_COUNT: Final = "access_sensitivity_count"  # integer
ACCESS_UNITS: Final = "access_units"  # keyword[]: restricted to these units
ACCESS_HANDLING: Final = "access_handling"  # keyword: P | C | absent
REVIEW_DATE: Final = "review_date"  # date: past it, the record leaves search

# --- attached documents (indexer.attachments) -----------------------------------------
# An attachment is its own search document in this index: the parent record's identity,
# dates, access fields and original (RECORD) copied onto it, its text in TEXT, its entities in
# ENTITIES, and these fields under DOCUMENT (absent on record documents). One access filter
# and one gateway therefore cover documents with no code path of their own.
DOCUMENT: Final = "document"  # object
D_PARENT_ID: Final = "parent_id"  # keyword: id of the record it is attached to
D_DIGEST: Final = "digest"  # keyword: SHA-256 of the original (the content store's key)
D_PATH: Final = "path"  # keyword: attachment path from the feed (zip members: "a.zip!dir/f.pdf")
D_NAME: Final = "name"  # keyword: file name shown to users
D_TITLE: Final = "title"  # text (english) + .keyword: "Witness statement of ..."
D_KIND: Final = "kind"  # keyword: statement | exhibit | form | ...
D_CONTENT_TYPE: Final = "content_type"  # keyword
D_STATUS: Final = "status"  # keyword: extracted | ocr
D_PAGE_COUNT: Final = "page_count"  # integer
D_OCR_PAGES: Final = "ocr_pages"  # integer: pages whose text came from OCR
# [{"n", "start", "end", "ocr"}]: where each page's text lies in TEXT (stored, not indexed), so
# a highlight or a mention maps back to its page.
D_PAGES: Final = "pages"


def document(sub: str) -> str:
    return f"{DOCUMENT}.{sub}"


# --- data quality and change detection ---------------------------------------------
# Names of the fields the source system explicitly did not record (keyword[]).
NOT_RECORDED: Final = "not_recorded"
# sha256 of the validated record (before enrichment) and the profile: equal means a reload
# of the row has nothing to change, so it is skipped without NER or indexing.
CONTENT_HASH: Final = "content_hash"
# sha256 of the free-text fields, present only when entities were extracted from them:
# equal means the stored mentions can be reused instead of running NER again.
NER_TEXT_HASH: Final = "ner_text_hash"

# --- the validated original ---------------------------------------------------------
RECORD: Final = "record"  # object, enabled: false
