"""Portal fixtures: a records index with demo records plus a few hand-made ones, and logged-in clients.

The hand-made records carry distinctive names and identifiers so tests can assert exact
hits in the middle of the demo noise; some carry access markings, to check that nothing
about them leaks to users who may not read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from entity_extraction.identifiers import pnc_check_letter
from lantern.records import AnyRecord, attachment_id, parse_record, record_id
from lantern.settings import Settings
from tests.portal_fixtures import StdUser, login, make_test_client

DEMO_RECORDS = 250
DEMO_SEED = 4242


def pnc(year: int, serial: int) -> str:
    return f"{year}/{serial:07d}{pnc_check_letter(year, serial)}"


FEATHER_PNC = pnc(2003, 456789)
OFFICER = {"name": "Kate Dunmore", "rank": "PC", "collar_number": "4411"}


def _custody() -> dict[str, Any]:
    return {
        "record_type": "custody",
        "source_system": "TEST-CUSTODY",
        "source_id": "C1",
        "title": "Arrest of Jonathan Featherstone for possession with intent to supply",
        "summary": "Detained after stop in Lambeth; vehicle AB12 CDE searched.",
        "created_at": "2024-05-02T10:00:00Z",
        "borough": "Lambeth",
        "unit": "RESPONSE",
        "custody_number": "01MP/2024/091234",
        "station": "Brixton Custody Suite",
        "detainee": {
            "role": "detainee",
            "forename": "Jonathan",
            "surname": "Featherstone",
            "dob": "1985-03-12",
            "pnc_id": FEATHER_PNC,
            "address": {"line1": "1 Test Row", "town": "London", "postcode": "SE1 7PB"},
            "phones": ["07700 900123"],
        },
        "vehicles": [{"vrm": "AB12 CDE", "make": "Ford", "model": "Focus", "colour": "blue"}],
        "arrest_at": "2024-05-02T09:15:00Z",
        "arrest_location": {"line1": "Acre Lane", "town": "London", "postcode": "SW2 5SG"},
        "arresting_officer": OFFICER,
        "reason_for_arrest": "Jonathan Featherstone was seen passing wraps of heroin from a blue Ford Focus "
        "AB12 CDE. He gave his phone number as 07700 900123.",
        "offences": [
            {
                "code": "92/12",
                "description": "Possession with intent to supply heroin",
                "category": "Drug offences",
            }
        ],
        "grounds_for_detention": "To secure and preserve evidence.",
        "arrived_at": "2024-05-02T09:40:00Z",
        "reviews": [
            {
                "at": "2024-05-02T15:40:00Z",
                "review_type": "inspector_6h",
                "reviewer": {"name": "Dev Patel", "rank": "Inspector"},
                "outcome": "continued",
                "notes": "Detention authorised to continue pending interview.",
            }
        ],
        "risk_assessment": "No risk markers. Wears glasses.",
        "property_seized": [{"reference": "P1", "description": "Mobile phone, black"}],
        "interviews": [
            {
                "started_at": "2024-05-02T17:00:00Z",
                "ended_at": "2024-05-02T17:40:00Z",
                "officer": OFFICER,
                "solicitor_present": True,
                "notes": "No comment interview.",
            }
        ],
        "outcome": "charged",
        "outcome_details": "Charged with PWITS heroin.",
        "released_at": "2024-05-03T08:00:00Z",
    }


def _crime() -> dict[str, Any]:
    return {
        "record_type": "crime",
        "source_system": "TEST-CRIME",
        "source_id": "K1",
        "title": "Burglary at a pharmacy, Kennington",
        "created_at": "2023-11-20T09:00:00Z",
        "borough": "Lambeth",
        "unit": "CID",
        "people": [
            {"role": "suspect", "forename": "Jon", "surname": "Fetherston", "dob": "1985-03-12"},
            {"role": "victim", "forename": "Priya", "surname": "Quartermaine"},
            {"role": "witness", "forename": "Wilhelmina", "surname": "Oddbody"},
            {"role": "witness", "forename": "Bill", "surname": "Thistlewood"},
            {"role": "other", "forename": "John", "surname": "Smith", "dob": "1979-08-30"},
        ],
        "crime_reference": "CR/098765/23",
        "offence": {
            "code": "28/3",
            "description": "Burglary - business and community",
            "category": "Burglary",
        },
        "occurred_from": "2023-11-19T23:30:00Z",
        "location": {"line1": "12 Kennington Road", "town": "London", "postcode": "SE11 4QT"},
        "modus_operandi": "Rear door forced with a crowbar; controlled drugs taken. A white van ZX71 QRS "
        "was seen nearby. Witness Wilhelmina Oddbody called 020 7946 0321.",
        "investigation_log": [
            {"at": "2023-11-21T10:00:00Z", "officer": OFFICER, "text": "CCTV requested from the pharmacy."}
        ],
        "status": "under_investigation",
    }


def _case() -> dict[str, Any]:
    return {
        "record_type": "case",
        "source_system": "TEST-CASE",
        "source_id": "U1",
        "title": "R v Featherstone and Quigley",
        "created_at": "2024-05-03T09:00:00Z",
        "borough": "Lambeth",
        "people": [
            # The same man as the custody detainee, spelt differently; the PNC ID links them.
            {
                "role": "defendant",
                "forename": "Jonathon",
                "surname": "Featherston",
                "dob": "1985-03-12",
                "pnc_id": FEATHER_PNC,
            },
            {"role": "defendant", "forename": "William", "surname": "Quigley", "dob": "1990-07-01"},
        ],
        "urn": "01MP7654321",
        "charges": [
            {
                "defendant": "Jonathon Featherston",
                "offence": {"code": "92/12", "description": "Possession with intent to supply heroin"},
                "wording": "On 2 May 2024 at Lambeth possessed heroin with intent to supply.",
                "plea": "not_guilty",
            }
        ],
        "charging_decision": "cps",
        "charged_at": "2024-05-03T07:30:00Z",
        "hearings": [
            {
                "court": "Camberwell Green Magistrates' Court",
                "at": "2024-05-04T10:00:00Z",
                "hearing_type": "first_appearance",
                "result": "sent to Crown Court",
            }
        ],
        "status": "awaiting_trial",
    }


def _intel(
    source_id: str, handling: str, subject: tuple[str, str], text: str, **extra: Any
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "record_type": "intel",
        "source_system": "TEST-INTEL",
        "source_id": source_id,
        "title": f"Intelligence on {subject[0]} {subject[1]}",
        "created_at": "2024-02-01T12:00:00Z",
        "people": [{"role": "subject", "forename": subject[0], "surname": subject[1]}],
        "intel_reference": f"IR/2024/{int(source_id[1:]):06d}",
        "created_by": OFFICER,
        "grading": {"source_evaluation": "2", "intelligence_assessment": "B", "handling_code": handling},
        "intelligence_text": text,
        "sanitised_text": "Subject believed to be involved in supply in Lambeth.",
    }
    if handling == "C":
        rec["handling_conditions"] = "Not to be disseminated outside the intelligence unit."
    rec.update(extra)
    return rec


# One attached document (a typed pocket-notebook page) on the crime record, so the browser world
# has a document viewer page; its words are in no other record.
NOTEBOOK = "notebook-K1.pdf"
NOTEBOOK_TEXT = "Pocket notebook. Spoke to the night pharmacist, Ms Ingleby, about the rear door at 0740."


def hand_made() -> list[dict[str, Any]]:
    today = date.today()
    return [
        _custody(),
        {**_crime(), "attachments": [{"path": NOTEBOOK, "title": "Pocket notebook", "kind": "statement"}]},
        _case(),
        # William Quigley, known as Bill: handling code P (any intel reader).
        _intel(
            "I1",
            "P",
            ("William", "Quigley"),
            "Bill Quigley is using phone 07700 900456 and drives ZX71 QRS. Informant says he stores "
            "cannabis at SE11 4QT.",
        ),
        # Handling code C: analysts (intel_c) only.
        _intel(
            "I2",
            "C",
            ("Ottoline", "Marchbanks"),
            "Ottoline Marchbanks keeps a firearm; source is her neighbour.",
        ),
        # Protected person: supervisor only (holds protected_person).
        {
            **_crime(),
            "source_id": "K2",
            "crime_reference": "CR/098766/23",
            "title": "Assault on protected witness Zebedee Wolstenholme",
            "people": [{"role": "victim", "forename": "Zebedee", "surname": "Wolstenholme"}],
            "modus_operandi": "Zebedee Wolstenholme was assaulted outside his safe address.",
            "markings": {"sensitivity": ["protected_person"]},
        },
        # Unit-restricted to CID: supervisor (RESPONSE, CID) only.
        {
            **_crime(),
            "source_id": "K3",
            "crime_reference": "CR/098767/23",
            "title": "Covert enquiry concerning Peregrine Ashdown-Voss",
            "people": [{"role": "suspect", "forename": "Peregrine", "surname": "Ashdown-Voss"}],
            "modus_operandi": "Peregrine Ashdown-Voss suspected of laundering.",
            "markings": {"restricted_units": ["CID"]},
        },
        # Past its review date: nobody.
        {
            **_crime(),
            "source_id": "K4",
            "crime_reference": "CR/098768/23",
            "title": "Old matter concerning Barnaby Expiredson",
            "people": [{"role": "suspect", "forename": "Barnaby", "surname": "Expiredson"}],
            "modus_operandi": "Barnaby Expiredson, long ago.",
            "review_date": (today - timedelta(days=1)).isoformat(),
        },
    ]


def rid(source_system: str, source_id: str) -> str:
    return record_id(source_system, source_id)


IDS = {
    "custody": rid("TEST-CUSTODY", "C1"),
    "crime": rid("TEST-CRIME", "K1"),
    "case": rid("TEST-CASE", "U1"),
    "intel_p": rid("TEST-INTEL", "I1"),
    "intel_c": rid("TEST-INTEL", "I2"),
    "protected": rid("TEST-CRIME", "K2"),
    "cid_only": rid("TEST-CRIME", "K3"),
    "expired": rid("TEST-CRIME", "K4"),
}
DOCUMENT_ID = attachment_id(IDS["crime"], NOTEBOOK)


# The map (issue 14): the hand-made records' places are in the gazetteer, except UNLOCATED_POSTCODE
# (the custody record's arrest location), which stays unknown so "kept, not dropped" is tested.
KNOWN_POSTCODES = ("SE1 7PB", "SE11 4QT")
UNLOCATED_POSTCODE = "SW2 5SG"
GAZETTEER_SEED = 7


def load_test_gazetteer(
    settings: Settings, client: OpenSearch, records: list[AnyRecord], folder: Path
) -> Path:
    """A synthetic gazetteer for ``records`` (demo.gazetteer), loaded before they are indexed."""
    from demo.gazetteer import record_postcodes, write_gazetteer
    from lantern import gazetteer

    path = folder / "gazetteer-SYNTHETIC.csv"
    write_gazetteer(
        record_postcodes(r.model_dump(mode="json") for r in records),
        path,
        seed=GAZETTEER_SEED,
        keep=KNOWN_POSTCODES,
        drop=(UNLOCATED_POSTCODE,),
    )
    summary = gazetteer.load_file(client, settings, path)
    assert summary.rejected == 0 and summary.loaded > 0
    return path


@pytest.fixture(scope="session")
def indexed(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> list[AnyRecord]:
    """The records index for this run: demo records plus the hand-made ones, their people
    resolved into nominals at load (as `lantern index load` does), and one attached document."""
    from demo import documents as gen
    from demo.generator import sample_records
    from indexer.nominals import ingest_resolver
    from indexer.pipeline import index_records

    settings.attachments_root.mkdir(parents=True, exist_ok=True)
    if not (settings.attachments_root / NOTEBOOK).exists():
        gen.mixed_pdf(settings.attachments_root / NOTEBOOK, [NOTEBOOK_TEXT], seed=15)
    records: list[AnyRecord] = [parse_record(r) for r in hand_made()]
    records += sample_records(DEMO_RECORDS, DEMO_SEED)
    load_test_gazetteer(settings, client, records, tmp_path_factory.mktemp("gazetteer"))
    result = index_records(
        records,
        settings,
        client,
        extract_entities=True,
        refresh=True,
        people_resolver=ingest_resolver(client, settings),
    )
    assert not result.problems, result.problems[:3]
    assert result.documents == 1 or result.unchanged, result  # a second run finds it unchanged
    # Ingest-time resolution writes nominals without a refresh; person search must see them.
    client.indices.refresh(index=settings.index_name("persons"))
    return records


@pytest.fixture(scope="session")
def portal_app(app: FastAPI, indexed: list[AnyRecord]) -> FastAPI:
    return app


def _client(app: FastAPI, username: str) -> Iterator[TestClient]:
    with make_test_client(app) as tc:
        login(tc, username)
        yield tc


@pytest.fixture
def officer(portal_app: FastAPI, standard_users: dict[str, StdUser]) -> Iterator[TestClient]:
    yield from _client(portal_app, "officer")


@pytest.fixture
def analyst(portal_app: FastAPI, standard_users: dict[str, StdUser]) -> Iterator[TestClient]:
    yield from _client(portal_app, "analyst")


@pytest.fixture
def supervisor(portal_app: FastAPI, standard_users: dict[str, StdUser]) -> Iterator[TestClient]:
    yield from _client(portal_app, "supervisor")
