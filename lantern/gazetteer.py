"""The gazetteer: postcode -> latitude/longitude, from a file the force already holds.

``lantern gazetteer load FILE`` reads a CSV with a postcode column and latitude/longitude
columns (the ONS Postcode Directory's ``pcds``/``lat``/``long``, or any file with
``postcode``/``latitude``/``longitude`` headers; other names with ``--postcode-column``
etc.) into the ``gazetteer`` index (``mappings.gazetteer``). Bad rows are never dropped
silently: each goes to the rejects file (NDJSON: line, raw row, reason) and the summary
counts them. Nothing here reaches the internet; coordinates come only from the file.

Readers: the indexer (a record's postcodes become points, ``mappings.fields.GEO_POINTS``;
the ones the gazetteer lacks are kept by name in ``GEO_UNLOCATED``) and search (``near:``).
"""

from __future__ import annotations

import csv
import json
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from cachetools import TTLCache
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError
from opensearchpy.helpers import bulk

from entity_extraction import canonicalise
from lantern.clock import iso, utcnow
from lantern.indices import ensure_once, read_alias, writer_target
from lantern.settings import Settings
from mappings import gazetteer as G

Point = tuple[float, float]  # (lat, lon)

POSTCODE_COLUMNS = ("postcode", "pcds", "pcd", "pcd2", "post_code")
LAT_COLUMNS = ("latitude", "lat")
LON_COLUMNS = ("longitude", "long", "lon", "lng")
# The United Kingdom with a margin (Scilly, Shetland, Northern Ireland). A point outside it
# is a file error (swapped columns, eastings in a latitude column), not a UK postcode.
UK_LAT = (49.0, 61.5)
UK_LON = (-8.8, 2.1)
# The ONS Postcode Directory writes this latitude for postcodes without a grid reference.
ONSPD_NO_GRID = 99.999999
BULK_CHUNK = 2000
MGET_CHUNK = 1000


class GazetteerFileError(ValueError):
    """The file as a whole cannot be read as a gazetteer (missing columns, not CSV)."""


@dataclass(frozen=True)
class Row:
    line: int
    postcode: str
    lat: float
    lon: float


@dataclass(frozen=True)
class Reject:
    line: int
    raw: dict[str, Any]
    code: str  # invalid_postcode | bad_latitude | bad_longitude | no_grid_reference | outside_uk | duplicate
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "raw": self.raw, "code": self.code, "reason": self.reason}


@dataclass
class LoadSummary:
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    samples: list[Reject] = field(default_factory=list)


def _column(header: Sequence[str], wanted: str | None, candidates: Sequence[str], what: str) -> str:
    by_lower = {h.strip().lower(): h for h in header}
    if wanted is not None:
        if wanted.strip().lower() not in by_lower:
            raise GazetteerFileError(f"no column {wanted!r} for the {what} (columns: {', '.join(header)})")
        return by_lower[wanted.strip().lower()]
    for c in candidates:
        if c in by_lower:
            return by_lower[c]
    raise GazetteerFileError(
        f"no {what} column: expected one of {', '.join(candidates)} (columns: {', '.join(header)}); "
        f"name it with --{what}-column"
    )


def _coordinate(text: str | None, what: str) -> float | str:
    """The number, or the reason it is not one."""
    value = (text or "").strip()
    if not value:
        return f"{what} is empty"
    try:
        number = float(value)
    except ValueError:
        return f"{what} {value!r} is not a number"
    if not math.isfinite(number):
        return f"{what} {value!r} is not a number"
    return number


def check_row(
    line: int, raw: dict[str, Any], postcode: str | None, lat: str | None, lon: str | None
) -> Row | Reject:
    """One gazetteer row, validated (pure: the reasons are unit-tested)."""
    canonical = canonicalise("POSTCODE", (postcode or "").strip()) if (postcode or "").strip() else None
    if canonical is None:
        return Reject(
            line, raw, "invalid_postcode", f"{(postcode or '').strip()!r} is not a valid UK postcode"
        )
    la = _coordinate(lat, "latitude")
    lo = _coordinate(lon, "longitude")
    if isinstance(la, str):
        return Reject(line, raw, "bad_latitude", la)
    if isinstance(lo, str):
        return Reject(line, raw, "bad_longitude", lo)
    if abs(la - ONSPD_NO_GRID) < 1e-6:
        return Reject(
            line, raw, "no_grid_reference", f"{canonical} has no grid reference (latitude 99.999999)"
        )
    if not (UK_LAT[0] <= la <= UK_LAT[1] and UK_LON[0] <= lo <= UK_LON[1]):
        return Reject(line, raw, "outside_uk", f"latitude {la}, longitude {lo} is outside the United Kingdom")
    return Row(line, canonical, la, lo)


def read_rows(
    fh: TextIO,
    *,
    postcode_column: str | None = None,
    lat_column: str | None = None,
    lon_column: str | None = None,
) -> Iterator[Row | Reject]:
    """Rows of a gazetteer CSV (line numbers count the header as line 1); a repeated postcode is
    rejected (the first row for it stands)."""
    reader = csv.DictReader(fh)
    header = reader.fieldnames
    if not header:
        raise GazetteerFileError("the file is empty or has no header row")
    pc_col = _column(header, postcode_column, POSTCODE_COLUMNS, "postcode")
    lat_col = _column(header, lat_column, LAT_COLUMNS, "lat")
    lon_col = _column(header, lon_column, LON_COLUMNS, "lon")
    first_line: dict[str, int] = {}
    for n, raw in enumerate(reader, start=2):
        row = check_row(n, dict(raw), raw.get(pc_col), raw.get(lat_col), raw.get(lon_col))
        if isinstance(row, Row):
            if row.postcode in first_line:
                yield Reject(
                    n, dict(raw), "duplicate", f"{row.postcode} repeats line {first_line[row.postcode]}"
                )
                continue
            first_line[row.postcode] = n
        yield row


def load_file(
    client: OpenSearch,
    settings: Settings,
    path: Path,
    *,
    rejects: Path | None = None,
    postcode_column: str | None = None,
    lat_column: str | None = None,
    lon_column: str | None = None,
) -> LoadSummary:
    """Load a gazetteer CSV into the ``gazetteer`` index; bad rows go to ``rejects`` with the reason."""
    ensure_once(client, settings, [G])
    target = writer_target(settings, G)
    summary = LoadSummary()
    now = iso(utcnow())
    reject_fh = rejects.open("w", encoding="utf-8") if rejects is not None else None
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:

            def actions() -> Iterator[dict[str, Any]]:
                for item in read_rows(
                    fh, postcode_column=postcode_column, lat_column=lat_column, lon_column=lon_column
                ):
                    summary.read += 1
                    if isinstance(item, Reject):
                        summary.rejected += 1
                        summary.reasons[item.code] = summary.reasons.get(item.code, 0) + 1
                        if len(summary.samples) < 20:
                            summary.samples.append(item)
                        if reject_fh is not None:
                            reject_fh.write(json.dumps({"source": str(path), **item.as_json()}) + "\n")
                        continue
                    yield {
                        "_index": target,
                        "_id": item.postcode,
                        "_source": {
                            G.POSTCODE: item.postcode,
                            G.LOCATION: {"lat": item.lat, "lon": item.lon},
                            G.SOURCE: path.name,
                            G.LOADED_AT: now,
                        },
                    }

            ok, errors = bulk(client, actions(), chunk_size=BULK_CHUNK, raise_on_error=False)
            summary.loaded = int(ok)
            if errors:
                raise RuntimeError(f"the search service refused {len(errors)} gazetteer rows: {errors[:3]}")
    finally:
        if reject_fh is not None:
            reject_fh.close()
    client.indices.refresh(index=read_alias(settings, G))
    forget_cache()
    return summary


def count(client: OpenSearch, settings: Settings) -> int:
    try:
        return int(client.count(index=read_alias(settings, G))["count"])
    except NotFoundError:
        return 0


def stamp(client: OpenSearch, settings: Settings) -> str:
    """What the gazetteer holds, in short: how many postcodes and when it was last loaded
    ("" when there is none). The indexer folds it into each record's content hash."""
    try:
        res = client.search(
            index=read_alias(settings, G),
            body={"size": 0, "track_total_hits": True, "aggs": {"last": {"max": {"field": G.LOADED_AT}}}},
        )
    except NotFoundError:
        return ""
    total = int(res["hits"]["total"]["value"])
    if not total:
        return ""
    last = res["aggregations"]["last"]
    return f"{total}@{last.get('value_as_string') or last.get('value')}"


def points(client: OpenSearch, settings: Settings, postcodes: Iterable[str]) -> dict[str, Point]:
    """Of canonical ``postcodes``, those the gazetteer knows, with their point.

    No gazetteer index yet means no postcode is known (every place is then kept as unlocated).
    """
    wanted = sorted(set(postcodes))
    out: dict[str, Point] = {}
    for start in range(0, len(wanted), MGET_CHUNK):
        part = wanted[start : start + MGET_CHUNK]
        try:
            res = client.mget(
                index=read_alias(settings, G), body={"ids": part}, _source_includes=[G.LOCATION]
            )
        except NotFoundError:
            return {}
        for doc in res["docs"]:
            if doc.get("found"):
                loc = doc["_source"][G.LOCATION]
                out[str(doc["_id"])] = (float(loc["lat"]), float(loc["lon"]))
    return out


# A portal resolves the same few postcodes over and over (every page of a near: search).
# Five minutes: a reloaded gazetteer is seen by every process within that (and at once by the
# process that loaded it).
_cache: TTLCache[tuple[str, str], Point | None] = TTLCache(maxsize=10_000, ttl=300)
_cache_lock = threading.Lock()


def point(client: OpenSearch, settings: Settings, postcode: str) -> Point | None:
    """The point of one canonical postcode, or None (cached)."""
    key = (settings.index_prefix, postcode)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    known = points(client, settings, [postcode])
    found = known.get(postcode)
    with _cache_lock:
        _cache[key] = found
    return found


def forget_cache() -> None:
    with _cache_lock:
        _cache.clear()
