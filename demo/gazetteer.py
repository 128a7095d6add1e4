"""A synthetic gazetteer for the demo's synthetic postcodes.

The demo's postcodes are made up, so their coordinates are too: every outward district
(``SE1``) gets a made-up centre (London districts inside a box around London, others
somewhere in England), and each postcode a point within about a kilometre of it, from a
hash of the seed and the postcode. These are NOT real locations, and the file's name and
the command's output say so. One postcode in :data:`HOLD_BACK_ONE_IN` is left out on
purpose, so the demo shows records whose places the gazetteer does not know (kept, listed as
unlocated, never dropped).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from entity_extraction import canonicalise

HOLD_BACK_ONE_IN = 40
LONDON_AREAS = frozenset({"E", "EC", "N", "NW", "SE", "SW", "W", "WC"})
LONDON_BOX = ((51.36, 51.62), (-0.40, 0.18))  # (lat range, lon range)
ENGLAND_BOX = ((50.9, 54.4), (-2.9, 0.4))
JITTER_DEGREES = 0.008
_AREA = re.compile(r"^[A-Z]+")


def _strings_under_postcode_keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "postcode" and isinstance(v, str):
                yield v
            else:
                yield from _strings_under_postcode_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings_under_postcode_keys(v)


def record_postcodes(records: Iterable[Any]) -> set[str]:
    """Canonical postcodes under every ``postcode`` key of record dicts (structured addresses)."""
    found: set[str] = set()
    for rec in records:
        found.update(_strings_under_postcode_keys(rec))
    return {c for c in (canonicalise("POSTCODE", p) for p in found) if c}


def feed_postcodes(feeds: Path) -> set[str]:
    """Canonical postcodes in the structured fields of the demo feeds (NDJSON and legacy CSV)."""
    found: set[str] = set()
    for path in sorted(feeds.glob("*.ndjson")):
        with path.open(encoding="utf-8") as fh:
            found.update(record_postcodes(json.loads(line) for line in fh if line.strip()))
    for path in sorted(feeds.glob("*.csv")):
        with path.open(encoding="cp1252", newline="") as fh:
            for row in csv.DictReader(fh):
                found.update(v for k, v in row.items() if k and "POSTCODE" in k.upper() and v)
    return {c for c in (canonicalise("POSTCODE", p) for p in found) if c}


def _unit(seed: int, *parts: str) -> random.Random:
    digest = hashlib.sha256(":".join((str(seed), *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def synthetic_point(postcode: str, seed: int) -> tuple[float, float]:
    outward = postcode.split(" ")[0]
    area = _AREA.match(outward)
    (lat_lo, lat_hi), (lon_lo, lon_hi) = LONDON_BOX if area and area.group(0) in LONDON_AREAS else ENGLAND_BOX
    centre = _unit(seed, "district", outward)
    lat = centre.uniform(lat_lo, lat_hi)
    lon = centre.uniform(lon_lo, lon_hi)
    jitter = _unit(seed, "postcode", postcode)
    return (
        round(lat + jitter.uniform(-JITTER_DEGREES, JITTER_DEGREES), 6),
        round(lon + jitter.uniform(-JITTER_DEGREES, JITTER_DEGREES) * 1.6, 6),
    )


def held_back(postcode: str, seed: int) -> bool:
    return _unit(seed, "hold", postcode).randrange(HOLD_BACK_ONE_IN) == 0


def write_demo_gazetteer(feeds: Path, out: Path, *, seed: int = 42) -> tuple[int, int]:
    """Write ``out`` (postcode, latitude, longitude) for the feeds' postcodes; (written, held back)."""
    return write_gazetteer(feed_postcodes(feeds), out, seed=seed)


def write_gazetteer(
    postcodes: Iterable[str], out: Path, *, seed: int = 42, keep: Iterable[str] = (), drop: Iterable[str] = ()
) -> tuple[int, int]:
    """Synthetic coordinates for ``postcodes`` (``keep``/``drop`` override the hold-back draw)."""
    keep_set, drop_set = set(keep), set(drop)
    postcodes = sorted(set(postcodes) | keep_set)
    out.parent.mkdir(parents=True, exist_ok=True)
    written = kept_out = 0
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["postcode", "latitude", "longitude"])
        for pc in postcodes:
            if pc in drop_set or (pc not in keep_set and held_back(pc, seed)):
                kept_out += 1
                continue
            lat, lon = synthetic_point(pc, seed)
            writer.writerow([pc, f"{lat:.6f}", f"{lon:.6f}"])
            written += 1
    return written, kept_out
