"""The cap on crowded blocks (persons/blocking.py), on DuckDB with the real rules."""

from __future__ import annotations

from datetime import date
from itertools import combinations

import duckdb

from persons import blocking
from persons import model as pm
from persons.features import Mention, feature_table
from persons.resolver import Resolver
from tests.persons.test_resolver import M

CUSTODY_PHONE = "07700 900999"
# Eight different people who all gave the custody suite's number.
CROWD = [
    M(f"c{i}", fore, sur, date(1970 + i, 1 + i, 10 + i), phones=(CUSTODY_PHONE,))
    for i, (fore, sur) in enumerate(
        [
            ("Amy", "Adams"),
            ("Ben", "Baker"),
            ("Cara", "Clarke"),
            ("Dan", "Dixon"),
            ("Eve", "Evans"),
            ("Finn", "Foster"),
            ("Gail", "Gibson"),
            ("Hugo", "Hughes"),
        ]
    )
]
# One man twice, the surname keyed with a slip that changes its sound-alike key (Nelson NLSN,
# Melson MLSN): with the custody number as well, so his phone sub-block does not hold him whole.
NELSON = [
    M("jn1", "Jon", "Nelson", date(1982, 5, 17), phones=(CUSTODY_PHONE,)),
    M("jn2", "Jon", "Melson", date(1982, 5, 17), phones=(CUSTODY_PHONE,)),
]


def _held(mentions: list[Mention], cap: int) -> tuple[duckdb.DuckDBPyConnection, blocking.CapStats]:
    con = pm.connect()
    con.register("_t", feature_table(mentions))
    con.execute("CREATE TABLE mentions AS SELECT * FROM _t")
    blocking.add_columns(con, "mentions")
    return con, blocking.assign(con, "mentions", cap=cap)


def _pairs_through(con: duckdb.DuckDBPyConnection, column: str) -> set[tuple[str, str]]:
    rows = con.execute(
        f'SELECT l.unique_id, r.unique_id FROM mentions l JOIN mentions r ON l."{column}" = r."{column}" '
        "AND l.unique_id < r.unique_id"
    ).fetchall()
    return {(a, b) for a, b in rows}


def test_a_value_shared_by_a_crowd_gives_no_pairs_through_its_rule() -> None:
    everyone = CROWD + NELSON
    con, stats = _held(everyone, cap=3)
    assert stats.crowded["blk_phone_key"] == 1
    # Split by surname key: every sub-block holds one mention, so the phone pairs no one.
    assert _pairs_through(con, "blk_phone_key") == set()
    con, stats = _held(everyone, cap=100)
    assert stats.crowded["blk_phone_key"] == 0
    assert len(_pairs_through(con, "blk_phone_key")) == len(everyone) * (len(everyone) - 1) // 2


def test_the_same_mentions_are_still_paired_by_another_rule_that_agrees() -> None:
    compared = {
        (min(e.a, e.b), max(e.a, e.b)) for e in Resolver(block_cap=3).score(CROWD + NELSON, floor=None)
    }
    # DOB and forename key agree: that rule compares the two Nelson mentions.
    assert ("jn1", "jn2") in compared
    # People who share nothing but the crowded number are never compared...
    crowd_pairs = {
        (min(a.mention_id, b.mention_id), max(a.mention_id, b.mention_id)) for a, b in combinations(CROWD, 2)
    }
    assert not crowd_pairs & compared
    # ...which is the cap's doing: under a cap they do not reach, the phone compares them all.
    uncapped = {
        (min(e.a, e.b), max(e.a, e.b)) for e in Resolver(block_cap=100).score(CROWD + NELSON, floor=None)
    }
    assert crowd_pairs <= uncapped


def test_one_prolific_person_is_not_a_crowd() -> None:
    # Forty records of one man (one signature): every block of his stays whole under a cap of 3.
    many = [
        M(f"p{i}", "Carl", "Dunmore", date(1979, 8, 2), phones=(CUSTODY_PHONE,), postcode="LS1 4AP")
        for i in range(40)
    ]
    con, stats = _held(many, cap=3)
    assert not any(stats.crowded.values())
    assert len(_pairs_through(con, "blk_phone_key")) == 40 * 39 // 2


def _add_batch(con: duckdb.DuckDBPyConnection, inc: blocking.Incremental, mentions: list[Mention]) -> None:
    """As the resolver does: the batch's join values (and held ones it changes), then held."""
    con.register("_b", feature_table(mentions))
    con.execute("CREATE OR REPLACE TEMP TABLE batch AS SELECT * FROM _b")
    con.unregister("_b")
    blocking.add_columns(con, "batch")
    inc.add("batch")
    con.execute("INSERT INTO mentions BY NAME SELECT * FROM batch")


def test_only_the_blocks_a_batch_touches_are_recomputed_and_a_block_it_crowds_is_split_for_all() -> None:
    con, stats = _held(CROWD[:3], cap=3)
    assert stats.crowded["blk_phone_key"] == 0
    assert len(_pairs_through(con, "blk_phone_key")) == 3
    # A batch with a fourth person: the block is now crowded, for the held mentions too.
    _add_batch(con, blocking.Incremental(con, "mentions", cap=3), CROWD[3:4])
    assert _pairs_through(con, "blk_phone_key") == set()
    # Blocks the batch did not touch keep their values (the held mentions' own DOB blocks).
    held = con.execute(
        "SELECT count(*) FROM mentions "
        "WHERE blk_dob_surname_key IS NOT NULL AND unique_id IN ('c0', 'c1', 'c2')"
    ).fetchone()
    assert held == (3,)


def test_a_batch_of_one_prolific_persons_records_keeps_his_blocks_whole_as_a_full_assignment_does() -> None:
    """A batch whose blocks hold more mentions than the cap but one signature: such a block is
    kept (its mention count passed the cap) but stays whole, every value as a full assignment
    gives it."""
    many = [
        M(f"p{i}", "Carl", "Dunmore", date(1979, 8, 2), phones=(CUSTODY_PHONE,), postcode="LS1 4AP")
        for i in range(40)
    ]
    con, _stats = _held(many[:20], cap=3)
    _add_batch(con, blocking.Incremental(con, "mentions", cap=3), many[20:])
    full, _ = _held(many, cap=3)
    assert _block_values(con) == _block_values(full)
    assert len(_pairs_through(con, "blk_phone_key")) == 40 * 39 // 2


def test_identifiers_the_police_issue_are_never_capped() -> None:
    uncapped = {r.keys for r in blocking.RULES if r.keys and not r.is_capped}
    assert uncapped == {("pnc",), ("cro",)}


def _block_values(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    cols = ", ".join(f'"{c}"' for c in blocking.BLOCK_COLUMNS)
    return con.execute(f"SELECT unique_id, {cols} FROM mentions ORDER BY unique_id").fetchall()


_Signatures = tuple[list[str], list[tuple[str, list[str]]]]


def _kept(inc: blocking.Incremental) -> tuple[dict[int, int], dict[tuple[int, str], _Signatures]]:
    """What ``inc`` keeps: every block's mention count, and each kept block's signatures."""
    counts = dict(zip(inc._hashes.tolist(), inc._counts.tolist(), strict=True))
    counts.update(zip(inc._recent.tolist(), inc._recent_counts.tolist(), strict=True))
    crowds = {
        key: (sorted(c.sigs), sorted((r, sorted(s)) for r, s in c.subs.items()))
        for key, c in inc._crowds.items()
    }
    return counts, crowds


# Five different people called Smith who gave the custody number: the phone block is crowded,
# and the Smiths' own sub-block of it (surname key) is kept until a fourth Smith crowds it.
SMITHS = [
    M(f"s{i}", fore, "Smith", date(1960 + i, 2, 3), phones=(CUSTODY_PHONE,))
    for i, fore in enumerate(["Alan", "Brian", "Colin", "Derek", "Ewan"])
]


def test_batch_by_batch_what_is_kept_and_every_value_are_a_full_assignments() -> None:
    """Incremental assignment reads only the batch, but where a block or sub-block crosses the
    cap: batch by batch, every join value and what it keeps (counts, kept blocks' signatures)
    must be those a full assignment of the same mentions gives, whether the batch crowds a
    block, joins a crowded one, crowds a kept sub-block of one, or adds to one prolific
    person's; and after a rebuild it goes on from the rebuild's."""
    prolific = [
        M(f"p{i}", "Carl", "Dunmore", date(1979, 8, 2), phones=(CUSTODY_PHONE,), postcode="LS1 4AP")
        for i in range(6)
    ]
    everyone = (
        CROWD[:2]
        + prolific[:2]
        + SMITHS[:1]
        + CROWD[2:5]
        + SMITHS[1:3]
        + NELSON
        + prolific[2:]
        + SMITHS[3:]
        + CROWD[5:]
    )
    con, _stats = _held(everyone[:2], cap=3)
    # No counts left by a full assignment (values assigned elsewhere): the first batch assigns in full.
    con.execute("DROP TABLE _lantern_n_mentions")
    inc = blocking.Incremental(con, "mentions", cap=3)
    smiths_kept = []
    for start in range(2, len(everyone), 3):
        _add_batch(con, inc, everyone[start : start + 3])
        full, _ = _held(everyone[: start + 3], cap=3)
        assert _block_values(con) == _block_values(full)
        fresh = blocking.Incremental(full, "mentions", cap=3)
        fresh.load()
        assert _kept(inc) == _kept(fresh)
        smiths_kept.append(
            len(
                _pairs_through(con, "blk_phone_key")
                & set(combinations(sorted(m.mention_id for m in SMITHS), 2))
            )
        )
    # The Smiths' sub-block was kept (their pairs made), then crowded: none.
    assert max(smiths_kept) > 0
    assert smiths_kept[-1] == 0
    # The crowd was split for every mention, the prolific man's blocks stayed whole.
    prolific_pairs = set(combinations(sorted(m.mention_id for m in prolific), 2))
    assert _pairs_through(con, "blk_phone_key") == prolific_pairs
    # A full assignment on the connection (a rebuild): what is kept is taken from it.
    blocking.assign(con, "mentions", cap=3)
    _add_batch(con, inc, [M("late", "Ivy", "Irwin", date(1990, 1, 1), phones=(CUSTODY_PHONE,))])
    full, _ = _held([*everyone, M("late", "Ivy", "Irwin", date(1990, 1, 1), phones=(CUSTODY_PHONE,))], cap=3)
    assert _block_values(con) == _block_values(full)
