"""In a real browser: an officer searches a VRM that exists only inside a scanned page, opens
the hit, and lands on that page of the viewer with its image rendered and the VRM linked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opensearchpy import OpenSearch

from demo import documents as gen
from indexer.pipeline import index_records
from lantern.indices import ensure_all, forget_ensured
from lantern.records import parse_record
from lantern.settings import Settings
from lantern.users import create_user
from tests.indexer.conftest import crime
from tests.portal_fixtures import PASSWORD, serve

pytestmark = pytest.mark.browser

TIMEOUT = 20_000
VRM = "WN21 KHD"


@pytest.fixture(scope="module")
def docs_server(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser-docs")
    s = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}bdoc{uuid.uuid4().hex[:4]}-",
            "state_dir": root / "state",
            "documents_root": root / "documents",
            "attachments_root": root / "attachments",
        }
    )
    # `lantern index init` for this prefix: the portal's OpenSearch user may not create indices.
    ensure_all(client, s)
    (root / "attachments").mkdir()
    gen.mixed_pdf(
        root / "attachments" / "notebook.pdf",
        [
            "Continuation sheet.",
            ["POCKET NOTEBOOK", f"Stopped a silver Vauxhall Astra {VRM}", "on Mill Lane."],
        ],
        seed=11,
    )
    create_user(
        client, s, "bd-officer", PASSWORD, roles=("officer",), units=("RESPONSE",), display_name="PC B"
    )
    forget_ensured()
    rec = parse_record(
        crime(
            811,
            attachments=[
                {"path": "notebook.pdf", "title": "Pocket notebook (scanned)", "kind": "scanned_document"}
            ],
        )
    )
    assert index_records([rec], s, client, refresh=True).documents == 1
    from portal.app import create_app

    with serve(create_app(s)) as url:
        yield url


def test_officer_finds_a_vrm_in_a_scan_and_opens_its_page(
    browser: Any, docs_server: str, artifacts: Path
) -> None:
    context = browser.new_context(base_url=docs_server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        page.goto("/login")
        page.fill("#username", "bd-officer")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))
        page.goto("/purpose")
        page.check("#purpose-investigation")
        page.fill("#reference", "CR/012345/24")
        page.click("form.purpose-form button[type=submit]")
        page.wait_for_url(re.compile(r".*/$"))

        page.goto(f"/search?q={VRM.replace(' ', '')}")
        page.wait_for_selector("h2.result-title")
        assert "Scanned document, page 2" in page.inner_text("#search-main")
        with page.expect_response(re.compile(r".*/pages/2\.png$")) as image:
            page.click("h2.result-title a")
        page.wait_for_url(re.compile(r".*/documents/[^/?]+\?page=2$"))
        assert "Page 2 of 2" in page.inner_text("main")
        assert image.value.status == 200 and image.value.headers["content-type"] == "image/png"
        box = page.locator("figure.document-page img").bounding_box()
        assert box is not None and box["height"] > 300  # the page itself, not a broken-image icon
        link = page.locator("a.ent-vrm").first
        assert link.get_attribute("href") == "/entity/VRM/WN21KHD"
        page.screenshot(path=str(artifacts / "document-viewer.png"), full_page=True)
        assert problems == [], problems
    finally:
        context.close()
