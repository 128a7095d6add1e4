"""The ``person_decisions`` index: human "same person" / "not the same person" assertions.

Decisions are primary data (not derived): every rebuild reads them and applies them as
must-link / cannot-link between the two mentions; the latest decision on a pair wins.
"""

from __future__ import annotations

from typing import Any, Final

from lantern.settings import Settings
from mappings import analysis as A

NAME = "person_decisions"
VERSION = 1

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


def body(settings: Settings) -> dict[str, Any]:
    return {"settings": A.index_settings(settings, analysis=False), "mappings": mappings()}
