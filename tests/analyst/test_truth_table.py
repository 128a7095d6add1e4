"""The access truth table (issue 13): who may see which record, written by hand.

Not computed by ``can_read``: each cell below was decided by reading the policy (sensitivity
flags all held, unit restriction met, review date not passed), so a bug shared by the access
filter and ``can_read`` still fails here. Every cell is checked on every surface that shows
records: the search page, the JSON search, the record page, the JSON record, the CSV export
and the alert notifications. (The leak matrix in tests/security checks that nothing of an
unreadable record leaks through text, counts or facets; this checks exact visibility.)
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from alerts.notifications import _badge_cache
from lantern.records import parse_record
from lantern.settings import Settings
from tests.analyst.conftest import USERS, Loader, crime, signed_in, tag
from tests.analyst.test_saved_web import save_via_form
from tests.portal_fixtures import post_export

# Users (tests/analyst/conftest.py): roles, units, clearances
#   ana  analyst     INTEL, CID  intel, intel_c, protected_person
#   ofc  officer     RESPONSE    -
#   mem  officer     INTEL       -
#   mem2 analyst     INTEL       protected_person
#   cid  officer     CID         -
#   anl  analyst     RESPONSE    -
#   sup  supervisor  RESPONSE    -
TRUTH = """
record       ana  ofc  mem  mem2 cid  anl  sup
open         Y    Y    Y    Y    Y    Y    Y
pp           Y    .    .    Y    .    .    .
unit_intel   Y    .    Y    Y    .    .    .
pp_intel     Y    .    .    Y    .    .    .
pp_cid       Y    .    .    .    .    .    .
unit_cid     Y    .    .    .    Y    .    .
two_units    Y    .    Y    Y    Y    .    .
expired      .    .    .    .    .    .    .
"""

MARKINGS: dict[str, dict[str, Any]] = {
    "open": {},
    "pp": {"sensitivity": ["protected_person"]},
    "unit_intel": {"units": ["INTEL"]},
    "pp_intel": {"sensitivity": ["protected_person"], "units": ["INTEL"]},
    "pp_cid": {"sensitivity": ["protected_person"], "units": ["CID"]},
    "unit_cid": {"units": ["CID"]},
    "two_units": {"units": ["INTEL", "CID"]},
    "expired": {"review_date": "2020-01-01"},
}
BULK = {"ana", "mem2", "anl", "sup"}  # settings.bulk_roles: analyst, supervisor


def parse_truth() -> tuple[list[str], dict[str, set[str]]]:
    lines = [ln.split() for ln in TRUTH.strip().splitlines()]
    users = lines[0][1:]
    visible: dict[str, set[str]] = {u: set() for u in users}
    for row in lines[1:]:
        for user, cell in zip(users, row[1:], strict=True):
            assert cell in ("Y", "."), row
            if cell == "Y":
                visible[user].add(row[0])
    return users, visible


USERS_IN_TABLE, VISIBLE = parse_truth()
LINK = re.compile(r'href="/records/([^"?#]+)"')


def test_table_covers_the_users() -> None:
    assert set(USERS_IN_TABLE) <= set(USERS)
    assert set(MARKINGS) == {ln.split()[0] for ln in TRUTH.strip().splitlines()[1:]}


@pytest.fixture(scope="module")
def world(analyst_app: FastAPI, client: OpenSearch, asettings: Settings, loader: Loader) -> dict[str, Any]:
    t = tag()
    clients = {u: signed_in(analyst_app, u) for u in USERS_IN_TABLE}
    for tc in clients.values():  # a standing alert on the marker word, before the records arrive
        save_via_form(tc, t, "Truth table watch")
    raws: dict[str, dict[str, Any]] = {}
    for key, m in MARKINGS.items():
        extra = {"review_date": m["review_date"]} if "review_date" in m else {}
        raws[key] = crime(t, sensitivity=m.get("sensitivity"), units=m.get("units"), **extra)
        raws[key]["title"] = f"Truth {key} {t}"
    loader.load(list(raws.values()))
    client.indices.refresh(index=asettings.index_name("notifications"))
    _badge_cache.clear()
    # The table names records by key; their ids are derived from the source ids.
    ids = {key: parse_record(raw).record_id for key, raw in raws.items()}
    return {"tag": t, "ids": ids, "clients": clients}


def keys_for(world: dict[str, Any], ids: set[str]) -> set[str]:
    by_id = {v: k for k, v in world["ids"].items()}
    return {by_id[i] for i in ids if i in by_id}


@pytest.mark.parametrize("user", USERS_IN_TABLE)
def test_truth_table(world: dict[str, Any], user: str) -> None:
    tc: TestClient = world["clients"][user]
    t = world["tag"]
    expected = VISIBLE[user]
    # Search page and JSON search.
    page = tc.get("/search", params={"q": t, "size": "50"})
    assert page.status_code == 200
    assert keys_for(world, set(LINK.findall(page.text))) == expected, "search page"
    body = tc.get("/api/search", params={"q": t, "size": "50"}).json()
    assert keys_for(world, {r["id"] for r in body["results"]}) == expected, "api search"
    assert body["total"] == len(expected)
    # Record page and JSON record, for every record in the table.
    for key, rid in world["ids"].items():
        want = 200 if key in expected else 404
        assert tc.get(f"/records/{rid}").status_code == want, ("record page", key)
        assert tc.get(f"/api/records/{rid}").status_code == want, ("api record", key)
    # Export (bulk roles only).
    res = post_export(tc, {"q": t})
    if user in BULK:
        assert res.status_code == 200
        rows = {r["record_id"] for r in csv.DictReader(io.StringIO(res.text.lstrip("\ufeff")))}
        assert keys_for(world, rows) == expected, "export"
    else:
        assert res.status_code == 403
    # Alerts: the notifications page lists exactly the readable records that matched.
    notes = tc.get("/notifications")
    assert keys_for(world, set(LINK.findall(notes.text))) == expected, "notifications"
