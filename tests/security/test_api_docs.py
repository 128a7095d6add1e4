"""Issue 13, finding 8: /api/docs is Swagger UI served by the portal (vendored), under the strict CSP."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient

from portal.security.middleware import CSP
from tests.portal_fixtures import login

ROOT = Path(__file__).resolve().parents[2]


def test_api_docs_are_served_from_the_portal(test_client: TestClient) -> None:
    assert test_client.get("/api/docs").status_code == 401  # signed-in users only, like the API
    login(test_client, "analyst")
    page = test_client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP and "unsafe-inline" not in CSP
    srcs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert all(s.startswith("/") for s in srcs), srcs  # nothing from another host
    assert "<script>" not in page.text and "onload=" not in page.text  # no inline script
    for asset in (
        "/static/vendor/swagger-ui/swagger-ui-bundle.js",
        "/static/vendor/swagger-ui/swagger-ui.css",
        "/static/api-docs.js",
    ):
        assert asset in srcs
        res = test_client.get(asset)
        assert res.status_code == 200 and len(res.content) > 500, asset
    assert 'data-openapi-url="/api/openapi.json"' in page.text
    assert test_client.get("/api/openapi.json").json()["info"]["title"] == "Lantern"


def test_swagger_ui_is_pinned_and_vendored_by_make_vendor() -> None:
    pkg = json.loads((ROOT / "package.json").read_text())
    version = pkg["dependencies"]["swagger-ui-dist"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)  # an exact pin
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/swagger-ui-dist"]["version"] == version
    assert "node_modules/swagger-ui-dist/swagger-ui-bundle.js" in (ROOT / "Makefile").read_text()
    bundle = (ROOT / "portal/static/vendor/swagger-ui/swagger-ui-bundle.js").read_text(encoding="utf-8")
    assert "SwaggerUIBundle" in bundle
