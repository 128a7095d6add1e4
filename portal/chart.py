"""Link charts: nodes, edges, expansion and shortest paths, all from records the user may read.

Every number on a chart comes from :class:`search.gateway.SecuredRecords` (the access
filter is added to every body, aggregations pass its allow-list), so a record the user
may not read never contributes a node, an edge or a count. The query builders here are
pure functions (typed in, dict out, tested by comparing dicts); the functions taking a
``SecuredRecords`` run them and shape the answers.

Nodes are ``kind:value``: ``person:<key>``, ``vrm:<VRM>``, ``phone:<number>``,
``postcode:<postcode>``, ``record:<id>``. A person is the resolved *nominal* (issue 10):
``person:N-…``, the ``people.nominal_id`` the indexer keeps current on every record, so one
node stands for one person across all their records. Its label and counts come from the
readable records only (the nominal's names are those of readable mentions, as on the person
page; a nominal with no readable record is not drawn at all). A record loaded without
person resolution (``--no-persons``) has people without a nominal: those are charted as
*named persons* under their linking key (``people.person_key``), so a chart still works
there. :func:`person_key` is the one place that decides which a person is.

Grouping readable records under one nominal shows no more than the record pages do: each
readable record already names its people's nominal id (``/api/records/{id}``).

Paths are found by a layered bidirectional breadth-first search in which each layer is
one aggregation over the records that mention any node of the previous layer (so a
four-hop search is a handful of queries, not one per node); each layer also says which of
the other side's nodes it reaches and through which of its own (an ``include``-restricted
terms aggregation under each such node's bucket), so a path met there is traced back with no
further query; other nodes on a path are traced with ``include``-restricted aggregations, and
``networkx`` computes the shortest paths over the traced subgraph. Paths go around hubs (nodes
on more than :data:`HUB_SAMPLE` readable records, :func:`hub_nodes`); the page names those met.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Final
from xml.sax.saxutils import quoteattr

import networkx as nx
from cachetools import LRUCache

from lantern.clock import today_utc
from lantern.errors import LanternError, SearchUnavailable
from mappings import fields as F
from search.access import access_filter
from search.gateway import SecuredRecords, records_alias

Query = dict[str, Any]

# --------------------------------------------------------------------------- the model

PERSON: Final = "person"
RECORD: Final = "record"
# Chart kind -> entity label of the identifier kinds.
ENTITY_KINDS: Final = {"vrm": "VRM", "phone": "PHONE", "postcode": "POSTCODE"}
KINDS: Final = (PERSON, *ENTITY_KINDS, RECORD)
KIND_NAMES: Final = {
    PERSON: "Person",
    "vrm": "Vehicle",
    "phone": "Phone",
    "postcode": "Address (postcode)",
    RECORD: "Record",
    "more": "More",
    "group": "Group",
}
GROUP: Final = "group"  # a named group of nodes (the analyst's, from a selection; never from records)
# What a node can be expanded into.
RELATIONS: Final = ("records", "persons", "vrm", "phone", "postcode")
RELATION_NAMES: Final = {
    "records": "records",
    "persons": "people",
    "vrm": "vehicles",
    "phone": "phones",
    "postcode": "addresses",
}
# Edge labels of the derived links, by the kind of the far node.
LINK_NAMES: Final = {"vrm": "same vehicle", "phone": "same phone", "postcode": "same address"}
CO_OFFENDER_ROLES: Final = ("suspect", "defendant", "detainee")
OFFICER_ROLE: Final = "officer"

# Which field holds a person node's key (see the module docstring): the resolved nominal, or
# for people without one the named linking key.
PERSON_FIELD: Final = F.people(F.P_NOMINAL_ID)
NAMED_FIELD: Final = F.people(F.P_PERSON_KEY)
NOMINAL_PREFIX: Final = "N-"

DEFAULT_CAP: Final = 25
MAX_CAP: Final = 200
# The hub cap: a node's neighbours are ranked over its newest HUB_SAMPLE readable records (an
# address on 5,000 records is ranked over its newest 1,000). A product choice, said on the
# chart (a note) and in the issue 14 note: without it one hub's expansion aggregated every
# person of thousands of records (make bench-chart: p95 ~2 s at 5,000 records on a busy
# 2-core node); with it a hub costs what a node of HUB_SAMPLE records does.
HUB_SAMPLE: Final = 1000
RECENCY_ORIGIN: Final = "2100-01-01"
EDGE_RECORD_IDS: Final = 10  # record ids kept per edge (for the hop list and the audit)
LAYER_TERMS: Final = 2000  # neighbours kept per kind in one breadth-first layer
# Both sides of a path search grow in the same round trip while their frontiers are this small:
# in practice the first step from each end. Measured side by side (make bench-chart, 100k
# records): growing both sides further saved round trips but cost more engine work than it
# saved on a busy 2-core node (p95 1.22x the one-side-at-a-time search), so beyond the ends the
# smaller side grows alone and the last hop is a probe.
PAIR_FRONTIER: Final = 5
MAX_HOPS: Final = 6
TERMS_HINT: Final = "map"  # see _terms
# Paths do not pass through hubs: a node on more than HUB_SAMPLE readable records (an address
# on thousands of records links everyone at it) is never walked through, only ever an end.
# A product choice, said on the page: analysts exclude such nodes from link analysis anyway,
# and walking one aggregated its thousands of records in one step (make bench-chart). The hub
# list is one index-wide aggregation per access (what a user may read decides the counts),
# kept HUB_TTL seconds: a node that became a hub within that time is still walked through.
HUB_LIST: Final = 1000  # hubs kept per kind
HUB_TTL: Final = 600
# A list older than this is refreshed in the background when read (see cached_hubs).
HUB_REFRESH_AFTER: Final = 420
RECORD_SOURCE: Final = [
    F.ID,
    F.RECORD_TYPE,
    F.REFERENCE,
    F.TITLE,
    F.RECORD_DATE,
    F.people(F.P_ROLE),
    F.people(F.P_NAME),
    F.people(F.P_DOB),
    PERSON_FIELD,
    NAMED_FIELD,
    F.entity("VRM"),
    F.entity("PHONE"),
    F.entity("POSTCODE"),
]


class ChartError(ValueError):
    """A node id or relation the chart cannot use (bad input: a 400, never a 500)."""


@dataclass(frozen=True, order=True)
class NodeRef:
    kind: str
    value: str

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.value}"


# What the JSON API accepts as a node, an expansion and a path end, declared in its OpenAPI
# document (so a schema-valid request is one parse_node/parse_spec accept). Values are
# identifiers (linking keys, canonical VRMs, phones, postcodes, record ids), never free text.
_VALUE = r"[A-Za-z0-9+][A-Za-z0-9 +:/._-]{0,198}"
NODE_PATTERN: Final = rf"^(person|vrm|phone|postcode|record):{_VALUE}$"
PATH_NODE_PATTERN: Final = rf"^(person|vrm|phone|postcode):{_VALUE}$"
_NODE = rf"(person|vrm|phone|postcode|record):{_VALUE}"
EXPANSION_PATTERN: Final = (
    rf"^(person|vrm|phone|postcode|record):{_VALUE}\|(records|persons|vrm|phone|postcode)$"
)


def parse_node(text: str) -> NodeRef:
    kind, sep, value = text.strip().partition(":")
    kind = kind.lower()
    value = value.strip()
    if not sep or kind not in KINDS or not value or len(value) > 200:
        raise ChartError(f"not a chart node: {text[:80]!r}")
    return NodeRef(kind, value)


def is_nominal(value: str) -> bool:
    return value.startswith(NOMINAL_PREFIX)


def person_key(person: Mapping[str, Any]) -> str | None:
    """The key a person is charted under: the one place that decides what "a person" is.

    The resolved nominal's id when the record has one; else (a load without resolution) the
    authoritative ``pnc:`` linking key when there is one, else the date-of-birth key.
    Officers are not charted (they appear on thousands of records).
    """
    if person.get(F.P_ROLE) == OFFICER_ROLE:
        return None
    if person.get(F.P_NOMINAL_ID):
        return str(person[F.P_NOMINAL_ID])
    keys = [str(k) for k in person.get(F.P_PERSON_KEY) or []]
    for k in keys:
        if k.startswith("pnc:"):
            return k
    return keys[0] if keys else None


@dataclass
class Node:
    id: str
    kind: str
    label: str
    count: int | None = None  # records behind it (for a "+N more" node: how many are hidden)
    detail: str = ""
    href: str = ""
    parent: str = ""  # the id of the group node it is in (see :func:`apply_groups`)


@dataclass
class Edge:
    source: str
    target: str
    kind: str  # "appears in" or a derived link
    label: str
    count: int
    record_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # person-person: co-offender, co-detained

    @property
    def id(self) -> str:
        a, b = sorted((self.source, self.target))
        return f"{a}|{b}|{self.kind}"


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: dict[str, Edge] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_node(self, node: Node) -> None:
        old = self.nodes.get(node.id)
        if old is None:
            self.nodes[node.id] = node
        else:
            if node.count is not None:
                old.count = max(old.count or 0, node.count)
            if old.label == old.id.partition(":")[2] and node.label:
                old.label = node.label
            old.detail = old.detail or node.detail

    def add_edge(self, edge: Edge) -> None:
        old = self.edges.get(edge.id)
        if old is None:
            self.edges[edge.id] = edge
            return
        old.count = max(old.count, edge.count)
        old.record_ids = sorted(set(old.record_ids) | set(edge.record_ids))[
            : max(EDGE_RECORD_IDS, len(old.record_ids))
        ]
        for k, v in edge.counts.items():
            old.counts[k] = max(old.counts.get(k, 0), v)

    def merge(self, other: Graph) -> None:
        for n in other.nodes.values():
            self.add_node(n)
        for e in other.edges.values():
            self.add_edge(e)
        self.notes.extend(other.notes)

    def record_ids(self) -> list[str]:
        """Every record behind the chart as shown (record nodes and the records of each edge)."""
        ids = {n.id.partition(":")[2] for n in self.nodes.values() if n.kind == RECORD}
        for e in self.edges.values():
            ids.update(e.record_ids)
        return sorted(ids)

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "label": n.label,
                    "count": n.count,
                    "detail": n.detail,
                    "href": n.href,
                    "parent": n.parent,
                }
                for n in self.nodes.values()
            ],
            "edges": [
                {
                    "id": e.id,
                    "source": e.source,
                    "target": e.target,
                    "kind": e.kind,
                    "label": e.label,
                    "count": e.count,
                    "counts": e.counts,
                    "record_ids": e.record_ids,
                }
                for e in self.edges.values()
            ],
            "notes": self.notes,
        }


def node_href(ref: NodeRef, label: str = "") -> str:
    from urllib.parse import quote

    if ref.kind == RECORD:
        return f"/records/{quote(ref.value, safe='')}"
    if ref.kind == PERSON:
        if is_nominal(ref.value):
            return f"/persons/{quote(ref.value, safe='')}"
        return f"/entity/PERSON/{quote(label, safe='')}" if label else ""
    return f"/entity/{ENTITY_KINDS[ref.kind]}/{quote(ref.value, safe='')}"


def make_node(ref: NodeRef, label: str = "", count: int | None = None, detail: str = "") -> Node:
    shown = label or ref.value
    return Node(ref.id, ref.kind, shown, count, detail, node_href(ref, label))


# --------------------------------------------------------------------------- builders (pure)


def _nested(query: Query) -> Query:
    return {"nested": {"path": F.PEOPLE, "query": query, "score_mode": "none"}}


_NO_NOMINAL: Final[Query] = {"exists": {"field": PERSON_FIELD}}


def person_clause(values: Sequence[str]) -> Query:
    """People (inside ``people``) charted under any of ``values``: nominal ids match the
    nominal; named keys match only people without a nominal (a resolved person is charted
    under the nominal alone, never twice)."""
    nominal = sorted({v for v in values if is_nominal(v)})
    named = sorted({v for v in values if not is_nominal(v)})
    should: list[Query] = []
    if nominal:
        should.append({"terms": {PERSON_FIELD: nominal}})
    if named:
        should.append({"bool": {"filter": [{"terms": {NAMED_FIELD: named}}], "must_not": [_NO_NOMINAL]}})
    if len(should) == 1:
        return should[0]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def person_matches(person: Mapping[str, Any], value: str) -> bool:
    """Is this person (a record's ``people`` entry) charted under ``value``?"""
    if is_nominal(value):
        return person.get(F.P_NOMINAL_ID) == value
    return not person.get(F.P_NOMINAL_ID) and value in (person.get(F.P_PERSON_KEY) or [])


def node_query(ref: NodeRef) -> Query:
    """Records mentioning one node."""
    if ref.kind == PERSON:
        return _nested(person_clause([ref.value]))
    if ref.kind == RECORD:
        return {"ids": {"values": [ref.value]}}
    return {"term": {F.entity(ENTITY_KINDS[ref.kind]): ref.value}}


def nodes_query(refs: Iterable[NodeRef]) -> Query:
    """Records mentioning any of ``refs`` (one terms clause per kind)."""
    by_kind: dict[str, list[str]] = {}
    for r in refs:
        by_kind.setdefault(r.kind, []).append(r.value)
    should: list[Query] = []
    for kind, values in sorted(by_kind.items()):
        values = sorted(set(values))
        if kind == PERSON:
            should.append(_nested(person_clause(values)))
        elif kind == RECORD:
            should.append({"ids": {"values": values}})
        else:
            should.append({"terms": {F.entity(ENTITY_KINDS[kind]): values}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _terms(fld: str, size: int) -> Query:
    """A terms aggregation over the few records one chart step matches.

    ``execution_hint: map`` collects the values of the matching documents only, where the
    default builds the field's global ordinals: a map of every value in the index, rebuilt on
    first use after each refresh that brought new records. While records were being written
    to the 100k bench index, a profile of one person expansion showed ~190 ms per person-key
    field spent loading them (OpenSearch ``profile``, a busy 2-core node), for a step that
    matches tens to a few thousand records. Index-wide aggregations (:func:`build_hubs`) keep
    the default.
    """
    return {"field": fld, "size": size, "min_doc_count": 1, "execution_hint": TERMS_HINT}


def _ids_hits(n: int) -> Query:
    """A bucket's first ``n`` record ids. They are the sort values (doc values): with
    ``stored_fields: _none_`` no hit reads its stored ``_id``, a stored-fields block
    decompressed per hit (profile: 40-65 ms of a 5,000-record hub's expansion for 260 ids)."""
    return {"top_hits": {"size": n, "_source": False, "stored_fields": ["_none_"], "sort": [{F.ID: "asc"}]}}


# A person bucket's name, date of birth and keys, read from doc values (see _ids_hits).
WHO_FIELDS: Final = {
    F.P_NAME: F.keyword_sub(F.people(F.P_NAME)),
    F.P_DOB: F.people(F.P_DOB),
    F.P_NOMINAL_ID: PERSON_FIELD,
    F.P_PERSON_KEY: NAMED_FIELD,
    F.P_ROLE: F.people(F.P_ROLE),
}


def _who_hits() -> Query:
    return {
        "top_hits": {
            "size": 1,
            "_source": False,
            "stored_fields": ["_none_"],
            "docvalue_fields": [
                {"field": f, "format": "strict_date"} if k == F.P_DOB else f for k, f in WHO_FIELDS.items()
            ],
        }
    }


def _who(hit: Mapping[str, Any]) -> dict[str, Any]:
    """A ``people`` entry (as in ``_source``) from a :func:`_who_hits` hit."""
    fields = hit.get("fields") or {}
    out: dict[str, Any] = {}
    for key, fld in WHO_FIELDS.items():
        values = fields.get(fld) or []
        if values:
            out[key] = list(values) if key == F.P_PERSON_KEY else values[0]
    return out


def _not_officer() -> Query:
    return {"bool": {"must_not": [{"term": {F.people(F.P_ROLE): OFFICER_ROLE}}]}}


def _by_kind(refs: Iterable[NodeRef]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in refs:
        out.setdefault(r.kind, []).append(r.value)
    return out


def _neighbour_aggs(
    size: int,
    *,
    include: Mapping[str, Sequence[str]] | None = None,
    ids: int = 0,
    parents: Sequence[NodeRef] = (),
) -> Query:
    """Terms per identifier kind and per person key over the matching records.

    With ``parents`` (a path search's frontier), each neighbour's bucket also says which of
    them share a record with it (the same terms, restricted to ``parents``): the edges back to
    the frontier come with the step. Only for few buckets (``include``, see :func:`build_layer`)."""
    up: Query = _neighbour_aggs(len(parents) + 1, include=_by_kind(parents)) if parents else {}
    aggs: Query = {}
    for kind, label in ENTITY_KINDS.items():
        terms = _terms(F.entity(label), size)
        if include is not None:
            if not include.get(kind):
                continue
            terms["include"] = sorted(include[kind])
        agg: Query = {"terms": terms}
        subs: Query = {"ids": _ids_hits(ids)} if ids else {}
        subs.update(up)
        if subs:
            agg["aggs"] = subs
        aggs[kind] = agg
    if include is None or include.get(PERSON):
        back: Query = {"ids": _ids_hits(ids)} if ids else {}
        back.update(up)
        sub: Query = {"back": {"reverse_nested": {}, "aggs": back}} if back else {}
        aggs[PERSON] = {
            "nested": {"path": F.PEOPLE},
            "aggs": {
                "people": {
                    "filter": _not_officer(),
                    "aggs": person_key_aggs(size, sub, None if include is None else include[PERSON]),
                }
            },
        }
    return aggs


def person_key_aggs(
    size: int,
    sub: Query,
    include: Sequence[str] | None = None,
    named_size: int | None = None,
    *,
    min_doc_count: int = 1,
) -> Query:
    """Terms over the person keys (inside ``people``): ``keys`` the nominals, ``named.keys``
    the linking keys of people without a nominal (``named_size`` of them, default ``size``);
    ``sub`` under each bucket. With ``include`` only those keys (a branch with none is left out)."""
    out: Query = {}
    for name, fld, wanted, n in (
        (
            "keys",
            PERSON_FIELD,
            None if include is None else sorted(v for v in include if is_nominal(v)),
            size,
        ),
        (
            "named",
            NAMED_FIELD,
            None if include is None else sorted(v for v in include if not is_nominal(v)),
            size if named_size is None else named_size,
        ),
    ):
        if wanted is not None and not wanted:
            continue
        terms = _terms(fld, n)
        if min_doc_count > 1:
            # Index-wide (the hub list): global ordinals suit a scan of every record.
            terms = {"field": fld, "size": n, "min_doc_count": min_doc_count}
        if wanted is not None:
            terms["include"] = wanted
        agg: Query = {"terms": terms}
        if sub:
            agg["aggs"] = sub
        if name == "named":
            agg = {"filter": {"bool": {"must_not": [_NO_NOMINAL]}}, "aggs": {"keys": agg}}
        out[name] = agg
    return out


def person_buckets(people: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The buckets of :func:`person_key_aggs`' answer, nominals first."""
    named = ((people.get("named") or {}).get("keys") or {}).get("buckets", [])
    return [*((people.get("keys") or {}).get("buckets", [])), *named]


def build_records_expansion(ref: NodeRef, cap: int) -> Query:
    """The newest ``cap`` readable records mentioning ``ref``, and how many there are."""
    return {
        "query": node_query(ref),
        "size": cap,
        "track_total_hits": True,
        "sort": [{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}],
        "_source": {"includes": RECORD_SOURCE},
    }


def build_kind_expansion(ref: NodeRef, relation: str, cap: int) -> Query:
    """The ``cap`` identifiers (or persons) most often on records with ``ref``, each with its
    record count, a few record ids, and (for persons) the co-offender/co-detained counts."""
    if relation in ENTITY_KINDS:
        fld = F.entity(ENTITY_KINDS[relation])
        return {
            "query": node_query(ref),
            "size": 0,
            "track_total_hits": True,
            "aggs": {
                "n": {
                    "terms": _terms(fld, cap + 1),
                    "aggs": {"ids": _ids_hits(EDGE_RECORD_IDS)},
                },
                "distinct": {"cardinality": {"field": fld}},
            },
        }
    if relation != "persons":
        raise ChartError(f"unknown relation {relation!r}")
    back: Query = {
        "reverse_nested": {},
        "aggs": {
            "ids": _ids_hits(EDGE_RECORD_IDS),
            "custody": {"filter": {"term": {F.RECORD_TYPE: "custody"}}},
        },
    }
    # The label: the person's commonest names on the readable records that link them (see
    # label_aggs; over all their readable records it took one more request, and a persons
    # expansion's p95 under ingest went from 1x to 1.6-1.9x the code before, make bench-chart
    # --churn). ``who`` only tells which of a named person's keys they are charted under.
    keys_aggs: Query = {"who": _who_hits(), "back": back, **_name_aggs()}
    if ref.kind == PERSON:
        # Co-offender: this person AND the other both in an offender role on one record.
        keys_aggs["as_offender"] = {
            "filter": {"terms": {F.people(F.P_ROLE): list(CO_OFFENDER_ROLES)}},
            "aggs": {
                "back": {
                    "reverse_nested": {},
                    "aggs": {
                        "both": {
                            "filter": _nested(
                                {
                                    "bool": {
                                        "filter": [
                                            person_clause([ref.value]),
                                            {"terms": {F.people(F.P_ROLE): list(CO_OFFENDER_ROLES)}},
                                        ]
                                    }
                                }
                            )
                        }
                    },
                }
            },
        }
    # One more than the cap for nominals (one key each); twice that for named persons, who may
    # carry two keys (PNC and DOB), the non-canonical one dropped when read. Every bucket costs
    # its sub-aggregations.
    people = person_key_aggs(cap + 1, keys_aggs, named_size=2 * cap + 2)
    people["distinct"] = {"cardinality": {"field": PERSON_FIELD}}
    people["named"]["aggs"]["distinct"] = {"cardinality": {"field": NAMED_FIELD}}
    return {
        "query": node_query(ref),
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "p": {
                "nested": {"path": F.PEOPLE},
                "aggs": {"people": {"filter": _not_officer(), "aggs": people}},
            }
        },
    }


def hub_sampled(body: Query, sample: int = HUB_SAMPLE) -> Query:
    """``body``'s aggregations over the newest ``sample`` of the records it matches (the hub
    cap, :data:`HUB_SAMPLE`): records score by recency (``distance_feature`` on the record
    date from a fixed future origin, no script) and a ``sampler`` keeps the best; a node with
    fewer records is unchanged. The hit count stays the whole number of records."""
    # A fixed origin in the future rather than "now": the same ranking (newer is nearer), and
    # the body stays cacheable by the engine's request cache ("now" makes a body uncacheable:
    # measured 2-4x slower on repeated expansions, make bench-chart).
    recency = {"distance_feature": {"field": F.RECORD_DATE, "origin": RECENCY_ORIGIN, "pivot": "3650d"}}
    return {
        **body,
        "query": {"bool": {"filter": [body["query"]], "should": [recency]}},
        "aggs": {"sample": {"sampler": {"shard_size": sample}, "aggs": body["aggs"]}},
    }


def build_layer(
    refs: Sequence[NodeRef], size: int = LAYER_TERMS, *, targets: Sequence[NodeRef] = ()
) -> Query:
    """One breadth-first layer: every neighbour of any of ``refs``. With ``targets`` (the other
    side's nodes in a path search), also ``meet``: which of them this layer reaches, each with
    the nodes of ``refs`` it shares a record with (:func:`build_probe`'s aggregations), so a
    path found in this layer needs no trace-back request.

    Parents are asked for the targets only: asked for every neighbour of a layer (thousands at
    depth two on the 100k bench) they made the layer 5-10x dearer (make bench-chart: p95 3.5x
    the code that traced back)."""
    aggs = _neighbour_aggs(size)
    if targets:
        aggs["meet"] = {"filter": {"match_all": {}}, "aggs": build_probe(refs, targets, parents=True)["aggs"]}
    return {"query": nodes_query(refs), "size": 0, "aggs": aggs}


def build_hubs(limit: int = HUB_SAMPLE, size: int = HUB_LIST) -> Query:
    """Every node on more than ``limit`` readable records (the hubs paths do not pass through).

    A person's count here is of their mentions (one per record but for a person named twice
    on one record): close enough to decide what is a hub, and it needs no reverse_nested."""
    aggs: Query = {
        kind: {"terms": {"field": F.entity(label), "size": size, "min_doc_count": limit + 1}}
        for kind, label in ENTITY_KINDS.items()
    }
    aggs[PERSON] = {
        "nested": {"path": F.PEOPLE},
        "aggs": {
            "people": {
                "filter": _not_officer(),
                "aggs": person_key_aggs(size, {}, min_doc_count=limit + 1),
            }
        },
    }
    return {"query": {"match_all": {}}, "size": 0, "aggs": aggs}


def build_sides(steps: Sequence[tuple[str, Query]]) -> Query:
    """Several layer bodies as ONE body: a ``filter`` aggregation per side holding that side's
    aggregations. Every body costs the engine a fixed setup (the access filter, a shard-level
    search) that dominated a path search on a busy node: one body per node traced back was
    measured at 100-250 ms each at load 20 (make bench-chart)."""
    return {
        "query": {"bool": {"should": [b["query"] for _, b in steps], "minimum_should_match": 1}},
        "size": 0,
        "aggs": {side: {"filter": b["query"], "aggs": b["aggs"]} for side, b in steps},
    }


def build_probe(refs: Sequence[NodeRef], targets: Sequence[NodeRef], *, parents: bool = False) -> Query:
    """A last layer: only which of ``targets`` are neighbours of any of ``refs`` (the other
    side's nodes), not every neighbour: the widest layer of a search is never listed. With
    ``parents``, each target found says which of ``refs`` it shares a record with."""
    return {
        "query": nodes_query(refs),
        "size": 0,
        "aggs": _neighbour_aggs(len(targets) + 1, include=_by_kind(targets), parents=refs if parents else ()),
    }


def build_trace(ref: NodeRef, candidates: Sequence[NodeRef]) -> Query:
    """Which of ``candidates`` share a readable record with ``ref`` (and on how many)."""
    include: dict[str, list[str]] = {}
    for c in candidates:
        include.setdefault(c.kind, []).append(c.value)
    return {
        "query": {"bool": {"filter": [node_query(ref), nodes_query(candidates)]}},
        "size": 0,
        "aggs": _neighbour_aggs(len(candidates) + 1, include=include),
    }


def build_traces(jobs: Sequence[tuple[NodeRef, Sequence[NodeRef]]]) -> Query:
    """:func:`build_trace` for many (node, candidates) at once: ONE body, a ``filter``
    aggregation per job (``t0``, ``t1``…). Every body costs the engine a fixed setup (the access
    filter, a shard-level search) that dominated a path search on a busy node: one body per
    node traced was measured at 100-250 ms each at load 20 (make bench-chart)."""
    aggs: Query = {}
    for i, (ref, candidates) in enumerate(jobs):
        trace = build_trace(ref, candidates)
        aggs[f"t{i}"] = {"filter": trace["query"], "aggs": trace["aggs"]}
    return {
        "query": {"bool": {"should": [a["filter"] for a in aggs.values()], "minimum_should_match": 1}},
        "size": 0,
        "aggs": aggs,
    }


PATH_RECORD_SOURCE: Final = [F.ID, F.RECORD_TYPE, F.REFERENCE, F.TITLE, F.RECORD_DATE]


def build_path_details(
    nodes: Sequence[NodeRef], pairs: Sequence[tuple[NodeRef, NodeRef]], labelled: Sequence[NodeRef] = ()
) -> Query:
    """Labels and counts of the nodes on found paths (``n0``…: as :func:`build_describe`), the
    records of each hop (``h0``…: as :func:`build_hop`) and the labels of ``labelled`` persons
    (``l0``…: the hubs a search went around), in ONE body of ``filter`` aggregations over the
    records mentioning any of them (see :func:`build_sides`)."""
    aggs: Query = {}
    for i, ref in enumerate(nodes):
        aggs[f"n{i}"] = {
            "filter": node_query(ref),
            **({"aggs": label_aggs(ref)} if ref.kind == PERSON else {}),
        }
    for i, ref in enumerate(labelled):
        aggs[f"l{i}"] = {"filter": node_query(ref), "aggs": label_aggs(ref)}
    for i, (a, b) in enumerate(pairs):
        aggs[f"h{i}"] = {
            "filter": {"bool": {"filter": [node_query(a), node_query(b)]}},
            "aggs": {
                "top": {
                    "top_hits": {
                        "size": EDGE_RECORD_IDS,
                        "sort": [{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}],
                        "_source": {"includes": PATH_RECORD_SOURCE},
                    }
                }
            },
        }
    return {"query": nodes_query([*nodes, *labelled]), "size": 0, "aggs": aggs}


def _as_hits(bucket: Mapping[str, Any]) -> dict[str, Any]:
    """A ``filter`` bucket with a ``top`` top_hits, shaped like a search answer."""
    hits = ((bucket.get("top") or {}).get("hits") or {}).get("hits") or []
    return {"hits": {"total": {"value": int(bucket.get("doc_count", 0))}, "hits": hits}}


def build_hop(a: NodeRef, b: NodeRef, size: int = EDGE_RECORD_IDS) -> Query:
    """The readable records that make one hop (both ends on the record)."""
    return {
        "query": {"bool": {"filter": [node_query(a), node_query(b)]}},
        "size": size,
        "track_total_hits": True,
        "sort": [{F.RECORD_DATE: {"order": "desc", "missing": "_last"}}, {F.ID: "asc"}],
        "_source": {"includes": [F.ID, F.RECORD_TYPE, F.REFERENCE, F.TITLE, F.RECORD_DATE]},
    }


# --------------------------------------------------------------------------- reading answers


def _bucket_ids(bucket: Mapping[str, Any], path: Sequence[str] = ("ids",)) -> list[str]:
    cur: Any = bucket
    for p in path:
        cur = (cur or {}).get(p) or {}
    # Hits of _ids_hits carry no _id: the id is their sort value.
    return [str(h["_id"] if "_id" in h else h["sort"][0]) for h in (cur.get("hits") or {}).get("hits", [])]


def _neighbours(aggs: Mapping[str, Any]) -> dict[NodeRef, int]:
    out: dict[NodeRef, int] = {}
    for kind in ENTITY_KINDS:
        for b in (aggs.get(kind) or {}).get("buckets", []):
            out[NodeRef(kind, str(b["key"]))] = int(b["doc_count"])
    for b in person_buckets((aggs.get(PERSON) or {}).get("people") or {}):
        back = b.get("back") or {}
        out[NodeRef(PERSON, str(b["key"]))] = int(back.get("doc_count", b["doc_count"]))
    return out


def _record_label(src: Mapping[str, Any]) -> tuple[str, str]:
    ref = str(src.get(F.REFERENCE) or "")
    title = str(src.get(F.TITLE) or "")
    when = str(src.get(F.RECORD_DATE) or "")[:10]
    detail = " · ".join(x for x in (str(src.get(F.RECORD_TYPE) or ""), when, title) if x)
    return ref or title or str(src.get(F.ID)), detail


def _person_label(p: Mapping[str, Any]) -> tuple[str, str]:
    name = str(p.get(F.P_NAME) or "")
    dob = str(p.get(F.P_DOB) or "")[:10]
    return name, (f"born {dob}" if dob else "")


def expand(
    records: SecuredRecords,
    ref: NodeRef,
    relation: str,
    cap: int = DEFAULT_CAP,
    *,
    today: date | None = None,
    sample: int = HUB_SAMPLE,
) -> Graph:
    """The chart around ``ref`` for one relation: at most ``cap`` new nodes and a "+N more" node."""
    if relation not in RELATIONS:
        raise ChartError(f"unknown relation {relation!r}")
    cap = max(1, min(cap, MAX_CAP))
    g = Graph()
    center = make_node(ref)
    if ref.kind == RECORD:
        return _expand_record(records, ref, relation, cap, today)
    if relation == "records":
        res = records.search(build_records_expansion(ref, cap), today=today)
        total = int(res["hits"]["total"]["value"])
        center.count = total
        g.add_node(center)
        for h in res["hits"]["hits"]:
            src = h.get("_source") or {}
            rid = str(h["_id"])
            label, detail = _record_label(src)
            g.add_node(make_node(NodeRef(RECORD, rid), label, None, detail))
            roles = sorted(
                {
                    str(p.get(F.P_ROLE) or "")
                    for p in src.get(F.PEOPLE) or []
                    if ref.kind == PERSON and person_matches(p, ref.value)
                }
                - {""}
            )
            g.add_edge(
                Edge(
                    ref.id,
                    f"{RECORD}:{rid}",
                    "appears in",
                    "appears in" + (f" ({', '.join(roles)})" if roles else ""),
                    1,
                    [rid],
                )
            )
        _more(g, ref, relation, total - len(res["hits"]["hits"]))
        return g
    res = records.search(hub_sampled(build_kind_expansion(ref, relation, cap), sample), today=today)
    center.count = int(res["hits"]["total"]["value"])
    g.add_node(center)
    aggs = (res.get("aggregations") or {}).get("sample") or {}
    if center.count > sample:
        g.notes.append(
            f"{center.label} is on {center.count:,} records you may read: its "
            f"{RELATION_NAMES[relation]} are ranked over its newest {sample:,} (the hub cap), and "
            "the counts on those links are within them. Open its records for all of them."
        )
    if relation in ENTITY_KINDS:
        shown = 0
        for b in aggs["n"]["buckets"]:
            other = NodeRef(relation, str(b["key"]))
            if other == ref or shown >= cap:
                continue
            shown += 1
            n = int(b["doc_count"])
            g.add_node(make_node(other))
            g.add_edge(Edge(ref.id, other.id, LINK_NAMES[relation], LINK_NAMES[relation], n, _bucket_ids(b)))
        distinct = int(aggs["distinct"]["value"]) - (1 if ref.kind == relation else 0)
        _more(g, ref, relation, distinct - shown)
        return g
    people = aggs["p"]["people"]
    buckets = person_buckets(people)
    shown = eligible = 0
    for b in buckets:
        key = str(b["key"])
        hit = ((b.get("who") or {}).get("hits") or {}).get("hits") or [{}]
        person = _who(hit[0])
        if key == ref.value or (person and person_key(person) not in (None, key)):
            continue  # the node itself, or a second key of a person charted under another
        eligible += 1
        if shown >= cap:
            continue
        shown += 1
        other = NodeRef(PERSON, key)
        name, detail = person_label({"p": {"me": b}})
        g.add_node(make_node(other, name, None, detail))
        back = b.get("back") or {}
        n = int(back.get("doc_count", b["doc_count"]))
        counts: dict[str, int] = {}
        if ref.kind == PERSON:
            co = int((((b.get("as_offender") or {}).get("back") or {}).get("both") or {}).get("doc_count", 0))
            if co:
                counts["co-offender"] = co
            custody = int((back.get("custody") or {}).get("doc_count", 0))
            if custody:
                counts["co-detained"] = custody
            kind = "co-offender" if co else ("co-detained" if custody else "same record")
        else:
            kind = {"vrm": "uses vehicle", "phone": "uses phone", "postcode": "at address"}[ref.kind]
        g.add_edge(Edge(ref.id, other.id, kind, kind, n, _bucket_ids(back), counts))
    # Keys beyond the buckets returned were not looked at (some may be second keys of one
    # person, so the UI says "more", counted from distinct keys).
    unseen = max(0, int(people["distinct"]["value"]) - len(people["keys"]["buckets"])) + max(
        0, int(people["named"]["distinct"]["value"]) - len(people["named"]["keys"]["buckets"])
    )
    _more(g, ref, relation, eligible - shown + unseen)
    return g


def _more(g: Graph, ref: NodeRef, relation: str, hidden: int) -> None:
    if hidden > 0:
        mid = f"more:{ref.id}:{relation}"
        g.nodes[mid] = Node(mid, "more", f"+{hidden} more {RELATION_NAMES[relation]}", hidden)
        g.add_edge(Edge(ref.id, mid, "more", f"+{hidden} more", hidden))


def _expand_record(
    records: SecuredRecords, ref: NodeRef, relation: str, cap: int, today: date | None
) -> Graph:
    """A record's own persons (with their role) or identifiers, if the user may read it."""
    g = Graph()
    res = records.search(
        {"query": node_query(ref), "size": 1, "_source": {"includes": RECORD_SOURCE}}, today=today
    )
    hits = res["hits"]["hits"]
    if not hits:
        return g  # not readable (or gone): the record contributes nothing
    src = hits[0].get("_source") or {}
    label, detail = _record_label(src)
    g.add_node(make_node(ref, label, None, detail))
    found: list[tuple[Node, str]] = []
    if relation in ("persons", "records"):
        for p in src.get(F.PEOPLE) or []:
            key = person_key(p)
            if key is None:
                continue
            name, pdetail = _person_label(p)
            found.append(
                (make_node(NodeRef(PERSON, key), name, None, pdetail), f"appears in ({p.get(F.P_ROLE)})")
            )
    if relation in ENTITY_KINDS or relation == "records":
        kinds = [relation] if relation in ENTITY_KINDS else list(ENTITY_KINDS)
        for kind in kinds:
            for v in (src.get(F.ENTITIES) or {}).get(ENTITY_KINDS[kind].lower(), []) or []:
                found.append((make_node(NodeRef(kind, str(v))), "appears in"))
    for node, label_ in found[:cap]:
        g.add_node(node)
        g.add_edge(Edge(node.id, ref.id, "appears in", label_, 1, [ref.value]))
    _more(g, ref, relation, len(found) - cap)
    if cap and any(n.kind == PERSON for n in g.nodes.values()):
        _relabel(records, g, today)  # by their readable names, not this record's spelling
    return g


LABEL_NAMES: Final = 3  # names read per person label: the commonest is the label, the rest "also"


def _name_aggs() -> Query:
    return {
        "names": {"terms": _terms(F.keyword_sub(F.people(F.P_NAME)), LABEL_NAMES)},
        # (The map hint is ignored on a date field: its values are numbers, no ordinals to build.)
        "dobs": {"terms": {**_terms(F.people(F.P_DOB), 2), "format": "yyyy-MM-dd"}},
    }


def label_aggs(ref: NodeRef) -> Query:
    """A person's names and dates of birth on the matching records, commonest first (ties by
    name). Under a body or ``filter`` aggregation that the access filter restricts, these are
    the nominal's names as the user may read them (issue 10's rule: a nominal's names are those
    of its readable mentions), not the name on whichever record came first."""
    return {
        "p": {
            "nested": {"path": F.PEOPLE},
            "aggs": {"me": {"filter": person_clause([ref.value]), "aggs": _name_aggs()}},
        }
    }


def person_label(aggs: Mapping[str, Any]) -> tuple[str, str]:
    """(label, detail) from :func:`label_aggs`' answer: the commonest readable name, and the
    commonest dates of birth and other names."""
    me = ((aggs.get("p") or {}).get("me")) or {}
    names = [str(b["key"]) for b in (me.get("names") or {}).get("buckets", [])]
    dobs = [str(b.get("key_as_string") or b["key"])[:10] for b in (me.get("dobs") or {}).get("buckets", [])]
    parts = [f"born {' or '.join(dobs)}"] if dobs else []
    if names[1:]:
        parts.append(f"also {', '.join(names[1:])}")
    return (names[0] if names else ""), " · ".join(parts)


def build_person_labels(refs: Sequence[NodeRef]) -> Query:
    """The labels of many persons in ONE body: a terms bucket per person key (restricted to
    ``refs``) with :func:`label_aggs`' names and dates of birth under it. One terms aggregation
    rather than a ``filter`` per person: 25 of those doubled a persons expansion's p95 when it
    labelled its people this way (make bench-chart)."""
    values = sorted({r.value for r in refs if r.kind == PERSON})
    return {
        "query": nodes_query([NodeRef(PERSON, v) for v in values]),
        "size": 0,
        "aggs": {
            "p": {
                "nested": {"path": F.PEOPLE},
                "aggs": {
                    "people": {
                        "filter": _not_officer(),
                        "aggs": person_key_aggs(len(values) + 1, _name_aggs(), values),
                    }
                },
            }
        },
    }


def person_labels(
    records: SecuredRecords, refs: Sequence[NodeRef], *, today: date | None = None
) -> dict[NodeRef, tuple[str, str]]:
    """Person -> (label, detail) from the records the user may read (persons no readable record
    names are left out)."""
    people = sorted({r for r in refs if r.kind == PERSON})
    if not people:
        return {}
    aggs = records.search(build_person_labels(people), today=today).get("aggregations") or {}
    out: dict[NodeRef, tuple[str, str]] = {}
    for b in person_buckets(((aggs.get("p") or {}).get("people")) or {}):
        label, detail = person_label({"p": {"me": b}})
        if label:
            out[NodeRef(PERSON, str(b["key"]))] = (label, detail)
    return out


def _relabel(records: SecuredRecords, g: Graph, today: date | None) -> None:
    """Label the graph's persons by their readable names (one request for all of them)."""
    refs = [parse_node(n.id) for n in g.nodes.values() if n.kind == PERSON]
    for ref, (label, detail) in person_labels(records, refs, today=today).items():
        node = g.nodes[ref.id]
        node.label, node.detail = label, detail
        node.href = node_href(ref, label)


def build_describe(ref: NodeRef) -> Query:
    """How many readable records mention one (non-record) node, and a person's label."""
    body: Query = {"query": node_query(ref), "size": 0, "track_total_hits": True}
    if ref.kind == PERSON:
        body["aggs"] = label_aggs(ref)
    return body


def _described(g: Graph, ref: NodeRef, total: int, aggs: Mapping[str, Any]) -> None:
    if total == 0:
        # Not echoed by value: a shared chart's seed may be what the viewer may not see.
        g.notes.append("A starting node is not in any record you may read; it is left out.")
        return
    label, detail = person_label(aggs) if ref.kind == PERSON else ("", "")
    g.add_node(make_node(ref, label, total, detail))


def describe(records: SecuredRecords, refs: Sequence[NodeRef], *, today: date | None = None) -> Graph:
    """Seed nodes with their labels and record counts (a node nobody may read about is dropped)."""
    return describe_with(records, refs, (), today=today)[0]


def describe_with(
    records: SecuredRecords, refs: Sequence[NodeRef], extra: Sequence[Query], *, today: date | None = None
) -> tuple[Graph, list[dict[str, Any]]]:
    """:func:`describe` in one multi-search for every non-record node (a round trip per node
    cost a path search several hundred milliseconds); the ``extra`` bodies ride in the same
    multi-search and their answers come back beside the graph."""
    others = [r for r in refs if r.kind != RECORD]
    answers = list(records.msearch([*(build_describe(r) for r in others), *extra], today=today))
    for res in answers[: len(others)]:
        if "error" in res:
            raise SearchUnavailable("the search service could not describe a chart node")
    by_ref = dict(zip(others, answers, strict=False))
    g = Graph()
    for ref in refs:
        if ref.kind == RECORD:
            sub = _expand_record(records, ref, "persons", 0, today)
            for n in sub.nodes.values():
                if n.kind == RECORD:
                    g.add_node(n)
        else:
            res = by_ref[ref]
            _described(g, ref, int(res["hits"]["total"]["value"]), res.get("aggregations") or {})
    return g, answers[len(others) :]


# --------------------------------------------------------------------------- paths


@dataclass
class Hop:
    source: str
    target: str
    count: int
    records: list[dict[str, str]]


@dataclass
class PathResult:
    graph: Graph
    paths: list[list[str]]
    hops: list[Hop]
    searched_hops: int
    complete: bool  # False when a hub's neighbours were cut at LAYER_TERMS
    avoided: list[tuple[str, int]] = field(default_factory=list)  # hubs not walked through
    # Labels of the avoided persons (the biggest AVOIDED_LABELS), from their readable names.
    labels: dict[str, str] = field(default_factory=dict)


AVOIDED_LABELS: Final = 10


HubKey = tuple[str, str, int]
# (records alias, the user's access filter, limit) -> (when fetched, hubs with their counts).
_HUBS: LRUCache[HubKey, tuple[float, dict[NodeRef, int]]] = LRUCache(maxsize=256)
_HUBS_PENDING: dict[HubKey, Future[dict[NodeRef, int]]] = {}
_HUBS_LOCK = threading.Lock()
# Hub lists are fetched off the request path (an index-wide aggregation: 1-1.7 s on a busy
# 2-core node at 100k records, make bench-chart) by one thread: lists are few (one per access
# filter) and a second thread would only compete with the searches users wait for.
_HUBS_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chart-hubs")
_clock = time.monotonic  # a module attribute so tests can move time on


def _hub_key(records: SecuredRecords, limit: int, day: date) -> HubKey:
    return (
        records_alias(records.settings),
        json.dumps(access_filter(records.user, day), sort_keys=True),
        limit,
    )


def _store_hubs(key: HubKey, hubs: dict[NodeRef, int]) -> dict[NodeRef, int]:
    with _HUBS_LOCK:
        _HUBS[key] = (_clock(), hubs)
    return hubs


def _fetch_hubs(records: SecuredRecords, limit: int, day: date, key: HubKey) -> dict[NodeRef, int]:
    try:
        aggs = records.search(build_hubs(limit), today=day).get("aggregations") or {}
        return _store_hubs(key, _neighbours(aggs))
    finally:
        with _HUBS_LOCK:
            _HUBS_PENDING.pop(key, None)


def _refresh_hubs(records: SecuredRecords, limit: int, day: date, key: HubKey) -> Future[dict[NodeRef, int]]:
    """Fetch the list in the background (once per key at a time); the running fetch if any."""
    with _HUBS_LOCK:
        pending = _HUBS_PENDING.get(key)
        if pending is None:
            ctx = contextvars.copy_context()
            pending = _HUBS_POOL.submit(ctx.run, _fetch_hubs, records, limit, day, key)
            _HUBS_PENDING[key] = pending
    return pending


def cached_hubs(
    records: SecuredRecords, limit: int = HUB_SAMPLE, *, today: date | None = None
) -> dict[NodeRef, int] | None:
    """The user's hub list if one fetched less than :data:`HUB_TTL` ago is held, else None.

    One older than :data:`HUB_REFRESH_AFTER` is still answered, and a fresh one fetched in
    the background: while analysts of an access group keep charting, none of them waits for it."""
    day = today or today_utc()
    key = _hub_key(records, limit, day)
    with _HUBS_LOCK:
        entry = _HUBS.get(key)
    if entry is None:
        return None
    age = _clock() - entry[0]
    if age >= HUB_TTL:
        return None
    if age >= HUB_REFRESH_AFTER:
        _refresh_hubs(records, limit, day, key)
    return entry[1]


def warm_hubs(
    records: SecuredRecords, limit: int = HUB_SAMPLE, *, today: date | None = None
) -> Future[dict[NodeRef, int]] | None:
    """Start fetching the user's hub list in the background unless a fresh one is held: called
    when a chart page opens, so the analyst's first path search finds it ready."""
    day = today or today_utc()
    if cached_hubs(records, limit, today=day) is not None:
        return None
    return _refresh_hubs(records, limit, day, _hub_key(records, limit, day))


def _held_hubs(records: SecuredRecords, limit: int, day: date) -> dict[NodeRef, int] | None:
    """The held list, else the one being fetched (waited for), else None: the caller fetches."""
    found = cached_hubs(records, limit, today=day)
    if found is not None:
        return found
    with _HUBS_LOCK:
        pending = _HUBS_PENDING.get(_hub_key(records, limit, day))
    if pending is None:
        return None
    try:
        return pending.result()
    except LanternError:
        return None  # the background fetch failed: the caller fetches (and meets the error itself)


def hub_nodes(
    records: SecuredRecords, limit: int = HUB_SAMPLE, *, today: date | None = None
) -> dict[NodeRef, int]:
    """The nodes on more than ``limit`` records the user may read, with their counts.

    Kept :data:`HUB_TTL` seconds per access filter and per index (users who may read the same
    records share one list; one who may read anything else never sees another's counts), and
    refreshed in the background before then (:func:`cached_hubs`)."""
    day = today or today_utc()
    found = _held_hubs(records, limit, day)
    if found is None:
        found = _fetch_hubs(records, limit, day, _hub_key(records, limit, day))
    return found


def shortest_paths(
    records: SecuredRecords,
    a: NodeRef,
    b: NodeRef,
    max_hops: int = 4,
    *,
    max_paths: int = 3,
    layer_terms: int = LAYER_TERMS,
    today: date | None = None,
    hub_limit: int = HUB_SAMPLE,
) -> PathResult:
    """Shortest paths from ``a`` to ``b`` within ``max_hops`` over readable records.

    A hop joins two persons/identifiers that appear on one record. Layers grow from the
    smaller side; each node found carries its parents (the frontier nodes it shares a record
    with, :func:`_neighbour_aggs`), so when the sides meet, the meeting nodes are traced back
    to both ends without a query, and networkx picks the shortest paths in the traced
    subgraph. Paths do not pass through hubs (nodes on more than ``hub_limit`` readable
    records, see :data:`HUB_LIST`); either end may be one. The hubs met are in the result
    (``avoided``).

    Round trips for a 4-hop path: three steps and one for the answer's details. While both
    frontiers are small (:data:`PAIR_FRONTIER`) both sides grow in one body, else the smaller;
    the last hop allowed is only a probe for the other side's nodes (an ``include``-restricted
    aggregation, so the widest layer is never listed in full); the labels and the records of
    every hop come in one more body (``filter`` aggregations, :func:`build_path_details`): each
    body has a fixed cost on the engine. When the hub list is not held, it rides in the first
    step's multi-search.
    """
    if a.kind == RECORD or b.kind == RECORD:
        raise ChartError("paths run between persons, vehicles, phones and addresses")
    max_hops = max(1, min(max_hops, MAX_HOPS))
    day = today or today_utc()
    held = _held_hubs(records, hub_limit, day)
    hubs: dict[NodeRef, int] = held or {}
    avoided: dict[NodeRef, int] = {}
    layers: dict[str, list[set[NodeRef]]] = {"a": [{a}], "b": [{b}]}
    seen: dict[str, dict[NodeRef, int]] = {"a": {a: 0}, "b": {b: 0}}
    # side -> node -> the nodes of the layer before it that share a readable record with it.
    parents: dict[str, dict[NodeRef, set[NodeRef]]] = {"a": {}, "b": {}}
    complete = True
    hops_done = 0
    meet: set[NodeRef] = {a} & {b}
    while not meet and hops_done < max_hops:
        remaining = max_hops - hops_done
        small, large = sorted(("a", "b"), key=lambda side: (len(layers[side][-1]), side))
        if not layers[small][-1]:
            break
        if remaining == 1:
            sides = [small]
        elif len(layers[large][-1]) <= PAIR_FRONTIER:
            sides = ["a", "b"]  # both frontiers small: both sides grow in one body (two hops)
        else:
            sides = [small]
        steps: list[tuple[str, Query]] = []
        for side in sides:
            frontier = sorted(layers[side][-1])
            # The end's own neighbours need no parents asked: the end is their parent.
            up = len(layers[side]) > 1
            other = sorted(seen["b" if side == "a" else "a"])
            if remaining == 1:
                # The last hop allowed: only which of the other side's nodes the frontier reaches.
                steps.append((side, build_probe(frontier, other, parents=up)))
            else:
                steps.append((side, build_layer(frontier, layer_terms, targets=other if up else ())))
        body = steps[0][1] if len(steps) == 1 else build_sides(steps)
        if held is None:
            # The hub list is not held: fetched beside the first step, in one round trip.
            hub_res, res = records.msearch([build_hubs(hub_limit), body], today=day)
            if "error" in hub_res or "error" in res:
                raise SearchUnavailable("the search service could not search for a path")
            hubs = held = _store_hubs(
                _hub_key(records, hub_limit, day), _neighbours(hub_res.get("aggregations") or {})
            )
        else:
            res = records.search(body, today=day)
        step_aggs = res.get("aggregations") or {}
        answers = [step_aggs] if len(steps) == 1 else [step_aggs.get(side) or {} for side, _ in steps]
        for (side, _), aggs in zip(steps, answers, strict=True):
            if remaining > 1 and _cut(aggs, layer_terms):
                complete = False
            depth = len(layers[side])
            (root,) = layers[side][0]
            # Parents came with the nodes of the other side this step reached (the meet
            # aggregation, or the probe itself); other nodes get theirs traced if on a path.
            ups = _parents(aggs.get("meet") or aggs) if depth > 1 else {}
            new = {n for n in _neighbours(aggs) if n not in seen[side]}
            met = {n for n in new if n in hubs and n not in (a, b)}
            avoided.update((n, hubs[n]) for n in met)
            new -= met
            for n in new:
                seen[side][n] = depth
                if depth == 1:
                    parents[side][n] = {root}
                elif n in ups:
                    parents[side][n] = ups[n]
            layers[side].append(new)
            hops_done += 1
        both = set(seen["a"]) & set(seen["b"])
        if both:
            # Two sides grown at once can meet at two lengths: only the shortest count.
            shortest = min(seen["a"][m] + seen["b"][m] for m in both)
            meet = {m for m in both if seen["a"][m] + seen["b"][m] == shortest}
    g = Graph()
    hops: list[Hop] = []
    around = _avoided(avoided)
    # The hubs named on the page: a person by their readable names, not their nominal id.
    labelled = [p for p in (parse_node(i) for i, _ in around[:AVOIDED_LABELS]) if p.kind == PERSON]
    if not meet:
        labels = person_labels(records, labelled, today=day)
        return PathResult(g, [], hops, hops_done, complete, around, {r.id: v[0] for r, v in labels.items()})
    # Each meeting node gives at least one shortest path; tracing more than ``max_paths`` of
    # them (and more than ``max_paths`` parents per node and layer) would only draw paths
    # that are not shown.
    sub = _traced(records, sorted(meet)[:max_paths], seen, layers, parents, max_paths, day)
    try:
        paths = [list(p) for p in itertools.islice(nx.all_shortest_paths(sub, a, b), max_paths)]
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        paths = []
    on_path = {(u, v) for p in paths for u, v in itertools.pairwise(p)}
    nodes_on = {n for p in paths for n in p}
    pairs = sorted(on_path)
    ordered = sorted(nodes_on)
    details = (
        records.search(build_path_details(ordered, pairs, labelled), today=day).get("aggregations") or {}
    )
    for i, ref in enumerate(ordered):
        part = details.get(f"n{i}") or {}
        _described(g, ref, int(part.get("doc_count", 0)), part)
    avoided_labels: dict[str, str] = {}
    for i, ref in enumerate(labelled):
        label = person_label(details.get(f"l{i}") or {})[0]
        if label:
            avoided_labels[ref.id] = label
    for i, (u, v) in enumerate(pairs):
        res = _as_hits(details.get(f"h{i}") or {})
        recs = []
        for h in res["hits"]["hits"]:
            label, detail = _record_label(h.get("_source") or {})
            recs.append({"id": str(h["_id"]), "label": label, "detail": detail})
        total = int(res["hits"]["total"]["value"])
        if total == 0:
            continue
        hops.append(Hop(u.id, v.id, total, recs))
        label = f"path: {total} record{'s' if total != 1 else ''}"
        g.add_edge(Edge(u.id, v.id, "path", label, total, [r["id"] for r in recs]))
    return PathResult(
        g, [[n.id for n in p] for p in paths], hops, hops_done, complete, around, avoided_labels
    )


def _avoided(hubs: Mapping[NodeRef, int]) -> list[tuple[str, int]]:
    """Hubs a search did not walk through, biggest first: (node id, readable records)."""
    return sorted(((n.id, c) for n, c in hubs.items()), key=lambda x: (-x[1], x[0]))


def _cut(aggs: Mapping[str, Any], size: int) -> bool:
    if any(len((aggs.get(k) or {}).get("buckets", [])) >= size for k in ENTITY_KINDS):
        return True
    people = (aggs.get(PERSON) or {}).get("people") or {}
    return any(
        len(part.get("buckets", [])) >= size
        for part in (people.get("keys") or {}, (people.get("named") or {}).get("keys") or {})
    )


def _parents(aggs: Mapping[str, Any]) -> dict[NodeRef, set[NodeRef]]:
    """Each neighbour of a layer or probe asked with ``parents`` -> the parents found with it."""
    out: dict[NodeRef, set[NodeRef]] = {}
    for kind in ENTITY_KINDS:
        for b in (aggs.get(kind) or {}).get("buckets", []):
            out[NodeRef(kind, str(b["key"]))] = set(_neighbours(b))
    for b in person_buckets((aggs.get(PERSON) or {}).get("people") or {}):
        out[NodeRef(PERSON, str(b["key"]))] = set(_neighbours(b.get("back") or {}))
    return out


def _traced(
    records: SecuredRecords,
    meet: Sequence[NodeRef],
    seen: Mapping[str, Mapping[NodeRef, int]],
    layers: Mapping[str, Sequence[set[NodeRef]]],
    parents: dict[str, dict[NodeRef, set[NodeRef]]],
    width: int,
    today: date,
) -> nx.Graph:
    """The edges from each meeting node back to both ends, keeping up to ``width`` parents per
    node and layer to walk on from (every parent of a node gets its edge). Parents not carried
    by the search's steps are traced: one body per depth for all such nodes of both sides
    (:func:`build_traces`)."""
    sub: nx.Graph = nx.Graph()
    # (side, depth of the nodes) -> nodes still to walk back from there.
    work: dict[tuple[str, int], set[NodeRef]] = {}
    for m in meet:
        for side in ("a", "b"):
            if seen[side][m] > 0:
                work.setdefault((side, seen[side][m]), set()).add(m)
    while work:
        unknown = [
            (side, d, c)
            for (side, d), nodes in sorted(work.items())
            for c in sorted(nodes)
            if c not in parents[side]
        ]
        if unknown:
            body = build_traces([(c, sorted(layers[side][d - 1])) for side, d, c in unknown])
            traced = records.search(body, today=today).get("aggregations") or {}
            for i, (side, d, c) in enumerate(unknown):
                found = _neighbours(traced.get(f"t{i}") or {})
                parents[side][c] = {o for o in found if o in layers[side][d - 1]}
        nxt: dict[tuple[str, int], set[NodeRef]] = {}
        for (side, d), nodes in work.items():
            for c in sorted(nodes):
                ups = sorted(parents[side][c])
                sub.add_edges_from((c, u) for u in ups)
                if d > 1:
                    nxt.setdefault((side, d - 1), set()).update(ups[:width])
        work = nxt
    return sub


# --------------------------------------------------------------------------- exports


def to_graphml(g: Graph) -> str:
    """GraphML of the chart (node kind/label/count; edge kind/label/count/record ids)."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">',
        '<key id="kind" for="node" attr.name="kind" attr.type="string"/>',
        '<key id="label" for="node" attr.name="label" attr.type="string"/>',
        '<key id="count" for="node" attr.name="count" attr.type="int"/>',
        '<key id="group" for="node" attr.name="group" attr.type="string"/>',
        '<key id="ekind" for="edge" attr.name="kind" attr.type="string"/>',
        '<key id="elabel" for="edge" attr.name="label" attr.type="string"/>',
        '<key id="ecount" for="edge" attr.name="count" attr.type="int"/>',
        '<key id="records" for="edge" attr.name="record_ids" attr.type="string"/>',
        '<graph id="chart" edgedefault="undirected">',
    ]

    def data(key: str, value: object) -> str:
        from xml.sax.saxutils import escape

        return f'<data key="{key}">{escape(str(value))}</data>'

    for n in g.nodes.values():
        count = data("count", n.count) if n.count is not None else ""
        group = data("group", n.parent) if n.parent else ""
        out.append(
            f"<node id={quoteattr(n.id)}>{data('kind', n.kind)}{data('label', n.label)}{count}{group}</node>"
        )
    for e in g.edges.values():
        out.append(
            f"<edge id={quoteattr(e.id)} source={quoteattr(e.source)} target={quoteattr(e.target)}>"
            f"{data('ekind', e.kind)}{data('elabel', e.label)}{data('ecount', e.count)}"
            f"{data('records', ' '.join(e.record_ids))}</edge>"
        )
    out.append("</graph></graphml>")
    return "\n".join(out)


# --------------------------------------------------------------------------- a chart's state


@dataclass(frozen=True)
class ChartSpec:
    """What a chart is: seed nodes and the expansions applied (URL state; what is saved)."""

    seeds: tuple[NodeRef, ...]
    expansions: tuple[tuple[NodeRef, str], ...] = ()
    cap: int = DEFAULT_CAP
    # Named groups of nodes the analyst made from a selection: (name, members), in order.
    groups: tuple[tuple[str, tuple[NodeRef, ...]], ...] = ()

    def params(self) -> list[tuple[str, str]]:
        out = [("n", s.id) for s in self.seeds]
        out += [("x", f"{r.id}|{rel}") for r, rel in self.expansions]
        if self.cap != DEFAULT_CAP:
            out.append(("cap", str(self.cap)))
        out += [("g", "|".join([name, *(m.id for m in members)])) for name, members in self.groups]
        return out

    def with_group(self, name: str, members: Sequence[NodeRef]) -> ChartSpec:
        """This chart with ``members`` grouped under ``name`` (taken out of any group they were in)."""
        name = " ".join(name.split())[:MAX_GROUP_NAME] or f"Group {len(self.groups) + 1}"
        if "|" in name:
            raise ChartError("a group name cannot contain '|'")
        chosen = tuple(dict.fromkeys(members))
        if not chosen or len(chosen) > MAX_GROUP_MEMBERS:
            raise ChartError(f"a group needs between 1 and {MAX_GROUP_MEMBERS} nodes")
        rest = tuple((n, tuple(m for m in ms if m not in chosen)) for n, ms in self.groups)
        groups = (*((n, ms) for n, ms in rest if ms), (name, chosen))
        if len(groups) > MAX_GROUPS:
            raise ChartError(f"a chart has at most {MAX_GROUPS} groups")
        return replace(self, groups=groups)

    def without_group(self, index: int) -> ChartSpec:
        return replace(self, groups=tuple(g for i, g in enumerate(self.groups) if i != index))


MAX_GROUPS: Final = 10
MAX_GROUP_MEMBERS: Final = 100
# ``name|node|node…``: a name without "|", then 1 to MAX_GROUP_MEMBERS nodes.
GROUP_PATTERN: Final = rf"^[^|]{{0,80}}(\|{_NODE}){{1,{MAX_GROUP_MEMBERS}}}$"
MAX_GROUP_NAME: Final = 80
MAX_SEEDS: Final = 20
MAX_TIMELINE_NODES: Final = 40
MAX_EXPANSIONS: Final = 40


def parse_group(text: str) -> tuple[str, tuple[NodeRef, ...]]:
    """``name|node|node…`` (a ``g`` parameter)."""
    name, *members = text.split("|")
    if not members or len(members) > MAX_GROUP_MEMBERS:
        raise ChartError(f"not a group: {text[:80]!r}")
    return " ".join(name.split())[:MAX_GROUP_NAME], tuple(dict.fromkeys(parse_node(m) for m in members))


def parse_spec(
    seeds: Sequence[str], expansions: Sequence[str], cap: str | int | None = None, groups: Sequence[str] = ()
) -> ChartSpec:
    if len(seeds) > MAX_SEEDS or len(expansions) > MAX_EXPANSIONS or len(groups) > MAX_GROUPS:
        raise ChartError("too many nodes, expansions or groups in one chart")
    refs = tuple(dict.fromkeys(parse_node(s) for s in seeds if s.strip()))
    exps: list[tuple[NodeRef, str]] = []
    for x in expansions:
        node, sep, rel = x.rpartition("|")
        if not sep or rel not in RELATIONS:
            raise ChartError(f"not an expansion: {x[:80]!r}")
        exps.append((parse_node(node), rel))
    try:
        c = int(cap) if cap not in (None, "") else DEFAULT_CAP
    except (TypeError, ValueError) as exc:
        raise ChartError("cap must be a number") from exc
    spec = ChartSpec(refs, tuple(dict.fromkeys(exps)), max(1, min(c, MAX_CAP)))
    for g in groups:
        name, members = parse_group(g)
        spec = spec.with_group(name, members)
    return spec


def readable_spec(records: SecuredRecords, spec: ChartSpec, *, today: date | None = None) -> ChartSpec:
    """``spec`` without the seeds (and their expansions) no readable record mentions.

    Used when a chart saved by someone else is opened: its node ids are the owner's, and
    one the viewer may not read about must not even appear in the viewer's page.
    """
    shown = set(describe(records, spec.seeds, today=today).nodes)
    keep = tuple(s for s in spec.seeds if s.id in shown)
    g = describe(records, keep, today=today)
    for ref, rel in spec.expansions:
        if ref.id in g.nodes:
            g.merge(expand(records, ref, rel, spec.cap, today=today))
    exps = tuple((r, rel) for r, rel in spec.expansions if r.id in g.nodes)
    # Group members the viewer cannot see are dropped like seeds: their ids are the owner's.
    groups = tuple((n, tuple(m for m in ms if m.id in g.nodes)) for n, ms in spec.groups)
    return ChartSpec(keep, exps, spec.cap, tuple((n, ms) for n, ms in groups if ms))


def apply_groups(g: Graph, groups: Sequence[tuple[str, Sequence[NodeRef]]]) -> Graph:
    """Group nodes (``group:1``…) holding the members present in ``g``; a group with none is not
    drawn. The group's count is how many of its nodes are on the chart."""
    for i, (name, members) in enumerate(groups, start=1):
        present = [g.nodes[m.id] for m in members if m.id in g.nodes and not g.nodes[m.id].parent]
        if not present:
            continue
        gid = f"{GROUP}:{i}"
        g.nodes[gid] = Node(gid, GROUP, name, len(present))
        for node in present:
            node.parent = gid
    return g


def group_members(g: Graph, group_id: str) -> list[NodeRef]:
    return [parse_node(n.id) for n in g.nodes.values() if n.parent == group_id]


def build_chart(records: SecuredRecords, spec: ChartSpec, *, today: date | None = None) -> Graph:
    """The chart a spec describes, recomputed from what the user may read now."""
    g = describe(records, spec.seeds, today=today)
    for ref, rel in spec.expansions:
        g.merge(expand(records, ref, rel, spec.cap, today=today))
    return apply_groups(g, spec.groups)
