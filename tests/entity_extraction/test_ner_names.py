"""Issue 11 NER patterns: non-English forenames, SURNAME, Forename mid-sentence, role words
glued in front, bank and app names as ORG (never PERSON)."""

from __future__ import annotations

import pytest

from entity_extraction import Label, extract
from entity_extraction.orgs import find_orgs
from entity_extraction.people import first_names


def people(text: str) -> list[str]:
    return [e.text for e in extract(text) if e.label == Label.PERSON]


def labelled(text: str, label: str) -> list[str]:
    return [e.text for e in extract(text) if e.label == label]


@pytest.mark.parametrize(
    "forename",
    [
        *("Rhodri", "Angharad", "Gruffydd"),  # Welsh
        *("Olumide", "Yewande", "Babatunde"),  # Yoruba
        *("Besnik", "Blerina", "Gentian"),  # Albanian
        *("Przemysław", "Krystyna", "Mirosław"),  # Polish
        *("Chirag", "Bhavna", "Pravin"),  # Gujarati
    ],
)
def test_gazetteer_has_non_english_forenames(forename: str) -> None:
    assert forename.lower() in first_names()


def test_gazetteer_keeps_common_words_out() -> None:
    for word in ("the", "will", "park", "police", "driver", "occupier", "stolen", "street"):
        assert word not in first_names(), word


@pytest.mark.usefixtures("nlp")
class TestNonEnglishNames:
    @pytest.mark.parametrize(
        "name",
        ["Rhodri Bevan", "Olumide Adebayo", "Blerina Hoxha", "Krystyna Nowak", "Chirag Solanki"],
    )
    def test_forename_surname_in_a_sentence(self, name: str) -> None:
        assert name in people(f"Officers later spoke to {name} about the damage to the door.")

    def test_surname_comma_forename_inside_a_sentence(self) -> None:
        got = people("Enquiries showed that SHEHU, Gentian had met LEKA, Teuta at the cafe.")
        assert got == ["SHEHU, Gentian", "LEKA, Teuta"]

    @pytest.mark.parametrize("role", ["Occupier", "Pupil", "Driver", "Tenant", "Cyclist", "Resident"])
    def test_role_word_is_not_part_of_the_name(self, role: str) -> None:
        assert people(f"{role} Yewande Adeyemi was spoken to at the scene.") == ["Yewande Adeyemi"]

    def test_bare_role_word_is_not_a_person(self) -> None:
        assert people("Driver failed to stop and made off towards the park.") == []


@pytest.mark.usefixtures("nlp")
class TestBanksAndApps:
    def test_banks_and_apps_are_org_not_person(self) -> None:
        text = "He paid through Monzo and Revolut, then messaged the buyer on Snapchat and WhatsApp."
        assert labelled(text, "ORG") == ["Monzo", "Revolut", "Snapchat", "WhatsApp"]
        assert people(text) == []

    def test_ambiguous_brand_needs_a_cue(self) -> None:
        assert [x[3] for x in find_orgs("She sent the money to a Halifax account.")] == ["Halifax"]
        assert [x[3] for x in find_orgs("He moved to Halifax in 2019.")] == []
        assert [x[3] for x in find_orgs("They chatted on Signal every night.")] == ["Signal"]
        assert [x[3] for x in find_orgs("Signal failure delayed the train.")] == []

    def test_longest_brand_wins(self) -> None:
        assert [x[3] for x in find_orgs("Orders on Uber Eats and Cash App payments")] == [
            "Uber Eats",
            "Cash App",
        ]
