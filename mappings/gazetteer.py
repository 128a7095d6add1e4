"""The ``gazetteer`` index: postcode -> latitude/longitude, loaded from a file the force holds.

Loaded by ``lantern gazetteer load FILE`` (``lantern.gazetteer``) from a CSV such as the ONS
Postcode Directory or a Code-Point Open export converted to latitude/longitude. The indexer
reads it to give records their points (``mappings.fields.GEO_POINTS``) and search reads it to
resolve ``near:POSTCODE RADIUS``. A postcode is public reference data, not a record: nothing
here is access-controlled, and nothing here comes from a record.

The document id is the canonical postcode (``SE1 7PB``), so a reload replaces, never doubles.
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings
from mappings import analysis as A

NAME = "gazetteer"
VERSION = 1

POSTCODE: Final = "postcode"  # keyword (postcode normalizer): canonical "SE1 7PB"
LOCATION: Final = "location"  # geo_point
SOURCE: Final = "source"  # keyword: file name it was loaded from
LOADED_AT: Final = "loaded_at"  # date


def body(settings: Settings) -> dict[str, Any]:
    return {
        "settings": A.index_settings(settings),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                POSTCODE: {"type": "keyword", "normalizer": A.POSTCODE},
                LOCATION: {"type": "geo_point"},
                SOURCE: {"type": "keyword"},
                LOADED_AT: {"type": "date"},
            },
        },
    }
