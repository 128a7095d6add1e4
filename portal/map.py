"""The map of a result set: clusters of the records' places, read through the gateway.

``read_map`` runs :func:`search.builders.build_map` for the search page's own query (the
same parser, facets and ``near:`` resolution) through :class:`SecuredRecords`, so every
cell, count and record on the map is one the user may read. Records without a point are
not dropped: the view says how many have places the gazetteer does not know (and which
postcodes) and how many have no place at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from opensearchpy import OpenSearch

from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from search import builders as B
from search.gateway import SecuredRecords
from search.parser import PlaceLookup, parse
from search.urlstate import SearchState

DEFAULT_ZOOM = 10
MAX_ZOOM = 18


@dataclass(frozen=True)
class MapRecord:
    id: str
    title: str
    reference: str
    record_type: str
    record_date: str


@dataclass(frozen=True)
class Cell:
    key: str  # geotile "zoom/x/y"
    lat: float
    lon: float
    count: int
    records: tuple[MapRecord, ...]


@dataclass
class MapView:
    total: int  # records the query matched (that the user may read)
    located: int  # ... with at least one point
    in_view: int  # ... with a point inside the viewport (= located without a viewport)
    unlocated: int  # ... with postcodes, none of which the gazetteer knows
    unlocated_postcodes: list[tuple[str, int]]
    bounds: B.Box | None  # extent of every located record's points
    cells: list[Cell] = field(default_factory=list)
    notices: tuple[str, ...] = ()

    @property
    def no_place(self) -> int:
        return max(0, self.total - self.located - self.unlocated)

    @property
    def record_ids(self) -> list[str]:
        return sorted({r.id for c in self.cells for r in c.records})

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "located": self.located,
            "in_view": self.in_view,
            "unlocated": self.unlocated,
            "no_place": self.no_place,
            "unlocated_postcodes": [{"postcode": p, "count": n} for p, n in self.unlocated_postcodes],
            "bounds": None
            if self.bounds is None
            else {
                "west": self.bounds.west,
                "south": self.bounds.south,
                "east": self.bounds.east,
                "north": self.bounds.north,
            },
            "notices": list(self.notices),
            "cells": [
                {
                    "key": c.key,
                    "lat": c.lat,
                    "lon": c.lon,
                    "count": c.count,
                    "records": [
                        {
                            "id": r.id,
                            "title": r.title,
                            "reference": r.reference,
                            "type": r.record_type,
                            "date": r.record_date,
                            "href": f"/records/{r.id}",
                        }
                        for r in c.records
                    ],
                }
                for c in self.cells
            ],
        }


def tile_bounds(key: str) -> B.Box:
    """The box of a geotile ``zoom/x/y`` (Web Mercator tiles, as OpenSearch keys them)."""
    z, x, y = (int(p) for p in key.split("/"))
    n = 2.0**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return B.Box(west=x / n * 360.0 - 180.0, south=lat(y + 1), east=(x + 1) / n * 360.0 - 180.0, north=lat(y))


def _centre(key: str, centroid: dict[str, Any] | None) -> tuple[float, float]:
    """The centroid of the cell's points, kept inside the cell: a record with places in several
    cells pulls geo_centroid towards its other places, so it is clamped to the cell."""
    box = tile_bounds(key)
    mid = ((box.south + box.north) / 2, (box.west + box.east) / 2)
    loc = (centroid or {}).get("location")
    if not loc:
        return mid
    return (
        min(max(float(loc["lat"]), box.south), box.north),
        min(max(float(loc["lon"]), box.west), box.east),
    )


def parse_box(text: str | None) -> B.Box | None:
    """``west,south,east,north`` in degrees, or None when absent or not four sane numbers."""
    if not text:
        return None
    try:
        w, s, e, n = (float(p) for p in text.split(","))
    except ValueError:
        return None
    if not all(math.isfinite(v) for v in (w, s, e, n)):
        return None
    s, n = max(-90.0, min(s, n)), min(90.0, max(s, n))
    w, e = max(-180.0, w), min(180.0, e)
    if w >= e or s >= n:
        return None
    return B.Box(w, s, e, n)


def shape(res: dict[str, Any], notices: tuple[str, ...] = ()) -> MapView:
    """A map view from the engine's answer (pure)."""
    aggs = res.get("aggregations") or {}
    located = aggs.get("located") or {}
    bounds_agg = (located.get("bounds") or {}).get("bounds")
    bounds = None
    if bounds_agg:
        tl, br = bounds_agg["top_left"], bounds_agg["bottom_right"]
        bounds = B.Box(float(tl["lon"]), float(br["lat"]), float(br["lon"]), float(tl["lat"]))
    in_view = aggs.get("in_view") or {}
    cells: list[Cell] = []
    for bucket in (in_view.get("cells") or {}).get("buckets", []):
        lat, lon = _centre(bucket["key"], bucket.get("centre"))
        records = tuple(
            MapRecord(
                str(h["_id"]),
                str((h.get("_source") or {}).get(F.TITLE) or ""),
                str((h.get("_source") or {}).get(F.REFERENCE) or ""),
                str((h.get("_source") or {}).get(F.RECORD_TYPE) or ""),
                str((h.get("_source") or {}).get(F.RECORD_DATE) or ""),
            )
            for h in ((bucket.get("newest") or {}).get("hits") or {}).get("hits", [])
        )
        cells.append(Cell(str(bucket["key"]), lat, lon, int(bucket["doc_count"]), records))
    unlocated = aggs.get("unlocated") or {}
    return MapView(
        total=int(res["hits"]["total"]["value"]),
        located=int(located.get("doc_count", 0)),
        in_view=int(in_view.get("doc_count", 0)),
        unlocated=int(unlocated.get("doc_count", 0)),
        unlocated_postcodes=[
            (str(b["key"]), int(b["doc_count"]))
            for b in (unlocated.get("postcodes") or {}).get("buckets", [])
        ],
        bounds=bounds,
        cells=cells,
        notices=notices,
    )


def map_query(state: SearchState, today: date, places: PlaceLookup | None) -> tuple[B.Query, tuple[str, ...]]:
    """The search page's query for ``state`` (facet selections as filters) and its notices."""
    parsed = parse(state.q, dob_years=state.dob_years, today=today, places=places)
    query = B.build_query(parsed)
    filters = [B.facet_filter(B.FACETS_BY_KEY[k], list(v)) for k, v in state.facets if k in B.FACETS_BY_KEY]
    if filters:
        query = {"bool": {"must": [query], "filter": filters}}
    return query, parsed.notices


def read_map(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    state: SearchState,
    *,
    today: date,
    places: PlaceLookup | None,
    zoom: int = DEFAULT_ZOOM,
    box: B.Box | None = None,
) -> MapView:
    query, notices = map_query(state, today, places)
    body = B.build_map(query, zoom=max(0, min(zoom, MAX_ZOOM)), box=box)
    return shape(SecuredRecords(client, settings, user).search(body, today=today), notices)
