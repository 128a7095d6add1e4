"""The leak matrix: users x restricted records, over every surface that shows records.

A small index of its own (a sub-prefix of the run's prefix) holds two unrestricted crime
reports and one record per access marking. Every record shares a person (same name, DOB
and PNC ID), a VRM, a phone, a postcode and a free-text token, so a search for any of
them reaches every record; every restricted record also carries its own secrets (title
word, narrative word, a person recorded under another name with the shared PNC ID, a
VRM, a phone, a postcode) that exist nowhere else.

For each user the expected set is computed independently: the same query run with no
access filter, then kept where :func:`search.access.can_read` says yes. Every surface
must show exactly that set (so the tests fail both ways), and nothing of an unreadable
record (id, reference, title, secret words, identifiers) may appear in any response.
"""

from __future__ import annotations

import csv
import io
import math
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opensearchpy import OpenSearch

from alerts.notifications import NotificationStore, _badge_cache
from alerts.percolation import AlertHook, Directory, forget_synced
from entity_extraction import canonicalise
from entity_extraction.identifiers import pnc_check_letter
from indexer.pipeline import index_records
from lantern import gazetteer, indices
from lantern.clock import today_utc
from lantern.indices import forget_ensured
from lantern.principal import Principal
from lantern.records import parse_record, record_id
from lantern.settings import Settings
from lantern.users import create_user
from portal.chart import person_key as chart_person_key
from portal.present import facet_views
from portal.routes.search import search_request
from search import builders as B
from search.access import can_read
from search.gateway import SecuredRecords
from search.places import place_lookup
from search.urlstate import from_params
from tests.portal_fixtures import PASSWORD, csrf_from, login, make_test_client, post_export

# username -> (roles, units, clearances)
USERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "lk-officer": (("officer",), ("RESPONSE",), ()),
    "lk-officer-intel": (("officer",), ("RESPONSE",), ("intel",)),
    "lk-analyst": (("analyst",), ("INTEL",), ("intel", "intel_c")),
    "lk-childprot": (("officer",), ("RESPONSE",), ("child_protection",)),  # one sensitivity clearance
    "lk-vetted": (("officer",), ("RESPONSE",), ("child_protection", "protected_person")),
    "lk-covert": (("officer",), ("RESPONSE",), ("covert", "sexual_offence")),
    "lk-unit": (("officer",), ("SPECOPS",), ()),  # member of the restricted unit
    "lk-supervisor": (("supervisor", "officer"), ("RESPONSE", "CID"), ("intel", "protected_person")),
    "lk-auditor": (("auditor",), ("PSD",), ("professional_standards",)),
    "lk-admin": (("admin",), ("ICT",), ()),
}

TOKEN = "zqlanternshared"
SHARED_FORENAME, SHARED_SURNAME = "Ignatius", "Brackenwald"
SHARED_NAME = f"{SHARED_FORENAME} {SHARED_SURNAME}"
SHARED_DOB = "1984-06-21"
SHARED_PNC = f"2004/{123457:07d}{pnc_check_letter(2004, 123457)}"
SHARED_VRM = "LX19 WVB"
SHARED_PHONE = "07700 900777"
SHARED_POSTCODE = "SE17 3QP"

# name -> (markings, review date offset in days or None, record type, handling code)
RESTRICTED: dict[str, dict[str, Any]] = {
    "protected_person": {"sensitivity": ["protected_person"]},
    "child_protection": {"sensitivity": ["child_protection"]},
    "professional_standards": {"sensitivity": ["professional_standards"]},
    "sexual_offence": {"sensitivity": ["sexual_offence"]},
    "covert": {"sensitivity": ["covert"]},
    "unit": {"units": ["SPECOPS"]},
    "intel_p": {"intel": "P"},
    "intel_c": {"intel": "C"},
    "expired": {"review_days": -1},
    # Not anticipated by any single clearance: two flags together.
    "combo": {"sensitivity": ["protected_person", "child_protection"]},
}

OFFICER = {"name": "Kate Dunmore", "rank": "PC", "collar_number": "4411"}
# A record nobody may read and nobody ever looks at (protected, past its review date).
UNSEEN_NAME = "Perpetua Unseenhall"
UNSEEN_ID = record_id("LEAK-CRIME", "R-unseen")


def _letters(seed: str, n: int = 8) -> str:
    return "".join(chr(ord("a") + b % 26) for b in uuid.uuid5(uuid.NAMESPACE_DNS, seed).bytes[:n])


@dataclass(frozen=True)
class Secrets:
    """What identifies one restricted record: none of it may reach a user who may not read it."""

    key: str
    id: str
    reference: str
    title: str
    title_word: str
    narrative_word: str
    forename: str
    surname: str
    vrm: str
    phone: str
    postcode: str
    nino: str  # as keyed (spaced); the person page and API show it canonical
    email: str

    def strings(self) -> list[str]:
        vrm_canon = canonicalise("VRM", self.vrm) or self.vrm
        phone_canon = canonicalise("PHONE", self.phone) or self.phone
        return [
            self.id,
            self.reference,
            self.title,
            self.title_word,
            self.narrative_word,
            self.forename,
            self.surname,
            self.vrm,
            vrm_canon,
            self.phone,
            phone_canon,
            self.phone.replace(" ", ""),
            self.postcode,
            self.nino,
            self.nino.replace(" ", ""),
            self.email,
            quote(self.email, safe=""),
            quote(self.reference, safe=""),
            quote(self.postcode, safe=""),
            quote(phone_canon, safe=""),
        ]


def _secrets(n: int, key: str) -> Secrets:
    word = _letters(key)
    source_system = "LEAK-INTEL" if key.startswith("intel") else "LEAK-CRIME"
    reference = f"IR/2019/{700000 + n:06d}" if key.startswith("intel") else f"CR/{700000 + n:06d}/19"
    title_word = f"zqtitle{word}"
    return Secrets(
        key=key,
        id=record_id(source_system, f"R-{key}"),
        reference=reference,
        title=f"Restricted matter {title_word}",
        title_word=title_word,
        narrative_word=f"zqnarr{word}",
        forename=f"Ysolde{word[:4]}".capitalize(),
        surname=f"Quorvath{word[4:]}".capitalize(),
        vrm=f"KS{10 + n} XQJ",
        phone=f"07700 900{701 + n}",
        postcode=f"E{1 + n} 7QX",
        nino=f"QQ 70 00 {n:02d} C",
        email=f"zqmail{word}@example.com",
    )


def _shared_person(role: str) -> dict[str, Any]:
    return {
        "role": role,
        "forename": SHARED_FORENAME,
        "surname": SHARED_SURNAME,
        "dob": SHARED_DOB,
        "pnc_id": SHARED_PNC,
        "phones": [SHARED_PHONE],
        "address": {"line1": "4 Walworth Road", "town": "London", "postcode": SHARED_POSTCODE},
    }


def _crime(
    source_id: str,
    reference: str,
    title: str,
    when: str,
    narrative: str,
    people: list[dict[str, Any]],
    vehicles: list[str],
    phones: list[str],
    postcodes: list[str],
    **extra: Any,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "record_type": "crime",
        "source_system": "LEAK-CRIME",
        "source_id": source_id,
        "title": title,
        "summary": f"Enquiry {TOKEN} continues.",
        "created_at": when,
        "borough": "Southwark",
        "unit": "CID",
        "people": people,
        "vehicles": [{"vrm": v, "make": "Ford"} for v in vehicles],
        "phones": phones,
        "locations": [{"line1": "Somewhere", "town": "London", "postcode": p} for p in postcodes],
        "crime_reference": reference,
        "offence": {
            "code": "28/3",
            "description": "Burglary - business and community",
            "category": "Burglary",
        },
        "occurred_from": when,
        "location": {"line1": "12 East Street", "town": "London", "postcode": postcodes[0]},
        "modus_operandi": narrative,
        "status": "under_investigation",
    }
    rec.update(extra)
    return rec


def unrestricted_records() -> list[dict[str, Any]]:
    out = []
    for i, (when, ref) in enumerate(
        (("2024-03-02T10:00:00Z", "CR/600001/24"), ("2024-04-10T10:00:00Z", "CR/600002/24"))
    ):
        narrative = (
            f"{SHARED_NAME} was seen near {TOKEN} depot driving {SHARED_VRM}; "
            f"he gave phone {SHARED_PHONE} and lives at {SHARED_POSTCODE}."
        )
        out.append(
            _crime(
                f"U-{i}",
                ref,
                f"Open burglary enquiry {i + 1}",
                when,
                narrative,
                [_shared_person("suspect")],
                [SHARED_VRM],
                [SHARED_PHONE],
                [SHARED_POSTCODE],
            )
        )
    return out


def restricted_record(n: int, key: str, s: Secrets) -> dict[str, Any]:
    spec = RESTRICTED[key]
    when = f"{2010 + n}-0{1 + n % 9}-15T10:00:00Z"
    narrative = (
        f"{SHARED_NAME} and {s.forename} {s.surname} met at the {TOKEN} depot about "
        f"{s.narrative_word}. Vehicles {SHARED_VRM} and {s.vrm}; "
        f"phones {SHARED_PHONE} and {s.phone}; "
        f"addresses {SHARED_POSTCODE} and {s.postcode}."
    )
    # The same man as the shared person (same PNC ID) under a name only this record holds.
    secret_person = {
        "role": "other" if "intel" not in spec else "subject",
        "forename": s.forename,
        "surname": s.surname,
        "pnc_id": SHARED_PNC,
        "dob": SHARED_DOB,
        "nino": s.nino,
        "email": s.email,
    }
    if "intel" in spec:
        handling = spec["intel"]
        rec: dict[str, Any] = {
            "record_type": "intel",
            "source_system": "LEAK-INTEL",
            "source_id": f"R-{key}",
            "title": s.title,
            "created_at": when,
            "people": [_shared_person("subject"), secret_person],
            "vehicles": [{"vrm": SHARED_VRM}, {"vrm": s.vrm}],
            "phones": [SHARED_PHONE, s.phone],
            "locations": [{"postcode": SHARED_POSTCODE}, {"postcode": s.postcode}],
            "intel_reference": s.reference,
            "created_by": OFFICER,
            "grading": {"source_evaluation": "2", "intelligence_assessment": "B", "handling_code": handling},
            "intelligence_text": narrative,
            "sanitised_text": f"Subject {s.surname} linked to {s.narrative_word}.",
        }
        if handling == "C":
            rec["handling_conditions"] = "Not to be disseminated outside the intelligence unit."
        return rec
    extra: dict[str, Any] = {}
    if spec.get("sensitivity") or spec.get("units"):
        extra["markings"] = {
            "sensitivity": spec.get("sensitivity", []),
            "restricted_units": spec.get("units", []),
        }
    if "review_days" in spec:
        extra["review_date"] = (date.today() + timedelta(days=spec["review_days"])).isoformat()
    return _crime(
        f"R-{key}",
        s.reference,
        s.title,
        when,
        narrative,
        [_shared_person("suspect"), secret_person],
        [SHARED_VRM, s.vrm],
        [SHARED_PHONE, s.phone],
        [SHARED_POSTCODE, s.postcode],
        **extra,
    )


def unseen_record() -> dict[str, Any]:
    forename, surname = UNSEEN_NAME.split()
    return _crime(
        "R-unseen",
        "CR/799999/19",
        "Sealed matter",
        "2012-05-05T10:00:00Z",
        f"{UNSEEN_NAME} gave evidence.",
        [{"role": "witness", "forename": forename, "surname": surname}],
        [],
        [],
        ["E20 7QX"],
        markings={"sensitivity": ["protected_person"]},
        review_date=(date.today() - timedelta(days=1)).isoformat(),
    )


SHARED_POINT = (51.4850, -0.0950)


def places(secrets: Mapping[str, Secrets]) -> dict[str, tuple[float, float]]:
    """The gazetteer of the matrix: the shared postcode, each secret postcode ~1 km further north
    than the last (so each secret place is its own map cell and its own near: target)."""
    out = {SHARED_POSTCODE: SHARED_POINT, "E20 7QX": (51.5400, -0.0100)}
    for n, s in enumerate(secrets.values()):
        out[s.postcode] = (round(51.4950 + 0.0100 * n, 4), -0.0950)
    return out


def principal(username: str) -> Principal:
    roles, units, clearances = USERS[username]
    return Principal(username, username, frozenset(roles), frozenset(units), frozenset(clearances))


@dataclass
class World:
    app: FastAPI
    settings: Settings
    client: OpenSearch
    web: dict[str, TestClient]
    users: dict[str, Principal]
    secrets: dict[str, Secrets]
    docs: dict[str, dict[str, Any]]  # id -> _source of every record in the index
    unrestricted: list[str]
    saved: dict[str, str] = field(default_factory=dict)  # username -> saved query id

    @property
    def index(self) -> str:
        return self.settings.index_name("records")

    def readable(self, user: str, ids: Sequence[str] | None = None) -> set[str]:
        today = today_utc()
        pool = self.docs if ids is None else {i: self.docs[i] for i in ids}
        return {i for i, d in pool.items() if can_read(self.users[user], d, today)}

    def hidden(self, user: str) -> list[Secrets]:
        return [s for s in self.secrets.values() if s.id not in self.readable(user)]

    def shown(self, user: str) -> list[Secrets]:
        return [s for s in self.secrets.values() if s.id in self.readable(user)]

    def raw_ids(self, query: Mapping[str, Any]) -> set[str]:
        """What a query matches with NO access filter (the oracle's starting point)."""
        res = self.client.search(index=self.index, body={"query": query, "size": 1000, "_source": False})
        return {h["_id"] for h in res["hits"]["hits"]}


@pytest.fixture(scope="module")
def world(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    lsettings = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}leak-"})
    indices.ensure_all(client, lsettings)  # `lantern index init`: the portal may not create indices
    for name, (roles, units, clearances) in USERS.items():
        create_user(
            client,
            lsettings,
            name,
            PASSWORD,
            roles=roles,
            units=units,
            clearances=clearances,
            display_name=f"Leak {name}",
        )
    forget_ensured()
    forget_synced()
    from portal.app import create_app

    app = create_app(lsettings)
    secrets = {key: _secrets(n, key) for n, key in enumerate(RESTRICTED)}
    # The map (issue 14): every postcode of the matrix has a point; each secret one its own.
    gazetteer_csv = tmp_path_factory.mktemp("leak-gazetteer") / "gazetteer.csv"
    gazetteer_csv.write_text(
        "postcode,latitude,longitude\n"
        + "".join(f"{pc},{lat},{lon}\n" for pc, (lat, lon) in places(secrets).items()),
        encoding="utf-8",
    )
    assert gazetteer.load_file(client, lsettings, gazetteer_csv).rejected == 0
    first = [parse_record(r) for r in unrestricted_records()]
    result = index_records(first, lsettings, client, extract_entities=True, refresh=True)
    assert result.ok, result.problems
    with ExitStack() as stack:
        web: dict[str, TestClient] = {}
        for name in USERS:
            tc = stack.enter_context(make_test_client(app))
            login(tc, name, PASSWORD, purpose="investigation", reference="CR/012345/24")
            web[name] = tc
        w = World(
            app,
            lsettings,
            client,
            web,
            {n: principal(n) for n in USERS},
            secrets,
            {},
            [r.record_id for r in first],
        )
        # Standing queries saved BEFORE the restricted records arrive: their "new since" counts
        # and alerts must count only what each user may read.
        for name, tc in web.items():
            form = tc.get("/saved/new", params={"q": TOKEN})
            res = tc.post(
                "/saved",
                data={
                    "csrf_token": csrf_from(form.text),
                    "name": f"Watch {TOKEN}",
                    "notes": "",
                    "shared_unit": "",
                    "q": TOKEN,
                },
            )
            assert res.status_code == 303, res.text[:500]
            w.saved[name] = res.headers["location"].split("/saved/")[1].split("?")[0]
        hook = AlertHook(lsettings, client, directory=Directory(client, lsettings, ttl=0))
        second = [parse_record(restricted_record(n, key, secrets[key])) for n, key in enumerate(RESTRICTED)]
        second.append(parse_record(unseen_record()))
        result = index_records(second, lsettings, client, extract_entities=True, refresh=True, hooks=[hook])
        assert result.ok, result.problems
        hook.flush()
        client.indices.refresh(index=lsettings.index_name("notifications"))
        res = client.search(index=w.index, body={"query": {"match_all": {}}, "size": 1000})
        w.docs = {h["_id"]: h["_source"] for h in res["hits"]["hits"]}
        assert len(w.docs) == len(RESTRICTED) + 3
        assert {s.id for s in secrets.values()} <= set(w.docs)
        _badge_cache.clear()
        yield w


# ----------------------------------------------------------------------------- helpers


def assert_clean(text: str, hidden: Sequence[Secrets], where: str, *, echoed: str = "") -> None:
    """No secret of a hidden record in ``text`` (except what the user typed and the page echoes)."""
    low = text.lower()
    # The page echoes what was typed, raw and URL-encoded (search box, links, "save this search").
    typed = " ".join((echoed, quote(echoed, safe=""), quote_plus(echoed))).lower()
    for s in hidden:
        for secret in s.strings():
            if secret.lower() in typed:
                continue
            assert secret.lower() not in low, f"{where}: {s.key!r} leaks {secret!r}"


def expected_search(w: World, user: str, q: str) -> set[str]:
    req = search_request(from_params([("q", q)]), today_utc())
    return w.readable(user, sorted(w.raw_ids(B.build_search(req)["query"])))


def oracle_facets(w: World, q: str, ids: set[str]) -> list[tuple[str, list[tuple[str, int]]]]:
    """Facets computed over exactly ``ids`` (what the user may read) with no access filter."""
    req = search_request(from_params([("q", q)]), today_utc())
    query = {"bool": {"must": [B.build_search(req)["query"]], "filter": [{"ids": {"values": sorted(ids)}}]}}
    aggs, _ = B.build_aggs({})
    res = w.client.search(index=w.index, body={"query": query, "size": 0, "aggs": aggs})
    views = facet_views(res.get("aggregations", {}), {}, lambda k, v: "")
    return [(v.key, [(x.value, x.count) for x in v.values]) for v in views]


def api_facets(body: Mapping[str, Any]) -> list[tuple[str, list[tuple[str, int]]]]:
    return [(f["key"], [(x["value"], x["count"]) for x in f["values"]]) for f in body["facets"]]


def record_links(html: str) -> set[str]:
    return set(re.findall(r'href="/records/([0-9a-f-]{36})"', html))


def audit_events(w: World, action: str, user: str) -> list[dict[str, Any]]:
    index = w.settings.index_name("audit")
    w.client.indices.refresh(index=index)
    res = w.client.search(
        index=index,
        body={
            "query": {"bool": {"filter": [{"term": {"action": action}}, {"term": {"user": user}}]}},
            "sort": [{"seq": "desc"}],
            "size": 500,
        },
    )
    return [h["_source"] for h in res["hits"]["hits"]]


def all_secret_words(w: World) -> str:
    return " OR ".join(s.narrative_word for s in w.secrets.values())


def queries(w: World) -> list[str]:
    return [
        TOKEN,
        SHARED_NAME,
        SHARED_VRM,
        SHARED_PHONE,
        SHARED_POSTCODE,
        f'"{SHARED_NAME}" {TOKEN}',
        all_secret_words(w),
        " OR ".join(s.title_word for s in w.secrets.values()),
        " OR ".join(s.reference for s in w.secrets.values()),
        " OR ".join(s.surname for s in w.secrets.values()),
        " OR ".join(f"vrm:{s.vrm.replace(' ', '')}" for s in w.secrets.values()),
    ]


HX = {"HX-Request": "true", "HX-Target": "search-main"}
users = pytest.mark.parametrize("user", list(USERS))


# ------------------------------------------------------------------------ the tests


def test_the_matrix_has_both_outcomes(world: World) -> None:
    """Every restricted record is readable by someone but not by everyone (except the expired one)."""
    for key, s in world.secrets.items():
        readers = {u for u in USERS if s.id in world.readable(u)}
        if key == "expired":
            assert readers == set()
        else:
            assert readers and readers != set(USERS), (key, readers)
    for u in USERS:
        assert set(world.unrestricted) <= world.readable(u)


@pytest.mark.parametrize("today_offset", [0, -30, 3650])
def test_access_filter_and_can_read_agree(world: World, today_offset: int) -> None:
    """The in-query filter and the Python policy give the same id set, for every user and more."""
    today = today_utc() + timedelta(days=today_offset)
    principals = list(world.users.values())
    clearances = (
        "protected_person",
        "child_protection",
        "professional_standards",
        "sexual_offence",
        "covert",
        "intel",
        "intel_c",
    )
    principals += [
        Principal("all", "all", frozenset({"officer"}), frozenset({"SPECOPS"}), frozenset(clearances)),
        Principal("none", "none", frozenset(), frozenset(), frozenset()),
        Principal("c-only", "c", frozenset({"analyst"}), frozenset(), frozenset({"intel_c"})),
        Principal("flags", "f", frozenset({"officer"}), frozenset({"CID"}), frozenset(clearances[:5])),
    ]
    assert any(can_read(p, d, today) for p in principals for d in world.docs.values())
    for p in principals:
        res = SecuredRecords(world.client, world.settings, p).search(
            {"query": {"match_all": {}}, "size": 1000, "_source": False},
            today=today,
        )
        in_query = {h["_id"] for h in res["hits"]["hits"]}
        in_python = {i for i, d in world.docs.items() if can_read(p, d, today)}
        assert in_query == in_python, (p.username, today, in_query ^ in_python)


@users
def test_search_pages_fragments_api_counts_and_facets(world: World, user: str) -> None:
    tc = world.web[user]
    hidden = world.hidden(user)
    for q in queries(world):
        expected = expected_search(world, user, q)
        api = tc.get("/api/search", params={"q": q, "size": 100})
        assert api.status_code == 200, api.text[:300]
        body = api.json()
        assert {r["id"] for r in body["results"]} == expected, (user, q)
        assert body["total"] == len(expected), (user, q)
        assert api_facets(body) == oracle_facets(world, q, expected), (user, q)
        assert_clean(api.text, hidden, f"/api/search {q!r} as {user}", echoed=q)
        page = tc.get("/search", params={"q": q})
        frag = tc.get("/search", params={"q": q}, headers=HX)
        for name, r in (("page", page), ("fragment", frag)):
            assert r.status_code == 200
            assert_clean(r.text, hidden, f"/search {name} {q!r} as {user}", echoed=q)
            assert record_links(r.text) == expected, (user, q, name)
            count = re.search(r'id="results-heading"[^>]*>(.*?)</h1>', r.text, re.S)
            assert count, (user, q, name, r.text[:3000])
            shown = " ".join(re.sub(r"<[^>]+>", " ", count.group(1)).split())
            plural = "s" if len(expected) != 1 else ""
            want = f"{len(expected)} record{plural}" if expected else "No records found"
            rest = shown[len(want) : len(want) + 1]
            assert shown.startswith(want) and not rest.isalnum(), (user, q, name, shown)
        assert "<html" not in frag.text.lower()
    # The shared token reaches every readable record, restricted ones included.
    assert expected_search(world, user, TOKEN) == world.readable(user)


@users
def test_suggestions(world: World, user: str) -> None:
    tc = world.web[user]
    hidden = world.hidden(user)
    for s in world.secrets.values():
        for typed in (
            s.surname[:6],
            f"{s.forename} {s.surname[:4]}",
            s.vrm[:4],
            s.reference[:7],
            s.phone[:9],
        ):
            html = tc.get("/suggest", params={"q": typed})
            api = tc.get("/api/suggest", params={"q": typed})
            assert html.status_code == 200 and api.status_code == 200
            assert_clean(html.text, hidden, f"/suggest {typed!r} as {user}", echoed=typed)
            assert_clean(api.text, hidden, f"/api/suggest {typed!r} as {user}", echoed=typed)
            texts = {x["text"] for x in api.json()}
            if s.id in world.readable(user) and typed == s.surname[:6]:
                assert f"{s.forename} {s.surname}" in texts, (user, typed, texts)
    # Shared prefixes: suggestions come only from readable records.
    for typed in (SHARED_SURNAME[:5], "LX19", "IR/2019", "CR/7000"):
        html = tc.get("/suggest", params={"q": typed})
        assert_clean(html.text, hidden, f"/suggest {typed!r} as {user}", echoed=typed)
        api = tc.get("/api/suggest", params={"q": typed})
        assert_clean(api.text, hidden, f"/api/suggest {typed!r} as {user}", echoed=typed)
    shown_refs = {s.reference for s in world.shown(user) if s.reference.startswith("CR/7000")}
    if shown_refs:
        texts = {x["text"] for x in tc.get("/api/suggest", params={"q": "CR/7000"}).json()}
        assert texts & shown_refs, (user, texts)


def _entity_paths(label: str, value: str) -> tuple[str, str]:
    canonical = canonicalise(label, value) if label != "PERSON" else value
    v = quote(canonical or value, safe="")
    return f"/entity/{label}/{v}", f"/api/entities/{label}/{v}"


@users
def test_entity_pages(world: World, user: str) -> None:
    tc = world.web[user]
    hidden = world.hidden(user)
    readable = world.readable(user)
    for label, value in (
        ("PERSON", SHARED_NAME),
        ("VRM", SHARED_VRM),
        ("PHONE", SHARED_PHONE),
        ("POSTCODE", SHARED_POSTCODE),
        ("PNC_ID", SHARED_PNC),
    ):
        page_path, api_path = _entity_paths(label, value)
        page = tc.get(page_path, follow_redirects=True)
        api = tc.get(api_path)
        assert page.status_code == 200, (page_path, page.status_code, page.text[:300])
        assert api.status_code == 200
        body = api.json()
        assert_clean(page.text, hidden, f"{page_path} as {user}")
        assert_clean(api.text, hidden, f"{api_path} as {user}")
        # Every record carries the shared entity: exactly the readable ones are listed and counted.
        assert {r["id"] for r in body["records"]} == readable, (user, label)
        assert body["total"] == len(readable)
        assert record_links(page.text) == readable
        assert sum(b["count"] for b in body["timeline"]) == len(readable)
        co = {b["key"] for bs in body["co_occurring"].values() for b in bs}
        for s in world.shown(user):
            # Positive: what a reader may see does show (the alias, its identifiers).
            if label == "PERSON":
                assert f"{s.forename} {s.surname}" in {v["name"] for v in body["variants"]}, (user, s.key)
                assert s.surname in page.text
            if label == "VRM":
                assert canonicalise("VRM", s.vrm) in co, (user, s.key, co)
    # An entity only a restricted record holds: empty unless the user may read that record.
    for s in world.secrets.values():
        for label, value in (
            ("PERSON", f"{s.forename} {s.surname}"),
            ("VRM", s.vrm),
            ("PHONE", s.phone),
            ("POSTCODE", s.postcode),
            ("NINO", s.nino),
            ("EMAIL", s.email),
        ):
            page_path, api_path = _entity_paths(label, value)
            page = tc.get(page_path, follow_redirects=True)
            api = tc.get(api_path)
            assert page.status_code == 200 and api.status_code == 200
            body = api.json()
            typed = f"{value} {canonicalise(label, value) or ''} {page_path} {api_path}"
            assert_clean(page.text, hidden, f"{page_path} as {user}", echoed=typed)
            assert_clean(api.text, hidden, f"{api_path} as {user}", echoed=typed)
            if s.id in readable:
                assert s.id in {r["id"] for r in body["records"]}, (user, label, s.key)
            else:
                assert body["total"] == 0 and body["records"] == [] and body["timeline"] == []
                assert body["co_occurring"] == {} and body["variants"] == [], (user, label, s.key, body)


def all_linked(tc: Any, rid: str, hidden: Sequence[Secrets], where: str) -> tuple[dict[str, int], set[str]]:
    """Group totals and every linked id of a record, through "show all" (API and page, all pages)."""
    api = tc.get(f"/api/records/{rid}")
    assert api.status_code == 200, (where, api.status_code)
    totals = {g["group"]: g["total"] for g in api.json()["linked_groups"]}
    ids: set[str] = set()
    for group, total in totals.items():
        page, pages, seen = 1, 1, set()
        while page <= pages:
            got = tc.get(f"/api/records/{rid}/linked/{group}", params={"page": page})
            assert got.status_code == 200, (where, group, got.status_code)
            assert_clean(got.text, hidden, f"{where} /linked/{group} api")
            body = got.json()
            assert body["total"] == total, (where, group)
            pages = body["pages"]
            seen |= {x["id"] for x in body["records"]}
            html = tc.get(f"/records/{rid}/linked/{group}", params={"page": page})
            frag = tc.get(
                f"/records/{rid}/linked/{group}",
                params={"page": page},
                headers={"HX-Request": "true", "HX-Target": f"linked-{group}"},
            )
            for name, r in (("page", html), ("fragment", frag)):
                assert r.status_code == 200, (where, group, name)
                assert_clean(r.text, hidden, f"{where} /linked/{group} {name}")
                assert record_links(r.text) - {rid} == {x["id"] for x in body["records"]}, (
                    where,
                    group,
                    name,
                )
            page += 1
        assert len(seen) == total, (where, group)
        ids |= seen
    return totals, ids


@users
def test_linked_records_on_a_readable_record(world: World, user: str) -> None:
    """Shown links, group counts and "show all" lists: exactly the readable records, never more."""
    tc = world.web[user]
    hidden = world.hidden(user)
    for rid in world.unrestricted:
        page = tc.get(f"/records/{rid}")
        api = tc.get(f"/api/records/{rid}")
        assert page.status_code == 200 and api.status_code == 200
        assert_clean(page.text, hidden, f"/records/{rid} as {user}")
        assert_clean(api.text, hidden, f"/api/records/{rid} as {user}")
        expected = world.readable(user) - {rid}
        shown = {x["id"] for x in api.json()["linked"]}
        assert shown <= expected and shown, user
        assert record_links(page.text) == shown, user
        totals, every = all_linked(tc, rid, hidden, f"/records/{rid} as {user}")
        # Counts are of readable records only: they add up to exactly what the user may read.
        assert sum(totals.values()) == len(expected) and every == expected, (user, totals)
        counts = re.findall(r'<span class="count">\((\d+)\)</span>', page.text)
        assert sorted(int(c) for c in counts) == sorted(totals.values()), (user, counts, totals)


@users
def test_direct_urls_answer_like_a_missing_record_and_are_audited(world: World, user: str) -> None:
    tc = world.web[user]
    readable = world.readable(user)
    ignore = {"date", "x-request-id"}  # both differ on every response, by design
    for s in world.secrets.values():
        missing = str(uuid.uuid4())
        for prefix, headers in (("/records/", {}), ("/records/", HX), ("/api/records/", {})):
            got = tc.get(prefix + s.id, headers=headers)
            if s.id in readable:
                assert got.status_code == 200, (user, s.key)
                assert s.title in got.text
                # A readable restricted record links only to what the user may read as well.
                assert_clean(got.text, world.hidden(user), f"{prefix}{s.id} as {user}")
                if prefix == "/records/":
                    assert record_links(got.text) <= readable - {s.id}, (user, s.key)
                else:
                    _, every = all_linked(tc, s.id, world.hidden(user), f"{s.key} as {user}")
                    assert every == readable - {s.id}, (user, s.key)
                continue
            ref = tc.get(prefix + missing, headers=headers)
            assert got.status_code == ref.status_code == 404, (user, s.key, prefix)
            assert got.content == ref.content, (user, s.key, prefix)
            assert {k: v for k, v in got.headers.items() if k not in ignore} == {
                k: v for k, v in ref.headers.items() if k not in ignore
            }, (user, s.key, prefix)
            assert_clean(got.text, world.hidden(user), f"{prefix}{s.id} as {user}", echoed=s.id)
    # The "show all" lists of a record the user may not read answer like a missing record's.
    for s in world.hidden(user):
        missing = str(uuid.uuid4())
        for path in ("/records/{}/linked/person", "/api/records/{}/linked/person"):
            got, ref = tc.get(path.format(s.id)), tc.get(path.format(missing))
            assert got.status_code == ref.status_code == 404, (user, s.key, path)
            assert got.content == ref.content, (user, s.key, path)
    denied = {e["target"].get("id") for e in audit_events(world, "record.denied", user)}
    for s in world.hidden(user):
        assert s.id in denied, (user, s.key)
    viewed = {e["target"].get("id") for e in audit_events(world, "record.view", user)}
    assert {s.id for s in world.shown(user)} <= viewed


@users
def test_saved_query_new_counts(world: World, user: str) -> None:
    tc = world.web[user]
    sid = world.saved[user]
    expected = len(world.readable(user) - set(world.unrestricted))
    detail = tc.get(f"/saved/{sid}")
    assert detail.status_code == 200
    m = re.search(r"New results</dt><dd>([\d,]+) since", detail.text)
    assert m, detail.text[:2000]
    assert int(m.group(1).replace(",", "")) == expected, user
    listing = tc.get("/saved")
    assert listing.status_code == 200
    assert f"<strong>{expected}</strong>" in listing.text
    for r in (detail, listing):
        assert_clean(r.text, world.hidden(user), f"saved queries as {user}")


@users
def test_notifications(world: World, user: str) -> None:
    tc = world.web[user]
    sid = world.saved[user]
    readable_restricted = world.readable(user) - set(world.unrestricted)
    # The alert hook notified only readers.
    store = NotificationStore(world.client, world.settings)
    raw = store._raw(world.users[user], unread_only=False)
    assert {r for n in raw for r in n.get("record_ids", [])} == readable_restricted, user
    page = tc.get("/notifications")
    assert page.status_code == 200
    assert_clean(page.text, world.hidden(user), f"/notifications as {user}")
    assert record_links(page.text) == readable_restricted
    # Notifications for unreadable records (as if access had been withdrawn since) stay hidden.
    store.add_matches([(sid, s.id, user) for s in world.secrets.values()])
    world.client.indices.refresh(index=world.settings.index_name("notifications"))
    _badge_cache.clear()
    page = tc.get("/notifications")
    assert_clean(page.text, world.hidden(user), f"/notifications (all matches stored) as {user}")
    assert record_links(page.text) == readable_restricted
    # The badge counts notifications (one group for the load's batch), not records; the group
    # of unreadable records just stored is not counted.
    badge = re.search(r'Notifications <span class="badge">(\d+)', page.text)
    assert (int(badge.group(1)) if badge else 0) == (1 if readable_restricted else 0), user


@users
def test_batch_search(world: World, user: str) -> None:
    tc = world.web[user]
    form = tc.get("/batch")
    if "analyst" not in USERS[user][0] and "supervisor" not in USERS[user][0]:
        # Batch is for the bulk roles only (settings.bulk_roles); the refusal leaks nothing.
        assert form.status_code == 403, form.text[:300]
        assert_clean(form.text, world.hidden(user), f"/batch as {user}")
        return
    lines = [
        TOKEN,
        SHARED_NAME,
        SHARED_VRM,
        *[s.surname for s in world.secrets.values()],
        *[s.narrative_word for s in world.secrets.values()],
    ]
    text = "\n".join(lines)
    res = tc.post(
        "/batch", data={"csrf_token": csrf_from(form.text), "text": text, "format": "lines", "dob_years": "0"}
    )
    assert res.status_code == 200, res.text[:500]
    assert_clean(res.text, world.hidden(user), f"/batch as {user}", echoed=text)
    assert record_links(res.text) <= world.readable(user)
    for n, line in enumerate(lines, start=1):
        m = re.search(rf"<td>{n}</td>\s*<td>{re.escape(line)}.*?</td>\s*<td>([\d,]+)</td>", res.text, re.S)
        assert m, (n, line)
        assert int(m.group(1).replace(",", "")) == len(expected_search(world, user, line)), (user, line)


@users
def test_csv_export(world: World, user: str) -> None:
    tc = world.web[user]
    for q in (TOKEN, all_secret_words(world), SHARED_NAME):
        res = post_export(tc, {"q": q})
        if "analyst" not in USERS[user][0] and "supervisor" not in USERS[user][0]:
            # Export is for the bulk roles only (settings.bulk_roles); the refusal leaks nothing.
            assert res.status_code == 403, res.text[:300]
            assert_clean(res.text, world.hidden(user), f"/export {q!r} as {user}", echoed=q)
            continue
        assert res.status_code == 200, res.text[:300]
        assert_clean(res.text, world.hidden(user), f"/export {q!r} as {user}", echoed=q)
        rows = list(csv.DictReader(io.StringIO(res.text.lstrip("\ufeff"))))
        expected = expected_search(world, user, q)
        assert {r["record_id"] for r in rows} == expected, (user, q)
        assert res.headers["x-lantern-matches"] == str(len(expected))


def test_audit_subject_search_does_not_count_unreadable_records(world: World) -> None:
    """ "Who looked at X": events about records mentioning X are included (oversight), but the page
    must not tell an auditor how many records mention X when nobody looked at them."""
    tc = world.web["lk-auditor"]

    def who_section(subject: str) -> tuple[str, str]:
        res = tc.get("/audit", params={"subject": subject})
        assert res.status_code == 200, res.text[:300]
        m = re.search(r'id="who-heading".*?</section>', res.text, re.S)
        assert m, res.text[:2000]
        return m.group(0).replace(subject, "SUBJECT"), res.text

    assert UNSEEN_ID in world.docs and not any(UNSEEN_ID in world.readable(u) for u in USERS)
    about_unseen, page = who_section(UNSEEN_NAME)
    about_nobody, _ = who_section("Perpetua Nowherehall")
    assert about_unseen == about_nobody
    assert UNSEEN_ID not in page and "CR/799999/19" not in page


# ------------------------------------------------------------------ link chart (issue 14)


def _shared_person_key(w: World) -> str:
    for rid in w.unrestricted:
        for p in w.docs[rid].get("people") or []:
            if p.get("name") == SHARED_NAME and p.get("person_key"):
                key = chart_person_key(p)
                assert key is not None
                return key
    raise AssertionError("the shared person has no linking key")


def _has(doc: Mapping[str, Any], node: str) -> bool:
    kind, _, value = node.partition(":")
    if kind == "person":
        return any(value in (p.get("person_key") or []) for p in doc.get("people") or [])
    if kind == "record":
        return doc.get("id") == value
    return value in ((doc.get("entities") or {}).get(kind) or [])


def _chart_oracle(w: World, user: str, seed: str, kind: str) -> dict[str, set[str]]:
    """Neighbours of ``seed`` of one identifier kind, each with the readable records behind it."""
    out: dict[str, set[str]] = {}
    for rid in w.readable(user):
        doc = w.docs[rid]
        if not _has(doc, seed):
            continue
        for v in (doc.get("entities") or {}).get(kind) or []:
            out.setdefault(f"{kind}:{v}", set()).add(rid)
    out.pop(seed, None)
    return out


@users
def test_link_chart_nodes_edges_and_counts(world: World, user: str) -> None:
    """A chart of the shared person expanded every way holds exactly what the user may read."""
    tc = world.web[user]
    seed = f"person:{_shared_person_key(world)}"
    params = [("n", seed)] + [
        ("x", f"{seed}|{rel}") for rel in ("records", "persons", "vrm", "phone", "postcode")
    ]
    params.append(("cap", "200"))
    res = tc.get("/api/chart", params=params)
    assert res.status_code == 200, res.text[:300]
    assert_clean(res.text, world.hidden(user), f"/api/chart as {user}")
    data = res.json()
    nodes = {n["id"]: n for n in data["nodes"]}
    edges = {(e["source"], e["target"]): e for e in data["edges"]}
    expected_records = {rid for rid in world.readable(user) if _has(world.docs[rid], seed)}
    assert {i.split(":", 1)[1] for i in nodes if i.startswith("record:")} == expected_records
    assert nodes[seed]["count"] == len(expected_records)
    for kind in ("vrm", "phone", "postcode"):
        oracle = _chart_oracle(world, user, seed, kind)
        got = {i for i in nodes if i.startswith(f"{kind}:")}
        assert got == set(oracle), (user, kind)
        for node, rids in oracle.items():
            edge = edges[(seed, node)]
            assert edge["count"] == len(rids), (user, node)
            assert set(edge["record_ids"]) <= rids
    # No "+N more" node at this cap: nothing is hidden, so nothing is counted as hidden.
    assert not [i for i in nodes if i.startswith("more:")]
    for rid in world.readable(user) ^ set(world.docs):
        assert rid not in res.text
    # The page without JavaScript: the same nodes in a table, nothing of a hidden record.
    page = tc.get("/chart", params=params)
    assert page.status_code == 200
    assert_clean(page.text, world.hidden(user), f"/chart as {user}")
    assert record_links(page.text) <= expected_records | {
        e for ed in edges.values() for e in ed["record_ids"]
    }
    for fmt in ("json", "graphml"):
        exp = tc.get(f"/chart/export.{fmt}", params=params)
        assert exp.status_code == 200
        assert_clean(exp.text, world.hidden(user), f"chart export {fmt} as {user}")
    # Every view and export is audited with the records behind it, and only readable ones.
    for action in ("chart.view", "chart.export"):
        events = audit_events(world, action, user)
        assert events, action
        ids = set(events[0]["details"]["record_ids"])
        assert expected_records <= ids <= world.readable(user)


@users
def test_link_chart_hub_cap_counts_only_readable(world: World, user: str) -> None:
    """With a cap of one, the "+N more" node counts the readable neighbours left out."""
    seed = f"vrm:{canonicalise('VRM', SHARED_VRM)}"
    res = world.web[user].get("/api/chart/expand", params={"node": seed, "rel": "phone", "cap": 1})
    assert res.status_code == 200
    assert_clean(res.text, world.hidden(user), f"expand as {user}")
    oracle = _chart_oracle(world, user, seed, "phone")
    nodes = res.json()["nodes"]
    more = [n for n in nodes if n["kind"] == "more"]
    shown = [n for n in nodes if n["kind"] == "phone"]
    assert len(shown) == min(1, len(oracle))
    assert (more[0]["count"] if more else 0) == len(oracle) - len(shown)
    records = (
        world.web[user].get("/api/chart/expand", params={"node": seed, "rel": "records", "cap": 1}).json()
    )
    total = len([r for r in world.readable(user) if _has(world.docs[r], seed)])
    hidden = [n["count"] for n in records["nodes"] if n["kind"] == "more"]
    assert (hidden[0] if hidden else 0) == total - 1


@users
def test_link_chart_paths_only_through_readable_records(world: World, user: str) -> None:
    """From the shared person to each record's own phone: a path exists iff that record is readable."""
    seed = f"person:{_shared_person_key(world)}"
    readable = world.readable(user)
    for s in world.secrets.values():
        target = f"phone:{canonicalise('PHONE', s.phone)}"
        res = world.web[user].get("/api/chart/path", params={"a": seed, "b": target, "hops": 3})
        assert res.status_code == 200, res.text[:300]
        data = res.json()
        if s.id in readable:
            assert data["paths"], (user, s.key)
            assert all(p[0] == seed and p[-1] == target for p in data["paths"])
            hop_ids = {r["id"] for h in data["hops"] for r in h["records"]}
            assert s.id in hop_ids and hop_ids <= readable
        else:
            assert data["paths"] == [], (user, s.key)
            assert_clean(res.text, world.hidden(user), f"path as {user}", echoed=target)


@users
def test_timeline_only_readable_records(world: World, user: str) -> None:
    """The timeline of the shared person holds items of exactly the records the user may read."""
    seed = f"person:{_shared_person_key(world)}"
    expected = {rid for rid in world.readable(user) if _has(world.docs[rid], seed)}
    res = world.web[user].get("/api/timeline", params={"n": seed})
    assert res.status_code == 200, res.text[:300]
    assert_clean(res.text, world.hidden(user), f"/api/timeline as {user}")
    items = res.json()["items"]
    assert {i["href"].rsplit("/", 1)[1] for i in items} == expected
    assert res.json()["total"] == len(expected)
    page = world.web[user].get("/timeline", params={"n": seed})
    assert page.status_code == 200
    assert_clean(page.text, world.hidden(user), f"/timeline as {user}")
    assert record_links(page.text) == expected
    events = audit_events(world, "timeline.view", user)
    assert set(events[0]["details"]["record_ids"]) == expected


def test_shared_saved_chart_shows_each_viewer_only_what_they_may_read(world: World) -> None:
    """A chart saved by a cleared officer and shared with RESPONSE: another member sees nothing of
    the restricted record it was seeded from (not even the seed's value), the owner sees it all."""
    owner, viewer = "lk-vetted", "lk-officer"
    s = world.secrets["protected_person"]
    assert s.id in world.readable(owner) and s.id not in world.readable(viewer)
    seed = f"phone:{canonicalise('PHONE', s.phone)}"
    shared = f"vrm:{canonicalise('VRM', SHARED_VRM)}"
    # Grouped with the shared vehicle: the group must not carry the hidden seed to the viewer.
    group = f"Ring zqgroup|{seed}|{shared}"
    state = "&".join(
        f"{k}={quote_plus(v)}"
        for k, v in [("n", seed), ("n", shared), ("x", f"{seed}|records"), ("g", group)]
    )
    page = world.web[owner].get("/chart", params={"n": [seed, shared], "x": f"{seed}|records"})
    res = world.web[owner].post(
        "/chart/saved",
        data={
            "csrf_token": csrf_from(page.text),
            "name": "Protected link",
            "shared_unit": "RESPONSE",
            "state": state,
        },
    )
    assert res.status_code == 303, res.text[:300]
    url = res.headers["location"]
    mine = world.web[owner].get(url)
    assert mine.status_code == 200 and s.id in mine.text
    assert "Ring zqgroup" in mine.text and "2 nodes" in mine.text
    theirs = world.web[viewer].get(url)
    assert theirs.status_code == 200
    assert_clean(theirs.text, world.hidden(viewer), "shared chart as lk-officer")
    assert "Protected link" in theirs.text
    assert "Ring zqgroup" in theirs.text and "1 node<" in theirs.text
    # Someone outside the unit: like a wrong id.
    assert world.web["lk-unit"].get(url).status_code == 404
    # Read-only for the unit member.
    listing = world.web[viewer].get("/chart/saved")
    chart_id = url.rsplit("/", 1)[1]
    deleted = world.web[viewer].post(
        f"/chart/saved/{chart_id}/delete", data={"csrf_token": csrf_from(listing.text)}
    )
    assert deleted.status_code == 403


# ------------------------------------------------------------------ the map and near: (issue 14)


def _tile(lat: float, lon: float, precision: int) -> str:
    """The geotile key of a point (the oracle for the engine's geotile_grid)."""
    n = 2**precision
    x = min(n - 1, int((lon + 180.0) / 360.0 * n))
    rad = math.radians(lat)
    y = min(n - 1, int((1.0 - math.log(math.tan(rad) + 1.0 / math.cos(rad)) / math.pi) / 2.0 * n))
    return f"{precision}/{x}/{y}"


@users
def test_map_cells_counts_and_records_only_from_readable_records(world: World, user: str) -> None:
    """Every cell, count, extent and record on the map comes from records the user may read: the
    cells are exactly the tiles of readable records' places, each counting exactly those records."""
    zoom = 16
    readable = expected_search(world, user, TOKEN)
    points = places(world.secrets)
    expected: dict[str, set[str]] = {}
    for rid in readable:
        for pc in (world.docs[rid].get("entities") or {}).get("postcode") or []:
            lat, lon = points[pc]
            expected.setdefault(_tile(lat, lon, B.map_precision(zoom)), set()).add(rid)
    res = world.web[user].get("/api/map", params={"q": TOKEN, "z": zoom})
    assert res.status_code == 200, res.text[:300]
    assert_clean(res.text, world.hidden(user), f"/api/map as {user}", echoed=TOKEN)
    body = res.json()
    assert body["total"] == body["located"] == len(readable)
    assert {c["key"]: c["count"] for c in body["cells"]} == {k: len(v) for k, v in expected.items()}
    for c in body["cells"]:
        assert {r["id"] for r in c["records"]} <= expected[c["key"]]
    lats = [points[pc][0] for rid in readable for pc in world.docs[rid]["entities"]["postcode"]]
    assert body["bounds"]["north"] == pytest.approx(max(lats), abs=1e-4)
    page = world.web[user].get("/map", params={"q": TOKEN})
    assert page.status_code == 200
    assert_clean(page.text, world.hidden(user), f"/map as {user}", echoed=TOKEN)
    assert record_links(page.text) <= readable
    events = audit_events(world, "map.view", user)
    assert events and set(events[0]["details"]["record_ids"]) <= readable
    assert events[0]["details"]["result_count"] == len(readable)


@users
def test_near_finds_only_readable_records_near_a_secret_place(world: World, user: str) -> None:
    """near: a restricted record's own postcode finds it only for its readers; from the shared
    place, exactly the readable records within the radius (search page, API, map, export)."""
    lookup = place_lookup(world.client, world.settings)
    for q in [f"near:{s.postcode} 50m" for s in world.secrets.values()] + [f"near:{SHARED_POSTCODE} 2km"]:
        req = search_request(from_params([("q", q)]), today_utc(), lookup)
        expected = world.readable(user, sorted(world.raw_ids(B.build_search(req)["query"])))
        res = world.web[user].get("/api/search", params={"q": q, "size": 100})
        assert res.status_code == 200, res.text[:300]
        assert {r["id"] for r in res.json()["results"]} == expected, q
        assert_clean(res.text, world.hidden(user), f"/api/search {q} as {user}", echoed=q)
        html = world.web[user].get("/search", params={"q": q})
        assert_clean(html.text, world.hidden(user), f"/search {q} as {user}", echoed=q)
        body = world.web[user].get("/api/map", params={"q": q, "z": 16}).json()
        assert body["total"] == len(expected), q
        assert_clean(str(body), world.hidden(user), f"/api/map {q} as {user}", echoed=q)
    # The secret places themselves: each found by its readers only.
    for s in world.secrets.values():
        got = {
            r["id"]
            for r in world.web[user]
            .get("/api/search", params={"q": f"near:{s.postcode} 50m"})
            .json()["results"]
        }
        assert got == ({s.id} & world.readable(user))
