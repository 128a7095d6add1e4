"""Linked records on a record page: ranked by strength of link, grouped, capped, "show all N".

An index of its own (a sub-prefix of the run's prefix) holds one anchor record and records
linked to it in known ways: the same person (PNC ID, or name and date of birth), a shared
vehicle or phone, a shared address (postcode) only, and one restricted record linked by
address. Every expectation is written down from how the records were built.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from entity_extraction.identifiers import pnc_check_letter
from indexer.pipeline import index_records
from lantern.indices import ensure_all, forget_ensured
from lantern.records import parse_record, record_id
from lantern.settings import Settings
from lantern.users import create_user
from search import builders as B
from tests.portal_fixtures import PASSWORD, login, make_test_client

SYSTEM = "LINK-CRIME"
PNC = f"2006/{345678:07d}{pnc_check_letter(2006, 345678)}"
NAME = ("Theodora", "Quillfeather")
DOB = "1979-02-03"
VRM = "KM17 ZTR"
PHONE = "07700 900412"
POSTCODE = "SE5 8QT"
OFFICER = {"name": "Kate Dunmore", "rank": "PC", "collar_number": "4411"}
ADDRESS_ONLY = [f"D{i}" for i in range(1, 9)]  # 8 records sharing only the postcode


def rid(source_id: str) -> str:
    return record_id(SYSTEM, source_id)


def crime(
    source_id: str,
    day: int,
    *,
    people: list[dict[str, Any]] | None = None,
    vehicles: tuple[str, ...] = (),
    phones: tuple[str, ...] = (),
    postcode: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    when = f"2023-01-{day:02d}T10:00:00Z"
    pc = postcode or f"N{day} 9GU"
    rec: dict[str, Any] = {
        "record_type": "crime",
        "source_system": SYSTEM,
        "source_id": source_id,
        "title": f"Linked enquiry {source_id}",
        "created_at": when,
        "borough": "Southwark",
        "unit": "CID",
        "people": people or [],
        "officer_in_case": OFFICER,
        "vehicles": [{"vrm": v, "make": "Ford"} for v in vehicles],
        "phones": list(phones),
        "crime_reference": f"CR/{500000 + day:06d}/23",
        "offence": {
            "code": "28/3",
            "description": "Burglary - business and community",
            "category": "Burglary",
        },
        "occurred_from": when,
        "location": {"line1": "1 Camberwell Grove", "town": "London", "postcode": pc},
        "modus_operandi": "Entry forced at the rear.",
        "status": "under_investigation",
    }
    rec.update(extra)
    return rec


def person(forename: str, surname: str, dob: str | None = None, pnc: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"role": "suspect", "forename": forename, "surname": surname}
    if dob:
        out["dob"] = dob
    if pnc:
        out["pnc_id"] = pnc
    return out


def records() -> list[dict[str, Any]]:
    out = [
        crime(
            "A",
            1,
            people=[person(*NAME, dob=DOB, pnc=PNC)],
            vehicles=(VRM,),
            phones=(PHONE,),
            postcode=POSTCODE,
        ),
        # The same person: by PNC ID under another name; by name and date of birth without one.
        crime("B1", 2, people=[person("Teddy", "Quilfether", pnc=PNC)]),
        crime("B2", 3, people=[person(*NAME, dob=DOB)]),
        # The same person AND the same address: listed once, with the person.
        crime("E", 4, people=[person("Dora", "Quillfeather", dob="1980-01-01", pnc=PNC)], postcode=POSTCODE),
        # Vehicle or phone: C3 shares both and outranks the newer C1 and C2.
        crime("C1", 20, vehicles=(VRM,)),
        crime("C2", 21, phones=(PHONE,)),
        crime("C3", 5, vehicles=(VRM,), phones=(PHONE,)),
        # Linked by nothing but the officer who dealt with both.
        crime("Z", 28),
    ]
    out += [crime(s, 10 + i, postcode=POSTCODE) for i, s in enumerate(ADDRESS_ONLY)]
    # Address only, newest of all, and marked: counted and listed for cleared readers only.
    out.append(
        crime(
            "R",
            30,
            postcode=POSTCODE,
            title="Sealed linked enquiry zqsealedlink",
            markings={"sensitivity": ["protected_person"], "restricted_units": []},
        )
    )
    return out


@dataclass
class World:
    settings: Settings
    officer: TestClient
    vetted: TestClient


@pytest.fixture(scope="module")
def world(settings: Settings, client: OpenSearch) -> Iterator[World]:
    lsettings = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}lnk-"})
    # `lantern index init` for this prefix: the portal's OpenSearch user may not create indices.
    ensure_all(client, lsettings)
    create_user(
        client, lsettings, "ln-officer", PASSWORD, roles=("officer",), units=("RESPONSE",), clearances=()
    )
    create_user(
        client,
        lsettings,
        "ln-vetted",
        PASSWORD,
        roles=("officer",),
        units=("RESPONSE",),
        clearances=("protected_person",),
    )
    forget_ensured()
    result = index_records(
        [parse_record(r) for r in records()], lsettings, client, extract_entities=True, refresh=True
    )
    assert result.ok, result.problems
    from portal.app import create_app

    app = create_app(lsettings)
    with ExitStack() as stack:
        officer = login(stack.enter_context(make_test_client(app)), "ln-officer")
        vetted = login(stack.enter_context(make_test_client(app)), "ln-vetted")
        yield World(lsettings, officer, vetted)


def linked_ids(html: str) -> list[str]:
    return re.findall(r'href="/records/([0-9a-f-]{36})"', html)


ANCHOR = rid("A")
PERSON = {rid("B1"), rid("B2"), rid("E")}
VEHICLE_PHONE = [rid("C3"), rid("C2"), rid("C1")]  # most shared values first, then newest
# Address only, newest first.
ADDRESS = [rid(s) for s in reversed(ADDRESS_ONLY)]


def test_api_groups_by_strongest_link_with_counts_of_readable_records(world: World) -> None:
    for tc, address_total in ((world.officer, 8), (world.vetted, 9)):
        body = tc.get(f"/api/records/{ANCHOR}").json()
        groups = [(g["group"], g["total"], g["shown"]) for g in body["linked_groups"]]
        assert groups == [("person", 3, 3), ("vehicle_phone", 3, 3), ("address", address_total, 5)]
        by_group: dict[str, list[str]] = {}
        for x in body["linked"]:
            by_group.setdefault(x["group"], []).append(x["id"])
        assert set(by_group["person"]) == PERSON
        assert by_group["vehicle_phone"] == VEHICLE_PHONE
        want_address = ([rid("R")] if address_total == 9 else []) + ADDRESS
        assert by_group["address"] == want_address[:5]
        # Not the anchor, not the record linked only through an officer.
        ids = {x["id"] for x in body["linked"]}
        assert ANCHOR not in ids and rid("Z") not in ids
        reasons = {x["id"]: x["reasons"] for x in body["linked"]}
        assert any(r.startswith("same PNC ID") for r in reasons[rid("B1")])
        assert any(r.startswith("same person") for r in reasons[rid("B2")])
        assert sorted(reasons[rid("C3")]) == ["same phone +447700900412", "same vehicle KM17ZTR"]


def test_show_all_lists_every_readable_record_of_a_group(world: World) -> None:
    for tc, want in ((world.officer, ADDRESS), (world.vetted, [rid("R"), *ADDRESS])):
        api = tc.get(f"/api/records/{ANCHOR}/linked/address").json()
        assert (api["total"], api["page"], api["pages"]) == (len(want), 1, 1)
        assert [x["id"] for x in api["records"]] == want
        page = tc.get(f"/records/{ANCHOR}/linked/address")
        assert page.status_code == 200 and "<html" in page.text.lower()
        assert linked_ids(page.text) == [ANCHOR, *want]  # "Back to" the record, then the list
        frag = tc.get(
            f"/records/{ANCHOR}/linked/address", headers={"HX-Request": "true", "HX-Target": "linked-address"}
        )
        assert frag.status_code == 200 and "<html" not in frag.text.lower()
        assert linked_ids(frag.text) == want
        assert 'id="linked-address"' in frag.text and "Show all" not in frag.text
    assert "zqsealedlink" not in world.officer.get(f"/records/{ANCHOR}/linked/address").text.lower()


def test_record_page_shows_the_strongest_few_per_group_and_show_all(world: World) -> None:
    for tc, total in ((world.officer, 8), (world.vetted, 9)):
        html = tc.get(f"/records/{ANCHOR}").text
        headings = re.findall(r'<h3 id="linked-([a-z_]+)-heading">([^<]+)<span class="count">\((\d+)\)', html)
        assert [(g, n) for g, _, n in headings] == [
            ("person", "3"),
            ("vehicle_phone", "3"),
            ("address", str(total)),
        ]
        shows = re.findall(r'<a class="show-all" href="([^"]+)"[^>]*>Show all (\d+)', html)
        assert shows == [(f"/records/{ANCHOR}/linked/address", str(total))]
        address = html[html.index('id="linked-address"') :]
        assert len(linked_ids(address.split("</section>")[0])) == 5
    officer_page = world.officer.get(f"/records/{ANCHOR}").text
    assert rid("R") not in officer_page and "zqsealedlink" not in officer_page.lower()


def test_unknown_group_and_unreadable_record_answer_like_a_missing_record(world: World) -> None:
    missing = world.officer.get(f"/records/{rid('nope')}/linked/address")
    assert missing.status_code == 404
    for path in (f"/records/{ANCHOR}/linked/everything", f"/records/{rid('R')}/linked/address"):
        got = world.officer.get(path)
        assert got.status_code == 404 and got.text == missing.text, path
    api_missing = world.officer.get(f"/api/records/{rid('nope')}/linked/address")
    for path in (f"/api/records/{ANCHOR}/linked/everything", f"/api/records/{rid('R')}/linked/address"):
        got = world.officer.get(path)
        assert got.status_code == 404 and got.json() == api_missing.json(), path
    # The cleared reader may open the restricted record's own links (R has no people: the
    # anchor, E and the eight address-only records share its postcode).
    got = world.vetted.get(f"/api/records/{rid('R')}/linked/address").json()
    assert {x["id"] for x in got["records"]} == {ANCHOR, rid("E"), *ADDRESS} and got["total"] == 10


def test_show_all_is_audited_with_what_was_shown(world: World, client: OpenSearch) -> None:
    world.officer.get(f"/records/{ANCHOR}/linked/vehicle_phone")
    index = world.settings.index_name("audit")
    client.indices.refresh(index=index)
    res = client.search(
        index=index,
        body={
            "query": {
                "bool": {"filter": [{"term": {"action": "record.linked"}}, {"term": {"user": "ln-officer"}}]}
            },
            "sort": [{"seq": "desc"}],
            "size": 1,
        },
    )
    event = res["hits"]["hits"][0]["_source"]
    assert event["target"]["id"] == ANCHOR
    assert event["details"]["reason"] == "vehicle_phone"
    assert event["shown_ids"] == VEHICLE_PHONE


def test_builders_group_by_strongest_link() -> None:
    seeds = B.LinkSeeds("id1", ("pnc:x",), {"VRM": ["AB12CDE"], "POSTCODE": ["SE58QT"]})
    body = B.build_linked(seeds, per_group=4)
    assert body is not None
    groups = body["aggs"]["groups"]["filters"]["filters"]
    assert list(groups) == ["person", "vehicle_phone", "address"]
    assert "must_not" not in groups["person"]["bool"]
    assert len(groups["vehicle_phone"]["bool"]["must_not"]) == 1  # not the same person
    assert len(groups["address"]["bool"]["must_not"]) == 2  # neither the person nor the vehicle
    assert body["aggs"]["groups"]["aggs"]["top"]["top_hits"]["size"] == 4
    page = B.build_linked_group(seeds, "address", page=3, size=10)
    assert page is not None and (page["from"], page["size"]) == (20, 10)
    assert page["query"]["bool"]["filter"] == [groups["address"]]
    assert B.build_linked_group(seeds, "vehicle_phone") is not None
    assert B.build_linked_group(B.LinkSeeds("id1", (), {"VRM": ["X"]}), "person") is None
    assert B.build_linked(B.LinkSeeds("id1")) is None
