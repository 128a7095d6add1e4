"""Where things are in an attached document's search document (``mappings.fields.DOCUMENT``).

The document's pages are joined into one ``text`` field; ``document.pages`` records each
page's span in it, and each mention's field is ``page.<n>``. These pure functions map a
highlight fragment, an offset or an identifier back to its page, for the search results and
the viewer alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mappings import fields as F

PAGE_FIELD_PREFIX = "page."


def page_field(number: int) -> str:
    return f"{PAGE_FIELD_PREFIX}{number}"


def page_of(source: Mapping[str, Any], offset: int) -> int | None:
    """Page number holding character ``offset`` of the document's text."""
    for page in (source.get(F.DOCUMENT) or {}).get(F.D_PAGES) or []:
        if int(page["start"]) <= offset <= int(page["end"]):
            return int(page["n"])
    return None


def page_for_fragment(source: Mapping[str, Any], fragment: str) -> int | None:
    """Page of a highlight fragment with its markers removed (highlighters return substrings)."""
    text = str(source.get(F.TEXT) or "")
    at = text.find(fragment.strip())
    return page_of(source, at) if at >= 0 and fragment.strip() else None


def mention_page(mention: Mapping[str, Any]) -> int | None:
    field = str(mention.get("field") or "")
    if field.startswith(PAGE_FIELD_PREFIX) and field[len(PAGE_FIELD_PREFIX) :].isdigit():
        return int(field[len(PAGE_FIELD_PREFIX) :])
    return None


def first_mention(source: Mapping[str, Any], values: Iterable[str]) -> Mapping[str, Any] | None:
    """The first mention whose canonical value is one of ``values`` (e.g. the VRM searched for)."""
    wanted = {v.upper() for v in values}
    if not wanted:
        return None
    mentions: list[Mapping[str, Any]] = list(source.get(F.MENTIONS) or [])
    for m in mentions:
        if str(m.get("value", "")).upper() in wanted and mention_page(m) is not None:
            return m
    return None


def page_text(source: Mapping[str, Any], number: int) -> str:
    text = str(source.get(F.TEXT) or "")
    for page in (source.get(F.DOCUMENT) or {}).get(F.D_PAGES) or []:
        if int(page["n"]) == number:
            return text[int(page["start"]) : int(page["end"])]
    return ""


def page_is_ocr(source: Mapping[str, Any], number: int) -> bool:
    for page in (source.get(F.DOCUMENT) or {}).get(F.D_PAGES) or []:
        if int(page["n"]) == number:
            return bool(page.get("ocr"))
    return False
