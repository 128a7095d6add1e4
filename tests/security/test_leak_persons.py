"""The leak matrix for person resolution: person pages, the persons API, record nominal ids.

The leak world (tests/security/test_leak_matrix.py) has one man in every record (same name,
DOB and PNC ID) and, in each restricted record, the same PNC ID under a name only that
record holds; resolution therefore puts all of them on one nominal. Every user must see
that nominal built from the records they may read only: no secret name, record id or
reference of a hidden record, and a nominal that exists only in records they cannot read
answers exactly like an id that does not exist (and is audited as a denial).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import pytest
from opensearchpy import OpenSearch

from entity_extraction import canonicalise
from indexer.nominals import refresh_record_nominals
from lantern import indices
from lantern.principal import Principal
from lantern.records import parse_record
from lantern.settings import Settings
from mappings import fields as F
from mappings import persons as P
from persons import store
from persons.features import Mention, mentions_from_record
from persons.query import PersonCard
from persons.resolver import ScoredLink
from portal import reads
from portal.person_reads import Beside, cards_beside, find_persons
from search import builders as B
from search.gateway import SecuredRecords
from search.parser import parse
from tests.portal_fixtures import csrf_from
from tests.security import test_leak_matrix as LM
from tests.security.test_leak_matrix import (
    SHARED_DOB,
    SHARED_NAME,
    UNSEEN_NAME,
    USERS,
    World,
    assert_clean,
    audit_events,
)


@pytest.fixture(scope="module")
def world(
    settings: Settings, client: OpenSearch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The leak matrix's world under a prefix of this module's own, so it never meets the one
    test_leak_matrix.py builds (same users, same records) in the same run."""
    own = settings.model_copy(update={"index_prefix": f"{settings.index_prefix}lp-"})
    yield from LM.world._get_wrapped_function()(own, client, tmp_path_factory)


@pytest.fixture(scope="module")
def nominals(world: World) -> Iterator[dict[str, str]]:
    mentions = [m for d in world.docs.values() for m in mentions_from_record(parse_record(d[F.RECORD]))]
    res = store.rebuild(world.client, world.settings, mentions)
    refresh_record_nominals(world.client, world.settings, res.moved, refresh=True)
    shared = {res.nominal_of[m.mention_id] for m in mentions if m.full_name == SHARED_NAME}
    unseen = {res.nominal_of[m.mention_id] for m in mentions if m.full_name == UNSEEN_NAME}
    assert len(shared) == 1 and len(unseen) == 1
    nominal = store.get_nominal(world.client, world.settings, next(iter(shared)))
    # Each restricted record's secret person (same PNC ID) gave an NI number and an email only
    # that record holds; resolution puts them on the shared nominal, so its stored document
    # holds every one of them and the pages below must pick out the readable ones.
    assert nominal is not None
    assert set(nominal[P.NINOS]) == {canonicalise("NINO", s.nino) for s in world.secrets.values()}
    assert set(nominal[P.EMAILS]) == {s.email for s in world.secrets.values()}
    yield {"shared": shared.pop(), "unseen": unseen.pop()}


@pytest.mark.parametrize("user", sorted(USERS))
def test_person_page_and_api_show_only_readable_records(
    world: World, nominals: dict[str, str], user: str
) -> None:
    tc = world.web[user]
    nid = nominals["shared"]
    readable = world.readable(user)
    hidden = world.hidden(user)
    page = tc.get(f"/persons/{nid}")
    api = tc.get(f"/api/persons/{nid}")
    if not readable:
        assert page.status_code == api.status_code == 404
        return
    assert page.status_code == 200, page.text[:300]
    assert api.status_code == 200, api.text[:300]
    body = api.json()
    assert {r["id"] for r in body["records"]} <= readable
    assert {r["id"] for r in body["records"]} >= set(world.unrestricted) & readable
    assert SHARED_DOB in body["dobs"]
    # NI numbers and emails: only the secret people of restricted records have them, so the
    # shared nominal shows those of the secret people it shows (canonical), and no other.
    named = [s for s in world.shown(user) if f"{s.forename} {s.surname}" in body["names"]]
    assert body["identifiers"]["nino"] == sorted(canonicalise("NINO", s.nino) or "" for s in named)
    assert body["identifiers"]["email"] == sorted(s.email for s in named)
    for text, where in ((page.text, "person page"), (api.text, "persons api")):
        assert_clean(text, hidden, f"{user} {where}")
        for s in hidden:
            assert s.id not in text, f"{user} {where} shows hidden record {s.id}"
    # Search for the person: cards built from readable records only.
    found = tc.get("/api/persons", params={"q": f"{SHARED_NAME} {SHARED_DOB}"})
    assert found.status_code == 200
    cards = found.json()["persons"]
    assert [c["id"] for c in cards] == [nid]
    assert cards[0]["record_count"] == len({r["id"] for r in body["records"]})
    assert_clean(found.text, hidden, f"{user} persons search")


@pytest.mark.parametrize("user", sorted(USERS))
def test_a_nominal_only_in_unreadable_records_is_a_404_like_a_missing_id(
    world: World,
    nominals: dict[str, str],
    user: str,
) -> None:
    tc = world.web[user]
    nid = nominals["unseen"]
    unseen_record = next(i for i, d in world.docs.items() if d[F.SOURCE_ID] == "R-unseen")
    if unseen_record in world.readable(user):
        assert tc.get(f"/persons/{nid}").status_code == 200
        return
    missing = tc.get("/persons/N-00000000000000000000")
    page = tc.get(f"/persons/{nid}")
    assert page.status_code == missing.status_code == 404
    assert page.text == missing.text.replace("N-00000000000000000000", nid)
    api, api_missing = tc.get(f"/api/persons/{nid}"), tc.get("/api/persons/N-00000000000000000000")
    assert api.status_code == api_missing.status_code == 404 and api.json() == api_missing.json()
    assert UNSEEN_NAME.split()[1] not in tc.get("/api/persons", params={"q": UNSEEN_NAME}).text
    denied = [e for e in audit_events(world, "person.denied", user) if e.get("target", {}).get("id") == nid]
    assert denied


def test_record_api_people_carry_their_nominal(world: World, nominals: dict[str, str]) -> None:
    tc = world.web["lk-officer"]
    rid = world.unrestricted[0]
    res = tc.get(f"/api/records/{rid}")
    assert res.status_code == 200
    people = res.json()["record"]["people"]
    assert [p.get("nominal_id") for p in people if p["surname"] == SHARED_NAME.split()[1]] == [
        nominals["shared"]
    ]


@pytest.mark.parametrize("user", sorted(USERS))
def test_search_page_person_cards_with_a_swapped_dob(
    world: World, nominals: dict[str, str], user: str
) -> None:
    tc = world.web[user]
    y, m, d = SHARED_DOB.split("-")
    q = f"{SHARED_NAME} {m}/{d}/{y}"  # day and month typed the other way round
    page = tc.get("/search", params={"q": q})
    assert page.status_code == 200
    assert_clean(page.text, world.hidden(user), f"{user} search page", echoed=q)
    if world.readable(user):
        assert f"/persons/{nominals['shared']}" in page.text
        assert "DOB matched with day and month swapped" in page.text
    else:
        assert "/persons/" not in page.text


def test_decisions_from_the_person_page_by_role_audited_and_applied_on_rebuild(
    world: World, nominals: dict[str, str]
) -> None:
    nid = nominals["shared"]
    officer, analyst = world.web["lk-officer"], world.web["lk-analyst"]
    page = analyst.get(f"/persons/{nid}")
    assert page.status_code == 200 and "Record decision" in page.text
    assert "Record decision" not in officer.get(f"/persons/{nid}").text
    view = analyst.get(f"/api/persons/{nid}").json()
    doc = store.get_nominal(world.client, world.settings, nid)
    assert doc is not None
    by_record = {m["record_id"]: m["mention_id"] for m in doc["mentions"]}
    a, b = (by_record[world.unrestricted[0]], by_record[world.unrestricted[1]])
    form = {
        "csrf_token": csrf_from(page.text),
        "mention_a": a,
        "mention_b": b,
        "decision": "not_same",
        "reason": "different tattoos in the custody photographs",
    }
    refused = officer.post(
        f"/persons/{nid}/decisions", data={**form, "csrf_token": csrf_from(officer.get("/saved/new").text)}
    )
    assert refused.status_code == 403
    done = analyst.post(f"/persons/{nid}/decisions", data=form)
    assert done.status_code == 303, done.text[:300]
    assert audit_events(world, "person.decision", "lk-analyst")
    assert audit_events(world, "access.denied", "lk-officer")
    # Applied on the next rebuild, and every one after.
    mentions = [m for d in world.docs.values() for m in mentions_from_record(parse_record(d[F.RECORD]))]
    for _ in range(2):
        res = store.rebuild(world.client, world.settings, mentions)
        assert res.nominal_of[a] != res.nominal_of[b]
    after = analyst.get(f"/persons/{res.nominal_of[a]}")
    assert "different tattoos in the custody photographs" in after.text
    assert len(view["records"]) >= 2


def _nominal_records(world: World, nid: str) -> set[str]:
    """Every record resolved to ``nid``, with NO access filter (the oracle)."""
    return world.raw_ids({"nested": {"path": F.PEOPLE, "query": {"term": {F.people(F.P_NOMINAL_ID): nid}}}})


@pytest.mark.parametrize("user", sorted(USERS))
def test_chart_person_is_the_nominal_built_from_readable_records(
    world: World, nominals: dict[str, str], user: str
) -> None:
    """One chart node per nominal across its records, labelled with a readable name, counted
    over readable records; a nominal only in unreadable records is no node at all."""
    tc = world.web[user]
    nid = nominals["shared"]
    node = f"person:{nid}"
    expected = _nominal_records(world, nid) & world.readable(user)
    readable_names = {
        p["name"]
        for rid in world.readable(user)
        for p in world.docs[rid].get(F.PEOPLE) or []
        if p.get("name")
    }
    res = tc.get("/api/chart", params=[("n", node), ("x", f"{node}|records"), ("cap", "200")])
    assert res.status_code == 200, res.text[:300]
    nodes = {n["id"]: n for n in res.json()["nodes"]}
    assert_clean(res.text, world.hidden(user), f"{user} nominal chart")
    if not expected:
        assert node not in nodes
    else:
        assert nodes[node]["count"] == len(expected)
        assert nodes[node]["label"] in readable_names
        # Labelled by the nominal's commonest readable name (the shared man is on every record;
        # a restricted record adds a name of its own), not by one record's spelling.
        assert nodes[node]["label"] == SHARED_NAME
        assert nodes[node]["href"] == f"/persons/{nid}"
        assert {i.partition(":")[2] for i, n in nodes.items() if n["kind"] == "record"} == expected
    # From a record the user may read, its people are the nominal (one node, not one per record).
    for rid in sorted(expected)[:2]:
        out = tc.get("/api/chart/expand", params={"node": f"record:{rid}", "rel": "persons"})
        assert out.status_code == 200
        assert node in {n["id"] for n in out.json()["nodes"]}
        assert {n["id"]: n["label"] for n in out.json()["nodes"]}[node] == SHARED_NAME
        assert_clean(out.text, world.hidden(user), f"{user} record people")
    if expected:
        # The person page's "Chart this" charts the nominal itself.
        assert f"/chart/start?label=NOMINAL&amp;value={nid}" in tc.get(f"/persons/{nid}").text
        start = tc.get("/chart/start", params={"label": "NOMINAL", "value": nid}, follow_redirects=False)
        assert start.status_code == 303 and f"n=person%3A{nid}" in start.headers["location"]
    unseen = tc.get("/api/chart", params={"n": f"person:{nominals['unseen']}"}).json()
    unseen_records = _nominal_records(world, nominals["unseen"]) & world.readable(user)
    assert (f"person:{nominals['unseen']}" in {n["id"] for n in unseen["nodes"]}) == bool(unseen_records)


def test_chart_hub_a_path_went_around_is_labelled_by_readable_names_only(
    world: World, nominals: dict[str, str]
) -> None:
    """With a hub limit of one record, a path between two restricted records' own phones goes
    around the shared nominal; the page names that hub by a name the user may read (never a
    name only a hidden record holds, never its nominal id when a name is readable)."""
    import json

    from entity_extraction import canonicalise
    from portal import chart as C
    from search.gateway import SecuredRecords

    node = f"person:{nominals['shared']}"
    checked = 0
    for user in sorted(USERS):
        shown = [s for s in world.secrets.values() if s.id in world.readable(user)]
        if len(shown) < 2:
            continue
        records = SecuredRecords(world.client, world.settings, world.users[user])
        a, b = (C.NodeRef("phone", canonicalise("PHONE", s.phone) or s.phone) for s in shown[:2])
        result = C.shortest_paths(records, a, b, 4, hub_limit=1)
        readable_names = {
            p["name"]
            for rid in world.readable(user)
            for p in world.docs[rid].get(F.PEOPLE) or []
            if p.get("name")
        }
        assert node in {i for i, _ in result.avoided}, user
        assert result.labels[node] in readable_names, user
        assert_clean(json.dumps(result.labels), world.hidden(user), f"{user} avoided hub labels")
        checked += 1
    assert checked  # a user who may read two restricted records exists, or this proves nothing


OPEN_NINO, OPEN_EMAIL = "QQ 70 11 22 A", "Nia.Open@Example.com"


@pytest.fixture(scope="module")
def spread_nominal(world: World) -> Iterator[str]:
    """A nominal with a mention in the first unrestricted record (its NI number and email
    open to all) and one in every restricted record (each with that record's own NI number
    and email), every restricted mention linked to the open one: what a user sees of it is
    decided by the records alone. Written as the store writes it, removed afterwards."""
    open_rid = world.unrestricted[0]

    def mention(mid: str, rid: str, nino: str, email: str) -> Mention:
        return Mention(
            mention_id=mid,
            record_id=rid,
            role="suspect",
            surname="Spreadwell",
            forename="Nia",
            dob=None,
            record_date="2024-01-01",
            nino=nino,
            email=email,
        )

    members = [mention("ni-open", open_rid, OPEN_NINO, OPEN_EMAIL)]
    links: dict[str, ScoredLink] = {}
    for s in world.secrets.values():
        members.append(mention(f"ni-{s.key}", s.id, s.nino, s.email))
        links[f"ni-{s.key}"] = ScoredLink("ni-open", 0.999, {"nino": -4.0}, {}, ("forename agrees",))
    nid = "N-nispread0000000000"
    doc = store.nominal_document(nid, members, links, set(), "v-test")
    target = indices.writer_target(world.settings, P)
    world.client.index(index=target, id=nid, body=doc, refresh=True)
    yield nid
    world.client.delete(index=target, id=nid, refresh=True)


@pytest.mark.parametrize("user", sorted(USERS))
def test_ni_numbers_and_emails_come_only_from_readable_records(
    world: World, spread_nominal: str, user: str
) -> None:
    tc = world.web[user]
    readable = world.readable(user)
    page, api = tc.get(f"/persons/{spread_nominal}"), tc.get(f"/api/persons/{spread_nominal}")
    if world.unrestricted[0] not in readable:
        assert page.status_code == api.status_code == 404
        return
    assert page.status_code == api.status_code == 200, (user, api.text[:300])
    ids = api.json()["identifiers"]
    shown = world.shown(user)
    ninos = [canonicalise("NINO", n) for n in (OPEN_NINO, *(s.nino for s in shown))]
    assert None not in ninos  # the world's NI numbers are all valid
    assert ids["nino"] == sorted(str(n) for n in ninos)
    assert ids["email"] == sorted([OPEN_EMAIL.lower()] + [s.email for s in shown])
    assert sorted(ids) == ["cro_no", "email", "nino", "pnc_id"]
    for value in ids["nino"] + ids["email"]:
        assert value in page.text, (user, value)
    assert_clean(page.text, world.hidden(user), f"{user} person page of a spread nominal")
    assert_clean(api.text, world.hidden(user), f"{user} persons api of a spread nominal")


@pytest.mark.parametrize("user", sorted(USERS))
def test_cards_in_the_records_request_are_built_from_readable_records_only(
    world: World, nominals: dict[str, str], user: str
) -> None:
    """The search page's cards (the persons search sent in the records search's request, the
    records it returned taken as read): the same cards as ``find_persons`` for every user,
    counted over readable records only; a nominal only in unreadable records gives no card."""
    who = world.users[user]
    day, month, year = reversed(SHARED_DOB.split("-"))
    cases = (
        (f"{SHARED_NAME} {day}/{month}/{year}", SHARED_NAME, date.fromisoformat(SHARED_DOB), "shared"),
        (UNSEEN_NAME, UNSEEN_NAME, None, "unseen"),
    )
    for q, name, dob, which in cases:
        req = B.SearchRequest(parse(q))
        shown: list[str] = []

        def run(
            beside: Sequence[Beside], req: B.SearchRequest = req, shown: list[str] = shown
        ) -> tuple[reads.SearchOutcome, list[dict[str, Any]], list[str]]:
            out = reads.run_search(world.client, world.settings, who, req, beside=beside)
            shown.extend(i.id for i in out.items)
            return out, out.beside, [i.id for i in out.items]

        _, cards = cards_beside(world.client, world.settings, who, name, dob, 0, run)
        assert set(shown) <= world.readable(user)
        expected = find_persons(world.client, world.settings, who, name, dob)
        assert [(c.id, c.record_ids, c.names, c.dobs) for c in cards] == [
            (c.id, c.record_ids, c.names, c.dobs) for c in expected
        ]
        readable = _nominal_records(world, nominals[which]) & world.readable(user)
        assert (nominals[which] in [c.id for c in cards]) == bool(readable)
        for c in cards:
            assert set(c.record_ids) <= world.readable(user)
        card = next((c for c in cards if c.id == nominals[which]), None)
        if card is not None:
            assert set(card.record_ids) <= readable
        if which == "shared" and card is not None:
            assert set(card.record_ids) & set(shown)  # some known from the page itself
        text = repr(cards)
        for secret in world.hidden(user):
            assert secret.id not in text and secret.surname not in text, f"{user} cards"


def _cards_asking(
    world: World, who: Principal, q: str, name: str, dob: date | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[PersonCard], list[list[str]]]:
    """``cards_beside`` as the search page runs it, and the ids each ``readable_ids`` call
    (the second round trip) asked about."""
    asked: list[list[str]] = []
    real = SecuredRecords.readable_ids

    def spy(self: SecuredRecords, ids: Sequence[str], **kw: Any) -> set[str]:
        asked.append(list(ids))
        return real(self, ids, **kw)

    req = B.SearchRequest(parse(q))

    def run(beside: Sequence[Beside]) -> tuple[reads.SearchOutcome, list[dict[str, Any]], list[str]]:
        out = reads.run_search(world.client, world.settings, who, req, beside=beside)
        return out, out.beside, [i.id for i in out.items]

    with monkeypatch.context() as m:
        m.setattr(SecuredRecords, "readable_ids", spy)
        _, cards = cards_beside(world.client, world.settings, who, name, dob, 0, run)
    return cards, asked


def _card_keys(cards: Sequence[PersonCard]) -> list[tuple[str, list[str], list[str], list[str]]]:
    return [(c.id, c.record_ids, c.names, c.dobs) for c in cards]


@pytest.mark.parametrize("user", sorted(USERS))
def test_cards_readability_probe_vouches_and_what_it_cannot_is_asked(
    world: World, nominals: dict[str, str], user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The readability probe beside the persons search answers for every record of the shared
    nominal (each holds the shared man, named as searched): no second request, and a record
    the probe (secured) did not return is not on the card. Searched by a secret name (only
    one restricted record holds it; every other record's mention is named otherwise) the
    probe cannot vouch for the rest: they are asked about, and the cards are still exactly
    ``find_persons``'s from readable records only. A probe stopped at its cap answers for
    nothing it did not return: the same cards again, by asking."""
    who = world.users[user]
    day, month, year = reversed(SHARED_DOB.split("-"))
    dob = date.fromisoformat(SHARED_DOB)
    q = f"{SHARED_NAME} {day}/{month}/{year}"
    expected = find_persons(world.client, world.settings, who, SHARED_NAME, dob)
    cards, asked = _cards_asking(world, who, q, SHARED_NAME, dob, monkeypatch)
    assert _card_keys(cards) == _card_keys(expected)
    assert asked == []
    for c in cards:
        assert set(c.record_ids) <= world.readable(user)
    for other in world.hidden(user):
        assert other.id not in repr(cards) and other.surname not in repr(cards), f"{user} cards"

    with monkeypatch.context() as m:
        m.setattr("portal.person_reads.PROBE_CAP", 1)
        capped, asked = _cards_asking(world, who, q, SHARED_NAME, dob, monkeypatch)
    assert _card_keys(capped) == _card_keys(expected)
    assert asked and set(asked[0]) <= set(world.docs)

    shown, hidden = world.shown(user), world.hidden(user)
    for secret in [*shown[:1], *hidden[:1]]:
        name = f"{secret.forename} {secret.surname}"
        cards, asked = _cards_asking(world, who, name, name, None, monkeypatch)
        assert _card_keys(cards) == _card_keys(find_persons(world.client, world.settings, who, name))
        # The nominal holds every record's man: those named otherwise are asked about.
        assert asked and set(asked[0]) <= set(world.docs)
        text = repr(cards)
        for other in hidden:
            assert other.id not in text and other.surname not in text, f"{user} cards for {name}"


def test_a_search_beside_the_records_search_cannot_read_records_unsecured(world: World) -> None:
    from search.gateway import UnsafeQuery, records_alias

    who = world.users["lk-officer"]
    gateway = SecuredRecords(world.client, world.settings, who)
    body = {"query": {"match_all": {}}, "size": 1000, "_source": False}
    everything = {"query": {"match_all": {}}, "size": 1000}
    alias = records_alias(world.settings)
    for index in (alias, f"{alias}-v9", f"{world.settings.index_prefix}*", f"x,{alias}", "-x", "_all"):
        with pytest.raises(UnsafeQuery):
            gateway.search_beside(body, [(index, everything)])
    persons = indices.read_alias(world.settings, P)
    with pytest.raises(UnsafeQuery):  # a point in time names its own index
        gateway.search_beside(body, [(persons, {**everything, "pit": {"id": "x"}})])
    records, (nominals,) = gateway.search_beside(body, [(persons, {"query": {"match_all": {}}, "size": 1})])
    assert {h["_id"] for h in records["hits"]["hits"]} == world.readable("lk-officer")
    assert nominals["hits"]["hits"] and nominals["hits"]["hits"][0]["_index"].startswith(persons)
    # None beside: the records index again, through the same access filter and the same
    # refusals (the cards' readability probe).
    with pytest.raises(UnsafeQuery):
        gateway.search_beside(body, [(None, {**everything, "script_fields": {}})])
    with pytest.raises(UnsafeQuery):
        gateway.search_beside(body, [(None, {"size": 0, "aggs": {"all": {"global": {}}}})])
    for user, principal in world.users.items():
        _, (again,) = SecuredRecords(world.client, world.settings, principal).search_beside(
            body, [(None, {**everything, "_source": False, "terminate_after": 1000})]
        )
        assert {h["_id"] for h in again["hits"]["hits"]} == world.readable(user), user
    # The cards' readability check: the same answer as ``readable`` (ids only), unknown ids dropped.
    every = [*world.docs, "no-such-record"]
    for user, principal in world.users.items():
        ids = SecuredRecords(world.client, world.settings, principal).readable_ids(every)
        assert (
            ids
            == world.readable(user)
            == set(SecuredRecords(world.client, world.settings, principal).readable(every))
        )


def test_a_readability_probe_answers_only_when_it_saw_every_match() -> None:
    """``probe_answer``: the ids are always what the (secured) probe returned; the probe
    vouches for the records it did not return only when it stopped nowhere."""
    from portal.person_reads import probe_answer

    def answer(keys: list[str], other: int = 0, **extra: Any) -> dict[str, Any]:
        buckets = [{"key": k, "doc_count": 1} for k in keys]
        return {"aggregations": {"ids": {"buckets": buckets, "sum_other_doc_count": other}}, **extra}

    assert probe_answer(answer(["r1", "r2"], terminated_early=False)) == ({"r1", "r2"}, True)
    assert probe_answer(answer(["r1"])) == ({"r1"}, True)
    assert probe_answer(answer(["r1"], terminated_early=True)) == ({"r1"}, False)
    assert probe_answer(answer(["r1"], other=3)) == ({"r1"}, False)
    assert probe_answer({"error": {"type": "index_not_found_exception"}, "status": 404}) == (set(), False)
    assert probe_answer({"hits": {"hits": []}}) == (set(), False)
