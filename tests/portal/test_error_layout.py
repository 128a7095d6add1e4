"""Error and outage answers use the portal's layout (header, skip link, footer), not bare text."""

from __future__ import annotations

from pydantic import AnyHttpUrl
from starlette.testclient import TestClient

from lantern.settings import Settings
from portal.security.middleware import SESSION_COOKIE
from tests.portal_fixtures import BASE_URL


def _is_portal_page(html: str) -> None:
    assert html.startswith("<!doctype html>")
    assert 'class="skip-link"' in html and 'class="site-header"' in html and 'class="site-footer"' in html


def test_outage_answer_is_a_portal_page(settings: Settings) -> None:
    from portal.app import create_app

    # A real client pointed at a closed port: the data store is down, nothing is mocked.
    down = settings.model_copy(update={"opensearch_hosts": [AnyHttpUrl("http://127.0.0.1:9")]})
    app = create_app(down)
    client = TestClient(app, base_url=BASE_URL, follow_redirects=False)
    client.cookies.set(SESSION_COOKIE, "some-session-token")
    res = client.get("/search?q=Featherstone")
    assert res.status_code == 503
    assert res.headers["content-type"].startswith("text/html")
    _is_portal_page(res.text)
    assert "Search is unavailable" in res.text
    api = client.get("/api/search?q=x")
    assert api.status_code == 503 and api.json()["error"] == "service unavailable"


def test_csrf_failure_is_a_portal_page(officer: TestClient) -> None:
    res = officer.post("/logout", data={})
    assert res.status_code == 403
    _is_portal_page(res.text)
    assert "CSRF check failed" in res.text


def test_not_found_is_a_portal_page(officer: TestClient) -> None:
    res = officer.get("/no-such-page")
    assert res.status_code == 404
    _is_portal_page(res.text)
