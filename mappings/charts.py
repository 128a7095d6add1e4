"""The ``charts`` index: saved link charts (owner-only, or shared read-only with a unit).

A saved chart keeps the chart's URL state (seed nodes and expansions), never its nodes or
counts: opening it recomputes everything from what the viewer may read at that moment.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings import analysis as A

NAME = "charts"
VERSION = 1


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    return {
        "settings": A.index_settings(settings, analysis=False),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": keyword,
                "owner": keyword,
                "name": {"type": "text", "fields": {"sort": {"type": "keyword", "ignore_above": 256}}},
                # The chart state as "key=value" URL parameters: re-parsed on every use.
                "params": {"type": "keyword", "index": False, "doc_values": False},
                "shared_unit": keyword,
                "created_at": {"type": "date"},
            },
        },
    }
