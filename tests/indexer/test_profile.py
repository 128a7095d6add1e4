"""The force profile and "not recorded" values: pure validation, no OpenSearch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexer.csv_mapping import CsvMapping, MappingError
from indexer.validation import validate
from lantern.profile import ProfileError, load_profile, reference_key
from lantern.records import CrimeReport, parse_record
from tests.data.force_b import exports
from tests.indexer.conftest import crime

DEFAULT = load_profile()
FORCE_B = load_profile(exports.PROFILE)


def test_default_profile_accepts_the_formats_it_has_always_accepted() -> None:
    for record_type, value, normalised in [
        ("custody", "01MP/2024/012345", "01MP/2024/012345"),
        ("crime", "CR/123456/24", "CR/123456/24"),
        ("case", "01MP1234567", "01MP1234567"),
        ("intel", "IR/2024/000123", "IR/2024/000123"),
    ]:
        assert DEFAULT.normalise_reference(record_type, value) == normalised


@pytest.mark.parametrize(
    "typed", ["CR-2021-4417203", "CR/2021/4417203", "cr 2021 4417203", " Cr.2021_4417203 "]
)
def test_second_profile_normalises_every_spelling_of_a_reference(typed: str) -> None:
    assert FORCE_B.normalise_reference("crime", typed) == "CR/2021/4417203"
    assert FORCE_B.find_reference(typed) == ("crime", "CR/2021/4417203")
    # The index normalizer keys them alike too (letters and digits only).
    assert reference_key(typed) == "CR20214417203"


def test_second_profile_formats_are_rejects_under_the_default_and_not_under_its_own() -> None:
    rec = crime(1, crime_reference="CR-2021-4417203", unit="NS-CID", status="OPEN")
    rec["offence"]["code"] = "045/00"
    record, errors = validate(rec, profile=DEFAULT)
    assert record is None
    messages = {e["loc"]: e["msg"] for e in errors}
    assert (
        "crime reference format" in messages["crime_reference"]
        and "CR/123456/24" in messages["crime_reference"]
    )
    assert "crime_status" in messages["status"]
    record, errors = validate(rec, profile=FORCE_B)
    assert errors == [] and record is not None


def test_closed_code_lists_name_the_list_and_open_ones_accept_anything() -> None:
    rec = crime(2, crime_reference="CR-2021-4417203", unit="NS-CID", status="OPEN")
    rec["offence"]["code"] = "999/99"
    _, errors = validate(rec, profile=FORCE_B)
    assert [e["loc"] for e in errors] == ["offence.code"]
    assert "[codes.offence]" in errors[0]["msg"]
    # The default's offence and unit lists are open: any code loads.
    record, errors = validate(crime(3, unit="NEW-UNIT"), profile=DEFAULT)
    assert errors == [] and record is not None and record.unit == "NEW-UNIT"


def test_not_recorded_is_an_explicit_value_and_validation_stays_strict() -> None:
    rec = crime(4, status="not recorded", offence=None, modus_operandi="N/R")
    record = parse_record(rec, DEFAULT)
    assert isinstance(record, CrimeReport)
    assert record.status is None and record.offence is None
    assert record.not_recorded_fields() == ["offence", "modus_operandi", "status"]
    # Absent is not the same as "not recorded": the error says how to say it.
    missing = crime(5)
    del missing["status"]
    _, errors = validate(missing, profile=DEFAULT)
    assert errors == [
        {
            "loc": "status",
            "msg": "required field is missing; if the source system never recorded it, "
            'send null or "not_recorded"',
        }
    ]
    # What is there is still checked: a malformed date is a reject, not "not recorded".
    _, errors = validate(crime(6, occurred_from="31/02/2024"), profile=DEFAULT)
    assert [e["loc"] for e in errors] == ["occurred_from"]
    # A field that may not be "not recorded" does not accept the spelling.
    _, errors = validate(crime(7, title="not_recorded", source_id=None), profile=DEFAULT)
    assert [e["loc"] for e in errors] == ["source_id"]


def test_every_force_b_export_row_validates_under_its_profile() -> None:
    for make in (exports.custody, exports.case, exports.intel):
        for n in range(1, 40):
            _, errors = validate(make(n), profile=FORCE_B)
            assert errors == [], (make.__name__, n, errors)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "p.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_broken_profile_is_one_clear_error(tmp_path: Path) -> None:
    base = exports.PROFILE.read_text(encoding="utf-8")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(_write(tmp_path, "name = "))
    with pytest.raises(ProfileError, match="does not match its own pattern"):
        load_profile(_write(tmp_path, base.replace('example = "CR-2021-4417203"', 'example = "CR-21-1"')))
    with pytest.raises(ProfileError, match="does not name"):
        load_profile(
            _write(tmp_path, base.replace('normalised = "CR/{year}/{serial}"', 'normalised = "{nope}"'))
        )
    broken = base.replace("[codes.station]", "[codes.stations]")
    with pytest.raises(ProfileError, match="missing the list"):
        load_profile(_write(tmp_path, broken))
    with pytest.raises(ProfileError, match="cannot read"):
        load_profile(tmp_path / "absent.toml")


def test_csv_mapping_not_recorded_only_for_fields_that_allow_it(tmp_path: Path) -> None:
    mapping = CsvMapping.load(exports.CRIME_MAPPING)
    assert mapping.not_recorded == ("offence", "modus_operandi", "status")
    row: dict[str, Any] = dict(zip(exports.CRIME_HEADER, exports.crime_row(12), strict=True))
    data, _, errors = mapping.row_to_record(row)
    assert errors == [] and data["offence"] is None and data["status"] is None
    bad = exports.CRIME_MAPPING.read_text(encoding="utf-8").replace(
        'not_recorded = ["offence"', 'not_recorded = ["title", "offence"'
    )
    with pytest.raises(MappingError, match="title cannot be 'not recorded'"):
        CsvMapping.load(_write(tmp_path, bad))
