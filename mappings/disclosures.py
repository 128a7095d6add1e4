"""The ``disclosures`` index: the record ids each audit event disclosed to a user.

Written beside every audit event that shows record ids (search results, record and entity
pages, linked records, batch matches, export rows, notifications), so the auditor's "who
looked at X" is one term query on ``record_ids`` however the record reached the user (an
export of 10,000 rows is ten manifest chunks of 1,000 ids, each listed here, not one event
with a row count). ``audit_seq`` points at the hash-chained event (or manifest chunk) that
holds the same ids, which is the tamper-evident copy; this index is the fast lookup.

One document per event (version 4), listing its ids, not one per (event, record id): a search
showing 20 results wrote 21 documents in its ``_bulk`` before, each through the append-only
pipeline, and that was about a third of the search's audit write (measured interleaved on
the test node: event + 20 documents 27 / 80 ms p50 / p95, event + 1 document 20 / 58 ms).
``rows`` is the number of ids, which the export quota sums.

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
# 2: append-only (final pipeline); 3: ``audit_hash`` (disclosures bound to their event);
# 4: one document per event listing ``record_ids`` (and ``rows``). An existing index moves
# with `lantern index migrate disclosures` (``REINDEX_SCRIPT`` turns a per-record document
# into a one-id list); documents written before 3 have no ``audit_hash`` and were written
# only once their event was in the chain.
VERSION = 4
APPEND_ONLY = True

RECORD_IDS = "record_ids"
ROWS = "rows"
LEGACY_RECORD_ID = "record_id"  # versions 1-3, one document per record id
USER = "user"
TS = "ts"
ACTION = "action"
AUDIT_SEQ = "audit_seq"
AUDIT_HASH = "audit_hash"
PURPOSE_CODE = "purpose_code"
PURPOSE_REFERENCE = "purpose_reference"
CLIENT = "client"
SESSION = "session"


# Run by ``lantern index migrate`` on every copied document (painless).
REINDEX_SCRIPT = (
    f"if (ctx._source.containsKey('{LEGACY_RECORD_ID}')) {{"
    f" def rid = ctx._source.remove('{LEGACY_RECORD_ID}');"
    f" ctx._source.{RECORD_IDS} = rid == null ? [] : [rid];"
    f" ctx._source.{ROWS} = rid == null ? 0 : 1;"
    " }"
)


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
                RECORD_IDS: {"type": "keyword"},
                ROWS: {"type": "integer"},
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
