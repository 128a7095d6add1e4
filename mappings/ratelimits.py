"""The ``ratelimits`` index: per-user rate-limit windows shared by every portal process.

One document per limit and user (the ``limits`` package's key, e.g.
``LIMITER/search/anl/60/1/minute``): the times of the hits inside the moving window
(``entries``, epoch seconds), or a fixed-window counter (``count``), and when the document
stops mattering (``expires_at``, for the purge). Updated only by a painless script in one
conditional update, so two processes counting at once never lose a hit.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

NAME = "ratelimits"
VERSION = 1

ENTRIES = "entries"
COUNT = "count"
EXPIRES_AT = "expires_at"


def body(settings: Settings) -> dict[str, Any]:
    return {
        "settings": {"index": {"number_of_shards": 1, "number_of_replicas": settings.index_replicas}},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                ENTRIES: {"type": "double", "index": False, "doc_values": False},
                COUNT: {"type": "integer", "index": False, "doc_values": False},
                EXPIRES_AT: {"type": "double"},
            },
        },
    }
