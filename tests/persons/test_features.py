"""Features: transliterated folding, identifier normalisation, DOB columns, stable mention ids."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from entity_extraction import names as nk
from lantern.records import IntelligenceReport
from persons.features import Mention, blocking_key, features, is_short_form, mentions_from_record


def _m(**kw: object) -> Mention:
    base: dict[str, object] = {"mention_id": "m1", "record_id": "r1", "role": "suspect", "surname": "Smith"}
    base.update(kw)
    return Mention(**base)  # type: ignore[arg-type]


def test_fold_transliterates_instead_of_dropping_letters() -> None:
    for with_marks, without in (("Łukasz", "Lukasz"), ("Søren", "Soren"), ("Wiśniewski", "Wisniewski")):
        a = features(_m(forename=with_marks, surname=with_marks))
        b = features(_m(forename=without, surname=without))
        assert a["forename"] == b["forename"] == nk.fold(without)
        assert a["surname"] == b["surname"]
        assert a["forename_key"] == b["forename_key"]
    assert features(_m(surname="O'Neill"))["surname"] == "oneill"
    assert features(_m(surname="Jones-Payne"))["surname_tokens"] == ["jones", "payne"]


def test_sound_alike_transliterations_share_a_blocking_key() -> None:
    assert blocking_key("Mohammed") == blocking_key("Muhammad") == blocking_key("Mohamed")


def test_pnc_long_short_and_slashless_forms_normalise_to_one_value() -> None:
    long_form = features(_m(pnc_id="2007/0003649X"))["pnc"]
    assert long_form is not None
    assert features(_m(pnc_id="07/3649X"))["pnc"] == long_form
    assert features(_m(pnc_id="20070003649X"))["pnc"] == long_form
    # A wrong check letter is no evidence at all (NULL), never a disagreement.
    assert features(_m(pnc_id="2007/0003649A"))["pnc"] is None


def test_dob_columns_and_missing_values_are_null() -> None:
    f = features(_m(dob=date(1985, 3, 4), forename="Jack"))
    assert (f["dob"], f["dob_swapped"], f["dob_year"], f["dob_md"]) == (
        "1985-03-04",
        "1985-04-03",
        1985,
        "03-04",
    )
    assert features(_m(dob=date(1985, 3, 14)))["dob_swapped"] is None  # day 14 cannot be a month
    empty = features(_m())
    for col in ("forename", "dob", "pnc", "cro", "postcode", "address", "phones", "vrms", "gender"):
        assert empty[col] is None, col


def test_surname_keeps_accents_in_raw_and_folds_in_surname() -> None:
    f = features(_m(surname="Wiśniewski", forename="Paweł"))
    assert f["surname_raw"] == "wiśniewski"
    assert f["surname"] == "wisniewski"
    assert f["forename"] == "pawel"


def _intel(people: list[dict[str, str]]) -> IntelligenceReport:
    return IntelligenceReport.model_validate(
        {
            "source_system": "intel",
            "source_id": "IR1",
            "title": "t",
            "created_at": datetime(2024, 1, 1, tzinfo=UTC),
            "intel_reference": "IR/2024/000001",
            "created_by": {"name": "PC Jones"},
            "grading": {"source_evaluation": "1", "intelligence_assessment": "A", "handling_code": "P"},
            "intelligence_text": "text",
            "people": people,
        }
    )


def test_mention_ids_survive_a_reordered_people_list_and_officers_are_skipped() -> None:
    a = {"role": "subject", "forename": "Amy", "surname": "Hall", "dob": "1990-01-02"}
    b = {"role": "victim", "forename": "Ben", "surname": "Hall"}
    off = {"role": "officer", "surname": "Jones"}
    one = {m.surname + (m.forename or ""): m.mention_id for m in mentions_from_record(_intel([a, b, off]))}
    two = {m.surname + (m.forename or ""): m.mention_id for m in mentions_from_record(_intel([off, b, a]))}
    assert one == two
    assert len(one) == 2


def test_ni_number_and_email_are_carried_from_the_record_and_normalised() -> None:
    a = {
        "role": "subject",
        "forename": "Amy",
        "surname": "Hall",
        "nino": "qq 12 34 56 c",
        "email": "Amy.Hall@Example.com",
    }
    (m,) = mentions_from_record(_intel([a]))
    assert (m.nino, m.email) == ("qq 12 34 56 c", "Amy.Hall@Example.com")
    f = features(m)
    assert (f["nino"], f["email"]) == ("QQ123456C", "amy.hall@example.com")
    assert features(_m(nino="QQ123456C"))["nino"] == f["nino"]
    # Not a valid NI number: no evidence either way (NULL), never a disagreement.
    assert features(_m(nino="QQ12345"))["nino"] is None
    assert features(_m(email="not an address"))["email"] is None
    assert features(_m())["nino"] is None


def test_phone_spellings_compare_equal() -> None:
    from persons.features import phone_key

    forms = ["07700 900123", "+44 (0)7700 900123", "+447700900123", "0044 7700 900123", "447700900123"]
    assert {phone_key(f) for f in forms} == {"07700900123"}
    assert phone_key("020 7946 0123") == "02079460123"
    assert phone_key("12") is None
    assert phone_key("+33 1 23 45 67 89") == "+33123456789"


def test_names_come_from_entity_extraction_names_and_give_single_blocking_keys() -> None:
    jim, james = features(_m(forename="Jim")), features(_m(forename="James"))
    # A diminutive and its formal form share a variant-group key (issue 11's table + nicknames).
    assert jim["forename_group"] == james["forename_group"]
    assert set(jim["forename_variants"]) == set(nk.forename_variants("Jim"))
    # Sound-alike keys are heard from the name as written: Romanian ț is "ts".
    assert set(features(_m(surname="Țurcanu"))["surname_phon"]) >= nk.phonetic_keys("Țurcanu")
    two = features(_m(phones=("07700 900123", "+44 7700 900001"), vrms=("ab12 cde",)))
    assert two["phone_key"] == "07700900001" and two["vrm_key"] == "AB12CDE"
    assert features(_m())["phone_key"] is None and features(_m())["middle"] is None
    assert features(_m(middle_names="Anne-Marie Louise"))["middle"] == "anne"


def test_a_clipped_forename_is_a_short_form_within_bounds() -> None:
    assert is_short_form("abdi", "abdirahman")  # Somali, the start
    assert is_short_form("adenike", "nike")  # Yoruba, the end
    assert is_short_form("chris", "christopher")
    assert not is_short_form("jo", "joanna")  # too short to tell anything
    assert not is_short_form("daniel", "daniela")  # one letter: another name
    assert not is_short_form("dan", "dana")
    assert not is_short_form("abdi", "ahmed")
    assert not is_short_form(None, "abdirahman")


def test_feature_table_built_in_chunks_is_the_table_of_all_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built a chunk at a time (memory), the table is the one ``from_pylist`` gives for every
    row at once: same rows, same order, one chunk per column."""
    import pyarrow as pa

    from demo.persons import generate
    from persons import features as pf

    mentions = [x.mention for x in generate(250, seed=5)]
    whole = pa.Table.from_pylist([pf.features(m) for m in mentions], schema=pf.SCHEMA)
    monkeypatch.setattr(pf, "FEATURE_CHUNK", 40)
    chunked = pf.feature_table(mentions)
    assert chunked.equals(whole)
    assert all(col.num_chunks == 1 for col in chunked.columns)
    assert pf.feature_table([]).num_rows == 0
