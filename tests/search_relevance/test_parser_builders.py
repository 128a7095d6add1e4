"""Issue 11 parser and builder behaviour (pure: typed in, dict out; no OpenSearch)."""

from __future__ import annotations

from datetime import date

import pytest

from mappings import fields as F
from search import builders as B
from search.parser import And, DateRange, Ident, Or, Text, parse
from search.relax import relaxations

TODAY = date(2026, 6, 1)


@pytest.mark.parametrize(
    "q", ["+44 (0)7700 900123", "(07700) 900123", "+44(0)7700900123", "0044 7700 900123", "07700 900 123"]
)
def test_phone_is_recognised_before_the_boolean_parser(q: str) -> None:
    parsed = parse(q, today=TODAY)
    assert parsed.root == Ident("PHONE", "+447700900123", q)
    assert not parsed.degraded and not parsed.notices


def test_phone_inside_a_boolean_query() -> None:
    parsed = parse("(heroin OR crack) +44 (0)7700 900123", today=TODAY)
    assert isinstance(parsed.root, And)
    assert parsed.root.items[1] == Ident("PHONE", "+447700900123", "+44 (0)7700 900123")
    assert isinstance(parsed.root.items[0], Or)


def test_bare_year_becomes_a_record_date_filter_with_a_notice() -> None:
    parsed = parse("knife Peckham 2021", today=TODAY)
    assert isinstance(parsed.root, And)
    assert DateRange(date(2021, 1, 1), date(2021, 12, 31), text="2021") in parsed.root.items
    assert any("2021 was read as a year" in n for n in parsed.notices)
    body = B.build_query(parsed)
    assert {"range": {F.RECORD_DATE: {"gte": "2021-01-01", "lte": "2021-12-31"}}} in body["bool"]["filter"]


@pytest.mark.parametrize("q", ["1899 knife", "knife 21", "knife 20211", "12/03/2021", "PNC 2016/0004581X"])
def test_not_a_bare_year(q: str) -> None:
    assert not any("read as a year" in n for n in parse(q, today=TODAY).notices)


def test_quoted_year_stays_text() -> None:
    parsed = parse('knife "2021"', today=TODAY)
    assert not any(isinstance(leaf, DateRange) for leaf in parsed.leaves())


def test_relaxations_drop_one_part_each() -> None:
    parsed = parse("robbery Ealing 2019 type:crime", today=TODAY)
    parts = {r.part: r.query.root for r in relaxations(parsed)}
    assert set(parts) == {"robbery", "Ealing", "2019", "type:crime"}
    without_year = parts["2019"]
    assert isinstance(without_year, And) and not any(isinstance(i, DateRange) for i in without_year.items)
    assert parts["robbery"] is not None and Text(("Ealing",)) in parts["robbery"].items  # type: ignore[union-attr]
    assert relaxations(parse("knife", today=TODAY)) == []


def test_forename_variants_match_the_folded_forename() -> None:
    q = B._forename_is("mo")
    values = q["terms"][F.people(F.P_FORENAME_FOLDED)]
    assert {"mo", "mohammed", "muhammad", "mohamed"} <= set(values)


def test_sound_alike_tier_scores_by_agreeing_families() -> None:
    tier = B._sounds_like(
        B.PHONETIC_SURNAME_BASE, [B._forename_is("piotr")], F.people(F.P_SURNAME_PHONETIC), "voychik"
    )
    assert tier is not None
    should = tier["bool"]["should"]
    assert all(c["constant_score"]["boost"] == B.PHONETIC_FAMILY_STEP for c in should)
    assert {next(iter(c["constant_score"]["filter"]["terms"].values()))[0][:3] for c in should} <= {
        "dm:",
        "ny:",
        "sk:",
    }
    assert tier["bool"]["must"][0]["constant_score"]["boost"] == B.PHONETIC_SURNAME_BASE


def test_tier_order_exact_above_every_sound_alike() -> None:
    most = B.PHONETIC_SURNAME_BASE + 3 * B.PHONETIC_FAMILY_STEP
    assert most < B.BOOST_NAME_VARIANT_REVERSED < B.BOOST_NAME_VARIANT < B.BOOST_NAME_EXACT
    assert B.BOOST_NAME_FUZZY < B.PHONETIC_BOTH_BASE


@pytest.mark.parametrize(
    ("q", "label", "value"),
    [
        ("cr06tl", "POSTCODE", "CR0 6TL"),
        ("20160004581X", "PNC_ID", "2016/0004581X"),
        ("Ly68 Ycj", "VRM", "LY68YCJ"),
        ("ly68ycj", "VRM", "LY68YCJ"),
    ],
)
def test_query_recognition_accepts_the_extraction_spellings(q: str, label: str, value: str) -> None:
    # The same spellings entity extraction accepts in narratives (issue 11).
    from entity_extraction.identifiers import pnc_check_letter

    if label == "PNC_ID":
        letter = pnc_check_letter(2016, 4581)
        q, value = f"20160004581{letter}", f"2016/0004581{letter}"
    assert parse(q, today=TODAY).root == Ident(label, value, q)
