"""The ``jobs`` index: background jobs (batch searches) shared by every portal and worker process.

A portal process only writes a ``queued`` job and reads it back; a ``lantern worker``
process leases it (status ``running``, ``lease_owner``, ``lease_until``) with optimistic
concurrency (``if_seq_no``/``if_primary_term``), so two workers never run one job, and a
job whose lease ran out (its worker died) is leased again and resumed from its progress.
``params`` and ``results`` are opaque to the engine (``enabled: false``): only ids of
matched records are stored, never record content, so the job page re-reads the records
as the user at view time.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings import analysis as A

NAME = "jobs"
VERSION = 1

KIND = "kind"
OWNER = "owner"
STATUS = "status"
CREATED_AT = "created_at"
UPDATED_AT = "updated_at"
TOTAL = "total"
DONE = "done"
LEASE_OWNER = "lease_owner"
LEASE_UNTIL = "lease_until"
ATTEMPTS = "attempts"
PARAMS = "params"
RESULTS = "results"
NOTICES = "notices"
ERROR = "error"
REQUEST_ID = "request_id"

QUEUED = "queued"
RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
FINISHED = (SUCCEEDED, FAILED)


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    date: dict[str, Any] = {"type": "date"}
    return {
        "settings": A.index_settings(settings, analysis=False),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                KIND: keyword,
                OWNER: keyword,
                STATUS: keyword,
                CREATED_AT: date,
                UPDATED_AT: date,
                TOTAL: {"type": "integer"},
                DONE: {"type": "integer"},
                LEASE_OWNER: keyword,
                LEASE_UNTIL: date,
                ATTEMPTS: {"type": "integer"},
                PARAMS: {"type": "object", "enabled": False},
                RESULTS: {"type": "object", "enabled": False},
                NOTICES: {"type": "keyword", "index": False, "doc_values": False},
                ERROR: {"type": "text", "index": False},
                REQUEST_ID: keyword,
            },
        },
    }
