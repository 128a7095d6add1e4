"""Shortest paths on the real node agree with an oracle graph built from the indexed documents.

The oracle: every document the analyst may read (``can_read``), each person (its resolved
nominal, else each of its linking keys; officers are never nodes), vehicle, phone and
postcode on it a node, every two of them on one record an edge; networkx gives the true
distances. The chart's search must find paths of exactly that length (or none beyond the
hop limit), and every path it returns must be a path of the oracle graph.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import networkx as nx
import pytest
from opensearchpy import OpenSearch

from lantern.clock import today_utc
from lantern.principal import Principal
from lantern.records import AnyRecord
from lantern.settings import Settings
from portal import chart as C
from search.access import can_read
from search.gateway import SecuredRecords
from tests.portal_fixtures import STANDARD_USERS

_A = STANDARD_USERS["analyst"]
ANALYST = Principal(
    _A.username, _A.display_name, frozenset(_A.roles), frozenset(_A.units), frozenset(_A.clearances)
)


def _nodes(doc: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    # A resolved person is its nominal alone; a person loaded without resolution is every one
    # of its linking keys (the chart's layers aggregate them all). Officers are never nodes.
    for p in doc.get("people") or []:
        if p.get("role") == C.OFFICER_ROLE:
            continue
        if p.get("nominal_id"):
            out.add(f"person:{p['nominal_id']}")
        else:
            out.update(f"person:{k}" for k in p.get("person_key") or [])
    for kind, label in C.ENTITY_KINDS.items():
        out.update(f"{kind}:{v}" for v in (doc.get("entities") or {}).get(label.lower()) or [])
    return out


@pytest.fixture(scope="module")
def oracle(settings: Settings, client: OpenSearch, indexed: list[AnyRecord]) -> nx.Graph:
    user = ANALYST
    res = client.search(index=settings.index_name("records"), body={"size": 5000, "query": {"match_all": {}}})
    g: nx.Graph = nx.Graph()
    for h in res["hits"]["hits"]:
        doc = h["_source"]
        if doc.get("document") or not can_read(user, doc, today_utc()):
            continue
        g.add_edges_from(itertools.combinations(sorted(_nodes(doc)), 2))
    return g


def test_paths_have_the_true_shortest_length(
    settings: Settings, client: OpenSearch, oracle: nx.Graph
) -> None:
    records = SecuredRecords(client, settings, ANALYST)
    rng = random.Random(14)
    people = sorted(n for n in oracle if n.startswith("person:"))
    checked = {1: 0, 2: 0, 3: 0, 4: 0, None: 0}
    for a in rng.sample(people, 40):
        lengths = nx.single_source_shortest_path_length(oracle, a, cutoff=5)
        for want in (1, 2, 3, 4, None):
            targets = sorted(n for n, d in lengths.items() if d == want and n.startswith("person:"))
            if want is None:
                targets = sorted(n for n in people if n not in lengths)
            if not targets or checked[want] >= 4:
                continue
            b = rng.choice(targets)
            result = C.shortest_paths(records, C.parse_node(a), C.parse_node(b), 4)
            if want is None:
                assert result.paths == [], (a, b)
            else:
                assert result.paths, (a, b, want)
                for path in result.paths:
                    assert len(path) - 1 == want, (a, b, path)
                    assert path[0] == a and path[-1] == b
                    assert all(oracle.has_edge(u, v) for u, v in itertools.pairwise(path)), path
                # Every hop of every path is listed with the records that make it.
                assert {frozenset((h.source, h.target)) for h in result.hops} == {
                    frozenset(e) for p in result.paths for e in itertools.pairwise(p)
                }
                assert all(h.count >= 1 and h.records for h in result.hops)
            checked[want] += 1
    assert all(n >= 1 for n in checked.values()), checked


def test_hub_cap_ranks_a_nodes_neighbours_over_its_newest_records(
    settings: Settings, client: OpenSearch, oracle: nx.Graph
) -> None:
    """With a hub cap of 2 records, a node on more records shows only people of its 2 newest
    readable records, keeps its whole record count, and says so in a note."""
    records = SecuredRecords(client, settings, ANALYST)
    res = client.search(index=settings.index_name("records"), body={"size": 5000, "query": {"match_all": {}}})
    by_node: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for h in res["hits"]["hits"]:
        doc = h["_source"]
        if doc.get("document") or not can_read(ANALYST, doc, today_utc()):
            continue
        for n in _nodes(doc):
            if not n.startswith("person:"):
                by_node.setdefault(n, []).append((str(doc.get("record_date") or ""), doc))
    # A node on at least 4 readable records whose 2 newest dates are distinct from the rest.
    node, docs = next(
        (n, sorted(d, key=lambda x: x[0], reverse=True))
        for n, d in sorted(by_node.items())
        if len(d) >= 4 and sorted(x[0] for x in d)[-3] < sorted(x[0] for x in d)[-2]
    )
    newest = {p for _, d in docs[:2] for p in _nodes(d) if p.startswith("person:")}
    everyone = {p for _, d in docs for p in _nodes(d) if p.startswith("person:")}
    assert everyone - newest  # the cap must change the answer, or this test proves nothing
    g = C.expand(records, C.parse_node(node), "persons", C.MAX_CAP, sample=2)
    shown = {i for i, n in g.nodes.items() if n.kind == C.PERSON}
    assert shown and shown <= newest
    assert g.nodes[node].count == len(docs)
    assert any("hub cap" in note for note in g.notes)
    full = C.expand(records, C.parse_node(node), "persons", C.MAX_CAP)
    assert {i for i, n in full.nodes.items() if n.kind == C.PERSON} - shown
    assert not full.notes


def test_paths_go_around_hubs(settings: Settings, client: OpenSearch, oracle: nx.Graph) -> None:
    """With a hub limit, no path passes through a node on more readable records than the limit
    (ends may be hubs), paths have the true length in the graph without hubs, and the result
    names the hubs it went around."""
    records = SecuredRecords(client, settings, ANALYST)
    res = client.search(index=settings.index_name("records"), body={"size": 5000, "query": {"match_all": {}}})
    counts: dict[str, int] = {}
    for h in res["hits"]["hits"]:
        doc = h["_source"]
        if doc.get("document") or not can_read(ANALYST, doc, today_utc()):
            continue
        # As the hub list counts: a person per mention (each linking key of a person without a
        # nominal), an identifier per record.
        for p in doc.get("people") or []:
            if p.get("role") == C.OFFICER_ROLE:
                continue
            for key in [p["nominal_id"]] if p.get("nominal_id") else p.get("person_key") or []:
                counts[f"person:{key}"] = counts.get(f"person:{key}", 0) + 1
        for n in _nodes(doc):
            if not n.startswith("person:"):
                counts[n] = counts.get(n, 0) + 1
    limit = sorted(counts.values(), reverse=True)[4]
    hubs = {n for n, c in counts.items() if c > limit}
    assert hubs
    assert {f"{r.kind}:{r.value}" for r in C.hub_nodes(records, limit)} == hubs
    rng = random.Random(15)
    people = sorted(n for n in oracle if n.startswith("person:") and n not in hubs)
    around = 0
    for a in rng.sample(people, len(people)):
        if around >= 2:
            break
        ends = set(oracle) - hubs | {a}
        plain = nx.single_source_shortest_path_length(oracle, a, cutoff=4)
        without = nx.single_source_shortest_path_length(oracle.subgraph(ends), a, cutoff=4)
        # A person whose shortest route runs through a hub in the full graph only.
        far = sorted(b for b in people if b in plain and without.get(b, 5) > plain[b])
        if not far:
            continue
        b = rng.choice(far)
        result = C.shortest_paths(records, C.parse_node(a), C.parse_node(b), 4, hub_limit=limit)
        want = nx.shortest_path_length(oracle.subgraph(ends | {b}), a, b) if b in without else None
        if want is None:
            assert result.paths == [], (a, b)
        else:
            assert result.paths and all(len(p) - 1 == want for p in result.paths), (a, b, result.paths)
        assert not {n for p in result.paths for n in p[1:-1]} & hubs
        assert result.avoided and {i for i, _ in result.avoided} <= hubs
        assert all(c == counts[i] for i, c in result.avoided)
        around += 1
    assert around == 2  # pairs whose answer the hubs change were found, or this proves nothing


def test_hub_list_is_fetched_off_the_request_path_and_kept_per_access_filter(
    settings: Settings, client: OpenSearch, oracle: nx.Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Warming fetches the list in the background; a list past HUB_REFRESH_AFTER is answered at
    once while a fresh one is fetched behind it; past HUB_TTL it is not used; a user who may read
    something else never gets another access filter's list."""
    from concurrent.futures import Future, ThreadPoolExecutor

    from cachetools import LRUCache

    submitted: list[Future[dict[C.NodeRef, int]]] = []

    class Recording(ThreadPoolExecutor):
        def submit(self, *args: Any, **kwargs: Any) -> Any:
            f = super().submit(*args, **kwargs)
            submitted.append(f)
            return f

    now = [1000.0]
    monkeypatch.setattr(C, "_clock", lambda: now[0])
    monkeypatch.setattr(C, "_HUBS", LRUCache(maxsize=16))
    monkeypatch.setattr(C, "_HUBS_POOL", Recording(max_workers=1))
    records = SecuredRecords(client, settings, ANALYST)
    limit = 3
    warming = C.warm_hubs(records, limit)
    assert warming is not None and submitted == [warming]
    fresh = warming.result()
    assert fresh and all(c > limit for c in fresh.values())
    assert C.warm_hubs(records, limit) is None and len(submitted) == 1  # held: nothing fetched
    assert C.cached_hubs(records, limit) == fresh
    _o = STANDARD_USERS["officer"]
    officer = Principal(_o.username, _o.display_name, frozenset(_o.roles), frozenset(_o.units), frozenset())
    assert C.cached_hubs(SecuredRecords(client, settings, officer), limit) is None

    # An old list (marked, to tell it from the fresh one) is answered, and refreshed behind it.
    key = C._hub_key(records, limit, today_utc())
    marked = {C.NodeRef("vrm", "MARKED"): 99}
    C._HUBS[key] = (now[0], marked)
    now[0] += C.HUB_REFRESH_AFTER + 1
    assert C.cached_hubs(records, limit) == marked
    assert len(submitted) == 2 and submitted[-1].result() == fresh
    assert C.cached_hubs(records, limit) == fresh
    # Past the TTL a list is never used.
    now[0] += C.HUB_TTL
    assert C.cached_hubs(records, limit) is None
    assert C.hub_nodes(records, limit) == fresh
