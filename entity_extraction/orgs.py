"""Bank, payment-service and app names as ORG, before the model sees them.

The news-trained model reads fintech and app names as people ("Monzo", "Santander") or
places ("Halifax"); fraud and drugs narratives are full of them. The list is data
(``data/org_brands.txt``); names that are ordinary words or places need a cue nearby.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from entity_extraction.types import Label

_CUE = re.compile(
    r"\b(?:accounts?|bank(?:ing)?|app|apps|transfer(?:red|s)?|paid|payments?|card|wallet|"
    r"messag(?:e|ed|es|ing)|chats?|texted|via|through|using|on|contacted|sent|deposits?|"
    r"statements?|records?|loans?|building society)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _brands() -> tuple[re.Pattern[str], frozenset[str]]:
    path = Path(__file__).with_name("data") / "org_brands.txt"
    names: list[str] = []
    needs_cue: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("?"):
            line = line[1:]
            needs_cue.add(line)
        names.append(line)
    names.sort(key=len, reverse=True)  # longest first: "Uber Eats" before "Uber"
    alt = "|".join(re.escape(n) for n in names)
    return re.compile(rf"(?<![\w-])(?:{alt})(?![\w-])"), frozenset(needs_cue)


def find_orgs(text: str) -> Iterator[tuple[int, int, str, str]]:
    """``(start, end, ORG, name)`` for each bank/app name (cue-checked where ambiguous)."""
    rx, needs_cue = _brands()
    for m in rx.finditer(text):
        name = m.group(0)
        if name in needs_cue:
            window = text[max(0, m.start() - 40) : m.start()] + " " + text[m.end() : m.end() + 40]
            if not _CUE.search(window):
                continue
        yield m.start(), m.end(), Label.ORG, name
