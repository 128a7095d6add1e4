"""The ``users`` index: local accounts (identity, roles, units, clearances, password hash)."""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

NAME = "users"
VERSION = 1


def body(settings: Settings) -> dict[str, Any]:
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
                "username": {"type": "keyword"},
                "display_name": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
                "roles": {"type": "keyword"},
                "units": {"type": "keyword"},
                "clearances": {"type": "keyword"},
                "password_hash": {"type": "keyword", "index": False, "doc_values": False},
                "disabled": {"type": "boolean"},
                "created_at": {"type": "date"},
                "updated_at": {"type": "date"},
                "password_changed_at": {"type": "date"},
                # Postcodes the user lives at (optional): a search for one is flagged (own_postcode).
                "home_postcodes": {"type": "keyword"},
            },
        },
    }
