"""Legacy exports of the test force "Northshire" (profile.toml next to this file).

Four systems, their own reference formats and codes, and the gaps real exports have:
custody rows without an outcome or arresting officer, crime rows whose status and
offence were never recorded, case files without a charging decision. All synthetic
(example.com, Ofcom drama numbers, QQ NI numbers).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

PROFILE = Path(__file__).parent / "profile.toml"
CRIME_MAPPING = Path(__file__).parent / "northshire-crimes.toml"

FORENAMES = ("Aled", "Bethan", "Callum", "Dylan", "Eleri", "Ffion", "Gethin", "Hywel", "Ioan", "Lowri")
SURNAMES = (
    "Pritchard",
    "Vaughan",
    "Rees",
    "Howells",
    "Prosser",
    "Bevan",
    "Morgan",
    "Parry",
    "Lloyd",
    "Jenkins",
)
OUTCOMES = ("CHG", "BAIL", "RUI", "NFA", "CAUT", "YRD")
CRIME_STATUS = ("OPEN", "FILED-NFA", "DET", "CRIMED-OFF")
OFFENCES = (
    ("028/01", "Burglary dwelling"),
    ("045/00", "Theft of motor vehicle"),
    ("092/01", "Possession with intent to supply"),
    ("008/01", "Assault ABH"),
    ("046/00", "Shoplifting"),
)


def _person(n: int, role: str) -> dict[str, Any]:
    return {
        "role": role,
        "forename": FORENAMES[n % len(FORENAMES)],
        "surname": SURNAMES[(n * 7) % len(SURNAMES)],
        "dob": f"{1970 + n % 30}-0{1 + n % 9}-1{n % 9}",
        "phones": [f"07700 900{n % 1000:03d}"],
    }


def custody(n: int) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "record_type": "custody",
        "source_system": "NS-CUSTODY",
        "source_id": f"IF{n}",
        "title": f"Arrest {n} at Northgate",
        "summary": f"Detainee {n} arrested on Harbour Street after a report of a disturbance.",
        "created_at": f"2021-03-{1 + n % 28:02d}T10:00:00Z",
        "unit": "NS-RESP",
        # the example: suite "IF", 5-digit serial; some typed with dashes or spaces
        "custody_number": (f"IF/2021/{20400 + n}", f"IF-2021-{20400 + n}", f"if 2021 {20400 + n}")[n % 3],
        "station": ("Northgate", "Shore Road")[n % 2],
        "detainee": _person(n, "detainee"),
        "arrest_at": f"2021-03-{1 + n % 28:02d}T08:00:00Z",
        "arresting_officer": {"name": "Sian Evans", "rank": "PC", "collar_number": f"{3000 + n}"},
        "reason_for_arrest": "Suspected of a burglary at 4 Quay Street; found with tools.",
        "offences": [{"code": OFFENCES[n % 5][0], "description": OFFENCES[n % 5][1]}],
        "arrived_at": f"2021-03-{1 + n % 28:02d}T08:30:00Z",
        "outcome": OUTCOMES[n % len(OUTCOMES)],
    }
    if n % 4 == 0:
        rec["outcome"] = "N/K"  # the old custody system did not always record an outcome
    if n % 5 == 0:
        rec["arresting_officer"] = None
    if n % 7 == 0:
        rec["arrived_at"] = "NOT RECORDED"
    return rec


def case(n: int) -> dict[str, Any]:
    return {
        "record_type": "case",
        "source_system": "NS-CASES",
        "source_id": f"K{n}",
        "title": f"Prosecution file {n}",
        "created_at": f"2021-05-{1 + n % 28:02d}T09:00:00Z",
        "urn": f"47NS/21/{100 + n:05d}",
        "people": [_person(n, "defendant")],
        "charges": [
            {
                "defendant": f"{FORENAMES[n % 10]} {SURNAMES[(n * 7) % 10]}",
                "offence": {"code": OFFENCES[n % 5][0], "description": OFFENCES[n % 5][1]},
            }
        ],
        "charging_decision": None if n % 3 == 0 else ("police", "cps")[n % 2],
        "status": ("PRE", "CHG", "TRIAL", "CLOSED", "not_recorded")[n % 5],
    }


def intel(n: int) -> dict[str, Any]:
    return {
        "record_type": "intel",
        "source_system": "NS-INTEL",
        "source_id": f"I{n}",
        "title": f"Intelligence {n}",
        "created_at": f"2023-02-{1 + n % 28:02d}T12:00:00Z",
        "unit": "NS-INT",
        "intel_reference": f"IR-2023-{123400 + n}" if n % 2 else f"INT{44170000 + n}",
        "people": [_person(n, "subject")],
        "created_by": None if n % 3 == 0 else {"name": "DC Rhian Owen"},
        "grading": {"source_evaluation": "2", "intelligence_assessment": "B", "handling_code": "P"},
        "intelligence_text": f"Subject {n} is said to store stolen tools at a lock-up on Dock Road.",
    }


CRIME_HEADER = [
    "CRIME_NO",
    "CRIME_REF",
    "TITLE",
    "OFF_CODE",
    "OFF_DESC",
    "OCC_FROM",
    "CREATED",
    "LOC_ADDRESS",
    "LOC_POSTCODE",
    "UNIT",
    "MO",
    "STATUS",
    "VICT_FORENAME",
    "VICT_SURNAME",
]


def crime_row(n: int) -> list[str]:
    code, desc = OFFENCES[n % 5]
    if n % 6 == 0:
        code = desc = ""  # offence never recorded on the old system
    return [
        f"C{n}",
        f"CR-2021-{4417200 + n}",  # the example format: 7-digit serial, dashes
        f"Crime {n} on Quay Street",
        code,
        desc,
        f"0{1 + n % 9}/04/2021 22:00",
        f"0{1 + n % 9}/04/2021 23:00",
        f"{n} Quay Street",
        "CF10 1AA",
        "NS-CID",
        "" if n % 4 == 0 else "Entry forced through a rear window.",
        "" if n % 3 == 0 else CRIME_STATUS[n % 4],
        FORENAMES[n % 10],
        SURNAMES[(n * 3) % 10],
    ]


def write_exports(out: Path, n: int = 12) -> list[Path]:
    """The four exports (custody/case/intel NDJSON, crime CSV + its mapping) under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in (("custody", custody), ("case", case), ("intel", intel)):
        path = out / f"northshire-{name}.ndjson"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(1, n + 1):
                fh.write(json.dumps(make(i)) + "\n")
        paths.append(path)
    crimes = out / "northshire-crimes.csv"
    with crimes.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(CRIME_HEADER)
        for i in range(1, n + 1):
            w.writerow(crime_row(i))
    (out / "northshire-crimes.toml").write_text(CRIME_MAPPING.read_text(encoding="utf-8"), encoding="utf-8")
    paths.append(crimes)
    return paths
