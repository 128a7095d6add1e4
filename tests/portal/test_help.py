"""The user guide at /help: Markdown from docs/guide rendered safely, under the strict CSP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from portal import guide
from portal.security.middleware import CSP


def test_help_lists_every_guide_and_renders_each(officer: TestClient) -> None:
    index = officer.get("/help")
    assert index.status_code == 200
    for g in guide.GUIDES:
        assert f'href="/help/{g.slug}"' in index.text
        page = officer.get(f"/help/{g.slug}")
        assert page.status_code == 200, g.slug
        assert page.headers["content-security-policy"] == CSP
        assert re.search(r"<h1>Lantern for [a-z]+</h1>", page.text), g.slug
        assert 'aria-current="page"' in page.text
        assert "<script>" not in page.text.split("</head>")[1]
        for src in re.findall(r'<img src="([^"]+)"', page.text):
            assert src.startswith("img/"), src  # relative: served from /help/img/
            img = officer.get(f"/help/{src}")
            assert img.status_code == 200 and img.headers["content-type"] == "image/png", src


def test_each_audience_gets_what_the_issue_asks_for(officer: TestClient) -> None:
    wants = {
        "officers": ["purpose", "date of birth", "identifier", "not shown"],
        "analysts": ["saved quer", "alert", "batch", "export", "chart"],
        "auditors": ["audit trail", "anomal", "lantern audit verify"],
        "administrators": ["install", "lantern users add", "force profile", "sizing", "snapshot", "migrate"],
    }
    for slug, words in wants.items():
        text = officer.get(f"/help/{slug}").text.lower()
        for w in words:
            assert w in text, (slug, w)


def test_markdown_is_rendered_without_raw_html_or_script_links() -> None:
    html = guide._markdown().render(
        "# T\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n"
    )
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript:' not in html


def test_unknown_guide_is_404_and_help_needs_sign_in(officer: TestClient, test_client: TestClient) -> None:
    assert officer.get("/help/nothing-here").status_code == 404
    assert officer.get("/help/..%2f..%2fREADME").status_code == 404
    res = test_client.get("/help")
    assert res.status_code == 303 and res.headers["location"].startswith("/login")
