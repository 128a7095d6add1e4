"""Issue 11: per-part folded names and phonetic key families on every person of a record."""

from __future__ import annotations

from entity_extraction.names import phonetic_keys
from indexer.documents import build_document, name_key_fields
from lantern.records import parse_record
from mappings import fields as F
from tests.indexer.conftest import crime


def test_name_key_fields_fold_and_split() -> None:
    got = name_key_fields("Łukasz", "Kowalski-Nowak")
    assert got[F.P_FORENAME_FOLDED] == "lukasz"
    assert got[F.P_SURNAME_FOLDED] == ["kowalski", "kowalskinowak", "nowak"]
    assert set(got[F.P_SURNAME_PHONETIC]) == phonetic_keys("Kowalski") | phonetic_keys("Nowak")
    assert set(got[F.P_FORENAME_PHONETIC]) == phonetic_keys("Lukasz")
    # every key family is present for an ordinary name
    assert {k.split(":")[0] for k in got[F.P_SURNAME_PHONETIC]} == {"dm", "ny", "sk"}


def test_person_documents_carry_the_keys() -> None:
    raw = crime(7)
    raw["people"][0]["forename"] = "Siobhán"
    raw["people"][0]["surname"] = "O'Sullivan"
    doc = build_document(parse_record(raw), None)
    person = doc[F.PEOPLE][0]
    assert person[F.P_FORENAME_FOLDED] == "siobhan"
    assert person[F.P_SURNAME_FOLDED] == ["osullivan"]
    assert "dm:XPN" in person[F.P_FORENAME_PHONETIC]  # Siobhan's alternate: meets "Shivaun"'s keys
    assert set(person[F.P_NAME_PHONETIC]) >= set(person[F.P_SURNAME_PHONETIC])


def test_missing_forename_leaves_fields_out() -> None:
    got = name_key_fields(None, "Smith")
    assert got[F.P_FORENAME_FOLDED] is None and got[F.P_FORENAME_PHONETIC] == []
