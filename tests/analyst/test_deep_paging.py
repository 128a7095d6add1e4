"""Paging past the numbered window with ``search_after`` in a point in time, on the real engine.

OpenSearch's window is 10,000 results; these tests shrink the portal's window
(``search.builders.MAX_WINDOW``) to 20 so a few dozen records exercise the same path:
numbered pages up to the window, then cursor links, one page at a time, to the end.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from lantern.settings import Settings
from search import builders as B
from search import cursor as C
from tests.analyst.conftest import Loader, crime, signed_in, tag

N = 37
SIZE = 5
WINDOW = 20  # 4 numbered pages of 5; 37 results are 8 pages
RESULT_ID = re.compile(r'<h2 class="result-title" id="r-([^"]+)">')
PREV = re.compile(r'<a href="([^"]+)" rel="prev">')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')


@pytest.fixture
def small_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "MAX_WINDOW", WINDOW)


@pytest.fixture
def many(loader: Loader) -> str:
    t = tag()
    loader.load([crime(t) for _ in range(N)], alerts=False)
    return t


def api_walk(tc: TestClient, q: str, **params: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page from the first, following ``next``; the ids in order and each answer."""
    pages: list[dict[str, Any]] = []
    res = tc.get("/api/search", params={"q": q, "size": SIZE, **params})
    while True:
        assert res.status_code == 200, res.text
        pages.append(res.json())
        if not pages[-1]["next"]:
            break
        res = tc.get(pages[-1]["next"])
    return [r["id"] for p in pages for r in p["results"]], pages


def test_every_result_is_reached_once_in_order(
    analyst_app: FastAPI, many: str, small_window: None, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "anl")
    for sort in ("relevance", "newest"):
        walked, pages = api_walk(tc, many, sort=sort)
        assert len(walked) == N and len(set(walked)) == N, sort
        assert [p["page"] for p in pages] == list(range(1, 9))
        assert all(p["total"] == N and p["pages"] == 8 and p["capped"] for p in pages)
        # Numbered links inside the window, cursors past it.
        assert [("after=" in (p["next"] or "")) for p in pages] == [False] * 3 + [True] * 4 + [False]
        # The same order as one search that needs no paging.
        whole = tc.get("/api/search", params={"q": many, "size": 100, "sort": sort}).json()
        assert walked == [r["id"] for r in whole["results"]], sort


def test_html_pages_go_forward_and_back_past_the_window(
    analyst_app: FastAPI, many: str, small_window: None, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "anl")
    walked, _ = api_walk(tc, many, sort="newest")
    by_page = [walked[i : i + SIZE] for i in range(0, N, SIZE)]
    page = tc.get("/search", params={"q": many, "size": SIZE, "sort": "newest", "page": 4})
    assert RESULT_ID.findall(page.text) == by_page[3]
    assert "Page 4 of 8" in page.text and "pages are turned one at a time" in page.text
    seen = [4]
    # Forward to the last page through the cursor links...
    while match := NEXT.search(page.text):
        page = tc.get(html.unescape(match.group(1)))
        n = int(re.search(r"Page (\d+) of 8", page.text).group(1))  # type: ignore[union-attr]
        assert RESULT_ID.findall(page.text) == by_page[n - 1], n
        seen.append(n)
    assert seen == [4, 5, 6, 7, 8]
    # ...and back again: "Previous" reads the sort backwards from the first hit shown.
    while match := PREV.search(page.text):
        href = html.unescape(match.group(1))
        page = tc.get(href)
        found = re.search(r"Page (\d+) of 8", page.text) or re.search(
            r'aria-current="page">(\d+)<', page.text
        )
        assert found, page.text[:2000]
        n = int(found.group(1))
        assert RESULT_ID.findall(page.text) == by_page[n - 1], n
        seen.append(n)
    assert seen == [4, 5, 6, 7, 8, 7, 6, 5, 4, 3, 2, 1]


def test_an_expired_point_in_time_is_replaced(
    analyst_app: FastAPI, many: str, small_window: None, client: OpenSearch, asettings: Settings
) -> None:
    tc = signed_in(analyst_app, "anl")
    walked, pages = api_walk(tc, many)
    deep = pages[5]["next"]  # page 7, read from the point in time page 6 came from
    token = re.search(r"after=([^&]+)", deep).group(1)  # type: ignore[union-attr]
    state_key = f"{many}\n\nrelevance\n0\n{SIZE}"
    cursor = C.decode(token, key=asettings.secret_key.get_secret_value().encode(), search_key=state_key)
    assert cursor.page == 7 and cursor.pit
    client.delete_pit(body={"pit_id": [cursor.pit]})
    res = tc.get(deep)
    assert res.status_code == 200
    assert [r["id"] for r in res.json()["results"]] == walked[30:35]


def test_bad_cursors_and_pages_beyond_the_window_say_so(
    analyst_app: FastAPI, many: str, small_window: None
) -> None:
    tc = signed_in(analyst_app, "anl")
    _, pages = api_walk(tc, many)
    deep = pages[4]["next"]
    # Altered, or used for another search: refused with a notice, the first page shown.
    tampered = deep[:-3] + ("AAA" if not deep.endswith("AAA") else "BBB")
    res = tc.get(tampered).json()
    assert res["page"] == 1 and any("out of date" in n for n in res["notices"])
    other = tc.get(deep.replace(f"q={many}", "q=zzother")).json()
    assert other["page"] == 1 and any("another search" in n for n in other["notices"])
    # A page number past the window cannot be opened directly: the last numbered page is shown.
    page = tc.get("/search", params={"q": many, "size": SIZE, "page": 7})
    assert page.status_code == 200
    assert "Page 7 cannot be opened directly" in page.text and "Page 4 of 8" in page.text
