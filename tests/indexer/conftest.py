"""Small hand-written records and a per-test index prefix for the indexer tests."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from lantern import indices
from lantern.settings import Settings
from mappings import person_decisions as decisions_index
from mappings import persons as persons_index
from mappings import records as records_index
from mappings import tombstones as tombstones_index

CRIME: dict[str, Any] = {
    "record_type": "crime",
    "source_system": "TEST-CRIMES",
    "source_id": "C-1",
    "title": "Theft of motor vehicle - Mill Lane",
    "summary": "Vehicle taken from driveway overnight.",
    "created_at": "2024-03-02T10:00:00Z",
    "borough": "Hackney",
    "unit": "CID",
    "people": [
        {
            "role": "victim",
            "forename": "William",
            "surname": "Barker",
            "dob": "1971-05-04",
            "phones": ["07700 900123"],
        },
        {
            "role": "suspect",
            "forename": "Zoë",
            "surname": "O'Neill",
            "pnc_id": "01/123456F",
            "address": {"line1": "1 High St", "postcode": "se17pb"},
        },
    ],
    "vehicles": [{"vrm": "cd34 efg", "make": "Ford"}],
    "crime_reference": "CR/000001/24",
    "offence": {"code": "45/1", "description": "Theft of a motor vehicle", "category": "Vehicle offences"},
    "occurred_from": "2024-03-01T22:00:00Z",
    "location": {"line1": "Mill Lane", "town": "London", "postcode": "E5 3HQ"},
    "modus_operandi": "Keys taken through the letterbox; the car was later seen on ANPR.",
    "status": "under_investigation",
}


def crime(n: int, **overrides: Any) -> dict[str, Any]:
    """A valid crime report, distinct per ``n``."""
    rec = copy.deepcopy(CRIME)
    rec["source_id"] = f"C-{n}"
    rec["crime_reference"] = f"CR/{n:06d}/24"
    rec["title"] = f"Theft of motor vehicle {n}"
    rec.update(overrides)
    return rec


def write_ndjson(path: Path, rows: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def read_ndjson(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture
def isettings(settings: Settings, client: OpenSearch, tmp_path: Path) -> Settings:
    """Settings with an index prefix and state dir of this test's own (small batches)."""
    s = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}{uuid.uuid4().hex[:6]}-",
            "state_dir": tmp_path / "state",
            "bulk_chunk_size": 5,
        }
    )
    # `lantern index init` makes the tombstones and persons indices (the indexer's OpenSearch
    # user writes them but may not create them); it builds records indices itself (--rebuild).
    for module in (tombstones_index, persons_index, decisions_index):
        indices.ensure(client, s, module)
    return s


def count(client: OpenSearch, settings: Settings) -> int:
    alias = settings.index_name(records_index.NAME)
    client.indices.refresh(index=alias)
    return int(client.count(index=alias)["count"])
