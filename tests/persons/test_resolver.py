"""Resolution with the real engine (Splink on DuckDB, the committed model v1).

The hand-made people are resolved among a few thousand synthetic mentions, as in a force's
data: term frequencies need a population (in a dataset of ten mentions every name is common).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

from demo.persons import generate
from entity_extraction.identifiers import pnc_check_letter
from persons import model as pm
from persons.features import Mention
from persons.resolver import KEEP_PROBABILITY, Decision, Resolver

PNC = f"2007/0003649{pnc_check_letter(2007, 3649)}"
PNC_SHORT = f"07/3649{pnc_check_letter(2007, 3649)}"


def M(mid: str, fore: str | None, sur: str, dob: date | None, **kw: object) -> Mention:
    return Mention(
        mention_id=mid,
        record_id=f"rec-{mid}",
        role=str(kw.pop("role", "suspect")),
        surname=sur,
        forename=fore,
        dob=dob,
        record_date=str(kw.pop("record_date", "2020-01-01")),
        **kw,  # type: ignore[arg-type]
    )


HOME = {"address_line": "12 Elm Road", "postcode": "E1 6AN"}
CASES = [
    # one man keyed three ways: diacritics, DOB day/month swapped, PNC short form, DOB missing
    M("pw1", "Paweł", "Wiśniewski", date(1984, 3, 7), pnc_id=PNC, postcode="SW1A 1AA", address_line="1 Mall"),
    M("pw2", "Pawel", "Wisniewski", date(1984, 7, 3), pnc_id=PNC_SHORT),
    M("pw3", "Pawel", "Wisniewski", None, pnc_id=PNC),
    # father and son: same name, same address, different DOB
    M("fa1", "Mark", "Tanner", date(1961, 2, 14), gender="male", **HOME),
    M("fa2", "Mark", "Tanner", date(1961, 2, 14), gender="male", phones=("07700 900123",), **HOME),
    M("so1", "Mark", "Tanner", date(1989, 10, 30), gender="male", **HOME),
    M("so2", "Mark", "Tanner", date(1989, 10, 30), gender="male", **HOME),
    # twins: same surname, DOB and address, different forenames
    M(
        "tj1",
        "Jack",
        "Fenwick",
        date(1995, 6, 21),
        gender="male",
        address_line="4 Oak Way",
        postcode="N1 9GU",
    ),
    M("tj2", "Jack", "Fenwick", date(1995, 6, 21), address_line="4 Oak Way", postcode="N1 9GU"),
    M(
        "th1",
        "Harry",
        "Fenwick",
        date(1995, 6, 21),
        gender="male",
        address_line="4 Oak Way",
        postcode="N1 9GU",
    ),
    M("th2", "Harry", "Fenwick", date(1995, 6, 21), address_line="4 Oak Way", postcode="N1 9GU"),
    # two John Smiths with different DOBs
    M("js1", "John", "Smith", date(1970, 1, 15)),
    M("js2", "John", "Smith", date(1982, 11, 3)),
    # one woman: a surname slip, an initial for the forename, no DOB on one side, and another
    # spelling of one NI number; nothing else in common
    M("ni1", "Halima", "Osmanova", date(1991, 4, 17), nino="QQ 40 21 77 B", role="detainee"),
    M("ni2", "H", "Osmanovna", None, nino="qq402177b", role="victim"),
    # father and son sharing the household's email address (and their address): two people
    M("fe1", "Dean", "Rowbotham", date(1958, 3, 9), email="rowbothams@example.com", **HOME),
    M("fe2", "Dean", "Rowbotham", date(1958, 3, 9), **HOME),
    M("se1", "Dean", "Rowbotham", date(1986, 12, 1), email="Rowbothams@example.com", **HOME),
    M("se2", "Dean", "Rowbotham", date(1986, 12, 1), **HOME),
    # a diminutive with a one-digit DOB slip
    M("wb1", "William", "Ashdown", date(1977, 5, 23), address_line="9 Mill Lane", postcode="CR0 6TL"),
    M("wb2", "Bill", "Ashdown", date(1977, 5, 28), address_line="9 Mill Lane", postcode="CR0 6TL"),
]


@pytest.fixture(scope="module")
def background() -> list[Mention]:
    return [x.mention for x in generate(3000, seed=11)]


@pytest.fixture(scope="module")
def resolved(background: list[Mention]) -> tuple[Resolver, dict[str, str]]:
    r = Resolver()
    res = r.rebuild(background + CASES)
    return r, res.nominal_of


def test_one_person_keyed_differently_is_one_nominal_with_reasons(
    resolved: tuple[Resolver, dict[str, str]],
) -> None:
    r, nom = resolved
    assert nom["pw1"] == nom["pw2"] == nom["pw3"]
    reasons = {reason for m in ("pw1", "pw2", "pw3") if (link := r.links.get(m)) for reason in link.reasons()}
    assert "PNC ID agrees" in reasons
    link = r.links["pw2"]
    assert link.weights["pnc"] > 5
    assert "DOB has day and month swapped" in link.reasons() or link.other == "pw3"


def test_diminutive_with_a_one_digit_dob_slip_links(resolved: tuple[Resolver, dict[str, str]]) -> None:
    r, nom = resolved
    assert nom["wb1"] == nom["wb2"]
    assert "forename is a known variant or diminutive" in r.links["wb2"].reasons()


def test_father_and_son_stay_apart(resolved: tuple[Resolver, dict[str, str]]) -> None:
    _r, nom = resolved
    assert nom["fa1"] == nom["fa2"]
    assert nom["so1"] == nom["so2"]
    assert nom["fa1"] != nom["so1"]


def test_an_ni_number_in_common_links_what_the_names_alone_would_not(
    resolved: tuple[Resolver, dict[str, str]],
) -> None:
    r, nom = resolved
    assert nom["ni1"] == nom["ni2"]
    assert "NI number agrees" in r.links["ni2"].reasons()
    assert r.links["ni2"].weights["nino"] > 10


def test_a_shared_household_email_does_not_merge_father_and_son(
    resolved: tuple[Resolver, dict[str, str]],
) -> None:
    _r, nom = resolved
    assert nom["fe1"] == nom["fe2"]
    assert nom["se1"] == nom["se2"]
    assert nom["fe1"] != nom["se1"]


def test_twins_stay_apart(resolved: tuple[Resolver, dict[str, str]]) -> None:
    _r, nom = resolved
    assert nom["tj1"] == nom["tj2"]
    assert nom["th1"] == nom["th2"]
    assert nom["tj1"] != nom["th1"]


def test_two_john_smiths_with_different_dobs_are_two_people(
    resolved: tuple[Resolver, dict[str, str]],
) -> None:
    _r, nom = resolved
    assert nom["js1"] != nom["js2"]


def test_ids_are_stable_across_rebuilds_and_input_order(
    background: list[Mention], resolved: tuple[Resolver, dict[str, str]]
) -> None:
    _r, nom = resolved
    again = Resolver().rebuild(list(reversed(background + CASES))).nominal_of
    assert again == nom


def test_decisions_survive_rebuild(
    background: list[Mention], resolved: tuple[Resolver, dict[str, str]]
) -> None:
    _r, nom = resolved
    decisions = [
        Decision("pw1", "pw2", same=False, reason="custody photo differs", by="ana"),
        Decision("js1", "js2", same=True, reason="DOB typed wrong on one record", by="sup"),
    ]
    r = Resolver()
    res = r.rebuild(background + CASES, decisions, previous=nom)
    assert res.nominal_of["pw1"] != res.nominal_of["pw2"]
    assert res.nominal_of["js1"] == res.nominal_of["js2"]
    # Everything the decisions do not touch keeps its id.
    untouched = [m for m in nom if m not in {"pw1", "pw2", "pw3", "js1", "js2"}]
    assert all(res.nominal_of[m] == nom[m] for m in untouched)
    # A later rebuild with the same decisions gives the same answer and the same ids.
    again = Resolver().rebuild(background + CASES, decisions, previous=res.nominal_of)
    assert again.nominal_of == res.nominal_of


def test_incremental_resolution_matches_existing_nominals(background: list[Mention]) -> None:
    r = Resolver()
    r.rebuild(background + [c for c in CASES if c.mention_id != "pw3"])
    before = dict(r.nominal_of)
    new = M("pw4", "Pawel", "Wiśniewski", date(1984, 3, 7), pnc_id=PNC_SHORT)
    stranger = M("zz1", "Quentin", "Abernathy-Zouch", date(1931, 2, 2))
    out = r.resolve_new([new, stranger])
    assert out["pw4"] == before["pw1"]
    assert out["zz1"] not in set(before.values())
    # A reload of unchanged mentions changes no id.
    assert r.resolve_new([c for c in CASES if c.mention_id != "pw3"]) == {
        c.mention_id: before[c.mention_id] for c in CASES if c.mention_id != "pw3"
    }


def _kept(raw: dict[tuple[str, str], Any], batch: set[str]) -> dict[tuple[str, str], Any]:
    """Splink's scored pairs of a batch less those ingest drops: a mention with itself, and of
    two batch mentions (scored both ways round) the row with the larger id on the left."""
    return {(a, b): v for (a, b), v in raw.items() if not (a >= b and a in batch)}


def _splinks_scores(r: Resolver) -> dict[tuple[str, str], Any]:
    """The held mentions x the batch table scored by Splink's ``predict_between`` from scratch."""
    linker, db = r._linker("mentions")
    for col in pm.TF_COLUMNS:
        linker.table_management.register_term_frequency_lookup(db.register(f"lantern_tf_{col}"), col)
    pred = linker.inference.predict_between(
        db.register("mentions"),
        db.register("batch"),
        threshold_match_probability=KEEP_PROBABILITY,
        warning_mode="never",
    )
    return r._edges_from(pred.physical_name)[1]


def test_batches_after_the_first_score_exactly_as_splink_does(background: list[Mention]) -> None:
    """From the second batch on, ingest blocks with its own SQL (each rule a plain join) and
    scores with the scoring SQL kept from the first batch's ``predict_between``; every pair
    Splink itself gives for that batch must be scored alike (ids, probability, gammas,
    weights), bar the self and mirrored pairs ingest drops, and no other pair may appear."""
    r = Resolver()
    r.rebuild(background)
    r.resolve_new([c for c in CASES if c.mention_id in {"pw1", "js1"}])  # Splink runs, SQL kept
    assert r._batch_sql is not None
    second = [c for c in CASES if c.mention_id not in {"pw1", "js1"}]
    r.resolve_new(second)  # the kept SQL runs
    # The same held mentions and batch scored by Splink from scratch (the batch table is the
    # last one resolved).
    mine = r._edges_from(r._score_batch())[1]
    theirs = _splinks_scores(r)
    batch = {c.mention_id for c in second}
    # Two batch mentions both ways round, and self pairs, are in Splink's: the filter is tested.
    assert any(a in batch and b in batch and a > b for a, b in theirs)
    assert mine and mine == _kept(theirs, batch)


def test_blocking_keeps_splinks_pairs_and_rule_numbers(
    background: list[Mention], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each blocking rule as a plain join, a pair keeping the lowest rule that found it, gives
    the id pairs and ``match_key`` of Splink's blocking SQL (whose rule k excludes what rules
    0..k-1 found), less the self and mirrored pairs."""
    splinks: list[str] = []
    own = Resolver._blocking_sql

    def spy(self: Resolver, sql: str) -> str:
        splinks.append(sql)
        return own(self, sql)

    monkeypatch.setattr(Resolver, "_blocking_sql", spy)
    r = Resolver()
    r.rebuild(background[:1500])
    r.resolve_new(background[1500:1600])  # Splink's blocking SQL captured
    assert r._batch_sql is not None and len(splinks) == 1
    second = background[1600:1800] + CASES
    r.resolve_new(second)  # ``batch`` is now this one

    def rows(sql: str) -> dict[tuple[str, str], str]:
        got = r.con.execute(f"SELECT join_key_l, join_key_r, match_key FROM ({sql})").fetchall()
        out = {(a, b): k for a, b, k in got}
        assert len(out) == len(got)  # each pair once
        return out

    mine, theirs = rows(r._batch_sql[0]), rows(splinks[0])
    batch = {m.mention_id for m in second}
    # Several rules find pairs (the rule number is tested), and both ways round in the batch.
    assert len(set(theirs.values())) > 3
    assert any(a in batch and b in batch and a > b for a, b in theirs)
    assert mine and mine == _kept(theirs, batch)


def test_the_first_batch_is_scored_once_with_what_the_kept_sql_gives(
    background: list[Mention], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first batch's pairs are Splink's ``predict_between`` table itself (not scored a
    second time with the SQL kept from it): the same pairs, in the same (canonical) order, with
    the same gammas and weights, as the kept SQL gives for the batch (less the self and
    mirrored pairs it drops and ingest drops from the first), so the first batch resolves as
    every later one does."""
    r = Resolver()
    r.rebuild(background)
    seen: list[Any] = []
    read_pairs = r._read_pairs

    def spy(physical: str) -> Any:
        seen.append(read_pairs(physical))
        return seen[-1]

    monkeypatch.setattr(r, "_read_pairs", spy)
    first_batch = [c for c in CASES if c.mention_id in {"pw1", "pw2", "js1"}]
    r.resolve_new(first_batch)
    assert r._batch_sql is not None and len(seen) == 1
    first, again = seen[0], r._score_batch()  # the batch table is still the first batch
    batch = {c.mention_id for c in first_batch}
    kept = [i for i, (a, b) in enumerate(zip(first.a, first.b, strict=True)) if not (a >= b and a in batch)]
    assert len(kept) < len(first.a)  # self pairs (at least) were there to drop
    assert again.a and [first.a[i] for i in kept] == again.a and [first.b[i] for i in kept] == again.b
    assert [first.p[i] for i in kept] == again.p
    assert np.array_equal(first.gammas[kept], again.gammas) and np.array_equal(
        first.weights[kept], again.weights
    )


def test_links_with_the_same_gammas_share_their_labels(resolved: tuple[Resolver, dict[str, str]]) -> None:
    """A link's labels are its comparisons' level labels, one mapping per combination of
    gammas (memory: a million mentions hold two million links and a few thousand combinations)."""
    r, _nom = resolved
    links = [lk for m, first in r.links.items() for lk in (first, *r.more_links.get(m, []))]
    by_labels: dict[tuple[tuple[str, str], ...], set[int]] = {}
    for lk in links:
        assert set(lk.labels) == set(r._comps)
        assert all(lk.labels[c] in r._labels[c].values() or lk.labels[c] == c for c in r._comps)
        by_labels.setdefault(tuple(sorted(lk.labels.items())), set()).add(id(lk.labels))
    assert len(links) > len(by_labels) > 1
    assert all(len(ids) == 1 for ids in by_labels.values())


def test_name_comparisons_scored_once_per_pair_of_names_give_splinks_scores(
    background: list[Mention],
) -> None:
    """Later batches evaluate the name comparisons' levels once per distinct pair of name ids
    (``Resolver._dedupe_names``): every pair must still score exactly as Splink scores it, also
    after a rebuild has replaced every held mention (the ids are given again), and equal ids
    must mean equal values in every column those levels read."""
    r = Resolver()
    r.rebuild(background)
    r.resolve_new([c for c in CASES if c.mention_id in {"pw1", "js1"}])
    assert r._batch_sql is not None and "lantern_name_gammas" in r._batch_sql[1]
    assert r._name_cols is not None and {"forename", "surname", "forename_phon"} <= set(r._name_cols)
    r.rebuild(background + [c for c in CASES if c.mention_id in {"pw1", "js1"}])
    second = [c for c in CASES if c.mention_id not in {"pw1", "js1"}]
    r.resolve_new(second)
    mine = r._edges_from(r._score_batch())[1]
    batch = {c.mention_id for c in second}
    assert mine and mine == _kept(_splinks_scores(r), batch)
    cols = ", ".join(f'"{c}"' for c in r._name_cols)
    ids, names, held = r.con.execute(
        f"SELECT count(DISTINCT lantern_name_id), count(*), count(lantern_name_id) FROM "
        f"(SELECT DISTINCT lantern_name_id, {cols} FROM mentions)"
    ).fetchone() or (0, 0, 0)
    values = r.con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {cols} FROM mentions)").fetchone()
    # Every held mention has an id, and ids and distinct name values are one to one (a batch's
    # ids come from the resolver's dictionary of them, the held mentions' from SQL).
    assert held == names == ids == (values or (0,))[0] > len(background) // 10


def test_prepared_resolver_resolves_as_one_that_renders_the_sql_in_its_first_batch(
    background: list[Mention],
) -> None:
    """``prepare`` renders the batch scoring SQL on an empty batch before any batch (ingest's
    set-up): every batch after it must resolve exactly as without it (nominals, links with
    their probabilities and waterfalls), and the first batch must not render it again."""
    plain, prepared = Resolver(), Resolver()
    for r in (plain, prepared):
        r.rebuild(background[:1500])
    prepared.prepare()
    kept = prepared._batch_sql
    assert kept is not None
    assert not prepared.con.execute("SELECT count(*) FROM lantern_tf_surname").fetchall()[0][0]
    for batch in (background[1500:1600] + CASES[:3], background[1600:1700] + CASES[3:]):
        assert plain.resolve_new(batch) == prepared.resolve_new(batch)
        assert plain.nominal_of == prepared.nominal_of
        assert plain.last_changed == prepared.last_changed and plain.last_moved == prepared.last_moved

        def links(r: Resolver) -> dict[str, Any]:
            return {m: (lk.other, lk.probability, lk.weights, lk.labels) for m, lk in r.links.items()}

        assert links(plain) == links(prepared)
    assert prepared._batch_sql is kept
    assert plain._batch_sql == kept


def test_prepare_with_nothing_held() -> None:
    """A first load into an empty index: the SQL is rendered over no held mentions, and the
    first batch then resolves its people among themselves."""
    r = Resolver()
    r.load_existing([], {})
    r.prepare()
    out = r.resolve_new(CASES)
    assert set(out) == {c.mention_id for c in CASES}
    assert len(set(out.values())) < len(CASES)
