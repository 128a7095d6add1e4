"""The ``notifications`` index: new records matching a saved query, and saved-query problems.

A match notification is a *group*: one document per (saved query, recipient, matched batch)
listing the ids of the records that batch brought (``record_ids``), so a load writes one
document per query and recipient instead of one per record (the bench's 4,000 records and
1,000 queries: 50,901 per-record documents were most of the alert hook's cost). Its ``_id``
is derived from the saved query, the recipient and the sorted record ids (written with
``op_type=create``), so replaying the same batch creates nothing; before writing, the alert
hook drops the (saved query, recipient, record) already in an earlier group, so a record
indexed again never notifies twice. Nothing about a record is copied here but its id:
titles are read from the records index, as the recipient, when the notification is shown,
so a record the recipient can no longer read is never described.

Version 1 stored one record per document (``record_id``); ``REINDEX_SCRIPT`` turns those
into one-record groups when ``lantern index migrate notifications`` copies them.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings
from mappings import analysis as A

NAME = "notifications"
VERSION = 2

KIND_MATCH = "match"
KIND_INVALID_QUERY = "invalid_query"

RECIPIENT = "recipient"
KIND = "kind"
SAVED_QUERY_ID = "saved_query_id"
RECORD_IDS = "record_ids"
MESSAGE = "message"
READ = "read"
READ_AT = "read_at"
CREATED_AT = "created_at"
LEGACY_RECORD_ID = "record_id"  # version 1, per-record documents; gone after migration

# Run by ``lantern index migrate`` on every copied document (painless).
REINDEX_SCRIPT = (
    f"if (ctx._source.containsKey('{LEGACY_RECORD_ID}')) {{"
    f" def rid = ctx._source.remove('{LEGACY_RECORD_ID}');"
    f" if (rid != null && !ctx._source.containsKey('{RECORD_IDS}')) {{ ctx._source.{RECORD_IDS} = [rid]; }}"
    " }"
)


def body(settings: Settings) -> dict[str, Any]:
    keyword: dict[str, Any] = {"type": "keyword"}
    date: dict[str, Any] = {"type": "date"}
    return {
        "settings": A.index_settings(settings, analysis=False),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                RECIPIENT: keyword,
                KIND: keyword,  # match | invalid_query
                SAVED_QUERY_ID: keyword,
                RECORD_IDS: keyword,  # match groups: the batch's records, sorted
                MESSAGE: {"type": "text", "index": False},
                READ: {"type": "boolean"},
                READ_AT: date,
                CREATED_AT: date,
            },
        },
    }
