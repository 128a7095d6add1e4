"""The map and ``near:`` against the real node: gazetteer load, points at index time, clusters.

A small index of its own (a sub-prefix of the run's): a hand-written gazetteer with known
distances between its postcodes, records at each, one whose only postcode the gazetteer does
not know, one with no place, and one restricted record at the first postcode.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch
from typer.testing import CliRunner

from indexer.pipeline import index_records
from lantern import gazetteer
from lantern.indices import ensure_all, forget_ensured
from lantern.records import parse_record, record_id
from lantern.settings import Settings, get_settings
from lantern.users import create_user
from mappings import fields as F
from tests.portal_fixtures import PASSWORD, login, make_test_client

TOKEN = "zqmapshared"
# postcode -> (lat, lon). Longitude degrees at 51.5 N are ~69.4 km: 0.0043 deg is ~300 m.
PLACES = {
    "SE1 7PB": (51.5000, -0.1000),
    "SE1 7PD": (51.5000, -0.0957),  # ~300 m east of SE1 7PB
    "E1 6AN": (51.5200, -0.0700),  # ~3 km north-east
}
UNKNOWN = "N7 8QT"  # in a record, not in the gazetteer
GAZETTEER_CSV = (
    "pcds,lat,long,extra\n"
    "SE1 7PB,51.5000,-0.1000,a\n"
    "se17pd,51.5000,-0.0957,b\n"
    "E1 6AN,51.5200,-0.0700,c\n"
    "NOT A POSTCODE,51.5,-0.1,d\n"
    "SW1A 1AA,99.999999,0.0,e\n"
    "SW1A 2AA,40.0,-74.0,f\n"
    "SE1 7PB,51.6,-0.2,g\n"
    "EC1A 1BB,north,-0.1,h\n"
)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine, the oracle for near: (OpenSearch uses arc distance too)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def crime(source_id: str, title: str, postcodes: list[str], **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "record_type": "crime",
        "source_system": "MAP-CRIME",
        "source_id": source_id,
        "title": title,
        "summary": f"Enquiry {TOKEN}.",
        "created_at": "2024-03-02T10:00:00Z",
        "borough": "Southwark",
        "unit": "CID",
        "crime_reference": f"CR/{500000 + len(source_id) * 7 + ord(source_id[-1]):06d}/24",
        "offence": {"code": "28/3", "description": "Burglary - business", "category": "Burglary"},
        "occurred_from": "2024-03-01T10:00:00Z",
        "modus_operandi": f"Entry forced; {TOKEN}.",
        "status": "under_investigation",
        "locations": [{"line1": "1 Street", "town": "London", "postcode": p} for p in postcodes],
        "location": {
            "line1": "1 Street",
            "town": "London",
            **({"postcode": postcodes[0]} if postcodes else {}),
        },
    }
    rec.update(extra)
    return rec


RECORDS = {
    "at_pb": crime("M-1", "Burglary at PB", ["SE1 7PB"]),
    "at_pd": crime("M-2", "Burglary at PD", ["SE1 7PD"]),
    "at_e1": crime("M-3", "Burglary at E1", ["E1 6AN"]),
    "unknown": crime("M-4", "Burglary at an unknown place", [UNKNOWN]),
    "no_place": crime("M-5", "Burglary with no place", []),
    "secret": crime("M-6", "Protected burglary", ["SE1 7PB"], markings={"sensitivity": ["protected_person"]}),
}
IDS = {k: record_id("MAP-CRIME", r["source_id"]) for k, r in RECORDS.items()}


@dataclass
class MapWorld:
    settings: Settings
    client: OpenSearch
    web: dict[str, TestClient]
    rejects: Path
    summary: gazetteer.LoadSummary


@pytest.fixture(scope="module")
def world(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MapWorld]:
    msettings = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}map-"})
    ensure_all(client, msettings)  # `lantern index init`: the portal may not create indices
    for name, clearances in (("map-officer", ()), ("map-vetted", ("protected_person",))):
        create_user(
            client,
            msettings,
            name,
            PASSWORD,
            roles=("officer",),
            units=("RESPONSE",),
            clearances=clearances,
            display_name=name,
        )
    forget_ensured()
    folder = tmp_path_factory.mktemp("map")
    csv_path = folder / "gazetteer.csv"
    csv_path.write_text(GAZETTEER_CSV, encoding="utf-8")
    rejects = folder / "rejects.ndjson"
    summary = gazetteer.load_file(client, msettings, csv_path, rejects=rejects)
    result = index_records(
        [parse_record(r) for r in RECORDS.values()], msettings, client, extract_entities=False, refresh=True
    )
    assert result.ok, result.problems
    from portal.app import create_app

    app = create_app(msettings)
    with ExitStack() as stack:
        web = {}
        for name in ("map-officer", "map-vetted"):
            tc = stack.enter_context(make_test_client(app))
            login(tc, name, PASSWORD)
            web[name] = tc
        yield MapWorld(msettings, client, web, rejects, summary)


def test_gazetteer_load_keeps_every_bad_row_with_its_reason(world: MapWorld) -> None:
    s = world.summary
    assert (s.read, s.loaded, s.rejected) == (8, 3, 5)
    assert s.reasons == {
        "invalid_postcode": 1,
        "no_grid_reference": 1,
        "outside_uk": 1,
        "duplicate": 1,
        "bad_latitude": 1,
    }
    rows = [json.loads(line) for line in world.rejects.read_text().splitlines()]
    assert [(r["line"], r["code"]) for r in rows] == [
        (5, "invalid_postcode"),
        (6, "no_grid_reference"),
        (7, "outside_uk"),
        (8, "duplicate"),
        (9, "bad_latitude"),
    ]
    assert rows[3]["raw"]["extra"] == "g" and "repeats line 2" in rows[3]["reason"]
    assert gazetteer.count(world.client, world.settings) == 3
    # The first SE1 7PB row stands; "se17pd" was stored under its canonical spelling.
    assert gazetteer.points(world.client, world.settings, ["SE1 7PB", "SE1 7PD", UNKNOWN]) == {
        "SE1 7PB": PLACES["SE1 7PB"],
        "SE1 7PD": PLACES["SE1 7PD"],
    }


def test_records_get_points_and_keep_unknown_places(world: MapWorld) -> None:
    index = world.settings.index_name("records")
    docs = {
        k: world.client.get(index=index, id=i)["_source"]
        for k, i in IDS.items()
        if k in ("at_pb", "unknown", "no_place")
    }
    assert docs["at_pb"][F.GEO_POINTS] == [{"lat": 51.5, "lon": -0.1}]
    assert F.GEO_UNLOCATED not in docs["at_pb"]
    assert docs["unknown"][F.GEO_UNLOCATED] == [UNKNOWN] and F.GEO_POINTS not in docs["unknown"]
    assert F.GEO_POINTS not in docs["no_place"] and F.GEO_UNLOCATED not in docs["no_place"]


def _api_ids(tc: TestClient, q: str) -> set[str]:
    res = tc.get("/api/search", params={"q": q, "size": 100})
    assert res.status_code == 200, res.text
    return {r["id"] for r in res.json()["results"]}


@pytest.mark.parametrize("radius", [100, 250, 400, 2000, 5000])
def test_near_matches_exactly_the_records_within_the_radius(world: MapWorld, radius: int) -> None:
    for user, readable in (
        ("map-officer", set(IDS) - {"secret"}),
        ("map-vetted", set(IDS)),
    ):
        expected = {
            IDS[k]
            for k in readable
            if any(
                p in PLACES and metres(PLACES["SE1 7PB"], PLACES[p]) <= radius
                for p in [loc["postcode"] for loc in RECORDS[k]["locations"]]
            )
        }
        got = _api_ids(world.web[user], f"{TOKEN} near:SE1 7PB {radius}m")
        assert got == expected, (user, radius)
    assert IDS["at_pd"] in _api_ids(world.web["map-officer"], "near:SE17PB 0.4km")
    assert IDS["at_pd"] not in _api_ids(world.web["map-officer"], "near:SE1 7PB 0.2km")


def test_near_an_unknown_postcode_says_so_and_searches_that_postcode(world: MapWorld) -> None:
    tc = world.web["map-officer"]
    res = tc.get("/api/search", params={"q": f"near:{UNKNOWN} 1km"})
    body = res.json()
    assert {r["id"] for r in body["results"]} == {IDS["unknown"]}
    assert any("not in the gazetteer" in n for n in body["notices"])
    page = tc.get("/search", params={"q": f"near:{UNKNOWN} 1km"})
    assert "not in the gazetteer" in page.text


def test_map_api_counts_cells_and_unlocated_for_what_the_user_may_read(world: MapWorld) -> None:
    for user, secret_seen in (("map-officer", False), ("map-vetted", True)):
        res = world.web[user].get("/api/map", params={"q": TOKEN, "z": 12})
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["total"] == 5 + secret_seen
        assert body["located"] == 3 + secret_seen
        assert body["in_view"] == body["located"]
        assert body["unlocated"] == 1 and body["unlocated_postcodes"] == [{"postcode": UNKNOWN, "count": 1}]
        assert body["no_place"] == 1
        assert sum(c["count"] for c in body["cells"]) == 3 + secret_seen
        shown = {r["id"] for c in body["cells"] for r in c["records"]}
        assert (IDS["secret"] in shown) is secret_seen
        assert ("Protected burglary" in res.text) is secret_seen
        for c in body["cells"]:
            assert any(metres((c["lat"], c["lon"]), PLACES[p]) < 3000 for p in PLACES), (
                c
            )  # cell centres sit on the records' places, not elsewhere
        b = body["bounds"]
        assert b["south"] <= 51.5 <= b["north"] and b["west"] <= -0.1 and b["east"] >= -0.0701


def test_map_viewport_and_search_filters(world: MapWorld) -> None:
    tc = world.web["map-officer"]
    # A box around SE1 only: the E1 record is outside it.
    body = tc.get("/api/map", params={"q": TOKEN, "z": 14, "bbox": "-0.11,51.49,-0.09,51.51"}).json()
    assert body["located"] == 3 and body["in_view"] == 2
    assert {r["id"] for c in body["cells"] for r in c["records"]} == {IDS["at_pb"], IDS["at_pd"]}
    # The map shows the search's own results: near: narrows it like on the search page.
    near = tc.get("/api/map", params={"q": "near:SE1 7PB 100m", "z": 12}).json()
    assert near["total"] == 1 and near["located"] == 1
    # A nonsense box is ignored rather than failing.
    assert tc.get("/api/map", params={"q": TOKEN, "bbox": "a,b,c,d"}).json()["in_view"] == 3


def test_map_page_works_without_javascript_and_is_audited(world: MapWorld) -> None:
    tc = world.web["map-officer"]
    page = tc.get("/map", params={"q": TOKEN})
    assert page.status_code == 200
    assert 'id="map-canvas"' in page.text and "/static/vendor/leaflet/leaflet.js" in page.text
    assert f'href="/records/{IDS["at_pb"]}"' in page.text
    assert f'href="/records/{IDS["secret"]}"' not in page.text and "Protected burglary" not in page.text
    assert UNKNOWN in page.text  # the place the gazetteer does not know is named, not hidden
    assert "No map tiles" in page.text
    assert "<script>" not in page.text  # no inline script (CSP)
    index = world.settings.index_name("audit")
    world.client.indices.refresh(index=index)
    res = world.client.search(
        index=index,
        body={
            "query": {
                "bool": {"filter": [{"term": {"action": "map.view"}}, {"term": {"user": "map-officer"}}]}
            },
            "sort": [{"seq": "desc"}],
            "size": 1,
        },
    )
    event = res["hits"]["hits"][0]["_source"]
    assert (
        IDS["at_pb"] in event["details"]["record_ids"] and IDS["secret"] not in event["details"]["record_ids"]
    )
    assert event["details"]["result_count"] == 5


def test_search_page_links_to_the_map_of_its_results(world: MapWorld) -> None:
    page = world.web["map-officer"].get("/search", params={"q": TOKEN, "type": "crime"})
    assert 'href="/map?q=zqmapshared&amp;type=crime"' in page.text


def test_gazetteer_cli_load_exits_non_zero_on_rejects(
    world: MapWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lantern import cli
    from lantern.cli import app

    # The command's settings are this world's (its prefix, and the test node, whether an
    # external one named in the environment or the embedded one on test ports).
    monkeypatch.setattr(cli, "get_settings", lambda: world.settings)
    get_settings.cache_clear()
    try:
        path = tmp_path / "g.csv"
        path.write_text("postcode,latitude,longitude\nSE1 7PB,51.5,-0.1\nZZ9,51.5,-0.1\n", encoding="utf-8")
        rejects = tmp_path / "r.ndjson"
        res = CliRunner().invoke(app, ["gazetteer", "load", str(path), "--rejects", str(rejects)])
        assert res.exit_code == 1, res.output
        assert "rejected 1" in res.output and json.loads(rejects.read_text())["code"] == "invalid_postcode"
        res = CliRunner().invoke(app, ["gazetteer", "load", str(path), "--allow-rejects"])
        assert res.exit_code == 0, res.output
        bad = tmp_path / "bad.csv"
        bad.write_text("code,x,y\nSE1 7PB,1,2\n", encoding="utf-8")
        res = CliRunner().invoke(app, ["gazetteer", "load", str(bad)])
        assert res.exit_code == 2 and "no postcode column" in res.output
    finally:
        get_settings.cache_clear()


def test_a_record_indexed_before_its_place_gets_it_when_loaded_again(world: MapWorld, tmp_path: Path) -> None:
    """The gazetteer is part of a record's content hash: after a gazetteer load, loading the same
    (unchanged) record again gives it its point instead of skipping it as unchanged."""
    rec = crime("M-late", "Later place", ["E1 6AW"])
    rec["summary"] = "Not part of the map world's searches."
    rec["modus_operandi"] = "Entry forced."
    first = index_records(
        [parse_record(rec)], world.settings, world.client, extract_entities=False, refresh=True
    )
    assert first.ok
    index = world.settings.index_name("records")
    rid = record_id("MAP-CRIME", "M-late")
    assert world.client.get(index=index, id=rid)["_source"][F.GEO_UNLOCATED] == ["E1 6AW"]
    again = index_records(
        [parse_record(rec)], world.settings, world.client, extract_entities=False, refresh=True
    )
    assert again.unchanged == 1 and again.indexed == 0  # same record, same gazetteer: not written
    csv_path = tmp_path / "more.csv"
    csv_path.write_text("postcode,latitude,longitude\nE1 6AW,51.5210,-0.0720\n", encoding="utf-8")
    assert gazetteer.load_file(world.client, world.settings, csv_path).loaded == 1
    third = index_records(
        [parse_record(rec)], world.settings, world.client, extract_entities=False, refresh=True
    )
    assert third.unchanged == 0 and third.indexed == 1
    doc = world.client.get(index=index, id=rid)["_source"]
    assert doc[F.GEO_POINTS] == [{"lat": 51.521, "lon": -0.072}] and F.GEO_UNLOCATED not in doc


TILES = "https://tiles.force.example/osm/{z}/{x}/{y}.png"


def test_tile_server_from_settings_is_drawn_and_named_in_the_csp(world: MapWorld) -> None:
    """Default: no tiles and a CSP naming only the portal. With ``map_tile_url``: the page hands
    the template to the map script, and the CSP's img-src names that origin and nothing more."""
    from portal.app import create_app
    from portal.security.middleware import CSP

    default = world.web["map-officer"].get("/map", params={"q": TOKEN})
    assert default.headers["content-security-policy"] == CSP
    assert "data-tile-url" not in default.text and "tiles.force.example" not in CSP
    tiled = world.settings.model_copy(
        update={"map_tile_url": TILES, "map_tile_attribution": "Map data: the force"}
    )
    with make_test_client(create_app(tiled)) as tc:
        login(tc, "map-officer", PASSWORD)
        page = tc.get("/map", params={"q": TOKEN})
        assert page.status_code == 200
        assert f'data-tile-url="{TILES}"' in page.text and "No map tiles" not in page.text
        policy = page.headers["content-security-policy"]
        assert "img-src 'self' data: https://tiles.force.example;" in policy
        assert policy.replace(" https://tiles.force.example", "") == CSP
        # Every other page gets the same single policy (one header, set by the outermost layer).
        assert tc.get("/search").headers["content-security-policy"] == policy


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("", True),
        (TILES, True),
        ("http://localhost:8080/{z}/{x}/{y}.png", True),
        ("http://tiles.force.example/{z}/{x}/{y}.png", False),  # plain http off this machine
        ("https://tiles.force.example/{z}/{x}.png", False),  # no {y}
        ("https://{s}.tiles.force.example/{z}/{x}/{y}.png", False),  # the CSP could not name it
        ("https://tiles.force.example/{z}/{x}/{y}.png; script-src *", False),
        ("javascript:alert(1)//{z}{x}{y}", False),
    ],
)
def test_tile_url_setting_is_checked(url: str, ok: bool) -> None:
    from pydantic import ValidationError

    if ok:
        s = Settings(map_tile_url=url)
        assert s.map_tile_origin == ("" if not url else url[: url.index("/", 8)])
    else:
        with pytest.raises(ValidationError):
            Settings(map_tile_url=url)


def test_near_in_a_saved_alert_percolates_by_distance(world: MapWorld) -> None:
    """A saved search with ``near:`` alerts on records within the radius (the stored query is a
    geo_distance around the gazetteer's point), not only on records at that exact postcode."""
    from alerts import percolation
    from alerts.saved_queries import SavedQueryStore
    from lantern.clock import today_utc
    from lantern.principal import Principal
    from search.urlstate import from_params

    user = Principal(
        "map-officer", "map-officer", frozenset({"officer"}), frozenset({"RESPONSE"}), frozenset()
    )
    state = from_params([("q", "near:SE1 7PB 500m")])
    sq = SavedQueryStore(world.client, world.settings).create(user, state, name="near PB")
    sq = percolation.register(world.client, world.settings, sq, notify=False)
    stored = world.client.get(index=percolation.percolator_alias(world.settings), id=sq.id)["_source"]
    assert "geo_distance" in json.dumps(stored)
    docs = {
        k: world.client.get(index=world.settings.index_name("records"), id=IDS[k])["_source"]
        for k in ("at_pb", "at_pd", "at_e1", "unknown")
    }
    keys = list(docs)
    for match in (percolation.percolate, percolation.match_batch):  # the hook runs match_batch
        matched = {
            keys[slot]
            for m in match(world.client, world.settings, list(docs.values()))
            if m.saved_id == sq.id
            for slot in m.slots
        }
        assert matched == {"at_pb", "at_pd"}  # 0 m and ~300 m; E1 is ~3 km away; N7 has no point
    # Registered before its postcode had a point (simulated: no gazetteer lookup), it matched
    # the postcode only; after a gazetteer load (`lantern gazetteer load` calls this) it measures.
    alias = percolation.percolator_alias(world.settings)
    percolation._register_into(world.client, alias, sq, today_utc(), refresh=True, places=None)
    assert "geo_distance" not in json.dumps(world.client.get(index=alias, id=sq.id)["_source"])
    assert percolation.reregister_near(world.client, world.settings) >= 1
    assert "geo_distance" in json.dumps(world.client.get(index=alias, id=sq.id)["_source"])
