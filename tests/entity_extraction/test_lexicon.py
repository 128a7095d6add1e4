"""Weapon and drug lexicon: synonyms, slang, and the word-sense traps."""

from __future__ import annotations

import pytest

from entity_extraction import canonicalise, find_identifiers


def hits(text: str) -> list[tuple[str, str, str]]:
    return [(str(e.label), e.text, e.value) for e in find_identifiers(text) if e.label in ("WEAPON", "DRUG")]


@pytest.mark.parametrize(
    ("surface", "label", "canon"),
    [
        ("zombie knife", "WEAPON", "zombie knife"),
        ("zombie knives", "WEAPON", "zombie knife"),
        ("machete", "WEAPON", "machete"),
        ("pistol", "WEAPON", "handgun"),
        ("Glock", "WEAPON", "handgun"),
        ("gun", "WEAPON", "firearm"),
        ("CS gas", "WEAPON", "CS spray"),
        ("knuckle-duster", "WEAPON", "knuckleduster"),
        ("brass knuckles", "WEAPON", "knuckleduster"),
        ("baseball bat", "WEAPON", "baseball bat"),
        ("shank", "WEAPON", "knife"),
        ("sawn-off shotgun", "WEAPON", "shotgun"),
        ("skunk", "DRUG", "cannabis"),
        ("crack cocaine", "DRUG", "crack cocaine"),
        ("MDMA", "DRUG", "MDMA"),
        ("ecstasy", "DRUG", "MDMA"),
        ("ketamine", "DRUG", "ketamine"),
        ("spice", "DRUG", "spice"),
        ("amphetamine", "DRUG", "amphetamine"),
        ("heroin", "DRUG", "heroin"),
    ],
)
def test_lexicon_canonical(surface: str, label: str, canon: str) -> None:
    assert canonicalise(label, surface) == canon
    assert hits(f"he had {surface} on him") == [(label, surface, canon)]


def test_capitalisation() -> None:
    assert hits("Zombie knives were seized.") == [("WEAPON", "Zombie knives", "zombie knife")]
    assert hits("Items: Cocaine, 2g.") == [("DRUG", "Cocaine", "cocaine")]
    assert hits("he had Zombie Knives Ltd on speed dial") == []


def test_canonicalise_wrong_label() -> None:
    assert canonicalise("DRUG", "machete") is None
    assert canonicalise("WEAPON", "teapot") is None


@pytest.mark.parametrize(
    "text",
    [
        "the car had a cracked windscreen",
        "there was a crack in the glass of the window",
        "The Spice Lounge is a shisha bar",
        "we ate at Spice of Life",
        "Charlie Mensah was present",
        "a meeting about knife crime",
        "gun crime is down",
        "firearms officers attended",
        "a knife arch at the station",
        "the van was white and the jacket brown",
        "speed of the vehicle was 45mph",
        "the coke can on the dashboard",
        "she concealed razor blades in her bag",
        "the Firearms Act 1968",
    ],
)
def test_word_sense_traps(text: str) -> None:
    assert hits(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("he is dealing white and brown", [("DRUG", "white", "crack cocaine"), ("DRUG", "brown", "heroin")]),
        ("15 wraps of white were found", [("DRUG", "white", "crack cocaine")]),
        ("15 wraps of white powder", []),
        ("selling brown on the estate", [("DRUG", "brown", "heroin")]),
        ("handing bags of crack to users", [("DRUG", "crack", "crack cocaine")]),
        ("he smokes crack every day", [("DRUG", "crack", "crack cocaine")]),
        ("armed with a hammer", [("WEAPON", "hammer", "hammer")]),
        ("a hammer was bought at the shop", []),
    ],
)
def test_context_dependent_terms(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert hits(text) == expected


def test_bladed_article_offence_name_is_not_a_weapon_mention() -> None:
    assert hits("possession of a bladed article in a public place") == []
    assert hits("a bladed article was found") == [("WEAPON", "bladed article", "bladed article")]
