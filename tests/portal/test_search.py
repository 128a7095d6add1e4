"""Search quality and safety against the real engine, through the portal (logged in, purpose set)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.portal.conftest import DOCUMENT_ID, FEATHER_PNC, IDS

RESULT_LINK = re.compile(r'<h2 class="result-title" id="r-([0-9a-f-]+)">')


def ids(tc: TestClient, q: str, **params: Any) -> list[str]:
    """Record ids on the first results page (API), in rank order."""
    res = tc.get("/api/search", params={"q": q, "size": 100, **params})
    assert res.status_code == 200, res.text
    return [r["id"] for r in res.json()["results"]]


def api(tc: TestClient, q: str, **params: Any) -> dict[str, Any]:
    res = tc.get("/api/search", params={"q": q, **params})
    assert res.status_code == 200, res.text
    return res.json()


# ------------------------------------------------------------------------------ names


@pytest.mark.parametrize("query", ["Jon Smyth", "john smith", "JOHN SMITH", "Smith, John", "Jhon Smith"])
def test_misspelt_name_finds_the_person(analyst: TestClient, query: str) -> None:
    assert IDS["crime"] in ids(analyst, query)[:5]


@pytest.mark.parametrize(
    "query",
    [
        "Johnathan Fetherstone",
        "Jonathon Featherstone",
        "jonathan featherstone",
        "Featherstone",
        "fetherstone",
    ],
)
def test_sound_alike_and_misspelt_surnames(analyst: TestClient, query: str) -> None:
    top = ids(analyst, query)[:5]
    assert IDS["custody"] in top and IDS["case"] in top


def test_exact_name_ranks_above_sound_alike(analyst: TestClient) -> None:
    ranked = ids(analyst, "Jonathan Featherstone")
    assert ranked.index(IDS["custody"]) < ranked.index(IDS["crime"])  # "Jon Fetherston" is a variant


def test_nickname_finds_the_formal_name_and_back(analyst: TestClient, officer: TestClient) -> None:
    # "Bill" finds William Quigley (recorded as William), and "William" finds Bill Thistlewood.
    assert IDS["intel_p"] in ids(analyst, "Bill Quigley")[:3]
    assert IDS["case"] in ids(officer, "Bill Quigley")[:3]
    assert IDS["crime"] in ids(officer, "William Thistlewood")[:3]
    assert IDS["crime"] in ids(officer, "Will Thistlewood")[:3]


# ------------------------------------------------------------------------ identifiers


@pytest.mark.parametrize("query", ["zx71qrs", "ZX71 QRS", "zx71 qrs", "vrm:zx71qrs", "vrm:ZX71 QRS"])
def test_vrm_typed_any_way_finds_records_that_wrote_it_with_a_space(officer: TestClient, query: str) -> None:
    # The crime record mentions "ZX71 QRS" only in its narrative (found by entity extraction).
    assert ids(officer, query)[0] == IDS["crime"]


@pytest.mark.parametrize(
    "query", ["07700900123", "07700 900 123", "+44 7700 900123", "+447700900123", "phone:07700900123"]
)
def test_phone_in_any_format(officer: TestClient, query: str) -> None:
    assert ids(officer, query)[0] == IDS["custody"]


def test_landline_in_another_format(officer: TestClient) -> None:
    assert IDS["crime"] in ids(officer, "+44 20 7946 0321")[:2]


@pytest.mark.parametrize("query", ["se114qt", "SE11 4QT", "se11 4qt", "postcode:se114qt"])
def test_postcode_in_any_spacing(officer: TestClient, query: str) -> None:
    assert IDS["crime"] in ids(officer, query)[:3]


@pytest.mark.parametrize("query", [FEATHER_PNC, FEATHER_PNC.replace("2003/", "03/"), f"pnc:{FEATHER_PNC}"])
def test_pnc_id_long_and_short(officer: TestClient, query: str) -> None:
    assert set(ids(officer, query)[:2]) == {IDS["custody"], IDS["case"]}


def test_identifier_ranks_first_among_words(officer: TestClient) -> None:
    assert ids(officer, "heroin AB12 CDE")[0] == IDS["custody"]


def test_reference_finds_the_record(officer: TestClient) -> None:
    assert ids(officer, "01MP/2024/091234") == [IDS["custody"]]
    # The record, then the document attached to it (documents carry their record's reference).
    assert ids(officer, "cr/098765/23") == [IDS["crime"], DOCUMENT_ID]


# ------------------------------------------------------------------------- dates of birth


def test_dob_narrows_to_the_person(officer: TestClient) -> None:
    assert IDS["crime"] in ids(officer, "Fetherston 12/03/1985")
    assert IDS["crime"] not in ids(officer, "Fetherston 12/03/1987")
    assert IDS["crime"] in ids(officer, "Fetherston 12/03/1987", dob_years=2)
    assert IDS["crime"] in ids(officer, "Fetherston 12/03/1987~2")
    assert IDS["crime"] in ids(officer, "Fetherston 1985-03-12")
    assert IDS["crime"] in ids(officer, "Fetherston 12.3.85")


def test_dob_must_belong_to_the_named_person(officer: TestClient) -> None:
    # John Smith (born 1979) is on the crime record, as is Jon Fetherston (born 1985).
    assert IDS["crime"] in ids(officer, "John Smith 30/08/1979")
    assert IDS["crime"] not in ids(officer, "Oddbody 12/03/1985")


# ------------------------------------------------------------------- text and operators


def test_phrase_and_boolean_operators(officer: TestClient) -> None:
    assert ids(officer, '"rear door forced"')[0] == IDS["crime"]
    assert IDS["crime"] not in ids(officer, '"door rear forced"')
    both = ids(officer, "Featherstone")
    assert IDS["case"] not in ids(officer, "Featherstone NOT type:case")
    assert IDS["case"] not in ids(officer, "Featherstone -type:case")
    assert set(ids(officer, "Quartermaine OR Thistlewood")) >= {IDS["crime"]}
    assert IDS["custody"] in both


def test_field_filters(officer: TestClient) -> None:
    assert ids(officer, "Featherstone type:custody") == [IDS["custody"]]
    assert ids(officer, "Featherstone station:brixton") == [IDS["custody"]]
    assert IDS["crime"] in ids(officer, "Featherstone offence:burglary")
    assert IDS["custody"] not in ids(officer, "Featherstone offence:burglary")
    assert IDS["crime"] in ids(officer, 'Featherstone status:"under investigation"')
    assert IDS["crime"] not in ids(officer, "Featherstone from:2024-01-01")
    assert IDS["custody"] in ids(officer, "Featherstone from:2024-01 to:2024-06")
    assert IDS["case"] in ids(officer, 'Featherstone court:"Camberwell Green"')


@pytest.mark.parametrize(
    "query",
    [
        '"unclosed',
        "((smith",
        "smith)",
        "AND",
        "OR OR",
        "NOT",
        "type:",
        "type:bogus",
        "foo:bar",
        "*",
        "?",
        "\\",
        "~",
        "smith^2",
        "title:(a OR b",
        "a" * 2000,
        "/[a-z]+/",
        '{"query": 1}',
        "name:",
        "dob:99/99/9999",
        "from:yesterday",
        "pnc:nonsense",
        "%00",
        "\x00",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "🙂",
        "а б в",
    ],
)
def test_malformed_queries_never_fail(officer: TestClient, query: str) -> None:
    res = officer.get("/search", params={"q": query})
    assert res.status_code == 200, res.text[:500]
    assert "<script>alert(1)</script>" not in res.text
    res = officer.get("/api/search", params={"q": query[:1000]})
    assert res.status_code == 200, res.text[:500]


def test_degraded_query_tells_the_user(officer: TestClient) -> None:
    body = api(officer, "((Featherstone")
    assert body["degraded"] and body["notices"]
    assert IDS["custody"] in [r["id"] for r in body["results"]]
    page = officer.get("/search", params={"q": "((Featherstone"})
    assert "could not be fully understood" in page.text


# ------------------------------------------------------------------------- results page


def test_results_page_shows_badges_facts_snippets_and_chips(officer: TestClient) -> None:
    res = officer.get("/search", params={"q": "heroin Featherstone"})
    assert res.status_code == 200
    html = res.text
    assert 'class="badge badge-custody"' in html
    assert "01MP/2024/091234" in html
    assert "Brixton Custody Suite" in html
    assert "<mark>heroin</mark>" in html
    assert 'href="/entity/VRM/AB12CDE"' in html
    assert f'href="/records/{IDS["custody"]}"' in html


def test_htmx_request_gets_only_the_results_fragment(officer: TestClient) -> None:
    res = officer.get(
        "/search", params={"q": "Featherstone"}, headers={"HX-Request": "true", "HX-Target": "search-main"}
    )
    assert res.status_code == 200
    assert res.text.lstrip().startswith('<div id="search-main"')
    assert "<html" not in res.text
    # A history restore gets the whole page.
    res = officer.get(
        "/search",
        params={"q": "Featherstone"},
        headers={"HX-Request": "true", "HX-Target": "search-main", "HX-History-Restore-Request": "true"},
    )
    assert "<html" in res.text


def test_facet_counts_and_disjunctive_selection(officer: TestClient) -> None:
    body = api(officer, "Featherstone")
    facets = {f["key"]: {v["value"]: v["count"] for v in f["values"]} for f in body["facets"]}
    assert facets["type"]["custody"] >= 1 and facets["type"]["case"] >= 1 and facets["type"]["crime"] >= 1
    assert sum(facets["type"].values()) == body["total"]
    chosen = api(officer, "Featherstone", type="custody")
    assert {r["record_type"] for r in chosen["results"]} == {"custody"}
    assert chosen["total"] == facets["type"]["custody"]
    chosen_facets = {
        f["key"]: {v["value"]: (v["count"], v["selected"]) for v in f["values"]} for f in chosen["facets"]
    }
    # Other types keep their counts, so the user can widen the selection.
    assert chosen_facets["type"]["case"] == (facets["type"]["case"], False)
    assert chosen_facets["type"]["custody"][1] is True
    both = api(officer, "Featherstone", type=["custody", "case"])
    assert both["total"] == facets["type"]["custody"] + facets["type"]["case"]


def test_entity_facets_and_year_facet(officer: TestClient) -> None:
    body = api(officer, "Featherstone")
    facets = {f["key"]: {v["value"]: v["count"] for v in f["values"]} for f in body["facets"]}
    assert facets["e_vrm"]["AB12CDE"] == 1
    assert "2024" in facets["year"]
    only_2023 = api(officer, "Featherstone", year="2023")
    assert [r["id"] for r in only_2023["results"]] == [IDS["crime"]]


def test_facet_links_toggle_in_the_page(officer: TestClient) -> None:
    html = officer.get("/search", params={"q": "Featherstone"}).text
    assert 'href="/search?q=Featherstone&amp;type=custody"' in html
    html = officer.get("/search", params={"q": "Featherstone", "type": "custody"}).text
    assert 'aria-checked="true"' in html
    assert 'href="/search?q=Featherstone"' in html  # untoggle


def test_sort_and_pagination(officer: TestClient) -> None:
    first = api(officer, "", type="crime", size=10, sort="newest")
    second = api(officer, "", type="crime", size=10, sort="newest", page=2)
    assert first["total"] > 20 and first["pages"] >= 3
    a, b = [r["id"] for r in first["results"]], [r["id"] for r in second["results"]]
    assert len(a) == len(b) == 10 and not set(a) & set(b)
    dates = [r["date"] for r in first["results"]]
    assert dates == sorted(dates, key=lambda d: (d[7:11], d[3:6], d[:2]), reverse=True) or len(set(dates)) > 1
    oldest = api(officer, "", type="crime", size=5, sort="oldest")
    assert oldest["results"][0]["id"] != first["results"][0]["id"]
    html = officer.get("/search", params={"type": "crime", "page": 2}).text
    assert 'aria-current="page">2<' in html
    assert 'rel="next"' in html and 'rel="prev"' in html
    # Absurd pages are clamped, not errors.
    assert officer.get("/search", params={"type": "crime", "page": "999999"}).status_code == 200
    assert officer.get("/search", params={"type": "crime", "page": "abc", "size": "-4"}).status_code == 200


# ----------------------------------------------------------------------------- access


SECRETS = {
    "Marchbanks": "intel_c",
    "Wolstenholme": "protected",
    "Ashdown-Voss": "cid_only",
    "Expiredson": "expired",
}


@pytest.mark.parametrize("word", sorted(SECRETS))
def test_officer_never_sees_restricted_records(officer: TestClient, word: str) -> None:
    body = api(officer, word)
    assert body["total"] == 0 and body["results"] == []
    assert all(not f["values"] for f in body["facets"]) or body["facets"] == []
    assert officer.get("/api/suggest", params={"q": word[:5]}).json() == []
    everything = api(officer, "", size=100)
    assert IDS[SECRETS[word]] not in {r["id"] for r in everything["results"]}
    facets = {f["key"]: {v["value"] for v in f["values"]} for f in everything["facets"]}
    assert "intel" not in facets.get("type", set())


def test_clearances_open_exactly_their_records(supervisor: TestClient, analyst: TestClient) -> None:
    assert ids(supervisor, "Wolstenholme") == [IDS["protected"]]
    assert ids(supervisor, "Ashdown-Voss") == [IDS["cid_only"]]
    assert ids(supervisor, "Marchbanks") == []  # handling code C needs intel_c
    assert IDS["intel_p"] in ids(supervisor, "Quigley")  # intel clearance, handling P
    assert ids(analyst, "Marchbanks") == [IDS["intel_c"]]
    assert ids(analyst, "Wolstenholme") == []
    assert ids(analyst, "Expiredson") == [] and ids(supervisor, "Expiredson") == []


def test_counts_and_facets_exclude_what_the_user_may_not_read(
    officer: TestClient, analyst: TestClient
) -> None:
    o = api(officer, "Quigley")
    a = api(analyst, "Quigley")
    assert o["total"] == a["total"] - 1
    o_types = {v["value"] for f in o["facets"] if f["key"] == "type" for v in f["values"]}
    assert "intel" not in o_types


def test_suggestions(officer: TestClient, analyst: TestClient) -> None:
    got = officer.get("/api/suggest", params={"q": "feath"}).json()
    assert any(s["text"].lower().startswith("jonathan feath") for s in got), got
    assert all(s["url"].startswith("/entity/") or s["url"].startswith("/search?") for s in got)
    got = officer.get("/api/suggest", params={"q": "ab12"}).json()
    assert {"text": "AB12CDE", "kind": "VRM", "url": "/entity/VRM/AB12CDE"} in got
    assert officer.get("/api/suggest", params={"q": "f"}).json() == []
    frag = officer.get("/suggest", params={"q": "feath"})
    assert frag.status_code == 200 and "/entity/PERSON/" in frag.text and "<html" not in frag.text
    assert any("Marchbanks" in s["text"] for s in analyst.get("/api/suggest", params={"q": "marchb"}).json())


# ------------------------------------------------------------------------------ audit


def test_search_is_audited_with_what_was_shown(portal_app: Any, officer: TestClient) -> None:
    body = api(officer, "Featherstone type:custody")
    events = [
        e
        for e in portal_app.state.security.audit.iter_events(
            {"bool": {"filter": [{"term": {"user": "officer"}}, {"term": {"action": "api.search"}}]}}
        )
    ]
    last = events[-1]
    assert last["details"]["query"] == "Featherstone type:custody"
    assert last["details"]["result_count"] == body["total"]
    assert last["details"]["shown_ids"] == [r["id"] for r in body["results"]]
    assert last["purpose_code"] == "investigation"
    officer.get("/search", params={"q": "Featherstone", "type": "case"})
    events = list(
        portal_app.state.security.audit.iter_events(
            {"bool": {"filter": [{"term": {"user": "officer"}}, {"term": {"action": "search"}}]}}
        )
    )
    assert events[-1]["details"]["filters"] == {"type": ["case"]}
    assert events[-1]["details"]["shown_ids"] == [IDS["case"]]


def test_search_needs_a_purpose(portal_app: Any, standard_users: Any) -> None:
    from tests.portal_fixtures import login, make_test_client

    with make_test_client(portal_app) as tc:
        login(tc, "officer", purpose=None)
        res = tc.get("/search", params={"q": "Featherstone"})
        assert res.status_code == 303 and res.headers["location"].startswith("/purpose")
        assert tc.get("/").status_code == 200  # the search page itself is fine
        assert tc.get("/api/search", params={"q": "x"}).status_code == 428
        res = tc.get(
            "/api/search",
            params={"q": "Featherstone"},
            headers={"X-Lantern-Purpose": "investigation;CR/012345/24"},
        )
        assert res.status_code == 200 and res.json()["total"] >= 1


# ------------------------------------------------------------ empty results (issue 11)


def test_empty_result_names_the_part_that_emptied_it(analyst: TestClient) -> None:
    # Nothing about Featherstone is dated 1901: the page says so and offers the search
    # without the year, with its count, as a link.
    assert ids(analyst, "Featherstone")
    page = analyst.get("/search", params={"q": "Featherstone 1901"})
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    m = re.search(r"No results with <q>1901</q>; <a href=\"([^\"]+)\">([\d,]+) results? without it</a>", text)
    assert m, text[:2000]
    assert "q=Featherstone" in m.group(1) and "1901" not in m.group(1)
    assert int(m.group(2).replace(",", "")) == len(ids(analyst, "Featherstone"))
