"""The ``sessions`` index: server-side sessions and login-throttle counters.

Sessions are keyed by SHA-256 of the token (the token itself is never stored), throttle
counters by ``throttle:user:<name>`` / ``throttle:addr:<address>``; ``kind`` tells them apart.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

NAME = "sessions"
# 2: ``mac`` (sessions signed with the portal's secret key).
VERSION = 2


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
                "kind": {"type": "keyword"},  # session | throttle
                # --- session ---
                "username": {"type": "keyword"},
                # HMAC of id, username, created_at and csrf_token (portal/security/sessions.py).
                "mac": {"type": "keyword", "index": False, "doc_values": False},
                "created_at": {"type": "date"},
                "last_seen": {"type": "date"},
                "csrf_token": {"type": "keyword", "index": False, "doc_values": False},
                "purpose_code": {"type": "keyword"},
                "purpose_reference": {"type": "keyword"},
                "client": {"type": "keyword"},
                "user_agent": {"type": "keyword", "index": False, "doc_values": False},
                # --- throttle ---
                "key": {"type": "keyword"},
                "failures": {"type": "integer"},
                "window_start": {"type": "date"},
                "locked_until": {"type": "date"},
            },
        },
    }
