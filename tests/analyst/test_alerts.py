"""Alerts: saved queries percolated against new records as they are loaded."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as EngineConnectionError

from alerts import percolation
from alerts.notifications import Added, NotificationStore
from alerts.saved_queries import SavedQuery, SavedQueryStore
from indexer.pipeline import index_records
from lantern.principal import Principal
from lantern.records import parse_record
from lantern.search_client import make_client
from lantern.settings import Settings
from mappings import notifications as N
from mappings import percolator as P
from mappings import records as records_mapping
from mappings import saved_queries as SQ
from search.urlstate import state_from_params
from tests.analyst.conftest import Loader, crime, tag


def save(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    q: str,
    *,
    shared_unit: str | None = None,
    **facets: str,
) -> SavedQuery:
    state = state_from_params([("q", q), *facets.items()])
    sq = SavedQueryStore(client, settings).create(user, state, name=f"watch {q}", shared_unit=shared_unit)
    return percolation.register(client, settings, sq, notify=False)


def notes_for(client: OpenSearch, settings: Settings, user: Principal) -> list[Any]:
    # Notifications are written without a refresh (a load must not wait for one).
    client.indices.refresh(index=settings.index_name("notifications"))
    return NotificationStore(client, settings).visible(user)


def raw_count(client: OpenSearch, settings: Settings, **term: str) -> int:
    index = settings.index_name("notifications")
    client.indices.refresh(index=index)
    query = {"bool": {"filter": [{"term": {k: v}} for k, v in term.items()]}}
    return int(client.count(index=index, body={"query": query})["count"])


def notified(client: OpenSearch, settings: Settings, saved_id: str) -> list[tuple[str, str]]:
    """(recipient, record id) of every match notification of ``saved_id``, one per record
    of each group (sorted: a record notified twice to one recipient would show twice)."""
    index = settings.index_name("notifications")
    client.indices.refresh(index=index)
    res = client.search(
        index=index,
        body={"query": {"term": {N.SAVED_QUERY_ID: saved_id}}, "size": 1000},
    )
    pairs = [
        (h["_source"][N.RECIPIENT], rid) for h in res["hits"]["hits"] for rid in h["_source"][N.RECORD_IDS]
    ]
    return sorted(pairs)


@pytest.fixture
def users(analyst_users: dict[str, Principal]) -> dict[str, Principal]:
    return analyst_users


def test_new_matching_record_creates_exactly_one_notification_even_when_reindexed(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t)
    other = save(client, asettings, users["ana"], tag())  # matches nothing below
    rec = crime(t)
    hook = loader.load([rec, crime("unrelated")])
    assert hook is not None and hook.notified == 1
    mine = [n for n in notes_for(client, asettings, users["ana"]) if n.saved_id == sq.id]
    assert len(mine) == 1
    assert [r.title for r in mine[0].records] == [f"Theft of motor vehicle {t}"]
    assert mine[0].saved_name == sq.name
    assert not [n for n in notes_for(client, asettings, users["ana"]) if n.saved_id == other.id]
    # The same record indexed again (and changed): still one notification.
    again = dict(rec, summary=f"Updated: {t} vehicle recovered.")
    hook2 = loader.load([again])
    assert hook2 is not None and hook2.matched == 1 and hook2.notified == 0
    assert raw_count(client, asettings, saved_query_id=sq.id) == 1


def test_notifications_are_grouped_per_saved_query_and_recipient_and_created_once(
    client: OpenSearch, asettings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One group per (saved query, recipient) per call; a (query, record, recipient) already in
    a group is dropped from a later call; an exact replay creates nothing, even when the
    lookup misses the first write (the group's id is derived from its records)."""
    t = tag()
    store = NotificationStore(client, asettings)
    sq = f"sq{t}"
    first = [(sq, f"rec{t}-{i}", who) for i in range(30) for who in ("ana", "mem")]
    assert store.add_matches([*first, first[0], first[7]]) == Added(groups=2, records=60)
    assert raw_count(client, asettings, saved_query_id=sq) == 2
    assert raw_count(client, asettings, saved_query_id=sq, recipient="mem") == 1
    # A later batch: ten records again (re-indexed) and one new one, for ana only.
    assert store.add_matches([*first[:10], (sq, f"rec{t}-new", "ana")]) == Added(groups=1, records=1)
    assert raw_count(client, asettings, saved_query_id=sq) == 3
    assert raw_count(client, asettings, saved_query_id=sq, record_ids=f"rec{t}-new", kind="match") == 1
    assert notified(client, asettings, sq) == sorted(
        [("ana", f"rec{t}-new"), *((who, rid) for _, rid, who in first)]
    )
    # An exact replay (a load resumed after dying): nothing new, by the lookup...
    assert store.add_matches(first) == Added(0, 0)
    # ...and by the id alone, should the lookup not see the first write.
    monkeypatch.setattr(store, "already_notified", lambda triples: set())
    assert store.add_matches(first) == Added(0, 0)
    assert raw_count(client, asettings, saved_query_id=sq) == 3


def test_a_batch_notifies_one_group_and_a_later_batch_only_its_new_records(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t, shared_unit="INTEL")
    a, b = crime(t), crime(t, sensitivity=["protected_person"])
    hook = loader.load([a, b, crime("unrelated")])
    # ana and mem2 hold the clearance, mem does not: b is withheld from mem at write time.
    assert hook is not None and (hook.groups, hook.notified, hook.withheld) == (3, 5, 1)
    ana = [n for n in notes_for(client, asettings, users["ana"]) if n.saved_id == sq.id]
    assert len(ana) == 1 and len(ana[0].records) == 2
    mem = [n for n in notes_for(client, asettings, users["mem"]) if n.saved_id == sq.id]
    assert [r.title for r in mem[0].records] == [f"Theft of motor vehicle {t}"]
    # The next batch: b again (changed) and a new record c: one more group each, listing c only.
    c = crime(t)
    hook2 = loader.load([dict(b, summary=f"Updated: {t} vehicle recovered."), c])
    assert hook2 is not None and (hook2.matched, hook2.groups, hook2.notified) == (2, 3, 3)
    ids = {r.id for n in notes_for(client, asettings, users["ana"]) if n.saved_id == sq.id for r in n.records}
    assert len(ids) == 3
    assert sorted(Counter(notified(client, asettings, sq.id)).values()) == [1] * 8  # nothing twice
    # The same records again (changed, so indexed again): nothing new at all.
    hook3 = loader.load([dict(r, summary=f"Again: {t} seen.") for r in (a, c)])
    assert hook3 is not None and (hook3.matched, hook3.groups, hook3.notified) == (2, 0, 0)
    assert raw_count(client, asettings, saved_query_id=sq.id) == 6


def test_restricted_record_creates_no_notification_for_an_uncleared_owner(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    uncleared = save(client, asettings, users["ofc"], t)
    cleared = save(client, asettings, users["ana"], t)
    hook = loader.load([crime(t, sensitivity=["protected_person"])])
    assert hook is not None and hook.matched == 2 and hook.withheld == 1
    assert raw_count(client, asettings, saved_query_id=uncleared.id) == 0
    assert raw_count(client, asettings, saved_query_id=cleared.id) == 1
    # Unit-restricted: the same.
    t2 = tag()
    q_ofc = save(client, asettings, users["ofc"], t2)
    loader.load([crime(t2, units=["CID"])])
    assert raw_count(client, asettings, saved_query_id=q_ofc.id) == 0


def test_shared_query_notifies_each_unit_member_who_may_read(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t, shared_unit="INTEL")
    loader.load([crime(t)])
    recipients = {
        u
        for u in ("ana", "mem", "mem2", "ofc", "cid")
        if raw_count(client, asettings, saved_query_id=sq.id, recipient=u)
    }
    assert recipients == {"ana", "mem", "mem2"}
    # A protected record: only the INTEL members holding the clearance.
    t2 = tag()
    sq2 = save(client, asettings, users["ana"], t2, shared_unit="INTEL")
    loader.load([crime(t2, sensitivity=["protected_person"])])
    recipients2 = {
        u for u in ("ana", "mem", "mem2") if raw_count(client, asettings, saved_query_id=sq2.id, recipient=u)
    }
    assert recipients2 == {"ana", "mem2"}
    assert [n.records for n in notes_for(client, asettings, users["mem"]) if n.saved_id == sq2.id] == []


def test_notifications_disappear_when_access_changes(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t)
    rec = crime(t, sensitivity=["protected_person"])
    loader.load([rec])
    ana = users["ana"]
    assert [n.saved_id for n in notes_for(client, asettings, ana)].count(sq.id) == 1
    # The user loses the clearance: the notification is no longer shown (nor counted).
    demoted = Principal(
        ana.username, ana.display_name, ana.roles, ana.units, ana.clearances - {"protected_person"}
    )
    assert sq.id not in [n.saved_id for n in notes_for(client, asettings, demoted)]
    store = NotificationStore(client, asettings)
    assert store.unread_count(demoted) < store.unread_count(ana)
    # The record itself becomes unit-restricted to a unit ana is not in: gone for ana too.
    loader.load([dict(rec, markings={"sensitivity": ["protected_person"], "restricted_units": ["PSD"]})])
    assert sq.id not in [n.saved_id for n in notes_for(client, asettings, ana)]
    # Stored once, re-indexing did not add another.
    assert raw_count(client, asettings, saved_query_id=sq.id) == 1


def test_unit_member_loses_shared_notifications_when_leaving_the_unit(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t, shared_unit="INTEL")
    loader.load([crime(t)])
    mem = users["mem"]
    assert sq.id in [n.saved_id for n in notes_for(client, asettings, mem)]
    moved = Principal(mem.username, mem.display_name, mem.roles, frozenset({"RESPONSE"}), mem.clearances)
    assert sq.id not in [n.saved_id for n in notes_for(client, asettings, moved)]


def test_filters_and_identifiers_are_part_of_the_alert(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    vrm = f"ZX{(len(t) * 7 + ord(t[-1])) % 90 + 10}{t[-3:].upper()}"  # current UK format: AB12 CDE
    by_vrm = save(client, asettings, users["ana"], f"vrm:{vrm}")
    custody_only = save(client, asettings, users["ana"], t, type="custody")
    crime_only = save(client, asettings, users["ana"], t, type="crime")
    loader.load([crime(t, vehicles=[{"vrm": f"{vrm[:4].lower()} {vrm[4:].lower()}", "make": "Audi"}])])
    assert raw_count(client, asettings, saved_query_id=by_vrm.id) == 1
    assert raw_count(client, asettings, saved_query_id=custody_only.id) == 0
    assert raw_count(client, asettings, saved_query_id=crime_only.id) == 1


def test_deleted_and_edited_queries_are_unregistered_or_replaced(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    store = SavedQueryStore(client, asettings)
    t1, t2 = tag(), tag()
    sq = save(client, asettings, users["ana"], t1)
    assert percolation.registered_ids(client, asettings, [sq.id]) == {sq.id}
    edited = store.update(
        users["ana"], sq.id, name="renamed", notes="", shared_unit=None, state=state_from_params([("q", t2)])
    )
    percolation.register(client, asettings, edited, notify=False)
    loader.load([crime(t1), crime(t2)])
    ids = {
        r.title for n in notes_for(client, asettings, users["ana"]) if n.saved_id == sq.id for r in n.records
    }
    assert ids == {f"Theft of motor vehicle {t2}"}
    percolation.unregister(client, asettings, sq.id)
    store.delete(users["ana"], sq.id)
    assert percolation.registered_ids(client, asettings, [sq.id]) == set()
    t3 = tag()
    loader.load([crime(t3)])  # nothing registered for it: no error, no notification
    assert store.get(sq.id) is None


def test_query_invalid_after_a_mapping_change_is_reported_not_dropped(
    client: OpenSearch,
    asettings: Settings,
    users: dict[str, Principal],
    loader: Loader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    t = tag()
    fine = save(client, asettings, users["ana"], t)
    graded = save(client, asettings, users["ana"], f"{t} grading:1A")
    assert graded.active
    percolation.sync_percolator(client, asettings, force=True)
    original: Callable[[], dict[str, Any]] = records_mapping.mappings

    def without_grading() -> dict[str, Any]:
        m = original()
        props = dict(m["properties"])
        del props["grading"]
        return {**m, "properties": props}

    monkeypatch.setattr(records_mapping, "mappings", without_grading)
    old_fp = percolation.stored_fingerprint(client, asettings)
    report = percolation.sync_percolator(client, asettings, force=True)
    assert report.rebuilt and graded.id in report.invalid and fine.id not in report.invalid
    assert percolation.stored_fingerprint(client, asettings) == P.records_fingerprint() != old_fp
    store = SavedQueryStore(client, asettings)
    now_invalid = store.get(graded.id)
    assert now_invalid is not None and now_invalid.status == SQ.STATUS_INVALID
    assert "grading" in (now_invalid.invalid_reason or "")
    still = store.get(fine.id)
    assert still is not None and still.active
    assert percolation.registered_ids(client, asettings, [fine.id, graded.id]) == {fine.id}
    problems = [n for n in notes_for(client, asettings, users["ana"]) if n.kind == "invalid_query"]
    assert [n.saved_id for n in problems] == [graded.id]
    assert "grading" in (problems[0].message or "")
    # Syncing again does not report it twice.
    percolation.sync_percolator(client, asettings, force=True)
    assert raw_count(client, asettings, saved_query_id=graded.id, kind="invalid_query") == 1
    # The mapping comes back: the query is registered again and active.
    monkeypatch.setattr(records_mapping, "mappings", original)
    report = percolation.sync_percolator(client, asettings, force=True)
    assert report.rebuilt
    back = store.get(graded.id)
    assert back is not None and back.active
    assert percolation.registered_ids(client, asettings, [graded.id]) == {graded.id}


def test_documents_left_unpercolated_by_an_interrupted_load_are_percolated_by_the_next(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t)
    first = loader.hook()
    assert first.min_batch > 2
    loader_docs = [crime(t), crime(t)]
    from indexer.pipeline import index_records
    from lantern.records import parse_record

    index_records(
        [parse_record(r) for r in loader_docs],
        asettings,
        client,
        extract_entities=False,
        refresh=True,
        hooks=[first],
    )
    # Gathered, not yet percolated: the process "dies" here (no flush).
    assert first.requests == 0 and raw_count(client, asettings, saved_query_id=sq.id) == 0
    assert first._pending.exists()
    second = loader.hook()  # the next load's hook picks them up
    assert second.requests == 1
    # One group listing both records.
    assert raw_count(client, asettings, saved_query_id=sq.id) == 1
    assert len(notified(client, asettings, sq.id)) == 2
    assert first._pending.name and not first._pending.exists()
    second.flush()
    assert raw_count(client, asettings, saved_query_id=sq.id) == 1


def test_stored_alert_query_matches_exactly_what_the_search_matches(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    """The percolator's match-only form drops ranking, never matching: same records either way."""
    from alerts.queries import alert_query
    from search.urlstate import base_query

    t = tag()
    loader.load(
        [
            crime(t),
            crime(t, title=f"Robbery at knifepoint {t}"),
            crime(
                t, people=[{"role": "suspect", "forename": "Bill", "surname": "Smyth", "dob": "1985-03-12"}]
            ),
            crime(
                t, people=[{"role": "witness", "forename": "Jon", "surname": "Smith", "dob": "1990-01-01"}]
            ),
        ],
        alerts=False,
    )
    index = asettings.index_name("records")
    searches = [
        [("q", f"{t} William Smith")],
        [("q", f"{t} william smith 12/03/1985"), ("dob_years", "1")],
        [("q", f"{t} knife OR robbery")],
        [("q", f'{t} "Robbery at knifepoint"')],
        [("q", f"{t} -robbery")],
        [("q", t), ("type", "crime"), ("borough", "Hackney")],
        [("q", f"{t} vrm:CD34EFG")],
        [("q", f"{t} name:Zoe")],
    ]
    for items in searches:
        state = state_from_params(items)

        def ids(query: dict[str, Any]) -> set[str]:
            res = client.search(index=index, body={"query": query, "size": 100, "_source": False})
            return {h["_id"] for h in res["hits"]["hits"]}

        assert ids(alert_query(state)) == ids(base_query(state)), items
    assert ids(alert_query(state_from_params([("q", f"{t} knife OR robbery")])))


def _load_in_batches(asettings: Settings, client: OpenSearch, raws: list[dict[str, Any]], hook: Any) -> None:
    for start in range(0, len(raws), 2):
        index_records(
            [parse_record(r) for r in raws[start : start + 2]],
            asettings,
            client,
            extract_entities=False,
            refresh=True,
            hooks=[hook],
        )


def test_percolation_runs_beside_the_load_and_flush_waits_for_it(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t)
    hook = percolation.AlertHook(
        asettings, client, directory=percolation.Directory(client, asettings, ttl=0), min_batch=2, overlap=2
    )
    threads: list[str] = []
    real = hook._percolate

    def spy(docs: list[dict[str, Any]]) -> None:
        threads.append(threading.current_thread().name)
        real(docs)

    hook._percolate = spy  # type: ignore[method-assign]
    _load_in_batches(asettings, client, [crime(t) for _ in range(6)], hook)
    hook.flush()
    # Three batches of two, each percolated on the background thread, none on the loader's.
    assert len(threads) == 3 and all(name.startswith("percolate") for name in threads)
    # One notification per batch, six records in all.
    assert hook.requests == 3 and raw_count(client, asettings, saved_query_id=sq.id) == 3
    assert len(notified(client, asettings, sq.id)) == 6
    assert not hook._pending.exists()


def test_a_failed_background_percolation_stops_the_load_and_loses_no_alert(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    t = tag()
    sq = save(client, asettings, users["ana"], t)
    hook = percolation.AlertHook(
        asettings, client, directory=percolation.Directory(client, asettings, ttl=0), min_batch=2, overlap=2
    )
    # OpenSearch becomes unreachable for the percolation thread (nothing listens on port 9).
    hook.client = make_client(asettings.model_copy(update={"opensearch_hosts": ["http://127.0.0.1:9"]}))
    raws = [crime(t) for _ in range(4)]
    with pytest.raises(EngineConnectionError):
        _load_in_batches(asettings, client, raws, hook)
        hook.flush()
    assert raw_count(client, asettings, saved_query_id=sq.id) == 0
    pending = hook._pending
    assert pending.exists() and len(json.loads(pending.read_text())) >= 2
    # The next load's hook percolates what the failed one was given.
    loader.hook().flush()
    assert not pending.exists()
    loaded = len(notified(client, asettings, sq.id))
    assert raw_count(client, asettings, saved_query_id=sq.id) == 1  # the recovered batch: one group
    # Every record the failed load acknowledged before it stopped, and no other, is alerted
    # (counted after a refresh: an acknowledged write is not searchable until then).
    client.indices.refresh(index=asettings.index_name("records"))
    indexed = client.count(index=asettings.index_name("records"), body={"query": {"match": {"title": t}}})[
        "count"
    ]
    assert loaded == indexed >= 2


def test_split_fuzzy_makes_each_fuzzy_clause_exact() -> None:
    from alerts.queries import Fuzzy, split_fuzzy

    name = {"match": {"people.name": {"query": "Zoe Quenell", "fuzziness": "AUTO", "prefix_length": 1}}}
    query = {
        "bool": {
            "filter": [
                {"nested": {"path": "people", "query": name, "score_mode": "none"}},
                {"multi_match": {"query": "knife", "fields": ["title^3", "text"], "fuzziness": 1}},
                {"fuzzy": {"reference": "CR1"}},
                {"term": {"record_type": "crime"}},
            ]
        }
    }
    exact, fuzzy = split_fuzzy(query)
    assert exact == {
        "bool": {
            "filter": [
                {
                    "nested": {
                        "path": "people",
                        "query": {"match": {"people.name": {"query": "Zoe Quenell"}}},
                        "score_mode": "none",
                    }
                },
                {"multi_match": {"query": "knife", "fields": ["title^3", "text"]}},
                {"term": {"reference": "CR1"}},
                {"term": {"record_type": "crime"}},
            ]
        }
    }
    assert sorted(fuzzy, key=Fuzzy.key) == sorted(
        [
            Fuzzy("match", "people.name", "Zoe Quenell", "AUTO", 1),
            Fuzzy("match", "title", "knife", "1", 0),
            Fuzzy("match", "text", "knife", "1", 0),
            Fuzzy("term", "reference", "CR1", "AUTO", 0),
        ],
        key=Fuzzy.key,
    )
    assert Fuzzy.from_key(fuzzy[0].key()) == fuzzy[0]
    auto = Fuzzy("match", "f", "x", "AUTO", 1)
    assert [auto.max_edits(w) for w in ("zo", "zoe", "quenl", "quenell")] == [0, 1, 1, 2]
    assert Fuzzy("match", "f", "x", "AUTO:4,8", 1).max_edits("zoe") == 0


def test_fuzzy_names_alert_and_the_exact_form_runs_where_no_name_is_near(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal], loader: Loader
) -> None:
    """The percolator runs a query's exact form only on a batch where none of its fuzzy
    clauses can match; a near name (a typo in the saved search) still alerts."""
    from alerts.queries import Fuzzy

    t = tag()
    surname = f"Quennell{t}"
    typo = f"Quenel{t}"  # two edits from the surname
    sq = save(client, asettings, users["ana"], f"Zoe {typo}")
    try:
        near = [{"people": [{"name": f"Zoe {surname}"}]}]
        far = [{"people": [{"name": "William Barker"}]}]
        key = Fuzzy("match", "people.name", typo.lower(), "AUTO", 1).key()  # one clause per word
        assert key in percolation.fuzzy_keys(client, asettings)
        assert key in percolation.live_fuzzy(client, asettings, near, [key])
        assert key not in percolation.live_fuzzy(client, asettings, far, [key])
        # A batch without the name: this query (among others) runs in its exact form.
        exact = {"percolate": {"field": P.QUERY_EXACT, "documents": far, "name": "exact"}}
        assert percolation._percolate_query(client, asettings, far, [key]) == {
            "bool": {
                "should": [{"bool": {"filter": [exact], "must_not": [{"terms": {P.META_FUZZY: []}}]}}],
                "minimum_should_match": 1,
            }
        }
        # With the name in the batch, it runs as stored.
        stored = {"percolate": {"field": P.QUERY, "documents": near, "name": "stored"}}
        query = percolation._percolate_query(client, asettings, near, [key])
        assert query == {"percolate": {"field": P.QUERY, "documents": near}} or stored in [
            c["bool"]["filter"][-1] for c in query["bool"]["should"]
        ]
        person = {"role": "suspect", "forename": "Zoe", "surname": surname, "dob": "1990-01-01"}
        hook = loader.load([crime(t, people=[person]), crime(tag())])
        assert hook is not None
        assert raw_count(client, asettings, saved_query_id=sq.id) == 1
    finally:
        percolation.unregister(client, asettings, sq.id)


def test_fuzzy_expansion_counts_edits_as_lucene_does() -> None:
    """Optimal string alignment (a transposition is one edit, no substring edited twice),
    the first letter kept, AUTO edits from the query word's length."""
    from alerts.queries import Fuzzy

    clause = Fuzzy("match", "people.name", "x", "AUTO", 1)
    terms = {"quennell", "quenell", "qeunnell", "quenel", "quennelll", "kuennell", "smith", "smyth", "smiht"}
    by_start: dict[str, list[str]] = {}
    for term in terms:
        by_start.setdefault(term[0], []).append(term)
    assert percolation.expansions("quennell", clause, by_start, terms) == [
        "qeunnell",  # one transposition
        "quenel",
        "quenell",
        "quennell",
        "quennelll",
    ]  # not "kuennell": the first letter must agree
    assert percolation.expansions("smith", clause, by_start, terms) == ["smiht", "smith", "smyth"]
    assert percolation.expansions("zo", clause, by_start, {"zo", "zoe"}) == ["zo"]  # too short for an edit


def test_matching_a_batch_on_the_records_index_finds_what_percolating_it_finds(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal]
) -> None:
    """``match_batch`` (the alert hook's way) against ``percolate`` (the percolator's) on one
    batch: names misspelt by one and two edits, a transposition, a name with its date of
    birth, words with filters, an identifier and a filter-only query."""
    t = tag()
    surname = f"Quennell{t}"
    people = [
        {"role": "suspect", "forename": "Zoe", "surname": surname, "dob": "1990-01-01"},
        {"role": "victim", "forename": "William", "surname": f"Barker{t}", "dob": "1985-05-05"},
    ]
    raws = [
        crime(t, people=[people[0]]),
        crime(t, people=[people[1]]),
        crime(t, people=people),
        crime(t, people=[{"role": "witness", "forename": "Zoey", "surname": f"Quenell{t}"}]),
        crime(tag()),
    ]
    queries = [
        f"Zoe {surname}",
        f"Zoe Quenel{t}",  # two edits
        f"Zoe Qeunnell{t}",  # a transposition
        f"William Barkr{t} 1985-05-05",
        f"knife {t}",
        f"theft {t}",
        "vrm:CD34EFG",
    ]
    saved = [save(client, asettings, users["ana"], q) for q in queries]
    saved.append(save(client, asettings, users["ana"], "", type="crime", borough="Hackney"))
    try:
        docs: list[dict[str, Any]] = []
        index_records(
            [parse_record(r) for r in raws],
            asettings,
            client,
            extract_entities=False,
            refresh=False,  # match_batch refreshes what it reads
            hooks=[docs.extend],
        )
        mine = {sq.id for sq in saved}
        old = {
            (m.saved_id, m.slots)
            for m in percolation.percolate(client, asettings, docs)
            if m.saved_id in mine
        }
        new = {
            (m.saved_id, m.slots)
            for m in percolation.match_batch(client, asettings, docs)
            if m.saved_id in mine
        }
        assert new == old
        matched = {sid for sid, _ in new}
        assert {saved[0].id, saved[1].id, saved[2].id, saved[5].id, saved[6].id, saved[7].id} <= matched
        by_id = dict(new)
        assert by_id[saved[1].id] == (0, 2, 3)  # the misspelt name reaches both spellings
        assert 4 not in by_id[saved[5].id] and 1 not in by_id[saved[0].id]
    finally:
        for sq in saved:
            percolation.unregister(client, asettings, sq.id)


def test_per_record_notifications_of_version_1_read_as_groups_after_migration(
    client: OpenSearch, asettings: Settings, users: dict[str, Principal]
) -> None:
    """``lantern index migrate notifications`` turns a version-1 document (one ``record_id``)
    into a one-record group: shown, counted and seen by the dedupe lookup as before."""
    from lantern import indices

    ms = asettings.model_copy(update={"index_prefix": f"{asettings.index_prefix}mig-"})
    t = tag()
    ana = users["ana"]
    # The version-1 index, before anything creates the current one under this prefix.
    v1 = N.body(ms)
    v1["mappings"]["properties"] = {
        "recipient": {"type": "keyword"},
        "kind": {"type": "keyword"},
        "saved_query_id": {"type": "keyword"},
        "record_id": {"type": "keyword"},
        "message": {"type": "text", "index": False},
        "read": {"type": "boolean"},
        "read_at": {"type": "date"},
        "created_at": {"type": "date"},
    }
    alias = ms.index_name(N.NAME)
    v1["aliases"] = {alias: {}, indices.write_alias(ms, N): {"is_write_index": True}}
    old = f"{alias}-v1"
    client.indices.create(index=old, body=v1)
    rec = parse_record(crime(t))
    index_records([rec], ms, client, extract_entities=False, refresh=True)
    sq = SavedQueryStore(client, ms).create(ana, state_from_params([("q", t)]), name=f"watch {t}")
    legacy = {
        "recipient": ana.username,
        "kind": "match",
        "saved_query_id": sq.id,
        "record_id": rec.record_id,
        "read": False,
        "created_at": "2026-11-01T10:00:00Z",
    }
    client.index(index=old, id="legacy-1", body=legacy, refresh=True)
    try:
        new = indices.migrate(client, ms, N)
        assert new != old and not client.indices.exists(index=old)
        doc = client.get(index=alias, id="legacy-1")["_source"]
        assert doc[N.RECORD_IDS] == [rec.record_id] and N.LEGACY_RECORD_ID not in doc
        store = NotificationStore(client, ms)
        [view] = store.visible(ana)
        assert (view.saved_id, view.record_ids, view.read) == (sq.id, [rec.record_id], False)
        assert store.unread_count(ana) == 1
        # Already notified: the same match in a later batch adds nothing.
        assert store.add_matches([(sq.id, rec.record_id, ana.username)]) == Added(0, 0)
    finally:
        client.indices.delete(index=f"{ms.index_prefix}*", expand_wildcards="all", ignore=[404])
