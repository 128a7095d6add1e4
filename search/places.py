"""Postcode -> point for ``near:`` (the gazetteer, read through Lantern's engine-error boundary).

The parser stays free of I/O: callers that can reach OpenSearch pass ``place_lookup(...)`` to
:func:`search.parser.parse` (``places=``), which fills each ``near:`` with its point.
"""

from __future__ import annotations

from opensearchpy import OpenSearch

from lantern import gazetteer
from lantern.settings import Settings
from search.gateway import engine_errors
from search.parser import PlaceLookup


def place_lookup(client: OpenSearch, settings: Settings) -> PlaceLookup:
    def lookup(postcode: str) -> tuple[float, float] | None:
        with engine_errors():
            return gazetteer.point(client, settings, postcode)

    return lookup
