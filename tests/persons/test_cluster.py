"""Clustering rules that need no engine: DOB tolerance, constraints, stable ids."""

from __future__ import annotations

import pytest

from persons.cluster import Attrs, Clusterer, Edge, assign_ids, cluster, derive_id, dobs_compatible


def test_dob_keying_errors_are_compatible_and_real_differences_are_not() -> None:
    assert dobs_compatible("1985-03-04", "1985-04-03")  # day/month swapped
    assert dobs_compatible("1985-03-04", "1985-03-05")  # one digit
    assert dobs_compatible("1985-03-04", "1958-03-04")  # transposition
    assert dobs_compatible("1985-03-04", "1985-01-01")  # 1 January default in the same year
    assert dobs_compatible("1985-12-31", "1986-12-31")  # one year off
    assert not dobs_compatible("1960-03-04", "1985-03-04")  # father and son
    assert not dobs_compatible("1985-03-04", "1985-07-19")


def test_strong_edges_do_not_merge_different_pnc_ids_or_a_cannot_link() -> None:
    attrs = {"a": Attrs(pnc="2001/0000001Z"), "b": Attrs(pnc="2002/0000002A"), "c": Attrs(), "d": Attrs()}
    edges = [Edge("a", "b", 0.999), Edge("c", "d", 0.999), Edge("a", "c", 0.995)]
    groups, refused = cluster("abcd", edges, 0.9, attrs, cannot=[("c", "d")])
    assert sorted(map(sorted, groups)) == [["a", "c"], ["b"], ["d"]]
    assert {why for _a, _b, why in refused} >= {
        "different PNC IDs",
        "a user decided these are not the same person",
    }


def test_must_link_joins_without_an_edge_but_never_against_a_cannot_link() -> None:
    attrs = {x: Attrs() for x in "abc"}
    groups, _ = cluster("abc", [], 0.9, attrs, must=[("a", "b")])
    assert sorted(map(sorted, groups)) == [["a", "b"], ["c"]]
    groups, refused = cluster("abc", [], 0.9, attrs, must=[("a", "b")], cannot=[("a", "b")])
    assert sorted(map(sorted, groups)) == [["a"], ["b"], ["c"]]
    assert refused


def test_a_record_without_dob_matching_father_and_son_equally_is_left_alone() -> None:
    attrs = {"father": Attrs(dob="1960-05-01"), "son": Attrs(dob="1988-09-12"), "nodob": Attrs()}
    edges = [Edge("father", "nodob", 0.999), Edge("son", "nodob", 0.999)]
    groups, _ = cluster(["father", "son", "nodob"], edges, 0.9, attrs)
    assert sorted(map(sorted, groups)) == [["father"], ["nodob"], ["son"]]


def test_twins_are_not_chained_through_a_mention_with_no_forename_conflict() -> None:
    attrs = {
        "jack": Attrs(dob="1990-01-02", forename="jack", surname="hall"),
        "harry": Attrs(dob="1990-01-02", forename="harry", surname="hall"),
    }
    groups, refused = cluster(["jack", "harry"], [Edge("jack", "harry", 0.999)], 0.9, attrs)
    assert len(groups) == 2
    assert refused[0][2] == "forenames no variant or keying error explains"


def test_ids_derive_from_the_earliest_mention_and_survive_splits_and_merges() -> None:
    order = {"a": "2020|a", "b": "2021|b", "c": "2022|c"}
    ids = assign_ids([["a", "b"], ["c"]], order)
    assert ids["a"] == ids["b"] == derive_id("a")
    assert ids["c"] == derive_id("c")
    # Same clusters from scratch, any order: same ids.
    assert assign_ids([["c"], ["b", "a"]], order) == ids
    # A merge keeps the id most members had; a split leaves the larger part the old id.
    merged = assign_ids([["a", "b", "c"]], order, previous=ids)
    assert set(merged.values()) == {derive_id("a")}
    split = assign_ids([["a"], ["b", "c"]], order, previous=merged)
    assert split["b"] == split["c"] == derive_id("a")
    assert split["a"] != derive_id("a")


def test_an_initial_is_no_bridge_between_twins_with_full_forenames() -> None:
    dob = "1975-02-23"
    attrs = {
        "luis": Attrs(dob=dob, forename="luis", surname="nunes"),
        "l": Attrs(dob=dob, forename="l", surname="nunes"),
        "ricardo": Attrs(dob=dob, forename="ricardo", surname="nunes"),
    }
    # "L Nunes" joins Luis first (strongest); Ricardo then meets a group holding a full forename
    # he does not explain, whatever the initial would allow.
    edges = [Edge("l", "luis", 0.999), Edge("l", "ricardo", 0.998), Edge("luis", "ricardo", 0.99)]
    groups, refused = cluster(["luis", "l", "ricardo"], edges, 0.9, attrs)
    assert sorted(map(sorted, groups)) == [["l", "luis"], ["ricardo"]]
    assert {why for _a, _b, why in refused} == {"forenames no variant or keying error explains"}
    # With only an initial on one side it still links (an initial is some evidence).
    attrs["r"] = Attrs(dob=dob, forename="r", surname="nunes")
    groups, _ = cluster(["r", "ricardo"], [Edge("r", "ricardo", 0.999)], 0.9, attrs)
    assert len(groups) == 1


def test_a_mention_without_dob_nearly_as_like_someone_it_cannot_be_is_left_alone() -> None:
    attrs = {"father": Attrs(dob="1960-05-01"), "son": Attrs(dob="1988-09-12"), "nodob": Attrs()}
    # Only the link to the father would merge; the son's is weaker but likely: ambiguous.
    edges = [Edge("father", "nodob", 0.999), Edge("son", "nodob", 0.85)]
    groups, refused = cluster(["father", "son", "nodob"], edges, 0.9, attrs)
    assert sorted(map(sorted, groups)) == [["father"], ["nodob"], ["son"]]
    assert refused[-1][2].startswith("matches two different people")
    # A weak link to a group it could also belong to (no contradiction) is no ambiguity.
    attrs["son"] = Attrs(dob="1960-05-01")
    groups, _ = cluster(["father", "son", "nodob"], edges, 0.9, attrs)
    assert ["father", "nodob"] in [sorted(g) for g in groups]


def test_a_name_keyed_the_other_way_round_is_no_bridge_between_twins() -> None:
    dob = "1978-07-28"
    attrs = {
        "stephen": Attrs(dob=dob, forename="stephen", surname="thompson"),
        "swapped": Attrs(dob=dob, forename="thompson", surname="maurice"),
        "maurice": Attrs(dob=dob, forename="maurice", surname="thompson"),
    }
    edges = [Edge("stephen", "swapped", 0.999), Edge("swapped", "maurice", 0.998)]
    groups, refused = cluster(["stephen", "swapped", "maurice"], edges, 0.9, attrs)
    assert len(groups) == 2
    assert refused[0][2] == "forenames no variant or keying error explains"


def test_a_1_january_default_is_no_bridge_between_two_real_dobs() -> None:
    attrs = {
        "a": Attrs(dob="1983-09-07", forename="michael", surname="williams"),
        "default": Attrs(dob="1983-01-01", forename="michael", surname="williams"),
        "b": Attrs(dob="1983-03-21", forename="michael", surname="williams"),
    }
    edges = [Edge("a", "default", 0.999), Edge("default", "b", 0.998)]
    groups, refused = cluster(["a", "default", "b"], edges, 0.9, attrs)
    assert sorted(map(sorted, groups)) == [["a", "default"], ["b"]]
    assert refused[0][2] == "dates of birth no keying error explains"


def test_a_mention_without_dob_joins_its_only_candidate_below_the_threshold() -> None:
    attrs = {
        "p1": Attrs(dob="1965-05-08", forename="shannon", surname="armstrong"),
        "p2": Attrs(dob="1965-05-08", forename="shannon", surname="armstrong"),
        "bare": Attrs(forename="shannon", surname="armstrong"),
    }
    edges = [Edge("p1", "p2", 0.9999), Edge("bare", "p1", 0.84), Edge("bare", "p2", 0.83)]
    ids = ["p1", "p2", "bare"]
    groups, _ = cluster(ids, edges, 0.99, attrs)
    assert sorted(map(sorted, groups)) == [["bare"], ["p1", "p2"]]  # no second pass
    groups, _ = cluster(ids, edges, 0.99, attrs, attach=0.8)
    assert sorted(map(sorted, groups)) == [["bare", "p1", "p2"]]
    # Too weak a link, or a second candidate (father and son), and it stays alone.
    groups, _ = cluster(ids, edges, 0.99, attrs, attach=0.9)
    assert sorted(map(sorted, groups)) == [["bare"], ["p1", "p2"]]
    attrs["son"] = Attrs(dob="1995-01-02", forename="shannon", surname="armstrong")
    edges.append(Edge("bare", "son", 0.6))
    groups, _ = cluster([*ids, "son"], edges, 0.99, attrs, attach=0.8)
    assert sorted(map(sorted, groups)) == [["bare"], ["p1", "p2"], ["son"]]


def test_a_year_keyed_one_out_with_another_day_is_compatible_but_not_another_month() -> None:
    assert dobs_compatible("1996-01-28", "1997-01-31")  # year one out, day clamped or guessed
    assert not dobs_compatible("1996-01-28", "1997-06-28")
    assert not dobs_compatible("1996-01-28", "1998-01-20")  # two years out and another day


def test_a_short_form_outside_the_variant_tables_is_compatible_but_twins_are_not() -> None:
    dob = "1965-02-05"
    attrs = {
        "abdi": Attrs(dob=dob, forename="abdi", surname="farah"),
        "abdirahman": Attrs(dob=dob, forename="abdirahman", surname="farah"),
        "nike": Attrs(dob=dob, forename="nike", surname="balogun"),
        "adenike": Attrs(dob=dob, forename="adenike", surname="balogun"),
        # Twins: a forename that is neither the start nor the end of the other.
        "ahmed": Attrs(dob=dob, forename="ahmed", surname="farah"),
    }
    edges = [Edge("abdi", "abdirahman", 0.999), Edge("nike", "adenike", 0.999), Edge("abdi", "ahmed", 0.998)]
    groups, refused = cluster(list(attrs), edges, 0.9, attrs)
    assert sorted(map(sorted, groups)) == [
        ["abdi", "abdirahman"],
        ["adenike", "nike"],
        ["ahmed"],
    ]
    assert [why for _a, _b, why in refused] == ["forenames no variant or keying error explains"]


def test_names_keyed_the_other_way_round_with_a_variant_are_read_round() -> None:
    dob = "1960-12-09"
    attrs = {
        "straight": Attrs(
            dob=dob,
            forename="mohamed",
            surname="warsame",
            forename_keys=frozenset({"dm:MHMT"}),
            surname_keys=frozenset({"dm:ARSM"}),
        ),
        # Keyed "WARSAME Muhammad": the surname box holds a sound-alike of the forename.
        "swapped": Attrs(
            dob=dob,
            forename="warsame",
            surname="muhammad",
            forename_keys=frozenset({"dm:ARSM"}),
            surname_keys=frozenset({"dm:MHMT"}),
        ),
        # A twin keyed the other way round stays apart: his forename explains neither.
        "twin": Attrs(
            dob=dob,
            forename="warsame",
            surname="yusuf",
            forename_keys=frozenset({"dm:ARSM"}),
            surname_keys=frozenset({"dm:ASF"}),
        ),
    }
    edges = [Edge("straight", "swapped", 0.999), Edge("swapped", "twin", 0.998)]
    groups, refused = cluster(list(attrs), edges, 0.9, attrs)
    assert sorted(map(sorted, groups)) == [["straight", "swapped"], ["twin"]]
    assert refused[0][2] == "forenames no variant or keying error explains"


def test_a_mention_without_dob_attaches_to_its_best_neighbour_only_when_the_others_could_be_it() -> None:
    def world(second_dob: str) -> dict[str, Attrs]:
        return {
            "nodob": Attrs(forename="sian", surname="davis"),
            "one": Attrs(dob="1982-06-25", forename="sian", surname="davis"),
            # Below the merge threshold to "one": two groups until something joins them.
            "two": Attrs(dob=second_dob, forename="sian", surname="davis"),
        }

    edges = [Edge("nodob", "one", 0.85), Edge("nodob", "two", 0.7), Edge("one", "two", 0.6)]
    # The other neighbour's DOB is one digit off the first's: one person, split.
    groups, _ = cluster(["nodob", "one", "two"], edges, 0.99, world("1982-06-26"), attach=0.5)
    assert ["nodob", "one"] in [sorted(g) for g in groups]
    # The other neighbour is someone else (a son, decades younger): the mention stays alone.
    groups, _ = cluster(["nodob", "one", "two"], edges, 0.99, world("2009-03-14"), attach=0.5)
    assert sorted(map(sorted, groups)) == [["nodob"], ["one"], ["two"]]


def test_a_mention_with_a_mistyped_dob_joins_its_only_candidate_below_the_threshold() -> None:
    attrs = {
        "p1": Attrs(dob="1992-10-28", forename="joseph", surname="white"),
        "p2": Attrs(dob="1992-10-28", forename="joseph", surname="white"),
        # A year one out and a diminutive: scored under the threshold.
        "slip": Attrs(dob="1991-10-28", forename="joe", surname="white", forename_keys=frozenset({"joseph"})),
    }
    edges = [Edge("p1", "p2", 0.9999), Edge("slip", "p1", 0.98), Edge("slip", "p2", 0.97)]
    ids = list(attrs)
    groups, _ = cluster(ids, edges, 0.99, attrs, attach=0.95)
    assert sorted(map(sorted, groups)) == [["p1", "p2"], ["slip"]]  # off unless asked for
    groups, _ = cluster(ids, edges, 0.99, attrs, attach_dob=0.95)
    assert sorted(map(sorted, groups)) == [["p1", "p2", "slip"]]
    groups, _ = cluster(ids, edges, 0.99, attrs, attach_dob=0.99)  # too weak a link
    assert sorted(map(sorted, groups)) == [["p1", "p2"], ["slip"]]
    # A second candidate it could be instead (another Joseph White, whose DOB no slip
    # explains from the first's): it stays alone.
    attrs["other"] = Attrs(dob="1991-01-28", forename="joseph", surname="white")
    groups, _ = cluster([*ids, "other"], [*edges, Edge("slip", "other", 0.9)], 0.99, attrs, attach_dob=0.95)
    assert sorted(map(sorted, groups)) == [["other"], ["p1", "p2"], ["slip"]]
    # With a DOB it never joins a group without one: that is the DOB-less group's choice.
    only = {"slip": attrs["slip"], "bare": Attrs(forename="joe", surname="white")}
    groups, _ = cluster(list(only), [Edge("bare", "slip", 0.97)], 0.99, only, attach_dob=0.95)
    assert sorted(map(sorted, groups)) == [["bare"], ["slip"]]


def test_a_mention_without_dob_goes_to_the_person_it_is_far_more_like() -> None:
    attrs = {
        "father1": Attrs(dob="1970-10-14", forename="guy", surname="townsend"),
        "father2": Attrs(dob="1970-10-14", forename="guy", surname="townsend"),
        "son": Attrs(dob="2005-06-07", forename="guy", surname="townsend"),
        "bare": Attrs(forename="guy", surname="townsend"),
    }
    # Name and address agree with both; a phone number with the father only (~10 bits more).
    edges = [
        Edge("father1", "father2", 0.9999),
        Edge("bare", "father1", 1 - 2**-20),
        Edge("bare", "son", 1 - 2**-10),
    ]
    ids = list(attrs)
    groups, _ = cluster(ids, edges, 0.99, attrs)
    assert ["bare"] in groups  # two people it could be: left alone
    groups, _ = cluster(ids, edges, 0.99, attrs, margin=7)
    assert ["bare", "father1", "father2"] in [sorted(g) for g in groups]
    groups, _ = cluster(ids, edges, 0.99, attrs, margin=12)
    assert ["bare"] in groups
    # Links that both round to probability 1 say nothing about which.
    edges = [Edge("father1", "father2", 0.9999), Edge("bare", "father1", 1.0), Edge("bare", "son", 1.0)]
    groups, _ = cluster(ids, edges, 0.99, attrs, margin=7)
    assert ["bare"] in groups


def test_a_seed_group_is_the_group_its_members_forced_together_one_by_one_make() -> None:
    # A nominal with names keyed both ways round: how each member is read depends on the
    # surnames the group holds when it joins, so the order matters.
    attrs = {
        "m1": Attrs(
            dob="1970-02-03", forename="maurice", surname="thompson", surname_keys=frozenset({"s:tmsn"})
        ),
        "m2": Attrs(forename="thompson", surname="maurice", forename_keys=frozenset({"s:tmsn"})),
        "m3": Attrs(dob="1970-03-02", pnc="2001/0000001Z", forename="mo", surname="thomson"),
        "m4": Attrs(cro="123456/01A", forename="maurice", surname="thompson"),
        "m5": Attrs(),
    }
    members = ["m1", "m2", "m3", "m4", "m5"]
    seeded = Clusterer(attrs)
    seeded.add("m1")
    seeded.seed(members)
    forced = Clusterer(attrs)
    for m in members[1:]:
        forced.union("m1", m, force=True)
    assert seeded.parent == forced.parent
    assert seeded.groups == forced.groups
    assert seeded.groups["m1"].members == members


def test_a_seed_group_meeting_a_grouped_mention_is_refused() -> None:
    c = Clusterer({})
    c.union("a", "b", force=True)
    with pytest.raises(ValueError, match="grouped already"):
        c.seed(["c", "a"])
    with pytest.raises(ValueError, match="grouped already"):
        c.seed(["a", "d"])
    assert c.parent == {"a": "a", "b": "a"}


def test_overlapping_seed_groups_are_joined_as_before() -> None:
    attrs = {x: Attrs() for x in "abcd"}
    groups, _ = cluster("abcd", [], 0.9, attrs, seed_groups=[["a", "b"], ["b", "c"]])
    assert sorted(map(sorted, groups)) == [["a", "b", "c"], ["d"]]
