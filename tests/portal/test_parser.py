"""The search-box parser: pure, and never raises on user input."""

from __future__ import annotations

from datetime import date
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search import parser as parser_module
from search.parser import (
    And,
    DateRange,
    Dob,
    Ident,
    Keyword,
    Name,
    Not,
    Or,
    Phrase,
    Text,
    parse,
    parse_date,
)

TODAY = date(2025, 6, 1)


def p(q: str, **kw: object):
    return parse(q, today=TODAY, **kw)  # type: ignore[arg-type]


def test_words_form_one_run() -> None:
    assert p("john smith").root == Text(("john", "smith"))


def test_empty_query_has_no_criteria() -> None:
    for q in ("", "   ", '""', None):
        r = parse(q, today=TODAY)
        assert r.root is None and not r.degraded


@pytest.mark.parametrize(
    ("query", "label", "value"),
    [
        ("ab12cde", "VRM", "AB12CDE"),
        ("AB12 CDE", "VRM", "AB12CDE"),
        ("ab12 cde", "VRM", "AB12CDE"),
        ("07700900123", "PHONE", "+447700900123"),
        ("07700 900123", "PHONE", "+447700900123"),
        ("+44 7700 900123", "PHONE", "+447700900123"),
        ("020 7946 0123", "PHONE", "+442079460123"),
        ("se17pb", "POSTCODE", "SE1 7PB"),
        ("se1 7pb", "POSTCODE", "SE1 7PB"),
        ("SE1 7PB", "POSTCODE", "SE1 7PB"),
        ("2001/0123456F", "PNC_ID", "2001/0123456F"),
        ("123456/98K", "CRO_NO", "123456/98K"),
        ("qq 12 34 56 c", "NINO", "QQ123456C"),
        ("someone@example.com", "EMAIL", "someone@example.com"),
    ],
)
def test_identifiers_in_any_spelling(query: str, label: str, value: str) -> None:
    root = p(query).root
    assert isinstance(root, Ident), root
    assert (root.label, root.value) == (label, value)


def test_identifier_inside_free_text_splits_the_words() -> None:
    root = p("john ab12 cde smith").root
    assert root == And((Text(("john", "smith")), Ident("VRM", "AB12CDE", "ab12 cde")))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("12/03/1985", date(1985, 3, 12)),
        ("1985-03-12", date(1985, 3, 12)),
        ("12.3.85", date(1985, 3, 12)),
        ("12-03-1985", date(1985, 3, 12)),
        ("12 March 1985", date(1985, 3, 12)),
        ("3rd Jan 2001", date(2001, 1, 3)),
    ],
)
def test_dates_of_birth(query: str, expected: date) -> None:
    root = p(query).root
    assert isinstance(root, Dob) and root.dob == expected and root.years == 0


def test_dob_tolerance_in_the_query_and_as_an_option() -> None:
    assert p("12/03/1985~2").root == Dob(date(1985, 3, 12), 2, "12/03/1985~2")
    root = p("12/03/1985", dob_years=3).root
    assert isinstance(root, Dob) and root.years == 3
    # Clamped to a sane range.
    root = p("12/03/1985", dob_years=99).root
    assert isinstance(root, Dob) and root.years == 10


def test_future_or_impossible_dates_are_not_dobs() -> None:
    assert not isinstance(p("31/02/1985").root, Dob)
    assert not isinstance(p("01/01/2030").root, Dob)


def test_name_with_dob() -> None:
    assert p("Jon Smyth 12/03/1985").root == And(
        (Text(("Jon", "Smyth")), Dob(date(1985, 3, 12), 0, "12/03/1985"))
    )


def test_phrases_and_operators() -> None:
    assert p('"stab wound" OR stabbing').root == Or((Phrase("stab wound"), Text(("stabbing",))))
    assert p("smith NOT jones").root == And((Text(("smith",)), Not(Text(("jones",)))))
    assert p("smith -jones").root == And((Text(("smith",)), Not(Text(("jones",)))))
    assert p('-"stab wound" smith').root == And((Not(Phrase("stab wound")), Text(("smith",))))
    assert p("(smith OR jones) AND brixton").root == And(
        (Or((Text(("smith",)), Text(("jones",)))), Text(("brixton",)))
    )


def test_field_filters() -> None:
    root = p('type:custody station:"Brixton Custody" vrm:ab12 cde from:2023-01 to:2023-06').root
    assert root == And(
        (
            Keyword("type", "custody"),
            Keyword("station", "Brixton Custody"),
            Ident("VRM", "AB12CDE", "ab12 cde"),
            DateRange(start=date(2023, 1, 1)),
            DateRange(end=date(2023, 6, 30)),
        )
    )
    assert p("type:intelligence").root == Keyword("type", "intel")
    assert p('name:"bill smith"').root == Name("bill smith")
    assert p("status:under investigation").root == And((Keyword("status", "under"), Text(("investigation",))))
    assert p("grading:1ap").root == Keyword("grading", "1AP")
    assert p("phone:07700 900 123").root == Ident("PHONE", "+447700900123", "07700 900 123")
    assert p("dob:1985-03-12~1").root == Dob(date(1985, 3, 12), 1, "1985-03-12~1")


def test_references_become_reference_filters() -> None:
    assert p("01MP/2024/012345").root == Keyword("ref", "01MP/2024/012345")
    assert p("cr/012345/24").root == Keyword("ref", "CR/012345/24")
    assert p("IR/2024/000123").root == Keyword("ref", "IR/2024/000123")


@pytest.mark.parametrize(
    "query",
    [
        "smith AND",
        "OR smith",
        "((smith",
        "smith)",
        "smith OR OR jones",
        "NOT",
        "AND OR NOT",
        ")(",
        "smith (",
        "a AND AND b",
    ],
)
def test_malformed_queries_degrade_with_a_notice(query: str) -> None:
    r = p(query)
    assert r.degraded
    assert r.notices
    # Whatever words there were are still searched for.
    if "smith" in query:
        assert r.root is not None and "smith" in str(r.root)


def test_unknown_field_is_searched_as_text_with_a_notice() -> None:
    r = p("colour:blue van")
    assert r.root == Text(("colour", "blue", "van"))
    assert any("colour" in n for n in r.notices)
    # Times are not fields.
    assert p("12:30").notices == ()


def test_invalid_identifier_field_is_searched_as_text() -> None:
    r = p("pnc:hello")
    assert r.root == Text(("hello",))
    assert r.notices


def test_unclosed_quote_is_ignored_with_a_notice() -> None:
    r = p('"stab wound')
    assert r.root == Text(("stab", "wound"))
    assert r.notices


def test_bad_type_and_empty_field_are_ignored_with_a_notice() -> None:
    r = p("type:bogus smith")
    assert r.root == Text(("smith",)) and r.notices
    r = p("vrm:")
    assert r.root is None and r.notices


def test_long_query_is_shortened() -> None:
    r = p("word " * 400)
    assert r.notices and len(r.raw) <= 500


def test_parse_date_is_day_first() -> None:
    assert parse_date("01/02/2003") == date(2003, 2, 1)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *'abAB12 ()"-:*/~.\\+?&|!é\x00',
                " AND ",
                " OR ",
                " NOT ",
                "type:",
                "vrm:",
                "dob:",
                "ab12 cde",
                "07700 900123",
                "12/03/1985",
                "~2",
                "name:",
            ]
        ),
        max_size=25,
    )
)
def test_never_raises(parts: list[str]) -> None:
    # The parser's last-resort handlers log; a fuzzed input must never reach them.
    with mock.patch.object(parser_module.log, "exception", side_effect=AssertionError("parser bug")):
        r = parse("".join(parts), today=TODAY)
    assert isinstance(r.notices, tuple)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_never_raises_on_any_unicode(query: str) -> None:
    with mock.patch.object(parser_module.log, "exception", side_effect=AssertionError("parser bug")):
        parse(query, today=TODAY)
