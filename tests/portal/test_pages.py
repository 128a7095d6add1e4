"""Record detail pages, entity pages, the JSON API and the error table, against the real engine."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import RequestError

from search import gateway as service
from tests.portal.conftest import FEATHER_PNC, IDS


def text_of(html: str) -> str:
    """The page's text (entity links inside narratives split phrases with tags)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def audit_events(app: Any, user: str, action: str) -> list[dict[str, Any]]:
    return list(
        app.state.security.audit.iter_events(
            {"bool": {"filter": [{"term": {"user": user}}, {"term": {"action": action}}]}}
        )
    )


# ------------------------------------------------------------------------- detail pages


def test_custody_page(officer: TestClient, portal_app: Any) -> None:
    res = officer.get(f"/records/{IDS['custody']}")
    assert res.status_code == 200
    html = res.text
    for text in (
        "Detainee",
        "Jonathan Featherstone",
        "12 Mar 1985",
        FEATHER_PNC,
        "Arrest and detention",
        "Brixton Custody Suite",
        "Possession with intent to supply heroin",
        "Timeline",
        "Review (inspector 6h)",
        "Interview by Kate Dunmore",
        "Risk assessment",
        "Property",
        "Mobile phone, black",
        "<strong>Charged</strong>",  # the outcome, labelled by the force profile
    ):
        assert text in html, text
    # Extracted entities in the narrative are links.
    assert '<a class="ent ent-vrm" href="/entity/VRM/AB12CDE"' in html
    assert 'href="/entity/PHONE/%2B447700900123"' in html
    # Linked records: the case file (same PNC ID) and the crime (same DOB + sound-alike name).
    assert f'href="/records/{IDS["case"]}"' in html
    assert f'href="/records/{IDS["crime"]}"' in html
    assert f"same PNC ID {FEATHER_PNC}" in html
    last = audit_events(portal_app, "officer", "record.view")[-1]
    assert last["target"]["id"] == IDS["custody"] and last["target"]["reference"] == "01MP/2024/091234"


def test_crime_page(officer: TestClient) -> None:
    html = officer.get(f"/records/{IDS['crime']}").text
    for text in (
        "Classification",
        "Burglary - business and community",
        "Victims",
        "Priya Quartermaine",
        "Suspects",
        "Jon Fetherston",
        "Witnesses",
        "Modus operandi",
        "Rear door forced",
        "CCTV requested",
        "Under investigation",
    ):
        assert text in html, text
    assert 'href="/entity/VRM/ZX71QRS"' in html


def test_case_page(officer: TestClient) -> None:
    html = officer.get(f"/records/{IDS['case']}").text
    for text in (
        "Defendants",
        "Jonathon Featherston",
        "William Quigley",
        "Charges",
        "not guilty",
        "First appearance at Camberwell Green Magistrates&#39; Court",
        "Awaiting trial",
        "CPS",
    ):
        assert text in html, text
    assert f'href="/records/{IDS["custody"]}"' in html  # linked by PNC ID


def test_intel_page_full_text_for_analysts(analyst: TestClient) -> None:
    html = analyst.get(f"/records/{IDS['intel_c']}").text
    assert 'class="grade-code">2BC<' in html
    assert "Handling conditions:" in html and "Not to be disseminated" in html
    assert "keeps a firearm" in text_of(html)
    assert "Ottoline Marchbanks" in html


def test_intel_page_full_text_for_every_reader_with_sanitised_panel(supervisor: TestClient) -> None:
    res = supervisor.get(f"/records/{IDS['intel_p']}")
    assert res.status_code == 200
    html = res.text
    assert "2BP" in html
    # Readability is the one gate: a reader sees the full text, and the sanitised version
    # cleared for wider dissemination beside it.
    assert "Subject believed to be involved in supply in Lambeth." in text_of(html)
    assert "Sanitised text (for wider dissemination)" in html
    body = supervisor.get(f"/api/records/{IDS['intel_p']}").json()
    assert body["record"]["intelligence_text"]


def test_record_page_escapes_text(officer: TestClient) -> None:
    html = officer.get(f"/records/{IDS['case']}").text
    assert "Magistrates&#39; Court" in html and "Magistrates' Court" not in html


@pytest.mark.parametrize("who", ["officer", "supervisor"])
def test_unreadable_and_missing_records_answer_identically(
    request: pytest.FixtureRequest, portal_app: Any, who: str
) -> None:
    tc: TestClient = request.getfixturevalue(who)
    hidden = tc.get(f"/records/{IDS['intel_c']}")
    missing = tc.get(f"/records/{uuid.uuid4()}")
    expired = tc.get(f"/records/{IDS['expired']}")
    assert hidden.status_code == missing.status_code == expired.status_code == 404
    assert hidden.text == missing.text == expired.text
    assert "Ottoline" not in hidden.text
    api_hidden = tc.get(f"/api/records/{IDS['intel_c']}")
    api_missing = tc.get(f"/api/records/{uuid.uuid4()}")
    assert api_hidden.status_code == api_missing.status_code == 404
    assert api_hidden.json() == api_missing.json()
    denied = audit_events(portal_app, who, "record.denied")
    assert {e["target"]["id"] for e in denied} >= {IDS["intel_c"], IDS["expired"]}
    assert all(e["outcome"] == "not_found" for e in denied)


def test_linked_records_respect_access(officer: TestClient, analyst: TestClient) -> None:
    # The intel report shares ZX71 QRS with the crime: only intel readers see it linked.
    assert f'href="/records/{IDS["intel_p"]}"' in analyst.get(f"/records/{IDS['crime']}").text
    assert f'href="/records/{IDS["intel_p"]}"' not in officer.get(f"/records/{IDS['crime']}").text


# ------------------------------------------------------------------------- entity pages


def test_vrm_entity_page(officer: TestClient, portal_app: Any) -> None:
    res = officer.get("/entity/VRM/AB12CDE")
    assert res.status_code == 200
    html = res.text
    assert "AB12CDE" in html and "Vehicle" in html
    assert f'href="/records/{IDS["custody"]}"' in html
    assert "Timeline" in html and "2024-05" in html
    assert "Often appears with" in html and "/entity/PERSON/Jonathan%20FEATHERSTONE" in html
    last = audit_events(portal_app, "officer", "entity.view")[-1]
    assert last["target"] == {"label": "VRM", "value": "AB12CDE"}


def test_entity_urls_are_canonicalised(officer: TestClient) -> None:
    res = officer.get("/entity/vrm/ab12 cde")
    assert res.status_code == 303 and res.headers["location"] == "/entity/VRM/AB12CDE"
    res = officer.get("/entity/PHONE/07700 900123")
    assert res.status_code == 303 and res.headers["location"] == "/entity/PHONE/%2B447700900123"
    assert officer.get("/entity/BOGUS/x").status_code == 404


def test_identifier_with_slash(officer: TestClient) -> None:
    res = officer.get(f"/entity/PNC_ID/{FEATHER_PNC.replace('/', '%2F')}")
    assert res.status_code == 200
    assert f'href="/records/{IDS["custody"]}"' in res.text and f'href="/records/{IDS["case"]}"' in res.text


def test_person_page_groups_name_variants_and_says_why(officer: TestClient) -> None:
    res = officer.get("/entity/PERSON/Jonathan FEATHERSTONE")
    assert res.status_code == 200
    html = res.text
    assert "Treated as the same person" in html
    assert "Jonathon Featherston" in html and f"shares PNC ID {FEATHER_PNC}" in html
    assert "Jon Fetherston" in html and "same date of birth (1985-03-12) and a similar-sounding name" in html
    for key in ("custody", "case", "crime"):
        assert f'href="/records/{IDS[key]}"' in html, key


def test_entity_pages_leak_nothing(officer: TestClient, analyst: TestClient) -> None:
    res = officer.get("/api/entities/PERSON/Ottoline MARCHBANKS")
    assert res.status_code == 200
    body = res.json()
    assert body["total"] == 0 and body["records"] == []
    assert body["co_occurring"] == {} and body["variants"] == []
    assert analyst.get("/api/entities/PERSON/Ottoline MARCHBANKS").json()["total"] == 1
    # The crime's co-occurring entities for an officer do not include the intel report's phone.
    co = officer.get("/api/entities/VRM/ZX71QRS").json()["co_occurring"]
    assert "+447700900456" not in str(co)
    co = analyst.get("/api/entities/VRM/ZX71QRS").json()["co_occurring"]
    assert "+447700900456" in str(co)


# ---------------------------------------------------------------------------------- API


def test_api_search_shape(officer: TestClient) -> None:
    body = officer.get("/api/search", params={"q": "AB12 CDE"}).json()
    assert body["total"] == 1
    r = body["results"][0]
    assert r["id"] == IDS["custody"] and r["record_type"] == "custody"
    assert r["url"] == f"/records/{IDS['custody']}"
    assert {"label": "VRM", "value": "AB12CDE", "url": "/entity/VRM/AB12CDE"} in r["entities"]
    assert any(p["role"] == "detainee" for p in r["people"])


def test_api_record_and_entity(officer: TestClient, portal_app: Any) -> None:
    body = officer.get(f"/api/records/{IDS['custody']}").json()
    assert body["reference"] == "01MP/2024/091234"
    assert body["record"]["detainee"]["pnc_id"] == FEATHER_PNC
    assert {link["id"] for link in body["linked"]} >= {IDS["case"], IDS["crime"]}
    assert audit_events(portal_app, "officer", "api.record.view")[-1]["target"]["id"] == IDS["custody"]
    ent = officer.get("/api/entities/POSTCODE/se114qt").json()
    assert ent["value"] == "SE11 4QT" and IDS["crime"] in [r["id"] for r in ent["records"]]
    assert audit_events(portal_app, "officer", "api.entity.view")[-1]["target"]["value"] == "SE11 4QT"


def test_api_requires_sign_in(portal_app: Any) -> None:
    from tests.portal_fixtures import make_test_client

    with make_test_client(portal_app) as tc:
        assert tc.get("/api/search", params={"q": "x"}).status_code == 401
        assert tc.get(f"/api/records/{IDS['custody']}").status_code == 401
        assert tc.get("/search", params={"q": "x"}).status_code == 303


def test_openapi_documents_the_api(officer: TestClient) -> None:
    spec = officer.get("/api/openapi.json").json()
    for path in ("/api/search", "/api/records/{record_id}", "/api/entities/{label}/{value}", "/api/suggest"):
        assert path in spec["paths"], path
    assert "/search" not in spec["paths"]  # pages are not API


# --------------------------------------------------------------------------- error table


def test_missing_index_is_503(officer: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # A name the portal's OpenSearch role covers (a records alias), so the node answers 404.
    monkeypatch.setattr(service, "records_alias", lambda settings: f"{settings.index_prefix}missing-records")
    res = officer.get("/search", params={"q": "x"})
    assert res.status_code == 503 and "Search is not ready" in res.text and "Traceback" not in res.text
    res = officer.get("/api/search", params={"q": "x"})
    assert res.status_code == 503 and res.json()["error"] == "Search is not ready"


def test_engine_down_is_503_and_bad_query_is_400(
    officer: TestClient, portal_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = portal_app.state.client

    def down(*a: Any, **k: Any) -> None:
        raise OSConnectionError("N/A", "connection refused", None)

    # The engine is down for every kind of request (a search page with person cards is one _msearch).
    monkeypatch.setattr(client, "search", down)
    monkeypatch.setattr(client, "msearch", down)
    res = officer.get("/search", params={"q": "x"})
    assert res.status_code == 503 and "Search is unavailable" in res.text
    assert "connection refused" not in res.text
    htmx = {"HX-Request": "true", "HX-Target": "search-main"}
    res = officer.get("/search", params={"q": "x"}, headers=htmx)
    assert res.status_code == 503 and "<html" not in res.text and 'id="search-main"' in res.text

    def bad(*a: Any, **k: Any) -> None:
        raise RequestError(400, "search_phase_execution_exception", {"error": "parse"})

    monkeypatch.setattr(client, "search", bad)
    res = officer.get("/api/search", params={"q": "x"})
    assert res.status_code == 400 and res.json()["error"] == "That search could not be run"
    assert "search_phase_execution_exception" not in res.text


def test_audit_unavailable_refuses_the_action(
    officer: TestClient, portal_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lantern.errors import AuditUnavailable

    def broken(*a: Any, **k: Any) -> None:
        raise AuditUnavailable("audit index unreachable")

    monkeypatch.setattr(portal_app.state.security.audit, "record", broken)
    res = officer.get(f"/records/{IDS['custody']}")
    assert res.status_code == 503 and "audit unavailable" in res.text
    assert "Jonathan Featherstone" not in res.text
    res = officer.get("/api/search", params={"q": "Featherstone"})
    assert res.status_code == 503 and "Featherstone" not in str(res.json().get("detail"))
