"""The ``saved_queries`` index: analysts' saved searches (the source of truth for alerts).

One document per saved query, ``_id`` = its id. The search itself is kept as the search
page's URL state (``q``, ``facets`` as ``key=value`` strings, ``sort``, ``dob_years``), so
it re-runs through the same parser and builders as the search box, and its alert query
(``mappings.percolator``) can be rebuilt from it whenever the records mapping changes.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings import analysis as A

NAME = "saved_queries"
VERSION = 1

STATUS_ACTIVE = "active"
# The alert query could not be registered in the percolator (e.g. after a mapping change).
STATUS_INVALID = "invalid"


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    date: dict[str, Any] = {"type": "date"}
    return {
        "settings": A.index_settings(settings, analysis=False),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "id": keyword,
                "owner": keyword,
                "name": {"type": "text", "fields": {"sort": {"type": "keyword", "ignore_above": 256}}},
                "notes": {"type": "text"},
                # The search as typed: re-parsed on every use, never queried on.
                "q": {"type": "keyword", "index": False, "doc_values": False},
                "facets": keyword,  # "key=value", one per selected facet value
                "sort": keyword,
                "dob_years": {"type": "integer"},
                "shared_unit": keyword,  # one of the owner's units (read-only for its members)
                "status": keyword,  # active | invalid
                "invalid_reason": {"type": "text", "index": False},
                "invalid_at": date,
                "registered_fingerprint": keyword,  # percolator mapping it was last registered under
                "created_at": date,
                "updated_at": date,
                "last_opened_at": date,
            },
        },
    }
