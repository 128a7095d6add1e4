"""Rules for courts, prisons, police forces (ORG) and named streets (LOCATION).

A street called ``Marlow Court`` is a LOCATION; ``Thames Magistrates' Court`` is an ORG.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from entity_extraction.types import Label

_CAPW = r"(?:[A-Z][a-z]+(?:['’]s)?|[A-Z][a-z]+-[A-Z][a-z]+|St\.?)"
_LEAD_STOP = frozenset(
    [
        "The",
        "A",
        "An",
        "And",
        "Or",
        "But",
        "On",
        "At",
        "In",
        "Of",
        "To",
        "From",
        "With",
        "By",
        "For",
        "Near",
        "Outside",
        "Opposite",
        "Behind",
        "Off",
        "Along",
        "Into",
        "He",
        "She",
        "They",
        "His",
        "Her",
        "Their",
        "It",
        "This",
        "That",
        "Then",
        "When",
        "While",
        "After",
        "Before",
        "At",
        "Officers",
        "Police",
        "Custody",
        "Vehicle",
        "Suspect",
        "Victim",
        "Witness",
        "Male",
        "Female",
        "Subject",
        "Nominal",
        "DP",
        "IP",
        "Mr",
        "Mrs",
        "Ms",
        "Miss",
        "Dr",
        "Via",
    ]
)

_COURT = re.compile(
    rf"(?<![\w'])(?:{_CAPW}\s+){{1,3}}(?:Magistrates['’]?\s+Court|Crown\s+Court|County\s+Court|"
    rf"Youth\s+Court|Family\s+Court|Coroner['’]?s\s+Court|Combined\s+Court|Civil\s+Justice\s+Centre)"
    r"|(?<![\w'])(?:HMP|HMYOI|HM\s+Prison)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?"
    r"|(?<![\w'])Royal\s+Courts\s+of\s+Justice|(?<![\w'])Old\s+Bailey"
    r"|(?<![\w'])Central\s+Criminal\s+Court"
)
_FORCE = re.compile(
    rf"(?<![\w'])(?:{_CAPW}\s+){{1,3}}(?:Police|Constabulary)(?:\s+Service)?(?![\w'])"
    r"|(?<![\w'])(?:British\s+Transport\s+Police|National\s+Crime\s+Agency|Crown\s+Prosecution"
    r"\s+Service|Border\s+Force|Probation\s+Service|Youth\s+Offending\s+(?:Team|Service)|"
    r"Victim\s+Support|Crimestoppers)(?![\w'])"
)
_STREET = re.compile(
    rf"(?<![\w'])(?:{_CAPW}\s+){{1,3}}(?:Road|Street|Lane|Avenue|Close|Way|Drive|Crescent|"
    r"Gardens|Place|Square|Terrace|Grove|Walk|Mews|Row|Parade|Rise|Court|Estate|Park|"
    r"Broadway|Boulevard|Hill|Green)(?![\w'])"
)


def _strip_lead(text: str, s: int, e: int) -> int | None:
    """Drop leading stop words; None when nothing but the suffix is left."""
    while True:
        m = re.match(r"(\S+)\s+", text[s:e])
        if not m:
            return None
        if m.group(1) in _LEAD_STOP:
            s += m.end()
            continue
        return s


def find_places(text: str) -> Iterator[tuple[int, int, str, str]]:
    """Yield ``(start, end, label, value)``; courts before streets (``... Court``)."""
    for rx, label in ((_COURT, Label.ORG), (_FORCE, Label.ORG), (_STREET, Label.LOCATION)):
        for m in rx.finditer(text):
            s, e = m.start(), m.end()
            if not m.group(0).startswith(("HMP", "HMYOI", "HM ")):
                s2 = _strip_lead(text, s, e)
                if s2 is None:
                    continue
                s = s2
            yield s, e, label, " ".join(text[s:e].split())
