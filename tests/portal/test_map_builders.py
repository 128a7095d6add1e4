"""The map's pure parts: near: in the query language, the builders (dicts compared), the
gazetteer's row checks, places on a search document, and the shaping of the engine's answer."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from demo.gazetteer import held_back, synthetic_point, write_gazetteer
from indexer.documents import add_places
from lantern.gazetteer import GazetteerFileError, Reject, Row, check_row, read_rows
from lantern.principal import Principal
from mappings import fields as F
from portal import map as M
from search import builders as B
from search.gateway import UnsafeQuery, secure_body
from search.parser import And, Near, Not, Text, parse
from search.relax import part_text

SE1 = (51.5, -0.1)


def lookup(pc: str) -> tuple[float, float] | None:
    return SE1 if pc == "SE1 7PB" else None


@pytest.mark.parametrize(
    ("q", "postcode", "radius"),
    [
        ("near:SE1 7PB 500m", "SE1 7PB", 500),
        ("near:se17pb 2km", "SE1 7PB", 2000),
        ('near:"SE1 7PB" 1.5mi', "SE1 7PB", 2414),
        ("near:SE1 7PB", "SE1 7PB", 500),
        ("within:SE1 7PB 250", "SE1 7PB", 250),
        ("near: SE1 7PB 750metres", "SE1 7PB", 750),
    ],
)
def test_near_is_parsed_with_its_radius(q: str, postcode: str, radius: int) -> None:
    parsed = parse(q, places=lookup)
    assert parsed.root == Near(
        postcode, radius, parsed.root.text if isinstance(parsed.root, Near) else "", SE1
    )
    assert parsed.notices == ()


def test_near_beside_other_terms_and_negated() -> None:
    parsed = parse("burglary near:SE1 7PB 1km", places=lookup)
    assert parsed.root == And((Text(("burglary",)), Near("SE1 7PB", 1000, "near:SE1 7PB 1km", SE1)))
    neg = parse("-near:SE1 7PB 1km", places=lookup)
    assert neg.root == Not(Near("SE1 7PB", 1000, "near:SE1 7PB 1km", SE1))


def test_near_problems_are_notices_never_errors() -> None:
    outward_only = parse("near:SE1 500m", places=lookup)
    assert outward_only.root is None and "not a postcode" in outward_only.notices[0]
    far = parse("near:SE1 7PB 900km", places=lookup)
    assert isinstance(far.root, Near) and far.root.radius_m == 50_000 and "at most 50 km" in far.notices[0]
    unknown = parse("near:E1 6AN 1km", places=lookup)
    assert unknown.root == Near("E1 6AN", 1000, "near:E1 6AN 1km", None)
    assert "not in the gazetteer" in unknown.notices[0]
    # Without a lookup (no I/O available) nothing is resolved and nothing is claimed.
    assert parse("near:SE1 7PB 1km").root == Near("SE1 7PB", 1000, "near:SE1 7PB 1km", None)


def test_near_builders() -> None:
    assert B.near(Near("SE1 7PB", 500, "", SE1)) == {
        "geo_distance": {"distance": "500m", F.GEO_POINTS: {"lat": 51.5, "lon": -0.1}}
    }
    assert B.near(Near("E1 6AN", 500, "", None)) == {"term": {"entities.postcode": "E1 6AN"}}
    # A filter beside scored terms, never a scoring clause.
    q = B.build_query(parse("type:crime near:SE1 7PB 1km", places=lookup))
    assert q == {
        "bool": {
            "filter": [
                {"term": {F.RECORD_TYPE: "crime"}},
                {"geo_distance": {"distance": "1000m", F.GEO_POINTS: {"lat": 51.5, "lon": -0.1}}},
            ]
        }
    }
    assert part_text(Near("SE1 7PB", 500, "near:SE1 7PB 500m", SE1)) == "near:SE1 7PB 500m"


def test_build_map_body() -> None:
    box = B.Box(west=-0.2, south=51.4, east=0.0, north=51.6)
    body = B.build_map({"match_all": {}}, zoom=10, box=box)
    assert body["query"] == {"match_all": {}} and body["size"] == 0 and body["track_total_hits"] is True
    assert body["aggs"]["located"] == {
        "filter": {"exists": {"field": F.GEO_POINTS}},
        "aggs": {"bounds": {"geo_bounds": {"field": F.GEO_POINTS}}},
    }
    in_view = body["aggs"]["in_view"]
    assert in_view["filter"] == {
        "geo_bounding_box": {
            F.GEO_POINTS: {"top_left": {"lat": 51.6, "lon": -0.2}, "bottom_right": {"lat": 51.4, "lon": 0.0}}
        }
    }
    assert in_view["aggs"]["cells"]["geotile_grid"] == {
        "field": F.GEO_POINTS,
        "precision": 12,
        "size": B.MAP_MAX_CELLS,
        "bounds": {"top_left": {"lat": 51.6, "lon": -0.2}, "bottom_right": {"lat": 51.4, "lon": 0.0}},
    }
    assert in_view["aggs"]["cells"]["aggs"]["centre"] == {"geo_centroid": {"field": F.GEO_POINTS}}
    assert body["aggs"]["unlocated"]["filter"] == {
        "bool": {
            "filter": [{"exists": {"field": F.GEO_UNLOCATED}}],
            "must_not": [{"exists": {"field": F.GEO_POINTS}}],
        }
    }
    # Without a viewport the grid covers every located record.
    assert B.build_map({"match_all": {}}, zoom=3)["aggs"]["in_view"]["filter"] == {
        "exists": {"field": F.GEO_POINTS}
    }
    assert [B.map_precision(z) for z in (0, 10, 18, 30)] == [2, 12, 20, 20]


def test_the_gateway_accepts_the_map_and_still_refuses_escapes() -> None:
    user = Principal("u", "U", frozenset({"officer"}), frozenset({"RESPONSE"}), frozenset())
    secured = secure_body(B.build_map({"match_all": {}}, zoom=10), user, date(2026, 1, 1))
    assert secured["query"]["bool"]["must"] == [{"match_all": {}}]
    escapes: list[dict[str, Any]] = [
        {"all": {"global": {}}},
        {"g": {"geotile_grid": {"field": F.GEO_POINTS, "script": "x"}}},
    ]
    for bad in escapes:
        with pytest.raises(UnsafeQuery):
            secure_body({"query": {"match_all": {}}, "aggs": bad}, user, date(2026, 1, 1))


def test_check_row_reasons() -> None:
    assert check_row(2, {}, "se1 7pb", "51.5", "-0.1") == Row(2, "SE1 7PB", 51.5, -0.1)
    cases = {
        ("NOPE", "51.5", "-0.1"): "invalid_postcode",
        ("", "51.5", "-0.1"): "invalid_postcode",
        ("SE1 7PB", "", "-0.1"): "bad_latitude",
        ("SE1 7PB", "nan", "-0.1"): "bad_latitude",
        ("SE1 7PB", "51.5", "west"): "bad_longitude",
        ("SE1 7PB", "99.999999", "0.000000"): "no_grid_reference",
        ("SE1 7PB", "-0.1", "51.5"): "outside_uk",  # columns swapped
        ("SE1 7PB", "530000", "180000"): "outside_uk",  # eastings/northings
    }
    for (pc, lat, lon), code in cases.items():
        got = check_row(3, {"raw": 1}, pc, lat, lon)
        assert isinstance(got, Reject) and got.code == code and got.raw == {"raw": 1}, (pc, lat, lon)


def test_read_rows_columns_and_duplicates() -> None:
    text = "PCDS,Lat,Long\nSE1 7PB,51.5,-0.1\nSE17PB,51.6,-0.1\nE1 6AN,51.52,-0.07\n"
    rows = list(read_rows(io.StringIO(text)))
    assert [type(r).__name__ for r in rows] == ["Row", "Reject", "Row"]
    assert isinstance(rows[1], Reject) and rows[1].code == "duplicate" and rows[1].line == 3
    custom = "where,y,x\nSE1 7PB,51.5,-0.1\n"
    assert list(read_rows(io.StringIO(custom), postcode_column="where", lat_column="y", lon_column="x")) == [
        Row(2, "SE1 7PB", 51.5, -0.1)
    ]
    with pytest.raises(GazetteerFileError, match="no postcode column"):
        list(read_rows(io.StringIO(custom)))
    with pytest.raises(GazetteerFileError, match="empty"):
        list(read_rows(io.StringIO("")))


def test_add_places_keeps_unknown_postcodes() -> None:
    doc = {F.ENTITIES: {"postcode": ["SE1 7PB", "N7 8QT"]}}
    assert add_places(doc, {"SE1 7PB": SE1}) == {
        F.ENTITIES: {"postcode": ["SE1 7PB", "N7 8QT"]},
        F.GEO_POINTS: [{"lat": 51.5, "lon": -0.1}],
        F.GEO_UNLOCATED: ["N7 8QT"],
    }
    assert add_places({F.ENTITIES: {}}, {"SE1 7PB": SE1}) == {F.ENTITIES: {}}


def test_tile_bounds_box_and_shape() -> None:
    b = M.tile_bounds("0/0/0")
    assert (b.west, b.east) == (-180.0, 180.0) and round(b.north, 4) == 85.0511
    cell = M.tile_bounds("12/2046/1362")
    assert cell.west < -0.1 < cell.east and cell.south < 51.5 < cell.north
    assert M.parse_box("-0.2,51.4,0,51.6") == B.Box(-0.2, 51.4, 0.0, 51.6)
    for bad in ("", "a,b,c,d", "1,2,3", "0,51,0,52", "inf,1,2,3"):
        assert M.parse_box(bad) is None
    res = {
        "hits": {"total": {"value": 7}},
        "aggregations": {
            "located": {
                "doc_count": 4,
                "bounds": {
                    "bounds": {
                        "top_left": {"lat": 51.6, "lon": -0.2},
                        "bottom_right": {"lat": 51.4, "lon": 0.0},
                    }
                },
            },
            "in_view": {
                "doc_count": 4,
                "cells": {
                    "buckets": [
                        {
                            "key": "12/2046/1362",
                            "doc_count": 4,
                            # Pulled outside the cell by a record's other place: clamped back.
                            "centre": {"location": {"lat": 53.0, "lon": -0.1}},
                            "newest": {
                                "hits": {"hits": [{"_id": "r1", "_source": {F.TITLE: "T", F.REFERENCE: "R"}}]}
                            },
                        }
                    ]
                },
            },
            "unlocated": {"doc_count": 2, "postcodes": {"buckets": [{"key": "N7 8QT", "doc_count": 2}]}},
        },
    }
    view = M.shape(res)
    assert (view.total, view.located, view.in_view, view.unlocated, view.no_place) == (7, 4, 4, 2, 1)
    assert view.unlocated_postcodes == [("N7 8QT", 2)] and view.bounds == B.Box(-0.2, 51.4, 0.0, 51.6)
    (c,) = view.cells
    assert c.lat == pytest.approx(cell.north) and c.lon == -0.1 and c.count == 4
    assert view.record_ids == ["r1"] and view.as_json()["cells"][0]["records"][0]["href"] == "/records/r1"


def test_demo_gazetteer_is_synthetic_deterministic_and_holds_some_back(tmp_path: Path) -> None:
    a, b = synthetic_point("SE1 7PB", 42), synthetic_point("SE1 7PD", 42)
    assert a == synthetic_point("SE1 7PB", 42) and a != synthetic_point("SE1 7PB", 43)
    assert 51.3 < a[0] < 51.7 and abs(a[0] - b[0]) < 0.02  # same district, near each other
    postcodes = [f"SE1 {d}{x}{y}" for d in "123456789" for x in "ABD" for y in "ABDEF"]
    out = tmp_path / "g.csv"
    written, kept_out = write_gazetteer(postcodes, out, seed=42, keep=["SE1 1AA"], drop=["SE1 2AB"])
    assert written + kept_out == len(postcodes) and kept_out == sum(
        1 for p in postcodes if p == "SE1 2AB" or (p != "SE1 1AA" and held_back(p, 42))
    )
    lines = out.read_text().splitlines()
    assert lines[0] == "postcode,latitude,longitude" and not any(
        line.startswith("SE1 2AB,") for line in lines
    )
    assert all(isinstance(r, Row) for r in read_rows(io.StringIO(out.read_text())))
