"""The ``ratelimits`` index: per-user rate-limit windows shared by every portal process.

One document per limit and user (the ``limits`` package's key, e.g.
``LIMITER/search/anl/60/1/minute``): the times of the hits inside the moving window
(``entries``, epoch seconds), or a fixed-window counter (``count``), and when the document
stops mattering (``expires_at``, for the purge). A document of several moving windows
(``acquire_windows``) uses ``count`` for the size of the last lease it granted, which the
scripted update returns to the portal that asked. Updated only by a painless script in one
conditional update, so two processes counting at once never lose a hit.

Asynchronous translog (``index.translog.durability: async``): the one write a search makes
before its query (a scripted upsert here, shared by every portal process) no longer waits for
an fsync of the translog; the engine fsyncs it every ``sync_interval`` (5 s) instead. Measured
interleaved on the loaded 2-core test machine (README, "What the audit and the limits cost per
action"): 80-83 ms p50 with the default per-request fsync, 58-65 ms async. What is traded:
if a node crashes (the process or the host, not a clean stop), the hits counted in the last
few seconds are lost, so a user may get that many requests more in the current window. These
counters are ephemeral throttling state, not a record of anything: the audit trail and the
disclosures, which are, keep the per-request fsync (``mappings/audit.py``,
``mappings/disclosures.py``). Replicas still receive every write before it is acknowledged.
"""

from __future__ import annotations

from typing import Any

from lantern.settings import Settings

NAME = "ratelimits"
# 2: asynchronous translog. The setting is dynamic, so `lantern index migrate ratelimits`
# (or a PUT _settings) moves an existing index; until then it keeps fsyncing each hit.
VERSION = 2
TRANSLOG_SYNC_INTERVAL = "5s"

ENTRIES = "entries"
COUNT = "count"
EXPIRES_AT = "expires_at"


def body(settings: Settings) -> dict[str, Any]:
    return {
        "settings": {
            "index": {
                "number_of_shards": 1,
                "number_of_replicas": settings.index_replicas,
                "translog": {"durability": "async", "sync_interval": TRANSLOG_SYNC_INTERVAL},
            }
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                ENTRIES: {"type": "double", "index": False, "doc_values": False},
                COUNT: {"type": "integer", "index": False, "doc_values": False},
                EXPIRES_AT: {"type": "double"},
            },
        },
    }
