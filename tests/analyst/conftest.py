"""Fixtures for the analyst tools: an index prefix of their own, users, records and the app.

The records here are hand-written so each test knows exactly what should match; every
record has a unique marker word (``tag``) so tests never see each other's records.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from alerts.percolation import AlertHook, Directory, forget_synced
from indexer.pipeline import Hook, index_records
from lantern import indices
from lantern.indices import forget_ensured
from lantern.principal import Principal
from lantern.records import parse_record
from lantern.settings import Settings
from lantern.users import UserStore, create_user
from portal.analyst.worker import run_forever
from tests.portal_fixtures import PASSWORD, login, make_test_client

# username -> (roles, units, clearances)
USERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "ana": (("analyst",), ("INTEL", "CID"), ("intel", "intel_c", "protected_person")),
    "ofc": (("officer",), ("RESPONSE",), ()),
    "mem": (("officer",), ("INTEL",), ()),  # member of ana's unit, no clearances
    "mem2": (("analyst",), ("INTEL",), ("protected_person",)),
    "cid": (("officer",), ("CID",), ()),
    "anl": (("analyst",), ("RESPONSE",), ()),  # may export and batch; reads what ofc reads
    "sup": (("supervisor", "officer"), ("RESPONSE",), ()),
    "aud": (("auditor",), ("PSD",), ()),
}

CRIME: dict[str, Any] = {
    "record_type": "crime",
    "source_system": "TEST-ANALYST",
    "title": "Theft of motor vehicle",
    "summary": "Vehicle taken from driveway overnight.",
    "created_at": "2024-03-02T10:00:00Z",
    "borough": "Hackney",
    "unit": "CID",
    "people": [
        {"role": "victim", "forename": "William", "surname": "Barker", "dob": "1971-05-04"},
        {"role": "suspect", "forename": "Zoe", "surname": "Quennell", "dob": "1990-01-02"},
    ],
    "vehicles": [{"vrm": "CD34 EFG", "make": "Ford"}],
    "offence": {"code": "45/1", "description": "Theft of a motor vehicle", "category": "Vehicle offences"},
    "occurred_from": "2024-03-01T22:00:00Z",
    "location": {"line1": "Mill Lane", "town": "London", "postcode": "E5 3HQ"},
    "modus_operandi": "Keys taken through the letterbox.",
    "status": "under_investigation",
}

_counter = iter(range(1, 10_000_000))


def crime(
    tag: str, *, sensitivity: list[str] | None = None, units: list[str] | None = None, **overrides: Any
) -> dict[str, Any]:
    """A valid crime report whose text contains the marker word ``tag``."""
    n = next(_counter)
    rec = copy.deepcopy(CRIME)
    rec["source_id"] = f"A-{uuid.uuid4().hex[:10]}"
    rec["crime_reference"] = f"CR/{n:06d}/24"
    rec["title"] = f"Theft of motor vehicle {tag}"
    rec["summary"] = f"Vehicle taken from driveway overnight, {tag} enquiry."
    if sensitivity or units:
        rec["markings"] = {"sensitivity": sensitivity or [], "restricted_units": units or []}
    rec.update(overrides)
    return rec


def tag() -> str:
    """A word that exists in no other record (letters only, so no analyzer splits it)."""
    return "zq" + "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:10])


def principal(username: str) -> Principal:
    roles, units, clearances = USERS[username]
    return Principal(username, username.title(), frozenset(roles), frozenset(units), frozenset(clearances))


@pytest.fixture(scope="session")
def asettings(settings: Settings, client: OpenSearch) -> Settings:
    # A prefix of our own (cleaned up with the session prefix): the record counts here are exact.
    s = settings.model_copy(
        update={"index_prefix": f"{settings.index_prefix}an-", "export_max_rows": 25, "bulk_chunk_size": 50}
    )
    indices.ensure_all(client, s)  # `lantern index init`: the portal may not create indices
    return s


@pytest.fixture(scope="session")
def analyst_users(client: OpenSearch, asettings: Settings) -> dict[str, Principal]:
    store = UserStore(client, asettings)
    for name, (roles, units, clearances) in USERS.items():
        if store.get(name) is None:
            create_user(
                client,
                asettings,
                name,
                PASSWORD,
                roles=roles,
                units=units,
                clearances=clearances,
                display_name=name.title(),
            )
    return {name: principal(name) for name in USERS}


@pytest.fixture(scope="session")
def analyst_app(asettings: Settings, analyst_users: dict[str, Principal]) -> FastAPI:
    from portal.app import create_app

    forget_ensured()
    forget_synced()
    return create_app(asettings)


@pytest.fixture
def web(analyst_app: FastAPI) -> Iterator[TestClient]:
    with make_test_client(analyst_app) as tc:
        yield tc


def signed_in(app: FastAPI, username: str) -> TestClient:
    tc = make_test_client(app)
    login(tc, username, PASSWORD, purpose="investigation", reference="CR/012345/24")
    return tc


class Loader:
    """Index records as ``lantern index load`` does: through the pipeline, with the alert hook."""

    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def hook(self) -> AlertHook:
        # A fresh directory each time: tests change users' clearances between loads.
        return AlertHook(self.settings, self.client, directory=Directory(self.client, self.settings, ttl=0))

    def load(self, raws: list[dict[str, Any]], *, alerts: bool = True) -> AlertHook | None:
        hook = self.hook() if alerts else None
        hooks: list[Hook] = [hook] if hook is not None else []
        result = index_records(
            [parse_record(r) for r in raws],
            self.settings,
            self.client,
            extract_entities=False,
            refresh=True,
            hooks=hooks,
        )
        assert result.ok, result.problems
        if hook is not None:
            hook.flush()  # as `lantern index load` does at the end
        return hook


@pytest.fixture(scope="session")
def loader(client: OpenSearch, asettings: Settings, analyst_users: dict[str, Principal]) -> Loader:
    return Loader(client, asettings)


@pytest.fixture
def worker(client: OpenSearch, asettings: Settings) -> Iterator[None]:
    """A ``lantern worker`` loop in a thread for the test (jobs run only through a worker)."""
    fast = asettings.model_copy(update={"worker_poll_seconds": 0.2})
    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(client, fast, stop), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=30)
