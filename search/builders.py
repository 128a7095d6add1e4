"""Pure query builders: typed requests in, OpenSearch request bodies out.

Nothing here talks to OpenSearch and nothing here applies access control: every body
built here is sent by :mod:`search.gateway`, which wraps its ``query`` with
:func:`search.access.secure` (and refuses bodies that could escape it).

Ranking, from strongest to weakest (constant scores so the tiers do not blur):

1. identifier matches (``entities.<label>`` and people identifiers): ``BOOST_IDENT``;
2. names, all inside one nested ``people`` query so that name and date of birth are
   checked on the same person: exact > nickname variant > sound-alike > fuzzy;
3. free text on title/summary/text (english analyzer), with a phrase bonus;
4. recency, as a gentle tie-breaker (a decay function adding at most ``RECENCY_WEIGHT``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from entity_extraction.names import FAMILIES, fold, forename_variants, phonetic_keys
from mappings import fields as F
from search.parser import (
    And,
    DateRange,
    Dob,
    Ident,
    Keyword,
    Name,
    Near,
    Node,
    Not,
    Or,
    ParsedQuery,
    Phrase,
    Text,
)

Query = dict[str, Any]
Sort = Literal["relevance", "newest", "oldest"]
SORTS: tuple[Sort, ...] = ("relevance", "newest", "oldest")

BOOST_IDENT = 100.0
BOOST_NAME_EXACT = 50.0
BOOST_NAME_ALIAS = 40.0
BOOST_NAME_VARIANT = 35.0
BOOST_NAME_VARIANT_REVERSED = 30.0
BOOST_NAME_VARIANT_SOUNDALIKE = 28.0
BOOST_NAME_PHONETIC = 25.0
BOOST_NAME_FUZZY = 15.0
# Sound-alike tiers score by how many phonetic key families (Double Metaphone, NYSIIS,
# spelt-by-ear skeleton) agree: a base plus PHONETIC_FAMILY_STEP per family, so agreement
# on all three (24 + 3 x 1.5 = 28.5) beats agreement on one, and every sound-alike tier
# stays below the exact (50), alias and variant (30..40) tiers.
PHONETIC_SURNAME_BASE = 24.0
PHONETIC_FORENAME_BASE = 22.0
PHONETIC_BOTH_BASE = 18.0
PHONETIC_FAMILY_STEP = 1.5
BOOST_DOB_ONLY = 20.0
BOOST_PHRASE = 3.0
RECENCY_WEIGHT = 1.0

# More words than this in one run is narrative search, not a name.
MAX_NAME_WORDS = 4
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# Deepest result reachable by paging (OpenSearch's max_result_window is 10,000).
MAX_WINDOW = 10_000
HIGHLIGHT_PRE = "\ue000"
HIGHLIGHT_POST = "\ue001"

TEXT_FIELDS = (
    f"{F.TITLE}^3",
    f"{F.SUMMARY}^2",
    F.TEXT,
    F.OFFENCE_TEXT,
    F.text_sub(F.BOROUGH),
    F.text_sub(F.STATION),
)
IDENT_PEOPLE_FIELD: dict[str, str] = {
    "PNC_ID": F.people(F.P_PNC_ID),
    "CRO_NO": F.people(F.P_CRO_NO),
    "NINO": F.people(F.P_NINO),
}
# Results carry what the result list shows, not the whole record.
RESULT_SOURCE = [
    F.ID,
    F.RECORD_TYPE,
    F.REFERENCE,
    F.TITLE,
    F.SUMMARY,
    F.RECORD_DATE,
    F.STATION,
    F.COURT,
    F.BOROUGH,
    F.UNIT,
    F.STATUS,
    F.OUTCOME,
    F.GRADING,
    F.OFFENCE_CATEGORIES,
    F.ENTITIES,
    F.ACCESS_HANDLING,
    F.ACCESS_SENSITIVITY,
    F.people(F.P_ROLE),
    F.people(F.P_NAME),
    F.people(F.P_DOB),
    F.people(F.P_PNC_ID),
    f"{F.RECORD}.sanitised_text",
    # Attached documents: their label and page spans, and the text and mentions that place a
    # hit on its page (documents.pages).
    F.document(F.D_KIND),
    F.document(F.D_TITLE),
    F.document(F.D_PARENT_ID),
    F.document(F.D_PAGES),
    F.MENTIONS,
    F.TEXT,
]


# ------------------------------------------------------------------------------ facets


@dataclass(frozen=True)
class Facet:
    key: str  # URL parameter
    label: str  # heading shown to users
    field: str
    size: int = 10
    kind: Literal["terms", "year"] = "terms"


ENTITY_FACET_LABELS = ("PERSON", "VRM", "PHONE", "POSTCODE", "WEAPON", "DRUG", "LOCATION")
FACETS: tuple[Facet, ...] = (
    Facet("type", "Record type", F.RECORD_TYPE, 4),
    Facet("year", "Year", F.RECORD_DATE, 30, "year"),
    Facet("station", "Custody suite", F.STATION),
    Facet("borough", "Borough", F.BOROUGH, 12),
    Facet("offence", "Offence category", F.OFFENCE_CATEGORIES, 12),
    Facet("status", "Status / outcome", F.STATUS),
    Facet("grading", "Intelligence grading", F.GRADING, 12),
    *(
        Facet(f"e_{label.lower()}", label.title().replace("Vrm", "Vehicle (VRM)"), F.entity(label), 8)
        for label in ENTITY_FACET_LABELS
    ),
)
FACETS_BY_KEY = {f.key: f for f in FACETS}


def facet_filter(facet: Facet, values: Sequence[str]) -> Query:
    if facet.kind == "year":
        years = [v for v in values if v.isdigit() and len(v) == 4]
        return {
            "bool": {
                "should": [
                    {
                        "range": {
                            facet.field: {"gte": f"{y}-01-01", "lte": f"{y}-12-31", "format": "yyyy-MM-dd"}
                        }
                    }
                    for y in years
                ],
                "minimum_should_match": 1,
            }
        }
    return {"terms": {facet.field: list(values)}}


def _facet_agg(facet: Facet) -> Query:
    if facet.kind == "year":
        return {
            "date_histogram": {
                "field": facet.field,
                "calendar_interval": "year",
                "format": "yyyy",
                "min_doc_count": 1,
                "order": {"_key": "desc"},
            }
        }
    return {"terms": {"field": facet.field, "size": facet.size}}


def build_aggs(selected: Mapping[str, Sequence[str]]) -> tuple[Query, Query | None]:
    """Facet aggregations and the post_filter for the user's facet selections.

    Selections filter the hits through ``post_filter``; each facet counts under every
    selection except its own, so picking "custody" still shows how many crime records
    there are (values within a facet are OR-ed, facets AND-ed).
    """
    active = {k: list(v) for k, v in selected.items() if k in FACETS_BY_KEY and v}
    filters = {k: facet_filter(FACETS_BY_KEY[k], v) for k, v in active.items()}
    aggs: Query = {}
    for facet in FACETS:
        others = [q for k, q in filters.items() if k != facet.key]
        agg = _facet_agg(facet)
        if others:
            aggs[facet.key] = {"filter": {"bool": {"filter": others}}, "aggs": {"values": agg}}
        else:
            aggs[facet.key] = agg
    post_filter = {"bool": {"filter": list(filters.values())}} if filters else None
    return aggs, post_filter


# ---------------------------------------------------------------------- leaf queries


def _nested(query: Query, *, score_mode: str = "max", inner_hits: Query | None = None) -> Query:
    out: Query = {"nested": {"path": F.PEOPLE, "query": query, "score_mode": score_mode}}
    if inner_hits is not None:
        out["nested"]["inner_hits"] = inner_hits
    return out


def _const(query: Query, boost: float) -> Query:
    return {"constant_score": {"filter": query, "boost": boost}}


def dob_range(dob: Dob) -> Query:
    lo = _shift_years(dob.dob, -dob.years)
    hi = _shift_years(dob.dob, dob.years)
    return {"range": {F.people(F.P_DOB): {"gte": lo.isoformat(), "lte": hi.isoformat()}}}


def _shift_years(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _words(words: Iterable[str]) -> list[str]:
    return [w for w in (fold(x) for x in words) if w]


def _word_name_match(word: str) -> Query:
    """One word against one person's name: spelt, nickname, sound-alike or misspelt."""
    if len(word) == 1:  # an initial
        return {"match": {F.people(F.P_NAME) + ".prefix": word}}
    should: list[Query] = [
        {"match": {F.people(F.P_NAME): {"query": word, "fuzziness": "AUTO", "prefix_length": 1}}},
        {"match": {F.people(F.P_ALIASES): {"query": word, "fuzziness": "AUTO", "prefix_length": 1}}},
    ]
    variants = sorted(forename_variants(word))
    if len(variants) > 1:
        should.append({"terms": {F.people(F.P_FORENAME_FOLDED): variants}})
    keys = sorted(phonetic_keys(word))
    if keys:
        should.append({"terms": {F.people(F.P_NAME_PHONETIC): keys}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _families(field: str, word: str) -> list[Query]:
    """One constant-score clause per key family of ``word`` on ``field`` (sums to the agreement)."""
    keys = phonetic_keys(word)
    out: list[Query] = []
    for fam in FAMILIES:
        fam_keys = sorted(k for k in keys if k.startswith(fam))
        if fam_keys:
            out.append(_const({"terms": {field: fam_keys}}, PHONETIC_FAMILY_STEP))
    return out


def _sounds_like(base: float, required: list[Query], field: str, word: str) -> Query | None:
    """``required`` on one person, and ``word`` sounding like a token of ``field``: scores
    ``base`` plus one step per agreeing key family."""
    fams = _families(field, word)
    if not fams:
        return None
    return {
        "bool": {
            "must": [_const({"bool": {"filter": required}} if required else {"match_all": {}}, base)],
            "should": fams,
            "minimum_should_match": 1,
        }
    }


def _forename_is(word: str) -> Query:
    """The person's folded forename is ``word`` or one of its variants (diminutive, formal,
    transliterated). Symmetric because :func:`forename_variants` is."""
    return {"terms": {F.people(F.P_FORENAME_FOLDED): sorted(forename_variants(word) | {word})}}


def _surname_is(word: str) -> Query:
    return {"term": {F.people(F.P_SURNAME_FOLDED): word}}


def name_tiers(words: Sequence[str]) -> list[Query]:
    """Constant-score alternatives for ``words`` as one person's name, best first.

    exact (50) > alias (40) > forename variant + exact surname (35) > the same surname-first
    (30) > sound-alike surname with the forename or a variant (24 + families) > sound-alike
    forename with the exact surname (22 + families) > both sound alike (18 + families) /
    every word sounds like one of the name's words (25) > misspelt (15).
    """
    ws = _words(words)
    if not ws:
        return []
    text = " ".join(ws)
    name = F.people(F.P_NAME)
    tiers: list[Query] = [
        _const({"match": {name: {"query": text, "operator": "and"}}}, BOOST_NAME_EXACT),
        _const({"match": {F.people(F.P_ALIASES): {"query": text, "operator": "and"}}}, BOOST_NAME_ALIAS),
    ]
    first, last = ws[0], ws[-1]
    if len(ws) >= 2:
        tiers.append(
            _const({"bool": {"filter": [_forename_is(first), _surname_is(last)]}}, BOOST_NAME_VARIANT)
        )
        # "Smith John", "SMITH, John": surname first, as many systems print names.
        tiers.append(
            _const(
                {"bool": {"filter": [_forename_is(last), _surname_is(first)]}}, BOOST_NAME_VARIANT_REVERSED
            )
        )
        sur_ph, fore_ph = F.people(F.P_SURNAME_PHONETIC), F.people(F.P_FORENAME_PHONETIC)
        candidates = [
            _sounds_like(PHONETIC_SURNAME_BASE, [_forename_is(first)], sur_ph, last),
            _sounds_like(PHONETIC_SURNAME_BASE - 2, [_forename_is(last)], sur_ph, first),
            _sounds_like(PHONETIC_FORENAME_BASE, [_surname_is(last)], fore_ph, first),
        ]
        fore_keys = sorted(phonetic_keys(first))
        if fore_keys:
            candidates.append(
                _sounds_like(PHONETIC_BOTH_BASE, [{"terms": {fore_ph: fore_keys}}], sur_ph, last)
            )
        tiers += [c for c in candidates if c is not None]
    else:
        variants = sorted(forename_variants(first))
        if len(variants) > 1:
            tiers.append(_const({"terms": {F.people(F.P_FORENAME_FOLDED): variants}}, BOOST_NAME_VARIANT))
    per_word_keys = [sorted(phonetic_keys(w)) for w in ws if len(w) > 1]
    if per_word_keys and all(per_word_keys):
        tiers.append(
            _const(
                {
                    "bool": {
                        "filter": [{"terms": {F.people(F.P_NAME_PHONETIC): keys}} for keys in per_word_keys]
                    }
                },
                BOOST_NAME_PHONETIC if len(ws) == 1 else PHONETIC_BOTH_BASE,
            )
        )
    tiers.append(
        _const(
            {"match": {name: {"query": text, "fuzziness": "AUTO", "prefix_length": 1, "operator": "and"}}},
            BOOST_NAME_FUZZY,
        )
    )
    return tiers


def person_query(words: Sequence[str], dob: Dob | None = None) -> Query | None:
    """One nested query: the best name tier of any one person (and their DOB, if given)."""
    tiers = name_tiers(words)
    if not tiers:
        return None
    inner: Query = {"dis_max": {"queries": tiers}}
    if dob is not None:
        inner = {"bool": {"must": [inner], "filter": [dob_range(dob)]}}
    return _nested(inner)


def text_run(words: Sequence[str], dob: Dob | None = None) -> Query:
    """Bare words: each must match in the text or in someone's name; names rank first."""
    ws = [w for w in words if w.strip()]
    joined = " ".join(ws)
    text_match: Query = {"multi_match": {"query": joined, "fields": list(TEXT_FIELDS), "type": "best_fields"}}
    should: list[Query] = [text_match]
    if len(ws) > 1:
        should.append(
            {"match_phrase": {f"{F.TEXT}.exact": {"query": joined, "slop": 2, "boost": BOOST_PHRASE}}}
        )
    if len(ws) > MAX_NAME_WORDS:
        # Narrative search: most of the words, in the text.
        required: list[Query] = [
            {
                "multi_match": {
                    "query": joined,
                    "fields": list(TEXT_FIELDS),
                    "type": "cross_fields",
                    "operator": "or",
                    "minimum_should_match": "3<75%",
                }
            }
        ]
    else:
        required = [_word_anywhere(w) for w in ws]
        person = person_query(ws, dob)
        if person is not None:
            should.append(person)
    return {"bool": {"filter": required, "should": should, "minimum_should_match": 0}}


def _word_anywhere(word: str) -> Query:
    should: list[Query] = [
        {"multi_match": {"query": word, "fields": list(TEXT_FIELDS), "zero_terms_query": "all"}},
        {"term": {F.REFERENCE: word}},
    ]
    folded = fold(word)
    if folded:
        should.append(_nested(_word_name_match(folded), score_mode="none"))
    return {"bool": {"should": should, "minimum_should_match": 1}}


def phrase(text: str) -> Query:
    return {
        "bool": {
            "should": [
                {"match_phrase": {f"{F.TEXT}.exact": {"query": text, "boost": BOOST_PHRASE}}},
                {"match_phrase": {F.TITLE: {"query": text, "boost": BOOST_PHRASE}}},
                {"match_phrase": {F.SUMMARY: text}},
                {"match_phrase": {F.OFFENCE_TEXT: text}},
                _nested({"match_phrase": {F.people(F.P_NAME): {"query": text, "boost": BOOST_NAME_EXACT}}}),
            ],
            "minimum_should_match": 1,
        }
    }


def identifier(ident: Ident) -> Query:
    """Canonical value on the entity arrays and people fields, ranked first; as typed, as a fallback."""
    should: list[Query] = [_const({"term": {F.entity(ident.label): ident.value}}, BOOST_IDENT)]
    people_field = IDENT_PEOPLE_FIELD.get(ident.label)
    if people_field:
        should.append(_nested(_const({"term": {people_field: ident.value}}, BOOST_IDENT)))
    if ident.label in ("WEAPON", "DRUG"):
        should.append({"multi_match": {"query": ident.text, "fields": list(TEXT_FIELDS)}})
    else:
        should.append({"match_phrase": {f"{F.TEXT}.exact": ident.text}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def dob_only(dob: Dob) -> Query:
    return _nested(_const(dob_range(dob), BOOST_DOB_ONLY))


def dob_with_name(dob: Dob, words: Sequence[str]) -> Query:
    """A person with this DOB whose name matches at least one of the words (same nested person)."""
    ws = _words(words)
    inner: Query = {"bool": {"filter": [dob_range(dob)]}}
    if ws:
        inner["bool"]["should"] = [_word_name_match(w) for w in ws]
        inner["bool"]["minimum_should_match"] = 1
    return _nested(_const(inner, BOOST_DOB_ONLY))


def name_leaf(name: Name, dob: Dob | None = None) -> Query:
    q = person_query(name.text.replace(",", " ").split(), dob)
    return q if q is not None else {"match_none": {}}


def _escape_wildcard(value: str) -> str:
    return value.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def keyword(kw: Keyword) -> Query:
    v = kw.value.strip()
    if kw.field == "type":
        return {"term": {F.RECORD_TYPE: v}}
    if kw.field == "ref":
        return {"term": {F.REFERENCE: v}}
    if kw.field == "status":
        return {
            "bool": {
                "should": [
                    {"term": {F.STATUS: {"value": v, "case_insensitive": True}}},
                    {"term": {F.OUTCOME: {"value": v, "case_insensitive": True}}},
                ],
                "minimum_should_match": 1,
            }
        }
    if kw.field == "grading":
        return {"prefix": {F.GRADING: {"value": v}}}
    if kw.field == "offence":
        return {
            "bool": {
                "should": [
                    {"term": {F.OFFENCE_CODES: {"value": v, "case_insensitive": True}}},
                    {
                        "wildcard": {
                            F.OFFENCE_CATEGORIES: {
                                "value": f"*{_escape_wildcard(v)}*",
                                "case_insensitive": True,
                            }
                        }
                    },
                    {"match": {F.OFFENCE_TEXT: {"query": v, "operator": "and"}}},
                ],
                "minimum_should_match": 1,
            }
        }
    fields = {"station": F.STATION, "borough": F.BOROUGH, "court": F.COURT}
    return {"wildcard": {fields[kw.field]: {"value": f"*{_escape_wildcard(v)}*", "case_insensitive": True}}}


def date_range(dr: DateRange) -> Query:
    rng: dict[str, str] = {}
    if dr.start:
        rng["gte"] = dr.start.isoformat()
    if dr.end:
        rng["lte"] = dr.end.isoformat()
    return {"range": {F.RECORD_DATE: rng}}


# ------------------------------------------------------------------------- the tree


def near(n: Near) -> Query:
    """``near:``: a filter on the record's places within the radius of the postcode's point.

    Without a point (no gazetteer lookup, or a postcode it lacks) the records at that postcode
    itself, on the same canonical value an identifier search uses.
    """
    if n.point is None:
        return {"term": {F.entity("POSTCODE"): n.postcode}}
    lat, lon = n.point
    return {"geo_distance": {"distance": f"{n.radius_m}m", F.GEO_POINTS: {"lat": lat, "lon": lon}}}


def geo_box(top: float, left: float, bottom: float, right: float) -> Query:
    """Records with a place inside a box (the map's viewport)."""
    return {
        "geo_bounding_box": {
            F.GEO_POINTS: {
                "top_left": {"lat": top, "lon": left},
                "bottom_right": {"lat": bottom, "lon": right},
            }
        }
    }


def _is_filter(node: Node) -> bool:
    return isinstance(node, Keyword | DateRange | Near)


def _filter(node: Node) -> Query:
    if isinstance(node, Keyword):
        return keyword(node)
    if isinstance(node, Near):
        return near(node)
    assert isinstance(node, DateRange)
    return date_range(node)


def compile_node(node: Node) -> Query:
    """The query for one node of a parsed search (restricts and scores)."""
    if isinstance(node, And):
        return _compile_and(node.items)
    if isinstance(node, Or):
        return {"bool": {"should": [compile_node(i) for i in node.items], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_node(node.item)]}}
    return _compile_and((node,))


def _compile_and(items: Sequence[Node]) -> Query:
    dobs = [i for i in items if isinstance(i, Dob)]
    texts = [i for i in items if isinstance(i, Text)]
    names = [i for i in items if isinstance(i, Name)]
    # A DOB qualifies the person named beside it (name:..., or else the bare words).
    dob = dobs[0] if len(dobs) == 1 else None
    must: list[Query] = []
    filters: list[Query] = []
    must_not: list[Query] = []
    for item in items:
        if isinstance(item, Not):
            must_not.append(compile_node(item.item))
        elif _is_filter(item):
            filters.append(_filter(item))
        elif isinstance(item, Text):
            must.append(text_run(item.words, dob if dob is not None and not names else None))
        elif isinstance(item, Name):
            must.append(name_leaf(item, dob))
        elif isinstance(item, Dob):
            if dob is not None and names:
                continue  # applied inside the name query
            near_name = dob is not None and texts and len(texts[0].words) <= MAX_NAME_WORDS
            words = texts[0].words if near_name else ()
            must.append(dob_with_name(item, words) if words else dob_only(item))
        elif isinstance(item, Phrase):
            must.append(phrase(item.text))
        elif isinstance(item, Ident):
            must.append(identifier(item))
        else:
            must.append(compile_node(item))
    if len(must) == 1 and not filters and not must_not:
        return must[0]
    if len(filters) == 1 and not must and not must_not:
        return filters[0]
    out: Query = {}
    if must:
        out["must"] = must
    if filters:
        out["filter"] = filters
    if must_not:
        out["must_not"] = must_not
    return {"bool": out}


def build_query(parsed: ParsedQuery) -> Query:
    return compile_node(parsed.root) if parsed.root is not None else {"match_all": {}}


def with_recency(query: Query) -> Query:
    """Add a small bonus for recent records (at most ``RECENCY_WEIGHT``), never dominant."""
    return {
        "function_score": {
            "query": query,
            "functions": [
                {
                    # Rounded to the day: a score must not drift between two pages of one
                    # search, or paging past the window (search_after on _score) skips hits.
                    "gauss": {F.RECORD_DATE: {"origin": "now/d", "scale": "365d", "decay": 0.5}},
                    "weight": RECENCY_WEIGHT,
                }
            ],
            "score_mode": "sum",
            "boost_mode": "sum",
        }
    }


def highlight_query(parsed: ParsedQuery) -> Query | None:
    """What to mark in snippets: the words, phrases, names and identifiers as typed.

    It targets the highlighted fields themselves (``text``, ``title``, ``summary``): the
    unified highlighter only marks terms of queries on the field it highlights.
    """
    fields = [F.TEXT, F.TITLE, F.SUMMARY]
    should: list[Query] = []
    for leaf in parsed.leaves(positive_only=True):
        if isinstance(leaf, Text):
            words = " ".join(leaf.words)
            should.append({"multi_match": {"query": words, "fields": fields}})
            should.append(
                {"multi_match": {"query": words, "fields": fields, "fuzziness": "AUTO", "prefix_length": 1}}
            )
        elif isinstance(leaf, Phrase | Name):
            should.append({"multi_match": {"query": leaf.text, "fields": fields, "type": "phrase"}})
        elif isinstance(leaf, Ident):
            for spelling in dict.fromkeys((leaf.text, leaf.value)):
                should.append({"multi_match": {"query": spelling, "fields": fields, "type": "phrase"}})
    return {"bool": {"should": should}} if should else None


def _sort(sort: Sort, has_query: bool) -> list[Any]:
    if sort == "oldest":
        return [{F.RECORD_DATE: {"order": "asc", "missing": "_last"}}, {F.ID: "asc"}]
    if sort == "newest" or not has_query:
        return [{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}]
    return ["_score", {F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}]


@dataclass(frozen=True)
class SearchRequest:
    parsed: ParsedQuery
    facets: Mapping[str, Sequence[str]] = field(default_factory=dict)
    sort: Sort = "relevance"
    page: int = 1
    size: int = PAGE_SIZE
    with_facets: bool = True
    with_highlight: bool = True


def page_window(page: int, size: int) -> tuple[int, int]:
    """(from, size) for a page, clamped to the deepest reachable result."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    page = max(1, page)
    start = min((page - 1) * size, MAX_WINDOW - size)
    return max(0, start), size


def build_search(req: SearchRequest) -> Query:
    """The request body of one results page (unsecured: the service secures it)."""
    query = build_query(req.parsed)
    has_query = not req.parsed.empty
    if req.sort == "relevance" and has_query:
        query = with_recency(query)
    start, size = page_window(req.page, req.size)
    body: Query = {
        "query": query,
        "from": start,
        "size": size,
        "sort": _sort(req.sort, has_query),
        "track_total_hits": True,
        "_source": {"includes": RESULT_SOURCE},
    }
    aggs, post_filter = build_aggs(req.facets)
    if req.with_facets:
        body["aggs"] = aggs
    if post_filter is not None:
        body["post_filter"] = post_filter
    hq = highlight_query(req.parsed) if req.with_highlight else None
    if hq is not None:
        body["highlight"] = {
            "pre_tags": [HIGHLIGHT_PRE],
            "post_tags": [HIGHLIGHT_POST],
            "encoder": "default",
            "fields": {
                F.TEXT: {"fragment_size": 180, "number_of_fragments": 2},
                F.SUMMARY: {"fragment_size": 180, "number_of_fragments": 1},
                F.TITLE: {"number_of_fragments": 0},
            },
            "highlight_query": hq,
        }
    return body


def reverse_sort(sort: Sequence[Any]) -> list[Any]:
    """``sort`` read backwards (for "Previous" past the window: ``search_after`` the first hit
    shown, then the hits reversed). Missing values that came last come first."""
    out: list[Any] = []
    for key in sort:
        name, spec = (key, {}) if isinstance(key, str) else next(iter(key.items()))
        spec = {"order": spec} if isinstance(spec, str) else dict(spec)
        default = "desc" if name == "_score" else "asc"
        spec["order"] = "asc" if spec.get("order", default) == "desc" else "desc"
        if "missing" in spec:
            spec["missing"] = "_first" if spec["missing"] == "_last" else "_last"
        out.append({name: spec})
    return out


def build_search_after(req: SearchRequest, after: Sequence[Any], *, reverse: bool = False) -> Query:
    """One results page past ``MAX_WINDOW``: the hits after (``reverse``: before) the hit whose
    sort values are ``after``, in the same order as :func:`build_search` (unsecured)."""
    body = build_search(req)
    del body["from"]
    body["search_after"] = list(after)
    if reverse:
        body["sort"] = reverse_sort(body["sort"])
    return body


# ----------------------------------------------------------------- other requests


def build_get(record_id: str) -> Query:
    """One record by id (through the secured search path, never a bare GET)."""
    return {"query": {"ids": {"values": [record_id]}}, "size": 1}


def build_suggest(prefix: str, size: int = 8) -> Query:
    """Type-ahead over people's names and identifiers (search_as_you_type)."""
    return {
        "query": {
            "multi_match": {
                "query": prefix,
                "type": "bool_prefix",
                "fields": [F.SUGGEST, f"{F.SUGGEST}._2gram", f"{F.SUGGEST}._3gram"],
            }
        },
        "size": max(size * 3, 20),
        "_source": {"includes": [F.SUGGEST, F.ENTITIES]},
        "sort": ["_score", {F.RECORD_DATE: {"order": "desc", "missing": "_last"}}],
    }


def entity_query(label: str, value: str) -> Query:
    """Records mentioning one entity value (canonical; people also by their name fields)."""
    label = label.upper()
    should: list[Query] = [{"term": {F.entity(label): value}}]
    if label == "PERSON":
        should = [
            {"term": {f"{F.entity(label)}.norm": value}},
            _nested({"match_phrase": {F.people(F.P_NAME): value}}, score_mode="none"),
        ]
    people_field = IDENT_PEOPLE_FIELD.get(label)
    if people_field:
        should.append(_nested({"term": {people_field: value}}, score_mode="none"))
    return {"bool": {"should": should, "minimum_should_match": 1}}


def build_entity(
    label: str, value: str, *, size: int = 50, page: int = 1, extra_keys: Sequence[str] = ()
) -> Query:
    """Records for an entity page, a monthly timeline, and co-occurring entities."""
    query = entity_query(label, value)
    if extra_keys:
        query = {
            "bool": {
                "should": [
                    query,
                    _nested({"terms": {F.people(F.P_PERSON_KEY): list(extra_keys)}}, score_mode="none"),
                ],
                "minimum_should_match": 1,
            }
        }
    start, size = page_window(page, size)
    aggs: Query = {
        "timeline": {
            "date_histogram": {
                "field": F.RECORD_DATE,
                "calendar_interval": "month",
                "format": "yyyy-MM",
                "min_doc_count": 1,
            }
        },
        "types": {"terms": {"field": F.RECORD_TYPE, "size": 4}},
    }
    for other in ENTITY_FACET_LABELS:
        aggs[f"co_{other.lower()}"] = {"terms": {"field": F.entity(other), "size": 11}}
    return {
        "query": query,
        "from": start,
        "size": size,
        "sort": [{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}],
        "track_total_hits": True,
        "_source": {"includes": RESULT_SOURCE},
        "aggs": aggs,
    }


def build_person_keys(value: str) -> Query:
    """The people matching a person entity value, with their linking keys (inner hits)."""
    return {
        "query": _nested(
            {
                "bool": {
                    "should": [
                        {"match_phrase": {F.people(F.P_NAME): value}},
                        {"match_phrase": {F.people(F.P_ALIASES): value}},
                    ],
                    "minimum_should_match": 1,
                }
            },
            score_mode="none",
            inner_hits={
                "size": 5,
                "_source": [
                    F.people(s)
                    for s in (F.P_NAME, F.P_DOB, F.P_PNC_ID, F.P_PERSON_KEY, F.P_NOMINAL_ID, F.P_ROLE)
                ],
            },
        ),
        "size": 50,
        "_source": False,
    }


def build_person_variants(keys: Sequence[str]) -> Query:
    """People anywhere who share a linking key (golden nominal), with the matching person."""
    return {
        "query": _nested(
            {"terms": {F.people(F.P_PERSON_KEY): list(keys)}},
            score_mode="none",
            inner_hits={
                "size": 5,
                "_source": [F.people(s) for s in (F.P_NAME, F.P_DOB, F.P_PNC_ID, F.P_PERSON_KEY)],
            },
        ),
        "size": 100,
        "_source": False,
    }


# Linked records, strongest link first. A linked record belongs to the group of its
# strongest link: the same person (a golden-nominal key: PNC ID, or date of birth and
# sound-alike name; or a PNC ID in the text), then a shared vehicle, phone, IMEI or email,
# then a shared address (postcode), which many unrelated records can share.
LinkTier = Literal["person", "vehicle_phone", "address"]
LINK_TIERS: tuple[LinkTier, ...] = ("person", "vehicle_phone", "address")
LINK_TIER_LABELS: dict[str, tuple[str, ...]] = {
    "person": ("PNC_ID",),
    "vehicle_phone": ("VRM", "PHONE", "IMEI", "EMAIL"),
    "address": ("POSTCODE",),
}
LINK_LABELS: tuple[str, ...] = tuple(label for tier in LINK_TIERS for label in LINK_TIER_LABELS[tier])
LINKED_PER_GROUP = 5
LINKED_PAGE_SIZE = 50
# Seeds per kind: bounds the clause count (OpenSearch refuses more than 1,024 clauses).
MAX_LINK_SEEDS = 40


@dataclass(frozen=True)
class LinkSeeds:
    """What one record can be linked by: its people's linking keys and its identifiers."""

    record_id: str
    person_keys: tuple[str, ...] = ()
    entities: Mapping[str, Sequence[str]] = field(default_factory=dict)


def _link_clauses(seeds: LinkSeeds) -> dict[LinkTier, list[Query]]:
    """One constant-score clause per shared value, by tier: a record's score counts its links."""
    out: dict[LinkTier, list[Query]] = {tier: [] for tier in LINK_TIERS}
    for key in sorted(set(seeds.person_keys))[:MAX_LINK_SEEDS]:
        out["person"].append(
            _const(_nested({"term": {F.people(F.P_PERSON_KEY): key}}, score_mode="none"), 1.0)
        )
    for tier in LINK_TIERS:
        for label in LINK_TIER_LABELS[tier]:
            for value in sorted(set(seeds.entities.get(label, ())))[:MAX_LINK_SEEDS]:
                out[tier].append(_const({"term": {F.entity(label): value}}, 1.0))
    return out


def _not_itself(record_id: str) -> list[Query]:
    # Neither the record nor the documents attached to it (they are shown on the page already).
    return [{"ids": {"values": [record_id]}}, {"term": {F.document(F.D_PARENT_ID): record_id}}]


def _tier_filter(clauses: Mapping[LinkTier, list[Query]], tier: LinkTier) -> Query | None:
    """Records whose strongest link is ``tier``: a link of this tier and none stronger."""
    if not clauses[tier]:
        return None
    stronger = [c for t in LINK_TIERS[: LINK_TIERS.index(tier)] for c in clauses[t]]
    out: Query = {"bool": {"should": clauses[tier], "minimum_should_match": 1}}
    if stronger:
        out["bool"]["must_not"] = stronger
    return out


LINKED_SORT: list[Any] = [
    {"_score": {"order": "desc"}},
    {F.RECORD_DATE: {"order": "desc", "missing": "_last"}},
    {F.ID: "asc"},
]
LINKED_SOURCE: Query = {"includes": [*RESULT_SOURCE, F.people(F.P_PERSON_KEY)]}


def build_linked(seeds: LinkSeeds, per_group: int = LINKED_PER_GROUP) -> Query | None:
    """Linked records in one request: per tier, how many and the strongest few.

    The score of a linked record is the number of values it shares with this one, so within
    a group the record sharing most comes first (then the newest). Counts are ``filters``
    buckets of the (secured) query, so they count only records the reader may read.
    """
    clauses = _link_clauses(seeds)
    every = [c for tier in LINK_TIERS for c in clauses[tier]]
    if not every:
        return None
    groups = {tier: f for tier in LINK_TIERS if (f := _tier_filter(clauses, tier)) is not None}
    return {
        "query": {
            "bool": {"should": every, "minimum_should_match": 1, "must_not": _not_itself(seeds.record_id)}
        },
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "groups": {
                "filters": {"filters": groups},
                "aggs": {
                    "top": {
                        "top_hits": {"size": max(1, per_group), "sort": LINKED_SORT, "_source": LINKED_SOURCE}
                    }
                },
            }
        },
    }


def build_linked_group(
    seeds: LinkSeeds, tier: LinkTier, page: int = 1, size: int = LINKED_PAGE_SIZE
) -> Query | None:
    """One page of the records whose strongest link to this one is ``tier`` ("show all N")."""
    clauses = _link_clauses(seeds)
    tier_filter = _tier_filter(clauses, tier)
    if tier_filter is None:
        return None
    start, size = page_window(page, size)
    return {
        "query": {
            "bool": {
                "filter": [tier_filter],
                # Scoring only (filter present: none need match): the number of shared values.
                "should": [c for t in LINK_TIERS for c in clauses[t]],
                "must_not": _not_itself(seeds.record_id),
            }
        },
        "from": start,
        "size": size,
        "track_total_hits": True,
        "sort": LINKED_SORT,
        "_source": LINKED_SOURCE,
    }


# ----------------------------------------------------------------------------- the map

MAP_MAX_CELLS = 400
MAP_RECORDS_PER_CELL = 3
MAP_SOURCE = [F.ID, F.TITLE, F.REFERENCE, F.RECORD_TYPE, F.RECORD_DATE]
MAP_UNLOCATED_POSTCODES = 10


@dataclass(frozen=True)
class Box:
    """A viewport in degrees (the map sends west, south, east, north)."""

    west: float
    south: float
    east: float
    north: float


def map_precision(zoom: int) -> int:
    """geotile_grid precision for a map zoom: cells of about 64 px (a 256 px tile split 4 x 4)."""
    return max(0, min(int(zoom) + 2, 20))


def build_map(query: Query, *, zoom: int, box: Box | None = None) -> Query:
    """Clusters of a result set's places (``geotile_grid`` over ``F.GEO_POINTS``), the newest few
    records of each cell, the extent of all located records, and why the others are not on it.

    The gateway adds the access filter to ``query``, so every cell, count and record is one the
    user may read. A record with places in several cells counts once in each.
    """
    located: Query = {"exists": {"field": F.GEO_POINTS}}
    grid: Query = {"field": F.GEO_POINTS, "precision": map_precision(zoom), "size": MAP_MAX_CELLS}
    in_view: Query = located
    if box is not None:
        in_view = geo_box(box.north, box.west, box.south, box.east)
        # Cells of this record's other places outside the viewport are not wanted either.
        grid["bounds"] = {
            "top_left": {"lat": box.north, "lon": box.west},
            "bottom_right": {"lat": box.south, "lon": box.east},
        }
    return {
        "query": query,
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "located": {"filter": located, "aggs": {"bounds": {"geo_bounds": {"field": F.GEO_POINTS}}}},
            "in_view": {
                "filter": in_view,
                "aggs": {
                    "cells": {
                        "geotile_grid": grid,
                        "aggs": {
                            "centre": {"geo_centroid": {"field": F.GEO_POINTS}},
                            "newest": {
                                "top_hits": {
                                    "size": MAP_RECORDS_PER_CELL,
                                    "sort": [{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}],
                                    "_source": {"includes": MAP_SOURCE},
                                }
                            },
                        },
                    }
                },
            },
            "unlocated": {
                "filter": {
                    "bool": {
                        "filter": [{"exists": {"field": F.GEO_UNLOCATED}}],
                        "must_not": [located],
                    }
                },
                "aggs": {"postcodes": {"terms": {"field": F.GEO_UNLOCATED, "size": MAP_UNLOCATED_POSTCODES}}},
            },
        },
    }
