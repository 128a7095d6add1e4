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
        assert re.search(r"<h1>(Lantern for [a-z]+|Signing in to Lantern)</h1>", page.text), g.slug
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
    for path in ["/help", "/help/img/officer-search.png", "/help/nothing-here"] + [
        g.path for g in guide.GUIDES if not g.public
    ]:
        res = test_client.get(path)
        assert res.status_code == 303 and res.headers["location"].startswith("/login"), path


def test_signing_in_help_is_public_and_linked_from_the_sign_in_page(test_client: TestClient) -> None:
    """Someone who cannot sign in can read how to (the one public guide); nothing else opens."""
    assert [g.slug for g in guide.GUIDES if g.public] == ["signing-in"]
    login = test_client.get("/login")
    assert 'href="/help/signing-in"' in login.text
    assert 'href="/help"' not in login.text  # the footer's Help goes to the public page too
    page = test_client.get("/help/signing-in")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "<h1>Signing in to Lantern</h1>" in page.text
    for words in ("administrator", "paused", "signed out", "/accessibility"):
        assert words in page.text, words
    # Signed out, the guide's navigation lists no guide that would only send you to sign in.
    nav = page.text.split('aria-label="User guide"')[1].split("</nav>")[0]
    assert re.findall(r'href="(/help[^"]*)"', nav) == ["/help/signing-in"]


def test_signed_in_help_lists_the_public_guide_with_the_others(officer: TestClient) -> None:
    index = officer.get("/help")
    for g in guide.GUIDES:
        assert f'href="{g.path}"' in index.text
    page = officer.get("/help/signing-in")
    assert page.status_code == 200
    nav = page.text.split('aria-label="User guide"')[1].split("</nav>")[0]
    assert set(re.findall(r'href="(/help/[^"]+)"', nav)) == {g.path for g in guide.GUIDES}
    assert 'href="/help"' in page.text  # the footer's Help, signed in
