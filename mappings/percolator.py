"""The ``percolator`` index: every active saved query's alert query, for matching new records.

The percolator parses a stored query against the mapping of its own index, so this index
carries the ``records`` field mappings (taken from ``mappings.records`` itself, never
copied, so they cannot drift) plus the percolator field and a little metadata. The
fingerprint of those record mappings is kept in ``_meta``; when it no longer matches the
current records definition, ``alerts.percolation.sync_percolator`` rebuilds the
index from the saved queries (the source of truth) and reports any query that no longer
registers.

Stored queries never include the access filter: access is per reader, and is applied to
each match (``search.access.can_read``) before anyone is notified.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from lantern.settings import Settings
from mappings import analysis as A
from mappings import records

NAME = "percolator"
VERSION = 2
# The layout of this index (not the records'): part of the fingerprint, so a change rebuilds.
LAYOUT = 2

QUERY = "alert_query"  # the percolator field
# The same query with every fuzzy clause made exact (alerts.queries.split_fuzzy): what the
# percolator runs when no fuzzy clause of the query can match anything in a batch.
QUERY_EXACT = "alert_query_exact"
META = "alert"  # object: which saved query this is
META_SAVED_ID = f"{META}.saved_id"
META_OWNER = f"{META}.owner"
META_SHARED_UNIT = f"{META}.shared_unit"
# The query's fuzzy clauses (alerts.queries.Fuzzy keys) and how many there are.
META_FUZZY = f"{META}.fuzzy"
META_FUZZY_N = f"{META}.fuzzy_n"


def records_fingerprint() -> str:
    """What a stored query depends on: the records field mappings and the analysis chain."""
    basis = {
        "mappings": records.mappings(),
        "analysis": A.ANALYSIS,
        "records_version": records.VERSION,
        "layout": LAYOUT,
    }
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def mappings() -> dict[str, Any]:
    rec = records.mappings()
    props: dict[str, Any] = dict(rec["properties"])
    clash = {QUERY, QUERY_EXACT, META} & set(props)
    if clash:
        raise RuntimeError(f"percolator metadata fields clash with records fields: {sorted(clash)}")
    props[QUERY] = {"type": "percolator"}
    props[QUERY_EXACT] = {"type": "percolator"}
    props[META] = {
        "type": "object",
        "dynamic": "strict",
        "properties": {
            "saved_id": {"type": "keyword"},
            "owner": {"type": "keyword"},
            "shared_unit": {"type": "keyword"},
            "fuzzy": {"type": "keyword"},
            "fuzzy_n": {"type": "integer"},
        },
    }
    return {"dynamic": "strict", "_meta": {"records_fingerprint": records_fingerprint()}, "properties": props}


def body(settings: Settings) -> dict[str, Any]:
    return {"settings": A.index_settings(settings), "mappings": mappings()}
