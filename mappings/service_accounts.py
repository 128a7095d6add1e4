"""The ``service_accounts`` index: the source systems allowed to push records (ingest API).

One account per source system. Its token is shown once, when issued, and stored only as a
SHA-256 hash (``indexer.service_accounts`` says why a fast hash is enough here).
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings

NAME = "service_accounts"
VERSION = 1

ACCOUNT: Final = "account"  # the document id: derived from the source system
SOURCE_SYSTEM: Final = "source_system"
RECORD_TYPES: Final = "record_types"  # keyword[]: the record types it may write
TOKEN_ID: Final = "token_id"  # noqa: S105 - public part of the token (names the token in logs and audit)
TOKEN_HASH: Final = "token_hash"  # noqa: S105 (a field name)
CREATED_AT: Final = "created_at"
ROTATED_AT: Final = "rotated_at"
EXPIRES_AT: Final = "expires_at"
DISABLED: Final = "disabled"


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    date: dict[str, Any] = {"type": "date"}
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": settings.index_replicas,
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                ACCOUNT: keyword,
                SOURCE_SYSTEM: keyword,
                RECORD_TYPES: keyword,
                TOKEN_ID: keyword,
                TOKEN_HASH: {"type": "keyword", "index": False, "doc_values": False},
                CREATED_AT: date,
                ROTATED_AT: date,
                EXPIRES_AT: date,
                DISABLED: {"type": "boolean"},
            },
        },
    }
