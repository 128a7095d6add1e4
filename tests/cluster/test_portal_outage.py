"""The portal while OpenSearch is unreachable: a clear 503 "search is unavailable" on every
page (no stack trace, no engine internals), recovery without a restart when it returns, and
audit fail-closed (a search whose audit event cannot be written is refused, not shown).

The network is cut by a proxy between the portal and the shared test node, so the node
itself keeps serving other tests.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from indexer.pipeline import index_records
from lantern import embedded, indices, search_client
from lantern.records import parse_record, record_id
from lantern.settings import Settings
from lantern.users import create_user
from mappings import audit as audit_index
from tests.cluster.proxy import CuttableProxy
from tests.indexer.conftest import crime
from tests.portal_fixtures import PASSWORD, login, make_test_client

pytestmark = pytest.mark.cluster

SURNAME = "Quillfeather"
LEAKS = ("Traceback", "opensearchpy", "ConnectionError", "urllib3", 'File "', "Errno", "127.0.0.1")


@pytest.fixture(scope="module")
def outage(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CuttableProxy, Settings]]:
    target = urlsplit(search_client.hosts(settings)[0])
    proxy = CuttableProxy(target.hostname or "127.0.0.1", target.port or 9200)
    state = tmp_path_factory.mktemp("outage")
    psettings = embedded.external_settings(settings, [proxy.url]).model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}outage-",
            "state_dir": state,
            "audit_head_file": state / "audit-head.log",
        }
    )
    # `lantern index init` for this prefix: the portal's OpenSearch user may not create indices.
    indices.ensure_all(client, psettings)
    create_user(
        client,
        psettings,
        "outage-analyst",
        PASSWORD,
        roles=["analyst"],
        units=["INTEL"],
        clearances=["intel", "intel_c"],
        display_name="Outage Analyst",
    )
    people = [{"role": "suspect", "forename": "Mirela", "surname": SURNAME, "dob": "1990-01-02"}]
    records = [parse_record(crime(n, people=people, title=f"Outage probe {n}")) for n in range(1, 4)]
    index_records(records, psettings, client, extract_entities=False, refresh=True)
    try:
        yield proxy, psettings
    finally:
        proxy.close()


@pytest.fixture
def portal(outage: tuple[CuttableProxy, Settings]) -> Iterator[tuple[TestClient, CuttableProxy, Settings]]:
    from portal.app import create_app

    proxy, psettings = outage
    proxy.restore()
    app = create_app(psettings)
    with make_test_client(app, raise_server_exceptions=False) as tc:
        login(tc, "outage-analyst", PASSWORD)
        yield tc, proxy, psettings
    proxy.restore()


def _assert_clean_unavailable(res: object, what: str) -> None:
    status = getattr(res, "status_code", None)
    text = getattr(res, "text", "")
    assert status == 503, f"{what}: HTTP {status}: {text[:300]}"
    assert "search is unavailable" in text.lower(), f"{what}: no clear message: {text[:300]}"
    for leak in LEAKS:
        assert leak not in text, f"{what} leaks {leak!r}: {text[:500]}"


def _wait_ok(tc: TestClient, url: str, timeout: float = 20) -> object:
    deadline = time.monotonic() + timeout
    while True:
        res = tc.get(url)
        if res.status_code == 200 or time.monotonic() > deadline:
            return res
        time.sleep(0.5)


def test_pages_answer_503_while_search_is_unreachable_and_recover(
    portal: tuple[TestClient, CuttableProxy, Settings],
) -> None:
    tc, proxy, _ = portal
    first = tc.get("/search", params={"q": SURNAME})
    assert first.status_code == 200 and "Outage probe 1" in first.text
    rid = record_id("TEST-CRIMES", "C-1")

    proxy.cut()
    pages = {
        "home": ("/", {}),
        "search page": ("/search", {"q": SURNAME}),
        "record page": (f"/records/{rid}", {}),
        "search fragment (htmx)": ("/search", {"q": SURNAME, "_hx": "1"}),
        "suggest": ("/suggest", {"q": SURNAME[:4]}),
    }
    for what, (url, params) in pages.items():
        headers = {"HX-Request": "true", "HX-Target": "search-main"} if "_hx" in params else {}
        params = {k: v for k, v in params.items() if k != "_hx"}
        _assert_clean_unavailable(tc.get(url, params=params, headers=headers), what)
    api = tc.get("/api/search", params={"q": SURNAME}, headers={"Accept": "application/json"})
    assert api.status_code == 503
    assert api.headers["content-type"].startswith("application/json")
    assert not any(leak in api.text for leak in LEAKS), api.text

    proxy.restore()  # no restart of anything: the same app and session carry on
    again = _wait_ok(tc, f"/search?q={SURNAME}")
    assert getattr(again, "status_code", None) == 200 and "Outage probe 1" in getattr(again, "text", "")
    record = tc.get(f"/records/{rid}")
    assert record.status_code == 200 and SURNAME.upper() in record.text.upper()


def test_search_is_refused_when_its_audit_event_cannot_be_written(
    portal: tuple[TestClient, CuttableProxy, Settings],
    client: OpenSearch,
) -> None:
    tc, _, psettings = portal
    assert tc.get("/search", params={"q": SURNAME}).status_code == 200
    audit_physical = indices.alias_targets(client, psettings.index_name(audit_index.NAME))
    assert audit_physical
    client.indices.put_settings(index=audit_physical, body={"index.blocks.write": True})
    try:
        refused = tc.get("/search", params={"q": SURNAME})
        assert refused.status_code == 503, refused.text[:300]
        assert "audit" in refused.text.lower()
        assert "Outage probe" not in refused.text  # nothing of the results is shown
        assert not any(leak in refused.text for leak in LEAKS), refused.text[:500]
        view = tc.get(f"/records/{record_id('TEST-CRIMES', 'C-2')}")
        assert view.status_code == 503 and "Outage probe 2" not in view.text
    finally:
        client.indices.put_settings(index=audit_physical, body={"index.blocks.write": None})
    ok = _wait_ok(tc, f"/search?q={SURNAME}")
    assert getattr(ok, "status_code", None) == 200
