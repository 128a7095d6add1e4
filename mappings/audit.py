"""The ``audit`` index: the append-only, hash-chained audit trail.

One document per event, ``_id`` = its sequence number, written with ``op_type=create`` and
never updated or deleted by the portal. ``target`` and ``details`` are kept verbatim (stored,
not indexed: whatever an action records is part of the hashed event); the fields an auditor
filters on are projected next to them (``target_ids``, ``query``, ``shown_ids``, ``flags``).

Append-only is enforced by OpenSearch itself, not only by the portal's good behaviour: the
OpenSearch security plugin cannot grant "create but not overwrite" (``indices:data/write/index``
covers both), so the index's ``final_pipeline`` (which a request cannot skip, and which no
Lantern role but the admin may change) fails every write that is not ``op_type=create``. An
ingest document's ``_version`` is -4 (``Versions.MATCH_DELETED``) exactly for create; a plain
index, ``if_seq_no`` or external-version overwrite carries another value and is refused.
Updates and deletes are not granted to the portal at all. Tested in
``tests/security/test_opensearch_roles.py``.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

NAME = "audit"
# 2: key_id and mac (keyed chain); an existing index moves with `lantern index migrate audit`.
VERSION = 2
# Migrations copy with op_type=create (the final pipeline refuses anything else).
APPEND_ONLY = True
# Versions.MATCH_DELETED: the version an op_type=create request carries into ingest.
_CREATE_VERSION = -4


def pipeline_name(settings: Settings) -> str:
    return f"{settings.index_name(NAME)}-append-only"


def append_only_pipeline(what: str) -> dict[str, Any]:
    """An ingest pipeline that fails every write but ``op_type=create`` (see the docstring)."""
    return {
        "description": f"Lantern {what}: refuse every write that is not op_type=create",
        "processors": [
            {
                "fail": {
                    "if": f"ctx._version != {_CREATE_VERSION}",
                    "message": f"{what} are append-only: only op_type=create is accepted",
                }
            }
        ],
    }


def pipelines(settings: Settings) -> dict[str, dict[str, Any]]:
    """Ingest pipelines the index needs; ``lantern index init`` puts them before the index."""
    return {pipeline_name(settings): append_only_pipeline("audit events")}


def body(settings: Settings) -> dict[str, Any]:
    return {
        # Deliberately not index_settings(): with write.wait_for_active_shards=all a lost
        # node would stall every audit write, and audit is fail-closed, so every action
        # would be refused during failover (tests/cluster caught this).
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": settings.index_replicas,
                "final_pipeline": pipeline_name(settings),
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
                # HMAC-SHA-256 over seq and hash with the key named by key_id (lantern/audit.py).
                "key_id": {"type": "keyword"},
                "mac": {"type": "keyword"},
            },
        },
    }
