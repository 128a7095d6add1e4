"""Deep-paging cursors and the search_after builder (pure: no engine)."""

from __future__ import annotations

import pytest

from mappings import fields as F
from search import builders as B
from search import cursor as C
from search.parser import parse
from search.urlstate import SearchState, from_params

KEY = b"k" * 32


def test_a_cursor_round_trips_and_is_bound_to_its_search() -> None:
    cur = C.Cursor(501, (1.5, 1700000000000, "rec-1"), "next", "pit-abc")
    token = C.encode(cur, key=KEY, search_key="q1")
    assert C.decode(token, key=KEY, search_key="q1") == cur
    with pytest.raises(C.BadCursor, match="another search"):
        C.decode(token, key=KEY, search_key="q2")
    with pytest.raises(C.BadCursor):
        C.decode(token, key=b"x" * 32, search_key="q1")
    payload, _, mac = token.partition(".")
    forged = C.encode(C.Cursor(900, cur.after, "next", "other-pit"), key=b"x" * 32, search_key="q1")
    with pytest.raises(C.BadCursor):
        C.decode(forged.partition(".")[0] + "." + mac, key=KEY, search_key="q1")
    for junk in ("", ".", "abc", "abc.def", payload):
        with pytest.raises(C.BadCursor):
            C.decode(junk, key=KEY, search_key="q1")


def test_reverse_sort() -> None:
    sort = ["_score", {F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}]
    assert B.reverse_sort(sort) == [
        {"_score": {"order": "asc"}},
        {F.RECORD_DATE: {"order": "asc", "missing": "_first"}},
        {F.ID: {"order": "desc"}},
    ]
    assert B.reverse_sort(B.reverse_sort(sort))[1:] == [
        {F.RECORD_DATE: {"order": "desc", "missing": "_last"}},
        {F.ID: {"order": "asc"}},
    ]


def test_search_after_body() -> None:
    req = B.SearchRequest(parse("knife"), sort="newest", page=600, size=20)
    plain = B.build_search(req)
    body = B.build_search_after(req, (1700000000000, "rec-9"))
    assert "from" not in body and body["search_after"] == [1700000000000, "rec-9"]
    assert {k: v for k, v in body.items() if k != "search_after"} == {
        k: v for k, v in plain.items() if k != "from"
    }
    back = B.build_search_after(req, (1700000000000, "rec-9"), reverse=True)
    assert back["sort"] == B.reverse_sort(plain["sort"])


def test_the_cursor_is_url_state_and_dropped_by_any_other_link() -> None:
    state = from_params([("q", "knife"), ("page", "501"), ("after", "tok.mac")])
    assert state.after == "tok.mac" and state.page == 501
    assert state.href() == "/search?q=knife&page=501&after=tok.mac"
    assert "after" not in state.page_href(2) and "after" not in state.toggle("type", "crime")
    assert state.search_key() == SearchState(q="knife", page=3).search_key()
    assert state.search_key() != SearchState(q="knife", sort="newest").search_key()
