"""Cursors for paging past the 10,000th result (``search_after`` in a point in time).

OpenSearch pages with ``from``/``size`` only inside ``index.max_result_window`` (10,000).
Beyond it the search page moves one page at a time: the "Next" link carries a cursor
holding the sort values of the last hit shown (``search_after``) and the point in time the
pages are read from; "Previous" carries the first hit's, read with the sort reversed. The
cursor lives in the URL (``after=``), so deep pages are bookmarkable and the back button
works; it is signed with the portal's secret key and bound to the search it came from, so
a cursor cannot be forged (a point-in-time id is an engine handle) or reused for another
search. A cursor whose point in time has expired still works: the next page is read from a
new one, continuing after the same sort values.

Pure functions; the key is passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Literal

Direction = Literal["next", "prev"]


class BadCursor(ValueError):
    """A cursor that was altered, belongs to another search, or cannot be read."""


@dataclass(frozen=True)
class Cursor:
    page: int  # the page this cursor opens
    after: tuple[Any, ...]  # sort values of the hit the page starts after (or before, for "prev")
    direction: Direction = "next"
    pit: str | None = None  # the point in time the previous page was read from


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, search_key: str, payload: str) -> str:
    return _b64(hmac.new(key, f"{search_key}\n{payload}".encode(), hashlib.sha256).digest()[:18])


def encode(cursor: Cursor, *, key: bytes, search_key: str) -> str:
    """``cursor`` as a URL-safe token bound to ``search_key`` (what identifies the search)."""
    payload = _b64(
        json.dumps(
            {"p": cursor.page, "a": list(cursor.after), "d": cursor.direction, "t": cursor.pit},
            separators=(",", ":"),
        ).encode()
    )
    return f"{payload}.{_mac(key, search_key, payload)}"


def decode(token: str, *, key: bytes, search_key: str) -> Cursor:
    """The cursor in ``token``; BadCursor if it was altered or belongs to another search."""
    payload, _, mac = token.partition(".")
    if not payload or not mac or not hmac.compare_digest(mac, _mac(key, search_key, payload)):
        raise BadCursor("this results link is out of date or belongs to another search")
    try:
        data = json.loads(_unb64(payload))
        page = int(data["p"])
        after = tuple(data["a"])
        direction = data["d"]
        pit = data.get("t")
    except (ValueError, KeyError, TypeError) as exc:
        raise BadCursor("this results link cannot be read") from exc
    if (
        page < 1
        or direction not in ("next", "prev")
        or not after
        or not (pit is None or isinstance(pit, str))
    ):
        raise BadCursor("this results link cannot be read")
    return Cursor(page, after, direction, pit)
