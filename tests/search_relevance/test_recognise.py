"""Query-side recognisers (no OpenSearch): phones before the boolean parser, bare years."""

from __future__ import annotations

import pytest

from search.recognise import bare_year, phone_spans

SPELLINGS = [
    "07700 900123",
    "07700900123",
    "(07700) 900123",
    "+44 7700 900123",
    "+44 (0)7700 900123",
    "+44(0)7700900123",
    "0044 7700 900123",
    "07700-900-123",
    "0770 0900 123",
    "07700 900 123",
    "+447700900123",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_uk_spelling_is_one_phone_span(spelling: str) -> None:
    text = f"knife {spelling} (heroin OR crack)"
    assert phone_spans(text) == [(6, 6 + len(spelling), "+447700900123")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("(020) 7946 0123", "+442079460123"),
        ("+44 (0)20 7946 0123", "+442079460123"),
        ("0113 496 0260", "+441134960260"),
        ("(0113) 496 0260", "+441134960260"),
    ],
)
def test_landlines(text: str, value: str) -> None:
    assert [v for _, _, v in phone_spans(text)] == [value]


@pytest.mark.parametrize(
    "text",
    [
        *("knife Peckham 2021", "12/03/1985", "PNC 2016/0004581X", "16/1231107C", "24/1060103A"),
        *("room 101 at 14:30", "cr06tl", "AB12 CDE", "ref 1231107x"),
    ],
)
def test_no_phone_in_ordinary_queries(text: str) -> None:
    assert phone_spans(text) == []


@pytest.mark.parametrize(
    ("word", "year"), [("2021", 2021), ("1900", 1900), ("2099", 2099), ("1899", None), ("21", None)]
)
def test_bare_year(word: str, year: int | None) -> None:
    assert bare_year(word) == year
    assert bare_year("20211") is None and bare_year("2021a") is None
