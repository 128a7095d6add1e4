"""Pure query builders, compared as dicts; and the records gateway's guarantees."""

from __future__ import annotations

from datetime import date

import pytest

from lantern.principal import Principal
from mappings import fields as F
from search import builders as B
from search.access import access_filter, secure
from search.gateway import UnsafeQuery, secure_body
from search.parser import Dob, Ident, Keyword, parse

TODAY = date(2025, 6, 1)
USER = Principal("u1", "User One", frozenset({"officer"}), frozenset({"RESPONSE"}), frozenset())
ANALYST = Principal(
    "a1", "Analyst", frozenset({"analyst"}), frozenset({"INTEL"}), frozenset({"intel", "intel_c"})
)


def test_identifier_query_ranks_canonical_matches_first() -> None:
    q = B.identifier(Ident("VRM", "AB12CDE", "ab12 cde"))
    assert q == {
        "bool": {
            "should": [
                {"constant_score": {"filter": {"term": {"entities.vrm": "AB12CDE"}}, "boost": B.BOOST_IDENT}},
                {"match_phrase": {"text.exact": "ab12 cde"}},
            ],
            "minimum_should_match": 1,
        }
    }


def test_pnc_identifier_also_matches_people_pnc_on_the_nested_person() -> None:
    q = B.identifier(Ident("PNC_ID", "2001/0123456F", "01/123456F"))
    assert q["bool"]["should"][1] == {
        "nested": {
            "path": "people",
            "query": {
                "constant_score": {
                    "filter": {"term": {"people.pnc_id": "2001/0123456F"}},
                    "boost": B.BOOST_IDENT,
                }
            },
            "score_mode": "max",
        }
    }


def _best(tier: dict) -> float:
    """Highest score a tier can give: a constant, or a sound-alike base plus every family."""
    if "constant_score" in tier:
        return float(tier["constant_score"]["boost"])
    base = tier["bool"]["must"][0]["constant_score"]["boost"]
    return float(base + sum(c["constant_score"]["boost"] for c in tier["bool"]["should"]))


def test_name_tiers_order_and_nicknames() -> None:
    tiers = B.name_tiers(["Bill", "Smyth"])
    boosts = [_best(t) for t in tiers]
    assert boosts[0] == B.BOOST_NAME_EXACT and boosts[-1] == B.BOOST_NAME_FUZZY
    assert boosts[:4] == sorted(boosts[:4], reverse=True)  # exact > alias > variant > reversed
    assert max(boosts[4:]) < boosts[3]  # every sound-alike tier below the reversed variant
    exact = tiers[0]["constant_score"]["filter"]
    assert exact == {"match": {"people.name": {"query": "bill smyth", "operator": "and"}}}
    variant = tiers[2]["constant_score"]["filter"]["bool"]["filter"]
    assert "william" in variant[0]["terms"]["people.forename_folded"]
    assert variant[1] == {"term": {"people.surname_folded": "smyth"}}
    sounds = tiers[4]["bool"]
    assert sounds["must"][0]["constant_score"]["filter"]["bool"]["filter"] == [variant[0]]
    assert all("people.surname_phonetic" in c["constant_score"]["filter"]["terms"] for c in sounds["should"])
    fuzzy = tiers[-1]["constant_score"]["filter"]
    assert fuzzy == {
        "match": {
            "people.name": {"query": "bill smyth", "fuzziness": "AUTO", "prefix_length": 1, "operator": "and"}
        }
    }


def test_dob_is_applied_to_the_same_nested_person_as_the_name() -> None:
    dob = Dob(date(1985, 3, 12), 2)
    q = B.person_query(["john", "smith"], dob)
    assert q is not None
    inner = q["nested"]["query"]
    assert q["nested"]["path"] == "people"
    assert inner["bool"]["filter"] == [{"range": {"people.dob": {"gte": "1983-03-12", "lte": "1987-03-12"}}}]
    assert "dis_max" in inner["bool"]["must"][0]


def test_dob_range_handles_29_february() -> None:
    assert B.dob_range(Dob(date(1984, 2, 29), 1)) == {
        "range": {"people.dob": {"gte": "1983-02-28", "lte": "1985-02-28"}}
    }


def test_name_and_dob_query_tree() -> None:
    q = B.build_query(parse("Jon Smyth 12/03/1985", today=TODAY))
    must = q["bool"]["must"]
    text, dob = must
    # Each word must match somewhere; the person tiers score.
    assert len(text["bool"]["filter"]) == 2
    person = text["bool"]["should"][-1]
    assert person["nested"]["query"]["bool"]["filter"][0]["range"]["people.dob"]["gte"] == "1985-03-12"
    # The DOB must be on a person whose name matches at least one of the words.
    inner = dob["nested"]["query"]["constant_score"]["filter"]["bool"]
    assert inner["filter"] == [{"range": {"people.dob": {"gte": "1985-03-12", "lte": "1985-03-12"}}}]
    assert inner["minimum_should_match"] == 1 and len(inner["should"]) == 2


def test_filters_go_to_filter_context_and_not_to_must_not() -> None:
    q = B.build_query(parse("knife type:custody -type:intel from:2024", today=TODAY))
    assert {"term": {"record_type": "custody"}} in q["bool"]["filter"]
    assert {"range": {"record_date": {"gte": "2024-01-01"}}} in q["bool"]["filter"]
    assert q["bool"]["must_not"] == [{"term": {"record_type": "intel"}}]


def test_or_and_not() -> None:
    q = B.build_query(parse("ab12cde OR 07700900123", today=TODAY))
    assert q["bool"]["minimum_should_match"] == 1 and len(q["bool"]["should"]) == 2
    q = B.build_query(parse("NOT type:case", today=TODAY))
    assert q == {"bool": {"must_not": [{"term": {"record_type": "case"}}]}}


def test_keyword_values_are_escaped_for_wildcards() -> None:
    q = B.keyword(Keyword("station", "Bri*ton?\\"))
    assert q == {"wildcard": {"station": {"value": "*Bri\\*ton\\?\\\\*", "case_insensitive": True}}}


def test_empty_query_matches_all_and_sorts_by_date() -> None:
    body = B.build_search(B.SearchRequest(parse("", today=TODAY)))
    assert body["query"] == {"match_all": {}}
    assert body["sort"][0] == {"record_date": {"order": "desc", "missing": "_last"}}
    assert "highlight" not in body


def test_relevance_adds_a_gentle_recency_bonus() -> None:
    body = B.build_search(B.SearchRequest(parse("knife", today=TODAY)))
    fs = body["query"]["function_score"]
    assert fs["boost_mode"] == "sum"
    assert fs["functions"][0]["weight"] == B.RECENCY_WEIGHT < B.BOOST_NAME_FUZZY
    body = B.build_search(B.SearchRequest(parse("knife", today=TODAY), sort="newest"))
    assert "function_score" not in body["query"]


def test_highlight_uses_private_markers_not_html() -> None:
    body = B.build_search(B.SearchRequest(parse("knife", today=TODAY)))
    hl = body["highlight"]
    assert hl["pre_tags"] == ["\ue000"] and hl["post_tags"] == ["\ue001"]
    assert "<" not in str(hl["pre_tags"] + hl["post_tags"])


def test_disjunctive_facets() -> None:
    aggs, post_filter = B.build_aggs({"type": ["custody", "crime"], "borough": ["Lambeth"]})
    assert post_filter == {
        "bool": {
            "filter": [
                {"terms": {"record_type": ["custody", "crime"]}},
                {"terms": {"borough": ["Lambeth"]}},
            ]
        }
    }
    # The type facet counts under the borough selection only, and vice versa.
    assert aggs["type"] == {
        "filter": {"bool": {"filter": [{"terms": {"borough": ["Lambeth"]}}]}},
        "aggs": {"values": {"terms": {"field": "record_type", "size": 4}}},
    }
    assert aggs["borough"]["filter"] == {
        "bool": {"filter": [{"terms": {"record_type": ["custody", "crime"]}}]}
    }
    # Unselected facets count under every selection.
    assert len(aggs["station"]["filter"]["bool"]["filter"]) == 2
    assert aggs["e_vrm"]["aggs"]["values"] == {"terms": {"field": "entities.vrm", "size": 8}}


def test_year_facet_filter() -> None:
    _aggs, post_filter = B.build_aggs({"year": ["2024", "bogus"]})
    assert post_filter == {
        "bool": {
            "filter": [
                {
                    "bool": {
                        "should": [
                            {
                                "range": {
                                    "record_date": {
                                        "gte": "2024-01-01",
                                        "lte": "2024-12-31",
                                        "format": "yyyy-MM-dd",
                                    }
                                }
                            }
                        ],
                        "minimum_should_match": 1,
                    }
                }
            ]
        }
    }


def test_no_selection_no_post_filter() -> None:
    aggs, post_filter = B.build_aggs({})
    assert post_filter is None
    assert aggs["type"] == {"terms": {"field": "record_type", "size": 4}}


def test_page_window_is_clamped() -> None:
    assert B.page_window(1, 20) == (0, 20)
    assert B.page_window(3, 20) == (40, 20)
    assert B.page_window(100_000, 20) == (B.MAX_WINDOW - 20, 20)
    assert B.page_window(0, 1000) == (0, B.MAX_PAGE_SIZE)


# ------------------------------------------------------------------ the secured executor


def test_secure_body_wraps_the_query_with_the_access_filter() -> None:
    body = B.build_search(B.SearchRequest(parse("knife", today=TODAY), facets={"type": ["crime"]}))
    secured = secure_body(body, USER, TODAY)
    assert secured["query"] == secure(body["query"], USER, TODAY)
    assert secured["query"]["bool"]["filter"] == [access_filter(USER, TODAY)]
    # Everything else is untouched; the original is not modified.
    rest = {k: v for k, v in body.items() if k != "query"}
    assert {k: v for k, v in secured.items() if k != "query"} == rest
    assert "function_score" in body["query"]


@pytest.mark.parametrize(
    "body",
    [
        B.build_search(B.SearchRequest(parse("Jon Smyth 12/03/1985 ab12cde", today=TODAY))),
        B.build_get("some-id"),
        B.build_suggest("jo"),
        B.build_entity("VRM", "AB12CDE"),
        B.build_entity("PERSON", "John SMITH", extra_keys=["pnc:2001/0123456F"]),
        B.build_person_keys("John SMITH"),
        B.build_person_variants(["pnc:2001/0123456F"]),
        B.build_linked(B.LinkSeeds("id1", ("pnc:x",), {"VRM": ["AB12CDE"]})),
        B.build_linked_group(B.LinkSeeds("id1", ("pnc:x",), {"POSTCODE": ["SE58QT"]}), "address"),
    ],
)
def test_every_builder_body_is_accepted_and_secured(body: dict) -> None:
    for user in (USER, ANALYST):
        secured = secure_body(body, user, TODAY)
        assert secured["query"]["bool"]["filter"] == [access_filter(user, TODAY)]
        assert secured["query"]["bool"]["must"] == [body["query"]]


@pytest.mark.parametrize(
    "bad",
    [
        {
            "query": {"match_all": {}},
            "aggs": {"all": {"global": {}, "aggs": {"t": {"terms": {"field": "x"}}}}},
        },
        {"query": {"match_all": {}}, "aggs": {"t": {"terms": {"field": "x"}, "aggs": {"g": {"global": {}}}}}},
        {"query": {"match_all": {}}, "suggest": {"s": {"text": "x", "term": {"field": "title"}}}},
        {"query": {"match_all": {}}, "rescore": {"query": {"rescore_query": {"match_all": {}}}}},
        {"query": {"match_all": {}}, "script_fields": {"f": {"script": "1"}}},
        {"query": {"match_all": {}}, "stored_fields": ["*"]},
    ],
)
def test_bodies_that_could_escape_the_filter_are_refused(bad: dict) -> None:
    with pytest.raises(UnsafeQuery):
        secure_body(bad, USER, TODAY)


# The structural check that only the gateway reads the records index scans the whole tree:
# tests/test_boundaries.py::test_only_the_gateway_reads_the_records_index.


def test_entity_query_for_person_uses_the_normalised_keyword_and_names() -> None:
    q = B.entity_query("PERSON", "John SMITH")
    assert q["bool"]["should"][0] == {"term": {f"{F.entity('PERSON')}.norm": "John SMITH"}}
    assert q["bool"]["should"][1]["nested"]["query"] == {"match_phrase": {"people.name": "John SMITH"}}


# ------------------------------------------------------------------ the gateway's allow-list


@pytest.mark.parametrize(
    "aggs",
    [
        {"s": {"significant_terms": {"field": "x"}}},
        {"s": {"significant_text": {"field": "x"}}},
        {"t": {"terms": {"field": "x", "min_doc_count": 0}}},
        {"f": {"filter": {"match_all": {}}, "aggs": {"t": {"terms": {"field": "x", "min_doc_count": 0}}}}},
        {"t": {"terms": {"script": {"source": "doc['x'].value"}}}},
        {"h": {"top_hits": {"script_fields": {"f": {"script": "1"}}}}},
        {"m": {"scripted_metric": {"map_script": "1"}}},
        {"c": {"composite": {"sources": []}}},
        {"two": {"terms": {"field": "x"}, "max": {"field": "y"}}},
    ],
)
def test_aggregations_outside_the_allow_list_are_refused(aggs: dict) -> None:
    with pytest.raises(UnsafeQuery):
        secure_body({"query": {"match_all": {}}, "aggs": aggs}, USER, TODAY)


def test_allowed_aggregations_pass_unchanged() -> None:
    aggs = {
        "t": {"terms": {"field": "x", "size": 5, "min_doc_count": 1}},
        "d": {"date_histogram": {"field": "d", "calendar_interval": "month", "min_doc_count": 1}},
        "n": {"nested": {"path": "people"}, "aggs": {"r": {"reverse_nested": {}}}},
        "c": {"cardinality": {"field": "x"}},
        "h": {"top_hits": {"size": 1}},
        "f": {"filters": {"filters": {"a": {"match_all": {}}}}},
    }
    assert secure_body({"aggs": aggs}, USER, TODAY)["aggs"] == aggs


def test_engine_errors_become_domain_errors() -> None:
    from opensearchpy.exceptions import ConnectionTimeout, NotFoundError, RequestError, TransportError

    from lantern.errors import BadQuery, IndexMissing, NotFound, SearchUnavailable
    from search.gateway import engine_errors

    cases: list[tuple[Exception, type[Exception]]] = [
        (NotFoundError(404, "index_not_found_exception", {}), IndexMissing),
        (NotFoundError(404, "search_context_missing_exception", {}), NotFound),
        (RequestError(400, "search_phase_execution_exception", {}), BadQuery),
        (ConnectionTimeout("TIMEOUT", "read timed out", None), SearchUnavailable),
        (TransportError(429, "too_many_requests", {}), SearchUnavailable),
        (TransportError(422, "unprocessable", {}), BadQuery),
    ]
    for raised, expected in cases:
        with pytest.raises(expected) as info, engine_errors():
            raise raised
        assert info.value.__cause__ is raised
    assert issubclass(IndexMissing, SearchUnavailable)  # a missing index is an outage (503)
