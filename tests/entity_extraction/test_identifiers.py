"""Rule recognisers: valid forms, invalid look-alikes, canonical values (no spaCy)."""

from __future__ import annotations

import subprocess
import sys
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from entity_extraction import canonicalise, find_identifiers
from entity_extraction.identifiers import _expand_year, luhn_ok, pnc_check_letter


def found(text: str) -> list[tuple[str, str, str]]:
    return [(str(e.label), e.text, e.value) for e in find_identifiers(text)]


def labels(text: str) -> set[str]:
    return {str(e.label) for e in find_identifiers(text)}


def test_find_identifiers_does_not_load_spacy() -> None:
    code = (
        "import sys, entity_extraction as ee; "
        "r = ee.find_identifiers('VRM AB12 CDE at SE1 7PB'); "
        "print(len(r), 'spacy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "False"]


# ---------------------------------------------------------------- POSTCODE
@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("SE1 7PB", "SE1 7PB"),
        ("se1 7pb", "SE1 7PB"),
        ("SW1A 1AA", "SW1A 1AA"),
        ("M1 1AE", "M1 1AE"),
        ("EC1A1BB", "EC1A 1BB"),
        ("B33 8TH", "B33 8TH"),
        ("CR0 4SD", "CR0 4SD"),
        ("W1D 7GN", "W1D 7GN"),
        ("N1C 4AG", "N1C 4AG"),
        ("E1W 1AA", "E1W 1AA"),
    ],
)
def test_postcode_valid(raw: str, canon: str) -> None:
    assert canonicalise("POSTCODE", raw) == canon
    assert found(f"lives at {raw}.") == [("POSTCODE", raw, canon)]


@pytest.mark.parametrize(
    "raw", ["QQ1 7PB", "XY12 3AB", "SE1 77PB", "SE1-7PB", "12 3AB", "W1I 7GN", "EC1C 1BB"]
)
def test_postcode_invalid(raw: str) -> None:
    assert canonicalise("POSTCODE", raw) is None


def test_postcode_not_in_mixed_case_words() -> None:
    assert "POSTCODE" not in labels("Se1 7pb is not written like that; and Se17pb neither")


@pytest.mark.parametrize(
    ("raw", "canon"),
    [("cr06tl", "CR0 6TL"), ("se17pb", "SE1 7PB"), ("n179ly", "N17 9LY"), ("sw1a1aa", "SW1A 1AA")],
)
def test_postcode_lowercase_without_space(raw: str, canon: str) -> None:
    # Issue 11: how officers type them; extraction and the search box accept the same spelling.
    assert found(f"arrested at {raw} yesterday") == [("POSTCODE", raw, canon)]
    assert canonicalise("POSTCODE", raw) == canon


@pytest.mark.parametrize("text", ["code xy12abc", "the ab12cd token", "se17pk", "ec1c1bb", "ps5 and mp3"])
def test_postcode_shaped_tokens_rejected(text: str) -> None:
    # invalid area, too short, inward letters Royal Mail never uses (C I K M O V)
    assert "POSTCODE" not in labels(text)


# ---------------------------------------------------------------- VRM
@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("AB12 CDE", "AB12CDE"),
        ("ab12 cde", "AB12CDE"),
        ("LR21HMX", "LR21HMX"),
        ("A123 BCD", "A123BCD"),
        ("ABC 123D", "ABC123D"),
        ("K456 BCD", "K456BCD"),
    ],
)
def test_vrm_valid(raw: str, canon: str) -> None:
    assert canonicalise("VRM", raw) == canon
    assert found(f"Vehicle {raw} seen") == [("VRM", raw, canon)]


@pytest.mark.parametrize(
    "text",
    [
        "Take the A1 and turn left",
        "flat Apt 4B upstairs",
        "i12 was here",
        "the a40 and m25",
        "Model number A123BC",
        "Room 101B",
        "a123 bcd is lowercase without a vehicle word",
    ],
)
def test_vrm_false_positives(text: str) -> None:
    assert "VRM" not in labels(text)


@pytest.mark.parametrize(("raw", "canon"), [("Ly68 Ycj", "LY68YCJ"), ("Bf21 Xkp", "BF21XKP")])
def test_vrm_capitalised_groups(raw: str, canon: str) -> None:
    assert found(f"the car {raw} was seized") == [("VRM", raw, canon)]


@pytest.mark.parametrize(
    "text", ["a cap with Go68 on it", "model Tx99 Abc", "code qz12abc", "Ly68Ycj", "lY68 yCJ", "tu12 abc"]
)
def test_vrm_prose_shaped_tokens_rejected(text: str) -> None:
    # mixed case needs capitalised groups and the space; lower/mixed case needs a valid
    # DVLA region letter and age identifier
    assert "VRM" not in labels(text)


def test_vrm_lowercase_old_format_needs_vehicle_cue() -> None:
    assert found("he drives a y123 abc Transit") == [("VRM", "y123 abc", "Y123ABC")]


def test_vrm_stopword_tail_rejected() -> None:
    assert canonicalise("VRM", "ab12 and") is None


# ---------------------------------------------------------------- PHONE
@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("07700 900123", "+447700900123"),
        ("+44 (0)20 7946 0018", "+442079460018"),
        ("0161 496 0123", "+441614960123"),
        ("0113 496 0456", "+441134960456"),
        ("+447700900404", "+447700900404"),
        ("0044 7700 900405", "+447700900405"),
        ("020-7946-0999", "+442079460999"),
        ("(0116) 4960359", "+441164960359"),
    ],
)
def test_phone_valid(raw: str, canon: str) -> None:
    assert canonicalise("PHONE", raw) == canon
    assert found(f"call {raw} now") == [("PHONE", raw, canon)]


def test_phone_bracket_belongs_to_prose() -> None:
    assert found("two phones (07700 900733, 07700 900734)") == [
        ("PHONE", "07700 900733", "+447700900733"),
        ("PHONE", "07700 900734", "+447700900734"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "at 14:30 on 01/02/2024",
        "cost £250,000 and £1,234,567",
        "version v2.3.1 build 4452",
        "score 3-1",
        "dated 2024-03-05",
        "12.06.2023",
        "ISBN 978-0-14-103614-4",
        "reference 0045-778-21",
        "PNC 2011/0012345K",
    ],
)
def test_phone_false_positives(text: str) -> None:
    assert "PHONE" not in labels(text)


def test_phone_not_inside_imei() -> None:
    assert labels("IMEI 35 209900 176148 1") == {"IMEI"}


# ---------------------------------------------------------------- EMAIL
def test_email() -> None:
    assert found("mail Grace.O@Example.com.") == [("EMAIL", "Grace.O@Example.com", "grace.o@example.com")]
    assert canonicalise("EMAIL", "a.b+c@example.co.uk") == "a.b+c@example.co.uk"
    assert canonicalise("EMAIL", "not an email@") is None
    assert "EMAIL" not in labels("user@localhost and @handle")


# ---------------------------------------------------------------- NINO
@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("QQ 12 34 56 C", "QQ123456C"),
        ("QQ123456C", "QQ123456C"),
        ("qq 11 22 33 a", "QQ112233A"),
        ("AB 12 34 56 D", "AB123456D"),
    ],
)
def test_nino_valid(raw: str, canon: str) -> None:
    assert canonicalise("NINO", raw) == canon
    assert found(f"NI {raw}.") == [("NINO", raw, canon)]


@pytest.mark.parametrize("raw", ["GB123456A", "DA123456A", "AB123456E", "AO123456A", "Qq123456c"])
def test_nino_invalid(raw: str) -> None:
    assert canonicalise("NINO", raw) is None


# ---------------------------------------------------------------- PNC ID
def test_pnc_check_letter_algorithm() -> None:
    # int("11" + "0012345") = 110012345; 110012345 % 23 = 10 -> "K"
    assert 110012345 % 23 == 10
    assert pnc_check_letter(2011, 12345) == "K"
    assert pnc_check_letter(2001, 123456) == "F"  # 10123456 % 23 == 6


def test_pnc_canonical_forms() -> None:
    assert canonicalise("PNC_ID", "2011/0012345K") == "2011/0012345K"
    assert canonicalise("PNC_ID", "11/12345k") == "2011/0012345K"
    assert canonicalise("PNC_ID", "01/123456F") == "2001/0123456F"
    assert canonicalise("PNC_ID", "01/123456A") is None  # wrong check letter
    assert canonicalise("PNC_ID", "2011/0012345Z") is None


def test_pnc_two_digit_year_expansion() -> None:
    from datetime import date

    assert _expand_year("25", date(2026, 1, 1)) == 2025
    assert _expand_year("26", date(2026, 1, 1)) == 2026
    assert _expand_year("27", date(2026, 1, 1)) == 1927
    assert _expand_year("98", date(2026, 1, 1)) == 1998


def test_pnc_without_the_slash() -> None:
    letter = pnc_check_letter(2016, 4581)
    assert found(f"PNC 20160004581{letter} confirmed") == [
        ("PNC_ID", f"20160004581{letter}", f"2016/0004581{letter}")
    ]
    assert canonicalise("PNC_ID", f"160004581{letter.lower()}") == f"2016/0004581{letter}"
    wrong = "Z" if letter != "Z" else "A"
    assert "PNC_ID" not in labels(f"order 20160004581{wrong} and invoice 20240001234")
    assert "PNC_ID" not in labels(f"ref 2016004581{letter}")  # serial must be 7 digits without the slash


def test_pnc_in_text_and_bad_letter_ignored() -> None:
    assert found("PNC 2011/0012345K and 2011/0012345Z") == [("PNC_ID", "2011/0012345K", "2011/0012345K")]


@given(st.integers(1990, 2026), st.integers(1, 9_999_999))
def test_pnc_roundtrip(year: int, serial: int) -> None:
    letter = pnc_check_letter(year, serial)
    assert canonicalise("PNC_ID", f"{year}/{serial:07d}{letter}") == f"{year}/{serial:07d}{letter}"
    wrong = "A" if letter != "A" else "B"
    assert canonicalise("PNC_ID", f"{year}/{serial:07d}{wrong}") is None


# ---------------------------------------------------------------- CRO
def test_cro() -> None:
    assert canonicalise("CRO_NO", "123456/98k") == "123456/98K"
    assert canonicalise("CRO_NO", "4567/01Z") == "004567/01Z"
    assert found("CRO 123456/98K") == [("CRO_NO", "123456/98K", "123456/98K")]
    assert found("CRO 45/01Z") == [("CRO_NO", "45/01Z", "000045/01Z")]
    assert "CRO_NO" not in labels("see flat 3/12A upstairs")
    assert canonicalise("CRO_NO", "1234567/98K") is None


# ---------------------------------------------------------------- IMEI
def test_luhn() -> None:
    assert luhn_ok("352099001761481")
    assert not luhn_ok("352099001761482")


@pytest.mark.parametrize("raw", ["352099001761481", "35 209900 176148 1", "35-209900-176148-1"])
def test_imei_valid(raw: str) -> None:
    assert canonicalise("IMEI", raw) == "352099001761481"
    assert found(f"IMEI {raw}.") == [("IMEI", raw, "352099001761481")]


def test_imei_failing_luhn_is_nothing() -> None:
    assert find_identifiers("IMEI 35 209900 176148 2") == []
    assert canonicalise("IMEI", "35209900176148") is None  # 14 digits


@given(st.text(alphabet="0123456789", min_size=14, max_size=14))
def test_imei_check_digit_property(body: str) -> None:
    good = [d for d in "0123456789" if luhn_ok(body + d)]
    assert len(good) == 1
    assert canonicalise("IMEI", body + good[0]) == body + good[0]


# ---------------------------------------------------------------- overlaps
def test_identifiers_sorted_and_non_overlapping() -> None:
    text = (
        "DP at SE1 7PB, VRM LR21 HMX, tel 07700 900123, IMEI 35-209900-176148-1, "
        "PNC 2011/0012345K, CRO 123456/98K, NI QQ 12 34 56 C, x@example.com, zombie knife"
    )
    ents = find_identifiers(text)
    assert [str(e.label) for e in ents] == [
        "POSTCODE",
        "VRM",
        "PHONE",
        "IMEI",
        "PNC_ID",
        "CRO_NO",
        "NINO",
        "EMAIL",
        "WEAPON",
    ]
    for a, b in pairwise(ents):
        assert a.end <= b.start
    for e in ents:
        assert text[e.start : e.end] == e.text


def test_canonicalise_unknown_label() -> None:
    assert canonicalise("PERSON", "Grace") is None
