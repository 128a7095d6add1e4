"""Script-injection payloads in record data are rendered inert on every surface.

Records carry payloads in their title, narrative, people's names and aliases, vehicle
registrations, borough/unit/offence (facet values), handling conditions and intelligence
text; the search document is then edited directly (as another system's bad data could
arrive) to put payloads in the reference, the entity arrays and the entity mentions,
which the record model itself would not accept.

Each HTML response is parsed: the only scripts are same-origin files under /static/ with
no inline body, no element carries an event-handler attribute, no link or form points at
a ``javascript:``/``data:``/``vbscript:`` URL, no ``<img>``/``<iframe>``/``<svg>``/
``<object>`` appears, ``<mark>`` holds text only, and the payloads ARE there as text (so
the test cannot pass by dropping them). JSON is served as JSON, CSV as an attachment
with formula-looking cells neutralised, and every response carries the CSP.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from opensearchpy import OpenSearch

from alerts.percolation import forget_synced
from indexer.pipeline import index_records
from lantern import indices
from lantern.indices import forget_ensured
from lantern.records import parse_record, record_id
from lantern.settings import Settings
from lantern.users import create_user
from mappings import fields as F
from tests.portal_fixtures import PASSWORD, csrf_from, login, make_test_client, post_export

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(1)"
TEMPLATE = "{{7*7}}"
MARK = "</mark><script>alert(2)</script>"
QUOTE = "' onmouseover='alert(3)"
PAYLOADS = (SCRIPT, IMG, JS_URL, TEMPLATE, MARK, QUOTE)
TOKEN = "zqxsstoken"
FORMULA = '=HYPERLINK("http://example.com/x","click")'

CRIME_ID = record_id("XSS-CRIME", "X1")
INTEL_ID = record_id("XSS-INTEL", "X2")
PLAIN_ID = record_id("XSS-CRIME", "X3")

DANGEROUS_TAGS = {"img", "iframe", "svg", "object", "embed", "math", "frame", "frameset", "applet", "base"}
URL_ATTRS = {
    "href",
    "src",
    "action",
    "formaction",
    "xlink:href",
    "hx-get",
    "hx-post",
    "hx-put",
    "hx-delete",
    "hx-patch",
    "poster",
    "background",
    "data",
}
BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


def crime_record() -> dict[str, Any]:
    return {
        "record_type": "crime",
        "source_system": "XSS-CRIME",
        "source_id": "X1",
        "title": f"{TOKEN} burglary {SCRIPT} {IMG} {MARK}",
        "summary": f"{TOKEN} summary {TEMPLATE} {JS_URL} {QUOTE}",
        "created_at": "2024-03-02T10:00:00Z",
        "borough": f"Hackney {SCRIPT}",
        "unit": f"CID {IMG}",
        "people": [
            {
                "role": "suspect",
                "forename": "Mallory",
                "surname": f"Payload{SCRIPT}",
                "dob": "1980-01-01",
                "aliases": [JS_URL, IMG],
                "address": {"line1": IMG, "town": SCRIPT, "postcode": "E5 3HQ"},
            },
            {"role": "victim", "forename": TEMPLATE, "surname": f"Victim{IMG}"},
            {"role": "witness", "forename": "Wendy", "surname": f"Witness{MARK}", "phones": ["07700 900123"]},
        ],
        "vehicles": [{"vrm": f"AB12{SCRIPT}", "make": IMG}, {"vrm": "XS12 XSS", "make": "Ford"}],
        "crime_reference": "CR/654321/24",
        "offence": {"code": "28/3", "description": f"Burglary {SCRIPT}", "category": f"Burglary {IMG}"},
        "occurred_from": "2024-03-01T22:00:00Z",
        "location": {"line1": f"1 {IMG} Street", "town": "London", "postcode": "E5 3HQ"},
        "modus_operandi": (
            f"{TOKEN}: Mallory Payload drove XS12 XSS to E5 3HQ {SCRIPT} and called "
            f"07700 900123 {IMG}. Then {MARK} and {JS_URL} and {TEMPLATE} and {QUOTE}."
        ),
        "status": "under_investigation",
    }


def intel_record() -> dict[str, Any]:
    return {
        "record_type": "intel",
        "source_system": "XSS-INTEL",
        "source_id": "X2",
        "title": f"{TOKEN} intelligence {IMG}",
        "created_at": "2024-02-01T12:00:00Z",
        "people": [
            {"role": "subject", "forename": "Mallory", "surname": f"Payload{SCRIPT}", "dob": "1980-01-01"}
        ],
        "intel_reference": "IR/2024/654321",
        "created_by": {"name": f"PC {SCRIPT}", "rank": IMG},
        "grading": {"source_evaluation": "2", "intelligence_assessment": "B", "handling_code": "C"},
        "handling_conditions": f"Conditions {SCRIPT}",
        "intelligence_text": f"{TOKEN} subject uses XS12 XSS {SCRIPT} {MARK} {JS_URL}",
        "sanitised_text": f"Sanitised {IMG} {TEMPLATE}",
    }


def formula_record() -> dict[str, Any]:
    rec = crime_record()
    rec.update(
        source_id="X3",
        crime_reference="CR/654322/24",
        title=FORMULA,
        summary=f"{TOKEN} plain",
        people=[{"role": "suspect", "forename": "@SUM(1+1)", "surname": "-Minus"}],
    )
    return rec


def injected_fields() -> dict[str, Any]:
    """What another system's bad data could put in a search document, past the record model."""
    return {
        F.REFERENCE: f"REF{SCRIPT}",
        F.ENTITIES: {
            "person": ["Mallory PAYLOAD", SCRIPT, IMG, JS_URL],
            "vrm": ["XS12XSS", JS_URL, SCRIPT],
            "phone": ["+447700900123", IMG],
            "postcode": ["E5 3HQ", MARK],
            "weapon": [TEMPLATE],
        },
        F.MENTIONS: [
            {
                "field": "modus_operandi",
                "label": "PERSON",
                "start": 12,
                "end": 26,
                "text": "Mallory Payload",
                "value": JS_URL,
            },
            {
                "field": "modus_operandi",
                "label": "VRM",
                "start": 32,
                "end": 40,
                "text": "XS12 XSS",
                "value": IMG,
            },
            {
                "field": "modus_operandi",
                "label": f'ORG"{IMG}',
                "start": 44,
                "end": 50,
                "text": "E5 3HQ",
                "value": SCRIPT,
            },
        ],
    }


class Inertness(HTMLParser):
    """Collects what in a page could run, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.text: list[str] = []
        self._in_script = False
        self._in_mark = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        if self._in_mark:
            self.problems.append(f"<{tag}> inside <mark>")
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag} {values}>")
        if tag == "script":
            src = values.get("src", "")
            if not src.startswith("/static/"):
                self.problems.append(f"script without a same-origin src: {values}")
            self._in_script = True
        if tag == "mark":
            self._in_mark += 1
        if (
            tag == "meta"
            and values.get("http-equiv", "").lower() == "refresh"
            and "url" in values.get("content", "").lower()
        ):
            self.problems.append(f"meta refresh {values}")
        for name, value in values.items():
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            compact = "".join(value.split()).lower()
            if name in URL_ATTRS and compact.startswith(BAD_SCHEMES):
                self.problems.append(f"{name}={value!r} on <{tag}>")
            if name == "style" or name.startswith("hx-on"):
                self.problems.append(f"{name} attribute on <{tag}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False
        if tag == "mark":
            self._in_mark -= 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False
        if tag == "mark":
            self._in_mark = max(0, self._in_mark - 1)

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body {data[:80]!r}")
        self.text.append(data)


def check_html(res: Response, where: str, *, expect: tuple[str, ...] = ()) -> str:
    """Assert a page is inert; return its text. ``expect``: payloads that must show as text."""
    assert res.status_code == 200, (where, res.status_code, res.text[:300])
    assert res.headers["content-type"].startswith("text/html"), where
    check_headers(res, where)
    parser = Inertness()
    parser.feed(res.text)
    parser.close()
    assert not parser.problems, (where, parser.problems)
    text = "".join(parser.text)
    for payload in expect:
        assert payload.lower() in text.lower(), (where, payload)
    return text


def check_headers(res: Response, where: str) -> None:
    csp = res.headers.get("content-security-policy", "")
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == "script-src 'self'", (where, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (where, csp)
    assert "default-src" in directives and "object-src 'none'" in csp, (where, csp)
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", (where, csp)
    assert res.headers.get("x-content-type-options") == "nosniff", where


def check_json(res: Response, where: str, *, expect: tuple[str, ...] = ()) -> Any:
    assert res.status_code == 200, (where, res.status_code, res.text[:300])
    assert res.headers["content-type"].startswith("application/json"), where
    check_headers(res, where)
    body = res.json()
    flat = res.text
    for payload in expect:
        # Data, not markup: the payload comes back as a JSON string, served as JSON with nosniff.
        assert payload.replace('"', '\\"').lower() in flat.lower(), (where, payload)
    return body


@dataclass
class World:
    app: FastAPI
    settings: Settings
    web: TestClient
    other: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(settings: Settings, client: OpenSearch) -> Iterator[World]:
    xsettings = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}xss-"})
    indices.ensure_all(client, xsettings)  # `lantern index init`: the portal may not create indices
    create_user(
        client,
        xsettings,
        "xs-analyst",
        PASSWORD,
        roles=("analyst",),
        units=("INTEL",),
        clearances=("intel", "intel_c"),
        display_name="Xss Analyst",
    )
    forget_ensured()
    forget_synced()
    from portal.app import create_app

    app = create_app(xsettings)
    records = [parse_record(r) for r in (crime_record(), intel_record(), formula_record())]
    result = index_records(records, xsettings, client, extract_entities=True, refresh=True)
    assert result.ok, result.problems
    alias = xsettings.index_name("records")
    client.update(index=alias, id=CRIME_ID, body={"doc": injected_fields()}, refresh=True)
    with make_test_client(app) as tc:
        login(tc, "xs-analyst", PASSWORD, purpose="investigation", reference="CR/012345/24")
        yield World(app, xsettings, tc)


HX = {"HX-Request": "true", "HX-Target": "search-main"}


def test_search_page_with_highlighting(world: World) -> None:
    tc = world.web
    for q in (TOKEN, "burglary script alert", "Mallory Payload", "XS12 XSS", "mark script alert"):
        for headers in ({}, HX):
            res = tc.get("/search", params={"q": q}, headers=headers)
            where = f"/search {q!r} {headers}"
            text = check_html(res, where)
            assert "<mark>" in res.text or q.startswith("XS12"), where  # the highlighter ran
            assert SCRIPT in text or IMG in text, where
    text = check_html(tc.get("/search", params={"q": TOKEN}), "search", expect=(SCRIPT, IMG, MARK))
    assert f"Hackney {SCRIPT}" in text  # facet value shown as text
    assert "&lt;script&gt;" in tc.get("/search", params={"q": TOKEN}).text


def test_search_box_echoes_a_payload_query_as_text(world: World) -> None:
    for q in (*PAYLOADS, f"{TOKEN} {IMG}", f'name:"{SCRIPT}"', f"station:{IMG}"):
        for headers in ({}, HX):
            res = world.web.get("/search", params={"q": q}, headers=headers)
            check_html(res, f"/search {q!r}")
            for name in ("hx-push-url", "hx-replace-url"):
                if name in res.headers:
                    assert res.headers[name].startswith("/"), res.headers[name]
                    assert "<" not in res.headers[name] and '"' not in res.headers[name]
    # Facet selections with payloads (they come back in links and chips).
    res = world.web.get("/search", params={"q": TOKEN, "borough": f"Hackney {SCRIPT}", "offence": IMG})
    check_html(res, "facet selection", expect=(f"Hackney {SCRIPT}",))


def test_record_pages_with_entity_links(world: World) -> None:
    for rid in (CRIME_ID, INTEL_ID, PLAIN_ID):
        res = world.web.get(f"/records/{rid}")
        text = check_html(res, f"/records/{rid}")
        assert SCRIPT in text or IMG in text or rid == PLAIN_ID
    res = world.web.get(f"/records/{CRIME_ID}")
    text = check_html(res, "crime page", expect=(SCRIPT, IMG, MARK, TEMPLATE, JS_URL, f"REF{SCRIPT}"))
    # Mention links go to entity pages, whatever the mention's value.
    assert f'href="/entity/PERSON/{quote(JS_URL, safe="")}"' in res.text
    assert "Mallory Payload" in text
    res = world.web.get(f"/records/{INTEL_ID}")
    check_html(res, "intel page", expect=(f"Conditions {SCRIPT}", f"Sanitised {IMG} {TEMPLATE}", MARK))


def test_entity_pages(world: World) -> None:
    tc = world.web
    values = [
        ("PERSON", SCRIPT),
        ("PERSON", IMG),
        ("PERSON", JS_URL),
        ("PERSON", f"Mallory Payload{SCRIPT}"),
        ("VRM", JS_URL),
        ("VRM", SCRIPT),
        ("PHONE", IMG),
        ("POSTCODE", MARK),
        ("WEAPON", TEMPLATE),
        ("VRM", "XS12XSS"),
        ("POSTCODE", "E5 3HQ"),
    ]
    for label, value in values:
        res = tc.get(f"/entity/{label}/{quote(value, safe='')}", follow_redirects=True)
        check_html(res, f"entity {label} {value!r}")
        api = tc.get(f"/api/entities/{label}/{quote(value, safe='')}")
        check_json(api, f"api entity {label} {value!r}")
    # Co-occurring values (payloads in the entity arrays) are listed as text, linked inside the portal.
    res = tc.get("/entity/VRM/XS12XSS")
    text = check_html(res, "entity VRM XS12XSS", expect=(JS_URL,))
    assert SCRIPT in text


def test_suggestions(world: World) -> None:
    tc = world.web
    seen_payload = False
    for q in ("Mallory", "Mallory Pay", "<script", '"><img', "javascript:", "{{7", "AB12", "REF<"):
        res = tc.get("/suggest", params={"q": q})
        text = check_html(res, f"/suggest {q!r}")
        seen_payload |= "<script>" in text.lower() or "<img" in text.lower()
        check_json(tc.get("/api/suggest", params={"q": q}), f"/api/suggest {q!r}")
    assert seen_payload, "no suggestion carried a payload: the check proved nothing"


def test_api_serves_payloads_as_json(world: World) -> None:
    tc = world.web
    body = check_json(tc.get("/api/search", params={"q": TOKEN}), "api search", expect=(SCRIPT, IMG))
    assert {r["id"] for r in body["results"]} == {CRIME_ID, INTEL_ID, PLAIN_ID}
    body = check_json(tc.get(f"/api/records/{CRIME_ID}"), "api record", expect=(SCRIPT, IMG, MARK, JS_URL))
    assert body["reference"] == f"REF{SCRIPT}"


def test_csv_export_is_an_inert_attachment(world: World) -> None:
    res = post_export(world.web, {"q": TOKEN})
    assert res.status_code == 200
    check_headers(res, "export")
    assert res.headers["content-type"].startswith("text/csv")
    assert res.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(res.text.lstrip("\ufeff"))))
    by_id = {r["record_id"]: r for r in rows}
    assert set(by_id) == {CRIME_ID, INTEL_ID, PLAIN_ID}
    assert by_id[CRIME_ID]["title"] == crime_record()["title"]
    assert by_id[CRIME_ID]["reference"] == f"REF{SCRIPT}"
    assert by_id[PLAIN_ID]["title"] == "'" + FORMULA
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (r["record_id"], cell)


def test_batch_and_saved_query_pages(world: World) -> None:
    tc = world.web
    form = tc.get("/batch")
    res = tc.post(
        "/batch",
        data={
            "csrf_token": csrf_from(form.text),
            "text": "\n".join((TOKEN, *PAYLOADS)),
            "format": "lines",
            "dob_years": "0",
        },
    )
    check_html(res, "batch", expect=(SCRIPT, IMG))
    form = tc.get("/saved/new", params={"q": f"{TOKEN} {SCRIPT}"})
    check_html(form, "saved form")
    saved = tc.post(
        "/saved",
        data={
            "csrf_token": csrf_from(form.text),
            "name": f"Watch {IMG}",
            "notes": f"Notes {SCRIPT}",
            "shared_unit": "",
            "q": f"{TOKEN} {SCRIPT}",
        },
    )
    assert saved.status_code == 303, saved.text[:300]
    detail = tc.get(saved.headers["location"])
    check_html(detail, "saved detail", expect=(f"Watch {IMG}", f"Notes {SCRIPT}"))
    check_html(tc.get("/saved"), "saved list", expect=(f"Watch {IMG}",))
