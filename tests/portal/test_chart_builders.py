"""The link chart's pure parts: node ids, the person key, chart state and query builders."""

from __future__ import annotations

import pytest

from mappings import fields as F
from portal import chart as C


def test_parse_node_and_errors() -> None:
    assert C.parse_node("vrm:AB12 CDE") == C.NodeRef("vrm", "AB12 CDE")
    assert C.parse_node("person:pnc:2004/0123457X").value == "pnc:2004/0123457X"
    for bad in ("AB12CDE", "weapon:knife", "vrm:", ":x", "vrm:" + "x" * 201):
        with pytest.raises(C.ChartError):
            C.parse_node(bad)


def test_person_key_prefers_pnc_and_skips_officers() -> None:
    keys = ["dob:1984-06-21:BRKN:IK", "pnc:2004/0123457X"]
    assert C.person_key({F.P_ROLE: "suspect", F.P_PERSON_KEY: keys}) == "pnc:2004/0123457X"
    assert C.person_key({F.P_ROLE: "victim", F.P_PERSON_KEY: keys[:1]}) == keys[0]
    assert C.person_key({F.P_ROLE: "officer", F.P_PERSON_KEY: keys}) is None
    assert C.person_key({F.P_ROLE: "witness"}) is None


def test_spec_round_trips_through_params() -> None:
    spec = C.parse_spec(["vrm:AB12CDE", "vrm:AB12CDE"], ["vrm:AB12CDE|persons"], "5")
    assert spec.seeds == (C.NodeRef("vrm", "AB12CDE"),)
    assert spec.params() == [("n", "vrm:AB12CDE"), ("x", "vrm:AB12CDE|persons"), ("cap", "5")]
    assert C.parse_spec(*_split(spec.params())) == spec
    assert C.parse_spec([], [], "100000").cap == C.MAX_CAP
    with pytest.raises(C.ChartError):
        C.parse_spec(["vrm:A"], ["vrm:A|everything"])
    with pytest.raises(C.ChartError):
        C.parse_spec(["vrm:A"], [], "many")


def _split(params: list[tuple[str, str]]) -> tuple[list[str], list[str], str | None]:
    d: dict[str, list[str]] = {}
    for k, v in params:
        d.setdefault(k, []).append(v)
    return d.get("n", []), d.get("x", []), next(iter(d.get("cap", [])), None)


def test_node_queries() -> None:
    assert C.node_query(C.NodeRef("vrm", "AB12CDE")) == {"term": {"entities.vrm": "AB12CDE"}}
    assert C.node_query(C.NodeRef("record", "r1")) == {"ids": {"values": ["r1"]}}
    # A resolved person is the nominal; a named key matches only people without a nominal.
    assert C.node_query(C.NodeRef("person", "N-1")) == {
        "nested": {"path": "people", "query": {"terms": {"people.nominal_id": ["N-1"]}}, "score_mode": "none"}
    }
    assert C.node_query(C.NodeRef("person", "pnc:1")) == {
        "nested": {
            "path": "people",
            "query": {
                "bool": {
                    "filter": [{"terms": {"people.person_key": ["pnc:1"]}}],
                    "must_not": [{"exists": {"field": "people.nominal_id"}}],
                }
            },
            "score_mode": "none",
        }
    }
    both = C.nodes_query([C.NodeRef("person", "pnc:1"), C.NodeRef("person", "N-2")])
    assert both["bool"]["should"][0]["nested"]["query"] == {
        "bool": {
            "should": [
                {"terms": {"people.nominal_id": ["N-2"]}},
                C.person_clause(["pnc:1"]),
            ],
            "minimum_should_match": 1,
        }
    }
    assert C.person_key({"role": "suspect", "nominal_id": "N-7", "person_key": ["pnc:1"]}) == "N-7"
    assert C.person_key({"role": "suspect", "person_key": ["dob:x", "pnc:1"]}) == "pnc:1"
    assert C.person_key({"role": "officer", "nominal_id": "N-7"}) is None
    q = C.nodes_query([C.NodeRef("phone", "2"), C.NodeRef("phone", "1"), C.NodeRef("postcode", "SE1 7PB")])
    assert q == {
        "bool": {
            "should": [
                {"terms": {"entities.phone": ["1", "2"]}},
                {"terms": {"entities.postcode": ["SE1 7PB"]}},
            ],
            "minimum_should_match": 1,
        }
    }


def test_kind_expansion_asks_one_more_than_the_cap_and_the_distinct_count() -> None:
    body = C.build_kind_expansion(C.NodeRef("postcode", "SE1 7PB"), "vrm", 3)
    assert body["size"] == 0
    assert body["aggs"]["n"]["terms"] == {
        "field": "entities.vrm",
        "size": 4,
        "min_doc_count": 1,
        "execution_hint": "map",
    }
    assert body["aggs"]["distinct"] == {"cardinality": {"field": "entities.vrm"}}


def test_trace_restricts_terms_to_the_candidates() -> None:
    body = C.build_trace(C.NodeRef("vrm", "X"), [C.NodeRef("phone", "1"), C.NodeRef("person", "pnc:9")])
    aggs = body["aggs"]
    assert aggs["phone"]["terms"]["include"] == ["1"]
    assert "vrm" not in aggs and "postcode" not in aggs
    # Only the named-key branch: no nominal was asked for.
    people = aggs["person"]["aggs"]["people"]["aggs"]
    assert people["named"]["aggs"]["keys"]["terms"]["include"] == ["pnc:9"]
    assert "keys" not in people
    nominal = C.build_trace(C.NodeRef("vrm", "X"), [C.NodeRef("person", "N-9")])["aggs"]["person"]
    assert nominal["aggs"]["people"]["aggs"] == {
        "keys": {
            "terms": {
                "field": "people.nominal_id",
                "size": 2,
                "min_doc_count": 1,
                "execution_hint": "map",
                "include": ["N-9"],
            }
        }
    }


def test_layer_with_targets_asks_which_it_reaches_and_their_parents() -> None:
    """A path search's layer also says which of the other side's nodes it reaches, each with the
    frontier nodes it shares a record with (restricted terms, reverse_nested for persons); the
    layer's own neighbours carry no parents (asking for thousands of them cost 5-10x)."""
    frontier = [C.NodeRef("phone", "1"), C.NodeRef("person", "pnc:9")]
    targets = [C.NodeRef("vrm", "X"), C.NodeRef("person", "N-2")]
    plain = C.build_layer(frontier, 50)
    body = C.build_layer(frontier, 50, targets=targets)
    assert body["query"] == plain["query"]
    assert {k: v for k, v in body["aggs"].items() if k != "meet"} == plain["aggs"]
    assert "aggs" not in plain["aggs"]["vrm"]
    meet = body["aggs"]["meet"]
    assert meet["filter"] == {"match_all": {}}
    assert meet["aggs"] == C.build_probe(frontier, targets, parents=True)["aggs"]
    assert meet["aggs"]["vrm"]["terms"]["include"] == ["X"]
    up = meet["aggs"]["vrm"]["aggs"]
    assert set(up) == {"phone", "person"}  # the frontier's own kinds only, its values only
    assert up["phone"]["terms"]["include"] == ["1"] and up["phone"]["terms"]["size"] == 3
    people = up["person"]["aggs"]["people"]["aggs"]
    assert people["named"]["aggs"]["keys"]["terms"]["include"] == ["pnc:9"]
    assert "keys" not in people  # no nominal in the frontier
    keys = meet["aggs"]["person"]["aggs"]["people"]["aggs"]["keys"]
    assert keys["terms"]["include"] == ["N-2"]
    assert keys["aggs"] == {"back": {"reverse_nested": {}, "aggs": up}}


def test_probe_asks_only_for_the_other_sides_nodes() -> None:
    body = C.build_probe(
        [C.NodeRef("vrm", "X"), C.NodeRef("vrm", "Y")], [C.NodeRef("phone", "1"), C.NodeRef("phone", "2")]
    )
    assert body["query"] == C.nodes_query([C.NodeRef("vrm", "X"), C.NodeRef("vrm", "Y")])
    assert body["size"] == 0
    assert body["aggs"] == {
        "phone": {
            "terms": {
                "field": "entities.phone",
                "size": 3,
                "min_doc_count": 1,
                "execution_hint": "map",
                "include": ["1", "2"],
            }
        }
    }


def test_chart_steps_collect_terms_without_global_ordinals_but_the_hub_list_keeps_them() -> None:
    """Every terms aggregation of a chart step uses the map hint (see chart._terms); the
    index-wide hub list does not, and asks only for nodes over the limit."""

    def terms(body: object) -> list[dict[str, object]]:
        if isinstance(body, dict):
            found = (
                [body["terms"]] if isinstance(body.get("terms"), dict) and "field" in body["terms"] else []
            )
            return found + [t for v in body.values() for t in terms(v)]
        if isinstance(body, list):
            return [t for v in body for t in terms(v)]
        return []

    a, b = C.NodeRef("person", "N-1"), C.NodeRef("vrm", "X")
    steps = [
        C.build_kind_expansion(a, "persons", 5),
        C.build_kind_expansion(b, "phone", 5),
        C.build_layer([a, b]),
        C.build_probe([a], [b]),
        C.build_layer([a, b], targets=[a]),
        C.build_traces([(a, [b])]),
        C.build_probe([a], [b], parents=True),
    ]
    for body in steps:
        assert terms(body) and all(t["execution_hint"] == "map" for t in terms(body))
    hubs = terms(C.build_hubs(100))
    assert len(hubs) == 5  # vrm, phone, postcode, nominal, named key
    assert all("execution_hint" not in t and t["min_doc_count"] == 101 for t in hubs)


def test_every_chart_body_passes_the_gateway_allow_list() -> None:
    from lantern.principal import Principal
    from search.gateway import secure_body

    user = Principal("u", "U", frozenset({"officer"}), frozenset({"RESPONSE"}), frozenset())
    a, b = C.NodeRef("person", "pnc:1"), C.NodeRef("vrm", "X")
    bodies = [
        C.build_records_expansion(a, 5),
        C.build_kind_expansion(a, "persons", 5),
        C.build_kind_expansion(b, "persons", 5),
        C.build_kind_expansion(a, "phone", 5),
        C.build_layer([a, b]),
        C.build_layer([a], targets=[b]),
        C.build_trace(a, [b]),
        C.build_traces([(a, [b]), (b, [a])]),
        C.build_probe([a], [b]),
        C.build_describe(a),
        C.build_hop(a, b),
        C.build_probe([a], [b], parents=True),
        C.build_sides([("a", C.build_layer([a])), ("b", C.build_layer([b]))]),
        C.build_path_details([a, b], [(a, b)], [a]),
        C.build_person_labels([a, C.NodeRef("person", "N-1")]),
        C.build_hubs(),
    ]
    for body in bodies:
        secured = secure_body(body, user)
        assert secured["query"] != body["query"]  # the access filter was added


def test_graphml_escapes_and_counts() -> None:
    g = C.Graph()
    g.add_node(C.Node("vrm:<x>", "vrm", "<x>&", 2))
    g.add_node(C.Node("record:r1", "record", "CR/1"))
    g.add_edge(C.Edge("vrm:<x>", "record:r1", "appears in", "appears in", 1, ["r1"]))
    xml = C.to_graphml(g)
    assert "&lt;x&gt;&amp;" in xml and "<x>&" not in xml
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    ns = "{http://graphml.graphdrawing.org/xmlns}"
    assert len(root.findall(f".//{ns}node")) == 2
    assert len(root.findall(f".//{ns}edge")) == 1
    assert g.record_ids() == ["r1"]


def test_groups_round_trip_move_nodes_and_have_limits() -> None:
    a, b, c = C.NodeRef("vrm", "AB12CDE"), C.NodeRef("phone", "+447700900123"), C.NodeRef("person", "pnc:1")
    spec = C.parse_spec([a.id, b.id], [], None, [f"Car and phone|{a.id}|{b.id}"])
    assert spec.groups == (("Car and phone", (a, b)),)
    assert ("g", f"Car and phone|{a.id}|{b.id}") in spec.params()
    assert C.parse_spec(*_split(spec.params()), [v for k, v in spec.params() if k == "g"]) == spec
    # A node moves to the newest group; an emptied group goes.
    moved = spec.with_group("  Just   the car ", [a]).with_group("All", [a, b, c])
    assert moved.groups == (("All", (a, b, c)),)
    assert spec.with_group("", [c]).groups[-1][0] == "Group 2"
    assert spec.without_group(0).groups == ()
    for bad in ("no members", "x|not-a-node"):
        with pytest.raises(C.ChartError):
            C.parse_group(bad)
    with pytest.raises(C.ChartError):
        spec.with_group("a|b", [a])
    with pytest.raises(C.ChartError):
        spec.with_group("empty", [])
    too_many = spec
    with pytest.raises(C.ChartError):
        for i in range(C.MAX_GROUPS + 1):
            too_many = too_many.with_group(f"g{i}", [C.NodeRef("vrm", f"X{i}")])


def test_apply_groups_makes_parents_of_present_members_only() -> None:
    g = C.Graph()
    a, b = C.make_node(C.NodeRef("vrm", "A")), C.make_node(C.NodeRef("vrm", "B"))
    g.add_node(a)
    g.add_node(b)
    C.apply_groups(
        g,
        [("Both", [C.NodeRef("vrm", "A"), C.NodeRef("vrm", "GONE")]), ("None here", [C.NodeRef("vrm", "Z")])],
    )
    assert g.nodes["group:1"].label == "Both" and g.nodes["group:1"].count == 1
    assert "group:2" not in g.nodes
    assert a.parent == "group:1" and b.parent == ""
    assert C.group_members(g, "group:1") == [C.NodeRef("vrm", "A")]
    assert '<data key="group">group:1</data>' in C.to_graphml(g)
    assert {n["id"]: n["parent"] for n in g.to_json()["nodes"]}["vrm:A"] == "group:1"


def test_path_steps_are_one_body_of_filter_aggregations() -> None:
    """Growing both sides and describing a path: one body each, a filter aggregation per part,
    the top query their union (so each part sees exactly its records)."""
    a, c = C.NodeRef("vrm", "X"), C.NodeRef("person", "N-9")
    sides = C.build_sides([("a", C.build_layer([a])), ("b", C.build_layer([c]))])
    assert sides["aggs"]["b"] == {"filter": C.nodes_query([c]), "aggs": C.build_layer([c])["aggs"]}
    hub = C.NodeRef("person", "N-hub")
    details = C.build_path_details([a, c], [(a, c)], [hub])
    assert details["query"] == C.nodes_query([a, c, hub])
    assert details["aggs"]["n0"] == {"filter": C.node_query(a)}
    # Persons (on the path, and the hubs it went around) are labelled by their readable names.
    assert details["aggs"]["n1"] == {"filter": C.node_query(c), "aggs": C.label_aggs(c)}
    assert details["aggs"]["l0"] == {"filter": C.node_query(hub), "aggs": C.label_aggs(hub)}
    assert details["aggs"]["h0"]["filter"] == {"bool": {"filter": [C.node_query(a), C.node_query(c)]}}
    assert details["aggs"]["h0"]["aggs"]["top"]["top_hits"]["size"] == C.EDGE_RECORD_IDS


def test_person_label_is_the_commonest_readable_name_with_the_others_as_detail() -> None:
    aggs = C.label_aggs(C.NodeRef("person", "N-1"))
    me = aggs["p"]["aggs"]["me"]
    assert aggs["p"]["nested"] == {"path": "people"}
    assert me["filter"] == C.person_clause(["N-1"])
    assert me["aggs"]["names"]["terms"]["field"] == "people.name.keyword"

    def answer(names: list[str], dobs: list[str]) -> dict[str, object]:
        buckets = {
            "names": {"buckets": [{"key": n, "doc_count": 1} for n in names]},
            "dobs": {"buckets": [{"key": 0, "key_as_string": d, "doc_count": 1} for d in dobs]},
        }
        return {"p": {"me": buckets}}

    assert C.person_label(answer(["Jon SMITH", "John SMITH"], ["1984-06-21"])) == (
        "Jon SMITH",
        "born 1984-06-21 · also John SMITH",
    )
    assert C.person_label(answer(["Ann LEE"], [])) == ("Ann LEE", "")
    assert C.person_label({}) == ("", "")
