"""The ``audit`` index: the append-only, hash-chained audit trail.

One document per event, ``_id`` = its sequence number, written with ``op_type=create`` and
never updated or deleted by the portal. ``target`` and ``details`` are kept verbatim (stored,
not indexed: whatever an action records is part of the hashed event); the fields an auditor
filters on are projected next to them (``target_ids``, ``query``, ``shown_ids``, ``flags``).
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

NAME = "audit"
VERSION = 1


def body(settings: Settings) -> dict[str, Any]:
    return {
        # Deliberately not index_settings(): with write.wait_for_active_shards=all a lost
        # node would stall every audit write, and audit is fail-closed, so every action
        # would be refused during failover (tests/cluster caught this).
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": settings.index_replicas,
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "seq": {"type": "long"},
                "ts": {"type": "date"},
                "user": {"type": "keyword"},
                "display_name": {"type": "keyword"},
                "roles": {"type": "keyword"},
                "client": {"type": "keyword"},
                "session": {"type": "keyword"},
                "action": {"type": "keyword"},
                "outcome": {"type": "keyword"},
                "purpose_code": {"type": "keyword"},
                "purpose_reference": {"type": "keyword"},
                "target": {"type": "object", "enabled": False},
                "target_ids": {"type": "keyword"},
                "details": {"type": "object", "enabled": False},
                "query": {
                    "type": "text",
                    "analyzer": "standard",
                    "fields": {"keyword": {"type": "keyword", "ignore_above": 512}},
                },
                "shown_ids": {"type": "keyword"},
                "flags": {"type": "keyword"},
                "prev_hash": {"type": "keyword"},
                "hash": {"type": "keyword"},
            },
        },
    }
