"""The demo-data generator: valid, deterministic, linked, synthetic-only output."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from datetime import date
from pathlib import Path

import pytest

from demo.generator import FILES, generate, legacy_row_to_record, sample_records
from entity_extraction.names import fold, forename_variants
from lantern.records import AnyRecord, CaseFile, CustodyRecord, IntelligenceReport, Person, parse_record

N = 600
PNC_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
DRAMA_PHONE = re.compile(r"^(?:07700900\d{3}|02079460\d{3}|01614960\d{3}|01134960\d{3})$")


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, N, seed=1234)


def _ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _legacy_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="cp1252", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def records(feed: tuple[Path, dict[str, int]]) -> list[AnyRecord]:
    out_dir, _ = feed
    raws: list[dict] = []
    for name in ("custody", "crime", "case", "intel"):
        raws += _ndjson(out_dir / f"{name}.ndjson")
    raws += [legacy_row_to_record(row) for row in _legacy_rows(out_dir / "legacy-crimes.csv")]
    return [parse_record(r) for r in raws]


def test_counts_add_up_and_every_file_has_rows(feed: tuple[Path, dict[str, int]]) -> None:
    out_dir, counts = feed
    assert set(counts) == set(FILES)
    assert sum(counts.values()) == N
    assert all(counts[f] > 0 for f in FILES), counts
    for name in ("custody", "crime", "case", "intel"):
        assert len(_ndjson(out_dir / f"{name}.ndjson")) == counts[f"{name}.ndjson"]
    assert len(_legacy_rows(out_dir / "legacy-crimes.csv")) == counts["legacy-crimes.csv"]
    crimes = counts["crime.ndjson"] + counts["legacy-crimes.csv"]
    assert 0.05 <= counts["legacy-crimes.csv"] / crimes <= 0.25


def test_every_row_validates_with_its_record_type(feed: tuple[Path, dict[str, int]], records: list) -> None:
    out_dir, _ = feed
    assert len(records) == N
    for name in ("custody", "crime", "case", "intel"):
        for raw in _ndjson(out_dir / f"{name}.ndjson"):
            assert raw["record_type"] == name
    ids = [r.record_id for r in records]
    assert len(ids) == len(set(ids)), "source ids must be unique per system"


def test_legacy_csv_shape(feed: tuple[Path, dict[str, int]]) -> None:
    out_dir, _ = feed
    raw = (out_dir / "legacy-crimes.csv").read_bytes().decode("cp1252")
    header = raw.splitlines()[0].split(",")
    assert all(h == h.upper() for h in header)
    rows = _legacy_rows(out_dir / "legacy-crimes.csv")
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", r["OCC_FROM"]) for r in rows)
    assert all(r["SUSP1_SURNAME"] and r["VICT_SURNAME"] for r in rows)
    assert any(";" in r["VEHICLES"] or r["VEHICLES"] for r in rows) or len(rows) < 20


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, 250, seed=7)
    generate(b, 250, seed=7)
    generate(c, 250, seed=8)
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert any((a / f).read_bytes() != (c / f).read_bytes() for f in FILES)


def test_zero_records_writes_empty_feeds(tmp_path: Path) -> None:
    counts = generate(tmp_path, 0, seed=1)
    assert sum(counts.values()) == 0
    assert (tmp_path / "custody.ndjson").read_text() == ""


def _people(rec: AnyRecord) -> list[Person]:
    return rec.all_people()


def test_people_recur_across_types_with_variation(records: list[AnyRecord]) -> None:
    # Link by PNC ID (authoritative): the same person appears in several record types.
    by_pnc: dict[str, list[tuple[str, Person]]] = defaultdict(list)
    for rec in records:
        for p in _people(rec):
            if p.pnc_id:
                by_pnc[p.pnc_id].append((rec.record_type.value, p))
    multi_type = [v for v in by_pnc.values() if len({t for t, _ in v}) >= 3]
    assert len(multi_type) >= 5
    spellings = forename_changes = dob_variants = caps = 0
    for appearances in by_pnc.values():
        people = [p for _, p in appearances]
        surnames = {fold(p.surname) for p in people}
        spellings += len(surnames) > 1
        forenames = {p.forename for p in people if p.forename}
        if len({f.lower() for f in forenames}) > 1:
            forename_changes += 1
        dobs = {p.dob for p in people if p.dob}
        dob_variants += len(dobs) > 1
        caps += any(p.surname.isupper() for p in people) and any(not p.surname.isupper() for p in people)
    assert spellings >= 1
    assert forename_changes >= 3
    assert dob_variants >= 1
    assert caps >= 5


def test_nicknames_appear_and_are_known_variants(records: list[AnyRecord]) -> None:
    by_pnc: dict[str, set[str]] = defaultdict(set)
    for rec in records:
        for p in _people(rec):
            if p.pnc_id and p.forename:
                by_pnc[p.pnc_id].add(p.forename)
    nick_pairs = 0
    for names in by_pnc.values():
        folded = [fold(n) for n in names]
        for a in folded:
            for b in folded:
                if a != b and b in forename_variants(a):
                    nick_pairs += 1
    assert nick_pairs >= 1


def test_vehicles_phones_addresses_recur(records: list[AnyRecord]) -> None:
    vrms: dict[str, int] = defaultdict(int)
    postcodes: dict[str, int] = defaultdict(int)
    for rec in records:
        for v in rec.vehicles:
            vrms[v.vrm.replace(" ", "")] += 1
        for p in _people(rec):
            if p.address and p.address.postcode:
                postcodes[p.address.postcode.replace(" ", "").upper()] += 1
    assert sum(1 for n in vrms.values() if n > 1) >= 5
    assert sum(1 for n in postcodes.values() if n > 1) >= 20


def test_synthetic_identifiers_only(records: list[AnyRecord]) -> None:
    phones = emails = ninos = pncs = 0
    for rec in records:
        for ph in rec.phones:
            assert DRAMA_PHONE.match(re.sub(r"\D", "", ph)), ph
        for p in _people(rec):
            for ph in p.phones:
                phones += 1
                assert DRAMA_PHONE.match(re.sub(r"\D", "", ph)), ph
            if p.email:
                emails += 1
                assert p.email.endswith("@example.com"), p.email
            if p.nino:
                ninos += 1
                assert re.fullmatch(r"QQ \d{2} \d{2} \d{2} [A-D]", p.nino), p.nino
            if p.pnc_id:
                pncs += 1
                m = re.fullmatch(r"(\d{4})/(\d{7})([A-Z])", p.pnc_id)
                assert m, p.pnc_id
                year, serial, letter = int(m[1]), int(m[2]), m[3]
                assert letter == PNC_LETTERS[int(f"{year % 100:02d}{serial:07d}") % 23]
    assert phones and emails and ninos and pncs
    # Free text: every phone-like and email-like string is synthetic too.
    text = " ".join(t for rec in records for t in rec.free_text().values())
    for email in re.findall(r"[\w.+-]+@[\w.-]+", text):
        assert email.lower().rstrip(".").endswith("@example.com"), email
    checked = 0
    for raw in re.findall(r"(?<![\d+])(?:\+44\s?(?:\(0\))?|\(?0)[\d\s()\-]{9,16}\d(?!\d)", text):
        digits = re.sub(r"\D", "", raw)
        if digits.startswith("440"):
            digits = digits[2:]
        elif digits.startswith("44"):
            digits = "0" + digits[2:]
        if len(digits) == 11:
            checked += 1
            assert DRAMA_PHONE.match(digits), raw
    assert checked > 50


def test_narratives_use_varied_identifier_formats(records: list[AnyRecord]) -> None:
    text = "\n".join(t for rec in records for t in rec.free_text().values())
    assert re.search(r"\b07700 900\d{3}\b", text)
    assert re.search(r"\b07700900\d{3}\b", text)
    assert re.search(r"\+44 ?7700", text)
    assert re.search(r"\b[A-Z]{2}\d{2} [A-Z]{3}\b", text)
    assert re.search(r"\b[A-Z]{2}\d{2}[A-Z]{3}\b", text)
    assert re.search(r"\b\d{4}/\d{7}[A-Z]\b", text)
    for term in ("DP ", "IP ", "PC ", "ANPR", "RUI"):
        assert term in text, term
    assert len({rec.free_text().get("modus_operandi", "")[:40] for rec in records}) > 50


def test_access_markings_and_retention_mix(records: list[AnyRecord]) -> None:
    marked = [r for r in records if r.markings.sensitivity or r.markings.restricted_units]
    assert 0 < len(marked) < len(records) * 0.5
    intel = [r for r in records if isinstance(r, IntelligenceReport)]
    assert any(r.grading.handling_code == "C" and r.handling_conditions for r in intel)
    assert sum(r.grading.handling_code == "P" for r in intel) > len(intel) / 2
    review_dates = [r.review_date for r in records if r.review_date]
    today = date(2026, 11, 26)
    past = sum(d < today for d in review_dates)
    assert 0 < past < len(review_dates) * 0.25


def test_linked_chains(records: list[AnyRecord]) -> None:
    custody = [r for r in records if isinstance(r, CustodyRecord)]
    cases = [r for r in records if isinstance(r, CaseFile)]
    assert custody and cases
    crime_pncs = {p.pnc_id for r in records if r.record_type == "crime" for p in r.people if p.pnc_id}
    detainee_pncs = {r.detainee.pnc_id for r in custody if r.detainee.pnc_id}
    assert len(detainee_pncs & crime_pncs) >= len(detainee_pncs) * 0.3
    assert all(r.hearings and "Court" in r.hearings[0].court for r in cases)
    # Detention reviews only at their statutory times and by the right rank.
    for r in custody:
        assert r.arrived_at is not None  # the demo systems always record it
        for rev in r.reviews:
            hours = (rev.at - r.arrived_at).total_seconds() / 3600
            mark = {"inspector_6h": 6, "inspector_15h": 15, "superintendent_24h": 24}[rev.review_type.value]
            assert mark - 1 <= hours <= mark


def test_sample_records_fixture() -> None:
    recs = sample_records(40, seed=3)
    assert len(recs) == 40
    assert {r.record_type.value for r in recs} >= {"crime", "custody"}
    assert [r.record_id for r in recs] == [r.record_id for r in sample_records(40, seed=3)]
