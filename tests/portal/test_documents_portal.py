"""Documents in the portal: search hits on their page, the viewer, page images, the audited
download, the admin status page, and leak probes on every surface for a restricted record's
document (a scanned page whose VRM and code word exist nowhere else).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from demo import documents as gen
from documents.store import sha256_file
from indexer.pipeline import index_records
from lantern.indices import ensure_all, forget_ensured
from lantern.records import attachment_id, parse_record
from lantern.settings import Settings
from lantern.users import create_user
from tests.indexer.conftest import crime
from tests.portal_fixtures import PASSWORD, login, make_test_client

OPEN_VRM, SECRET_VRM = "KX19 LMN", "YB71 RPT"
SECRET_WORD = "zqbluefinch"  # typed on the restricted scan's first page only
USERS = {
    "doc-officer": (("officer",), ("RESPONSE",), ()),
    "doc-covert": (("officer",), ("RESPONSE", "SPECOPS"), ("covert",)),
    "doc-admin": (("admin",), ("ICT",), ()),
}


@dataclass
class World:
    settings: Settings
    web: dict[str, TestClient]
    open_id: str
    open_doc: str
    secret_id: str
    secret_doc: str
    scan_path: Path


@pytest.fixture(scope="module")
def world(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root = tmp_path_factory.mktemp("portal-docs")
    s = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}docs{uuid.uuid4().hex[:4]}-",
            "state_dir": root / "state",
            "documents_root": root / "documents",
            "attachments_root": root / "attachments",
        }
    )
    # `lantern index init` for this prefix: the portal's OpenSearch user may not create indices.
    ensure_all(client, s)
    (root / "attachments").mkdir()
    scan = gen.mixed_pdf(
        root / "attachments" / "open-scan.pdf",
        ["Covering note typed by the officer.", ["NOTEBOOK", f"Vehicle {OPEN_VRM} on Mill Lane"]],
        seed=3,
    )
    gen.mixed_pdf(
        root / "attachments" / "secret-scan.pdf",
        [f"Operation {SECRET_WORD} source log.", ["NOTEBOOK", f"Vehicle {SECRET_VRM} at the lock-up"]],
        seed=4,
    )
    for name, (roles, units, clearances) in USERS.items():
        create_user(
            client, s, name, PASSWORD, roles=roles, units=units, clearances=clearances, display_name=name
        )
    forget_ensured()
    open_rec = parse_record(
        crime(
            801,
            attachments=[{"path": "open-scan.pdf", "title": "Notebook scan", "kind": "scanned_document"}],
        )
    )
    secret_rec = parse_record(
        crime(
            802,
            title="Covert tasking record",
            markings={"restricted_units": ["SPECOPS"], "sensitivity": ["covert"]},
            attachments=[{"path": "secret-scan.pdf", "title": "Source log", "kind": "scanned_document"}],
        )
    )
    result = index_records([open_rec, secret_rec], s, client, refresh=True)
    assert result.ok and result.documents == 2, result.problems
    from portal.app import create_app

    app = create_app(s)
    with ExitStack() as stack:
        web = {}
        for name in USERS:
            tc = stack.enter_context(make_test_client(app))
            login(tc, name, PASSWORD)
            web[name] = tc
        yield World(
            s,
            web,
            open_rec.record_id,
            attachment_id(open_rec.record_id, "open-scan.pdf"),
            secret_rec.record_id,
            attachment_id(secret_rec.record_id, "secret-scan.pdf"),
            scan,
        )


def _clean(text: str, where: str, echoed: str = "") -> None:
    """Nothing of the secret document in ``text``, apart from the user's own query echoed back."""
    if echoed:
        text = text.replace(echoed, "").replace(quote_plus(echoed), "").replace(quote(echoed, safe=""), "")
    for secret in (SECRET_VRM, SECRET_VRM.replace(" ", ""), SECRET_WORD, "Source log", "Covert tasking"):
        assert secret not in text, f"{secret!r} leaked in {where}"


def test_search_finds_a_vrm_in_a_scan_and_opens_its_page(world: World) -> None:
    tc = world.web["doc-officer"]
    page = tc.get("/search", params={"q": OPEN_VRM.replace(" ", "")})
    assert page.status_code == 200
    assert "Scanned document, page 2" in page.text
    href = f"/documents/{quote(world.open_doc, safe='')}?page=2"
    assert href in page.text
    viewer = tc.get(href)
    assert viewer.status_code == 200
    assert "Page 2 of 2" in viewer.text and "read by OCR" in viewer.text
    assert "/entity/VRM/KX19LMN" in viewer.text  # the OCR'd VRM is linked to its entity page
    png = tc.get(f"/documents/{quote(world.open_doc, safe='')}/pages/2.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    original = tc.get(f"/documents/{quote(world.open_doc, safe='')}/original")
    assert original.status_code == 200
    assert original.content == world.scan_path.read_bytes()
    assert "attachment" in original.headers["content-disposition"]
    record = tc.get(f"/records/{quote(world.open_id, safe='')}")
    assert record.status_code == 200 and "Notebook scan" in record.text


def test_views_and_downloads_are_audited(world: World, client: OpenSearch) -> None:
    tc = world.web["doc-officer"]
    tc.get(f"/documents/{quote(world.open_doc, safe='')}")
    tc.get(f"/documents/{quote(world.open_doc, safe='')}/original")
    audit_alias = world.settings.index_name("audit")
    client.indices.refresh(index=audit_alias)
    hits = client.search(index=audit_alias, body={"query": {"term": {"user": "doc-officer"}}, "size": 200})[
        "hits"
    ]["hits"]
    actions = [h["_source"].get("action") for h in hits]
    assert "document.view" in actions and "document.download" in actions
    download = next(h["_source"] for h in hits if h["_source"].get("action") == "document.download")
    assert download["target"]["sha256"] == sha256_file(world.scan_path)
    assert download.get("purpose_code") == "investigation"


@pytest.mark.parametrize("user", ["doc-officer", "doc-covert"])
def test_restricted_records_document_never_appears_for_an_uncleared_user(world: World, user: str) -> None:
    tc = world.web[user]
    cleared = user == "doc-covert"
    doc = quote(world.secret_doc, safe="")
    surfaces = {
        "search vrm": tc.get("/search", params={"q": SECRET_VRM}),
        "search word": tc.get("/search", params={"q": SECRET_WORD}),
        "api search": tc.get("/api/search", params={"q": SECRET_VRM.replace(" ", "")}),
        "api suggest": tc.get("/api/suggest", params={"q": SECRET_VRM[:4]}),
        "entity": tc.get(f"/entity/VRM/{SECRET_VRM.replace(' ', '')}"),
        "viewer": tc.get(f"/documents/{doc}"),
        "page 2": tc.get(f"/documents/{doc}?page=2"),
        "image": tc.get(f"/documents/{doc}/pages/2.png"),
        "original": tc.get(f"/documents/{doc}/original"),
        "record": tc.get(f"/records/{quote(world.secret_id, safe='')}"),
        "as record": tc.get(f"/records/{doc}"),
        "export": tc.get("/export", params={"q": SECRET_WORD}),
    }
    if cleared:
        assert surfaces["viewer"].status_code == 200 and SECRET_WORD in surfaces["viewer"].text
        assert "Source log" in surfaces["search vrm"].text
        assert surfaces["image"].content.startswith(b"\x89PNG")
        return
    for name in ("viewer", "page 2", "image", "original", "record", "as record"):
        assert surfaces[name].status_code == 404, name
    echoes = {
        "search vrm": SECRET_VRM,
        "search word": SECRET_WORD,
        "api search": SECRET_VRM.replace(" ", ""),
        "entity": SECRET_VRM.replace(" ", ""),
        "export": SECRET_WORD,
    }
    for name, res in surfaces.items():
        _clean(res.text, name, echoes.get(name, ""))
        assert world.secret_doc not in res.text and world.secret_id not in res.text, name


def test_admin_page_shows_status_and_is_admin_only(world: World) -> None:
    page = world.web["doc-admin"].get("/admin/documents")
    assert page.status_code == 200
    assert "Documents by status" in page.text and "No failed documents." in page.text
    assert world.web["doc-officer"].get("/admin/documents").status_code == 403
