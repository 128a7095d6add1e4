"""build_document: the projection, structured entities, identifier problems (no cluster needed)."""

from __future__ import annotations

from entity_extraction import Entity
from entity_extraction.names import person_display
from indexer.documents import build_document
from lantern.records import parse_record, record_id
from mappings import fields as F
from tests.indexer.conftest import crime


def test_projection_uses_canonical_identifiers_and_keeps_the_original() -> None:
    rec = parse_record(crime(1))
    doc = build_document(rec, None)
    assert doc[F.ID] == record_id("TEST-CRIMES", "C-1")
    assert doc[F.REFERENCE] == "CR/000001/24"
    assert doc[F.RECORD_TYPE] == "crime"
    assert doc[F.STATUS] == "under_investigation"
    assert doc[F.OFFENCE_CODES] == ["45/1"]
    assert "Keys taken through the letterbox" in doc[F.TEXT]
    ents = doc[F.ENTITIES]
    assert ents["vrm"] == ["CD34EFG"]
    assert ents["phone"] == ["+447700900123"]
    assert set(ents["postcode"]) == {"SE1 7PB", "E5 3HQ"}
    assert ents["pnc_id"] == ["2001/0123456F"]
    assert ents["person"] == ["William BARKER", "Zoë O'NEILL"]
    suspect = doc[F.PEOPLE][1]
    assert suspect[F.P_PNC_ID] == "2001/0123456F"
    assert "pnc:2001/0123456F" in suspect[F.P_PERSON_KEY]
    victim = doc[F.PEOPLE][0]
    assert "bill" in victim[F.P_FORENAME_VARIANTS]
    assert victim[F.P_NAME_PHONETIC]
    # The original, as validated, with the identifiers as typed.
    assert doc[F.RECORD]["vehicles"][0]["vrm"] == "cd34 efg"
    assert doc[F.RECORD]["people"][1]["pnc_id"] == "01/123456F"
    assert "CD34EFG" in doc[F.SUGGEST] and "William Barker" in doc[F.SUGGEST]


def test_invalid_structured_identifier_is_a_warning_not_a_failure() -> None:
    raw = crime(2)
    raw["people"][1]["pnc_id"] = "01/123456Z"  # wrong check letter
    warnings: list[str] = []
    doc = build_document(parse_record(raw), None, warnings=warnings)
    assert "pnc_id" not in doc[F.ENTITIES]
    assert F.P_PNC_ID not in doc[F.PEOPLE][1]
    assert doc[F.RECORD]["people"][1]["pnc_id"] == "01/123456Z"
    assert len(warnings) == 1 and "people[1].pnc_id" in warnings[0] and "01/123456Z" in warnings[0]


def test_mentions_merge_with_structured_entities_under_one_value() -> None:
    raw = crime(3, modus_operandi="Seen driving ab12 cde with william barker on board.")
    rec = parse_record(raw)
    text = rec.free_text()["modus_operandi"]
    start = text.index("ab12 cde")
    pstart = text.index("william barker")
    mentions = {
        "modus_operandi": [
            Entity("VRM", start, start + 8, "ab12 cde", "AB12CDE"),
            Entity("PERSON", pstart, pstart + 14, "william barker", "william barker"),
        ]
    }
    doc = build_document(rec, mentions)
    assert set(doc[F.ENTITIES]["vrm"]) == {"CD34EFG", "AB12CDE"}
    # Typed as "William Barker", written as "william barker": one entity value.
    assert doc[F.ENTITIES]["person"].count("William BARKER") == 1
    m = doc[F.MENTIONS][0]
    assert m == {
        "field": "modus_operandi",
        "label": "VRM",
        "start": start,
        "end": start + 8,
        "text": "ab12 cde",
        "value": "AB12CDE",
    }
    assert text[m["start"] : m["end"]] == m["text"]


def test_access_fields_come_from_markings() -> None:
    raw = crime(
        4,
        markings={"sensitivity": ["child_protection", "covert"], "restricted_units": ["PPU"]},
        review_date="2030-01-01",
    )
    doc = build_document(parse_record(raw), None)
    assert doc[F.ACCESS_SENSITIVITY] == ["child_protection", "covert"]
    assert doc[F.ACCESS_SENSITIVITY_COUNT] == 2
    assert doc[F.ACCESS_UNITS] == ["PPU"]
    assert doc[F.REVIEW_DATE] == "2030-01-01"
    plain = build_document(parse_record(crime(5)), None)
    assert plain[F.ACCESS_SENSITIVITY_COUNT] == 0
    assert F.ACCESS_SENSITIVITY not in plain and F.ACCESS_UNITS not in plain


def test_intel_grading_and_handling_code() -> None:
    raw = {
        "record_type": "intel",
        "source_system": "INTEL",
        "source_id": "I-1",
        "title": "Intel",
        "created_at": "2024-01-01T00:00:00Z",
        "intel_reference": "IR/2024/000001",
        "created_by": {"name": "DC Patel"},
        "grading": {"source_evaluation": "2", "intelligence_assessment": "B", "handling_code": "C"},
        "handling_conditions": "Not for disclosure outside CID",
        "intelligence_text": "Subject supplies cocaine from a flat on Mill Lane.",
        "people": [{"role": "subject", "surname": "Smith"}],
    }
    doc = build_document(parse_record(raw), None)
    assert doc[F.GRADING] == "2BC"
    assert doc[F.SOURCE_EVALUATION] == "2" and doc[F.INTEL_ASSESSMENT] == "B"
    assert doc[F.ACCESS_HANDLING] == "C"


def test_person_display_is_one_spelling() -> None:
    assert person_display("john  smith") == person_display("JOHN SMITH") == "John SMITH"
    assert person_display("sarah o'neill-jones") == "Sarah O'NEILL-JONES"
    assert person_display("mary-jane o'brien") == "Mary-Jane O'BRIEN"
