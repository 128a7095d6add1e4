"""References in the search box follow the force profile: any spelling, spaced words too."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lantern.profile import profile_for
from search import parser as parser_module
from search.parser import And, Keyword, Text, parse
from tests.data.force_b import exports

TODAY = date(2025, 6, 1)


def test_default_profile_references_in_any_spelling() -> None:
    for typed in ("CR/012345/24", "cr-012345-24", "CR 012345 24", "cr 012345/24"):
        assert parse(typed, today=TODAY).root == Keyword("ref", "CR/012345/24"), typed
    assert parse("01mp 2024 012345", today=TODAY).root == Keyword("ref", "01MP/2024/012345")


def test_a_spaced_reference_inside_other_words() -> None:
    root = parse("burglary cr 012345 24", today=TODAY).root
    assert root == And((Text(("burglary",)), Keyword("ref", "CR/012345/24")))


@pytest.fixture
def force_b(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser_module, "active_profile", lambda: profile_for(Path(exports.PROFILE)))


def test_second_force_references(force_b: None) -> None:
    for typed in ("CR-2021-4417203", "CR/2021/4417203", "cr 2021 4417203"):
        assert parse(typed, today=TODAY).root == Keyword("ref", "CR/2021/4417203"), typed
    assert parse("if 2021 20417", today=TODAY).root == Keyword("ref", "IF/2021/20417")
    assert parse("INT04417203", today=TODAY).root == Keyword("ref", "INT/04417203")
    # The default's formats are not this force's.
    assert parse("CR/012345/24", today=TODAY).root != Keyword("ref", "CR/012345/24")
