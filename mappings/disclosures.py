"""The ``disclosures`` index: one document per record id disclosed to a user.

Written beside every audit event that shows record ids (search results, record and entity
pages, linked records, batch matches, export rows, notifications), so the auditor's "who
looked at X" is one term query on ``record_id`` however the record reached the user (an
export of 10,000 rows is 10,000 documents, not one event with a row count). ``audit_seq``
points at the hash-chained event (or manifest chunk) that holds the same id, which is the
tamper-evident copy; this index is the fast lookup.

Bound to the event, not only its sequence number: ``audit_hash`` is the hash of the event that
disclosed the record (and, but for a background job's manifest, part of the document's
``_id``). A portal request writes its event and its disclosures in one ``_bulk``; when another
process took that sequence number first, the event is refused (409) but its disclosures are
already created, naming a hash no event in the chain has. Those are orphans: "who looked at
X" and the export quota count only disclosures whose event is in the chain
(``lantern.disclosures``), and ``lantern audit verify`` reports them.

Append-only like the audit index, by the same guard (``mappings/audit.py``): the portal's
OpenSearch user may create disclosures but not overwrite, update or delete them, so "who
looked at X" cannot be thinned out with the portal's credentials.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings.audit import append_only_pipeline

NAME = "disclosures"
# 2: append-only (final pipeline); 3: ``audit_hash`` (disclosures bound to their event). An
# existing index moves with `lantern index migrate disclosures`; documents written before 3
# have no ``audit_hash`` and were written only once their event was in the chain.
VERSION = 3
APPEND_ONLY = True

RECORD_ID = "record_id"
USER = "user"
TS = "ts"
ACTION = "action"
AUDIT_SEQ = "audit_seq"
AUDIT_HASH = "audit_hash"
PURPOSE_CODE = "purpose_code"
PURPOSE_REFERENCE = "purpose_reference"
CLIENT = "client"
SESSION = "session"


def pipeline_name(settings: Settings) -> str:
    return f"{settings.index_name(NAME)}-append-only"


def pipelines(settings: Settings) -> dict[str, dict[str, Any]]:
    return {pipeline_name(settings): append_only_pipeline("disclosures")}


def body(settings: Settings) -> dict[str, Any]:
    return {
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
                RECORD_ID: {"type": "keyword"},
                USER: {"type": "keyword"},
                TS: {"type": "date"},
                ACTION: {"type": "keyword"},
                AUDIT_SEQ: {"type": "long"},
                AUDIT_HASH: {"type": "keyword"},
                PURPOSE_CODE: {"type": "keyword"},
                PURPOSE_REFERENCE: {"type": "keyword"},
                CLIENT: {"type": "keyword"},
                SESSION: {"type": "keyword"},
            },
        },
    }
