"""Validation of raw rows, with errors a data-migration person can act on.

Each error is ``{"loc": "people[0].dob", "msg": "..."}`` (plus ``"column"`` when the row
came from a CSV column). pydantic's own wording is kept where it is already clear and
replaced where it talks about its internals (discriminators, tagged unions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from lantern.profile import ForceProfile
from lantern.records import NOT_RECORDABLE, NOT_RECORDED, AnyRecord, RecordType, parse_record

RECORD_TYPES = ", ".join(t.value for t in RecordType)

_NOT_RECORDABLE_TOP = {(t.value, f) for t, fields in NOT_RECORDABLE.items() for f in fields}


def loc_to_path(loc: tuple[Any, ...]) -> str:
    """``('people', 0, 'dob')`` -> ``people[0].dob``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _message(err: Mapping[str, Any]) -> str:
    kind = err.get("type", "")
    given = err.get("input")
    if kind == "missing":
        loc = tuple(err.get("loc", ()))
        if len(loc) == 2 and (loc[0], loc[1]) in _NOT_RECORDABLE_TOP:
            return (
                f"required field is missing; if the source system never recorded it, "
                f'send null or "{NOT_RECORDED}"'
            )
        return "required field is missing"
    if kind == "extra_forbidden":
        return f"unknown field (not part of the record model); value {_short(given)}"
    if kind == "union_tag_not_found":
        return f"record_type is missing: it must be one of {RECORD_TYPES}"
    if kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", given)
        return f"record_type {tag!r} is not one of {RECORD_TYPES}"
    if kind == "model_type" or kind == "dict_type":
        return f"expected an object with named fields, got {_short(given)}"
    if kind == "string_pattern_mismatch":
        return f"{_short(given)} is not in the expected format (pattern {err.get('ctx', {}).get('pattern')})"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ")
    if given is None or isinstance(given, dict | list):
        return msg
    return f"{msg} (got {_short(given)})"


def format_errors(
    exc: ValidationError, column_for: Callable[[str], str | None] | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        # Tagged unions prefix the location with the tag ('crime', 'people', 0, ...).
        if loc and isinstance(loc[0], str) and loc[0] in {t.value for t in RecordType}:
            loc = loc[1:]
        if err.get("type", "").startswith("union_tag"):
            loc = ("record_type",)
        path = loc_to_path(loc) or "(record)"
        item: dict[str, Any] = {"loc": path, "msg": _message(err)}
        if column_for is not None:
            column = column_for(path)
            if column:
                item["column"] = column
        out.append(item)
    return out


def validate(
    data: dict[str, Any],
    column_for: Callable[[str], str | None] | None = None,
    profile: ForceProfile | None = None,
) -> tuple[AnyRecord | None, list[dict[str, Any]]]:
    try:
        return parse_record(data, profile), []
    except ValidationError as exc:
        return None, format_errors(exc, column_for)
