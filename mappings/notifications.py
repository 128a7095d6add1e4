"""The ``notifications`` index: new records matching a saved query, and saved-query problems.

``_id`` is derived from (saved query, record, recipient) for matches, so a record indexed
twice never notifies twice (written with ``op_type=create``). Nothing about the record is
copied here but its id: titles are read from the records index, as the recipient, when the
notification is shown, so a record the recipient can no longer read is never described.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings import analysis as A

NAME = "notifications"
VERSION = 1

KIND_MATCH = "match"
KIND_INVALID_QUERY = "invalid_query"


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    date: dict[str, Any] = {"type": "date"}
    return {
        "settings": A.index_settings(settings, analysis=False),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "recipient": keyword,
                "kind": keyword,  # match | invalid_query
                "saved_query_id": keyword,
                "record_id": keyword,
                "message": {"type": "text", "index": False},
                "read": {"type": "boolean"},
                "read_at": date,
                "created_at": date,
            },
        },
    }
