"""The ``tombstones`` index: one document per record deleted at source.

A tombstone keeps a deleted record from coming back: every write of the records index
(file loads, the ingest API) looks its ids up here first and skips tombstoned ones. It
holds the ids and why/when/by whom the record went, and nothing about the record's
content or people (no title, no reference, no names): its document id is the record's id.
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings

NAME = "tombstones"
VERSION = 1

ID: Final = "id"  # the deleted record's id (uuid5 of source system and source id)
SOURCE_SYSTEM: Final = "source_system"
SOURCE_ID: Final = "source_id"
REASON: Final = "reason"  # expunged | disposal | duplicate
DELETED_AT: Final = "deleted_at"
DELETED_BY: Final = "deleted_by"  # service account or "cli:<user>"

REASONS: Final = ("expunged", "disposal", "duplicate")


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": settings.index_replicas,
                "write.wait_for_active_shards": settings.write_wait_for_active_shards,
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                ID: keyword,
                SOURCE_SYSTEM: keyword,
                SOURCE_ID: keyword,
                REASON: keyword,
                DELETED_AT: {"type": "date"},
                DELETED_BY: keyword,
            },
        },
    }
