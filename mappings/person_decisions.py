"""The ``person_decisions`` index: human "same person" / "not the same person" assertions.

Decisions are primary data (not derived): every rebuild reads them and applies them as
must-link / cannot-link between the two mentions; the latest decision on a pair wins.

Append-only like the audit index, by the same guard (``mappings/audit.py``): a decision is
audited when made, so one overturned is a new decision, never an edit. Each decision has its
own id (made from the pair, the time and the decider), and the index's final pipeline refuses
every write but ``op_type=create``, so no credentials short of the admin's can rewrite what an
analyst decided.
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings
from mappings import analysis as A
from mappings.audit import append_only_pipeline

NAME = "person_decisions"
# 2: append-only (final pipeline); an existing index moves with `lantern index migrate person_decisions`.
VERSION = 2
APPEND_ONLY = True

ID: Final = "id"
MENTION_A: Final = "mention_a"
MENTION_B: Final = "mention_b"
RECORD_A: Final = "record_a"
RECORD_B: Final = "record_b"
SAME: Final = "same"  # True: same person; False: not the same person
REASON: Final = "reason"
BY: Final = "by"  # username
BY_ROLE: Final = "by_role"  # analyst | supervisor
AT: Final = "at"


def mappings() -> dict[str, Any]:
    kw = {"type": "keyword"}
    return {
        "dynamic": "strict",
        "properties": {
            ID: kw,
            MENTION_A: kw,
            MENTION_B: kw,
            RECORD_A: kw,
            RECORD_B: kw,
            SAME: {"type": "boolean"},
            REASON: {"type": "text"},
            BY: kw,
            BY_ROLE: kw,
            AT: {"type": "date"},
        },
    }


def pipeline_name(settings: Settings) -> str:
    return f"{settings.index_name(NAME)}-append-only"


def pipelines(settings: Settings) -> dict[str, dict[str, Any]]:
    return {pipeline_name(settings): append_only_pipeline("person decisions")}


def body(settings: Settings) -> dict[str, Any]:
    return {
        "settings": A.index_settings(settings, analysis=False, final_pipeline=pipeline_name(settings)),
        "mappings": mappings(),
    }
