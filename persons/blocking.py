# ruff: noqa: S608 (SQL is built from this module's own table and column names: no user input)
"""Blocking rules, and the cap on crowded blocks that keeps candidate pairs near-linear.

A blocking rule pairs every two mentions that share its key. A key shared by a crowd of
different people (a custody suite's phone number, a placeholder DOB, "Smith" born in 1985
in a force of a million mentions) makes a block whose pairs grow with the square of its
size: at 1M synthetic mentions two such rules gave 58.6M of 77.1M candidate pairs, and the
run did not finish. The same value shared by one prolific person's hundreds of records is
not a crowd, and those pairs are wanted.

So a block is measured by how many *different people* it may hold: the number of distinct
name-and-DOB signatures in it (``SIGNATURE``; one person's mentions give a handful, a crowd
one per mention). A block with more than ``BLOCK_CAP`` signatures is crowded: it is split by
the rule's ``refine`` column (one person's mentions share it, a crowd's do not), and a
sub-block still crowded, or a crowded block of a rule without ``refine``, contributes no
pairs through that rule. The other rules still compare those mentions. This is Splink's own
guidance (blocking rules must not generate a number of comparisons that grows with the square
of the data; count them with ``count_comparisons_from_blocking_rule``), applied per value
rather than per rule because the rules are right for the ordinary values.

Each capped rule joins on one column of its own (``Rule.column``): the rule's key values, or
those plus the refining value in a crowded block, or NULL. Full resolution computes it over
every mention (``assign``); incremental resolution (``Incremental``) gives each batch the
values a full assignment would, and changes those of held mentions where the batch crowds
a block or sub-block (so a block that becomes crowded is split for everyone), and both then
run the same Splink rules. They can differ in one way
only: pairs a block gave before it became crowded were scored (and perhaps merged) by the
batches that saw it small; a rebuild does not make them.

Identifiers the police issue and validate (PNC ID, CRO number) are never capped: one is one
person's for life, however many records they have. NI numbers, emails, phones and vehicles
come from the person and can be shared or false, so they are capped like names and DOBs.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np

log = logging.getLogger(__name__)

# Distinct signatures (people, near enough) a block may hold before it is crowded. At 100k
# synthetic mentions the largest ordinary blocks hold ~60 (surname key and birth year); a
# crowded block of 100 still gives at most ~5,000 pairs, so the pair count grows linearly.
BLOCK_CAP = 100
# Who a mention may be: different people differ in one of these, one person's mentions
# mostly do not (a keying slip adds a signature, not one per record).
SIGNATURE = "concat_ws('|', forename_key, surname_key, dob)"
# Between a join value's parts (a character no key holds, so one value is one block's).
_SEP_CHAR = "\x1f"
_SEP = f"chr({ord(_SEP_CHAR)})"


@dataclass(frozen=True)
class Rule:
    """One blocking rule: equality on ``keys`` (same column both sides), with ``missing``
    NULL on one side at least when given.

    ``capped`` False: the rule is used as written. ``refine``: the column that splits a
    crowded block. ``cross`` (with no ``keys``): equalities of a left column with a different
    right one (names keyed into each other's boxes), used as written; its blocks are pairs of
    name keys read crosswise, which no crowd fills."""

    keys: tuple[str, ...] = ()
    missing: str | None = None
    refine: str | None = None
    capped: bool = True
    cross: tuple[tuple[str, str], ...] = ()

    @property
    def column(self) -> str:
        return "blk_" + "_".join(self.keys)

    @property
    def is_capped(self) -> bool:
        return self.capped and bool(self.keys)

    @property
    def where(self) -> str:
        return f'(l."{self.missing}" IS NULL OR r."{self.missing}" IS NULL)' if self.missing else ""

    def sides(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The columns the rule equates, left side's and right side's, in the same order."""
        if self.is_capped:
            return (self.column,), (self.column,)
        if self.keys:
            return self.keys, self.keys
        return tuple(a for a, _b in self.cross), tuple(b for _a, b in self.cross)

    def splink_sql(self) -> str:
        left, right = self.sides()
        join = " AND ".join(f'l."{a}" = r."{b}"' for a, b in zip(left, right, strict=True))
        return f"{join} AND {self.where}" if self.where else join


# Each rule is an equality join (so DuckDB/Spark hash-join it); together they keep the pair
# count near-linear in the number of mentions while every hard case has at least one way in.
RULES: list[Rule] = [
    Rule(("pnc",), capped=False),
    Rule(("cro",), capped=False),
    Rule(("nino",), refine="surname_key"),
    Rule(("email",), refine="surname_key"),
    # A placeholder DOB shared by a crowd: the forename's initial splits it.
    Rule(("dob", "surname_key"), refine="forename_initial"),
    Rule(("dob", "forename_key"), refine="surname_key"),
    # day/month swapped, one digit off in day or month, default 01/01, diminutives (the
    # variant group splits a common surname's year: "Jim" and "James" stay in one sub-block):
    Rule(("surname_key", "dob_year"), refine="forename_group"),
    # one digit off in the year, whatever the forename (a diminutive outside the variant table):
    Rule(("surname_key", "dob_md"), refine="forename_group"),
    # a missing DOB on one side:
    Rule(("surname_key", "forename_key"), missing="dob", refine="postcode"),
    # forename and surname keyed into each other's boxes:
    Rule(cross=(("surname_key", "forename_key"), ("forename_key", "surname_key"))),
    # ...and one of the two also keyed as a diminutive or with a slip: the DOB carries it.
    Rule(cross=(("dob", "dob"), ("surname_key", "forename_key"))),
    Rule(cross=(("dob", "dob"), ("forename_key", "surname_key"))),
    Rule(("dob", "address"), refine="surname_key"),
    # a missing DOB and a diminutive outside the variant table, at one address:
    Rule(("surname_key", "postcode"), refine="forename_initial"),
    # a slip in the surname and a missing DOB, at one address:
    Rule(("forename_key", "postcode"), refine="dob_year"),
    # a slip in the surname that changes its sound-alike key, with a DOB that agrees...
    Rule(("dob", "forename_initial"), refine="forename_key"),
    # ...or with a year keyed wrong. (Not forename key + year as well: measured on the tuning
    # split, it added 12% more pairs to score for 0.2% of the true pairs.)
    Rule(("forename_key", "dob_md"), refine="surname_key"),
    # a missing DOB and a forename outside the variant tables (a short form, a slip that
    # changes its key) that starts with the same letter:
    Rule(("surname_key", "forename_initial"), missing="dob", refine="postcode"),
    # a phone number or a vehicle in common, whatever the names and DOBs say. On one value
    # per mention (the first): Splink's exploding rules would catch every shared value but
    # re-explode everything held on every ingest batch, which costs more than the load.
    # A custody suite's number is a crowd: the surname splits it, one person's stays whole.
    Rule(("phone_key",), refine="surname_key"),
    Rule(("vrm_key",), refine="surname_key"),
    # a diminutive or variant forename (issue 11's table) and a missing DOB:
    Rule(("surname_key", "forename_group"), missing="dob", refine="postcode"),
]

CAPPED = [r for r in RULES if r.is_capped]
BLOCK_COLUMNS = [r.column for r in CAPPED]
# The join columns hold key strings (``_keystr``), refined ones too.
_COLUMN_TYPE = "VARCHAR"


def splink_rules() -> list[str]:
    return [r.splink_sql() for r in RULES]


@dataclass
class CapStats:
    """Per capped rule: blocks over the cap, and of those the ones split by ``refine`` into
    sub-blocks that kept pairs (a block whose sub-blocks are all still crowded, or without
    ``refine``, gives none)."""

    crowded: dict[str, int]
    sub_blocks_kept: dict[str, int]
    mentions_dropped: dict[str, int]

    def summary(self) -> str:
        parts = [
            f"{col.removeprefix('blk_')}: {n} crowded, {self.sub_blocks_kept.get(col, 0)} sub-blocks kept, "
            f"{self.mentions_dropped.get(col, 0)} mentions in none"
            for col, n in self.crowded.items()
            if n
        ]
        return "; ".join(parts) or "no block over the cap"


def add_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Give ``table`` (held mentions, or a batch) the capped rules' join columns, NULL."""
    for col in BLOCK_COLUMNS:
        con.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{col}" {_COLUMN_TYPE}')


def null_columns() -> list[str]:
    """The capped rules' join columns, NULL, as select-list items (a table created with them
    in one statement: ``add_columns`` without an ALTER TABLE each)."""
    return [f'CAST(NULL AS {_COLUMN_TYPE}) AS "{col}"' for col in BLOCK_COLUMNS]


def _keystr(rule: Rule, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return "concat_ws(" + ", ".join([_SEP, *(f'{prefix}"{k}"::VARCHAR' for k in rule.keys)]) + ")"


def _cols(rule: Rule) -> str:
    return ", ".join(f'"{k}"' for k in rule.keys)


def _present(rule: Rule) -> str:
    return " AND ".join(f'"{k}" IS NOT NULL' for k in rule.keys)


def _block_hash(i: int, rule: Rule) -> str:
    """A block's key: the hash of capped rule ``i``'s key values, seeded with ``i`` so that one
    number names one block of one rule (a collision adds two blocks' counts together: see
    ``Incremental``)."""
    return f"hash({i}, {_cols(rule)})"


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    # fetchall, not fetchone: a result left unread keeps DuckDB from registering the next batch.
    got = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchall()
    return bool(got[0][0])


def _counts_table(table: str) -> str:
    return f"_lantern_n_{table}"


def assign(con: duckdb.DuckDBPyConnection, table: str = "mentions", cap: int = BLOCK_CAP) -> CapStats:
    """Set every capped rule's join column of every row of ``table`` from the block sizes in
    it, and leave every block's mention count for ``Incremental`` to go on from."""
    stats = CapStats({}, {}, {})
    for rule in CAPPED:
        _assign_rule(con, rule, table, cap, stats)
    con.execute("DROP TABLE IF EXISTS _lantern_blocks")
    con.execute("DROP TABLE IF EXISTS _lantern_subs")
    # Sorted by block hash: the order ``Incremental`` searches them in (sorting there, in
    # NumPy with the counts carried along, cost ~0.05 s at 100k held; DuckDB keeps this order).
    con.execute(
        f"CREATE OR REPLACE TABLE {_counts_table(table)} AS "
        + " UNION ALL ".join(
            f"SELECT CAST({i} AS SMALLINT) AS rule, {_block_hash(i, r)} AS h, count(*) AS n "
            f"FROM {table} WHERE {_present(r)} GROUP BY ALL"
            for i, r in enumerate(CAPPED)
        )
        + " ORDER BY h"
    )
    if any(stats.crowded.values()):
        log.info("blocking: %s", stats.summary())
    return stats


def _assign_rule(con: duckdb.DuckDBPyConnection, rule: Rule, table: str, cap: int, stats: CapStats) -> None:
    """``rule``'s join column for every block of ``table`` (``stats`` counts what was dropped
    and kept)."""
    keys, present, keystr = _cols(rule), _present(rule), _keystr(rule, "t")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _lantern_blocks AS SELECT {keys}, "
        f"count(DISTINCT {SIGNATURE}) AS n FROM {table} WHERE {present} GROUP BY ALL"
    )
    crowded = con.execute(f"SELECT count(*) FROM _lantern_blocks WHERE n > {int(cap)}").fetchone()
    stats.crowded[rule.column] = n_crowded = int(crowded[0]) if crowded else 0
    if rule.refine and n_crowded:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE _lantern_subs AS SELECT {keys}, t."{rule.refine}" AS refine, '
            f"count(DISTINCT {SIGNATURE}) AS n FROM {table} t JOIN _lantern_blocks b USING ({keys}) "
            f'WHERE b.n > {int(cap)} AND t."{rule.refine}" IS NOT NULL GROUP BY ALL'
        )
        kept = con.execute(f"SELECT count(*) FROM _lantern_subs WHERE n <= {int(cap)}").fetchone()
        stats.sub_blocks_kept[rule.column] = int(kept[0]) if kept else 0
        refined = f"CASE WHEN s.n <= {int(cap)} THEN concat_ws({_SEP}, {keystr}, s.refine::VARCHAR) END"
        sub_join = (
            "LEFT JOIN _lantern_subs s ON "
            + " AND ".join(f't."{k}" = s."{k}"' for k in rule.keys)
            + f' AND t."{rule.refine}" = s.refine'
        )
    else:
        stats.sub_blocks_kept[rule.column] = 0
        refined, sub_join = "NULL", ""
    on_block = " AND ".join(f't."{k}" = b."{k}"' for k in rule.keys)
    value = f"CASE WHEN b.n IS NULL THEN NULL WHEN b.n <= {int(cap)} THEN {keystr} ELSE {refined} END"
    con.execute(
        f'UPDATE {table} SET "{rule.column}" = v.val FROM ('
        f"SELECT t.unique_id, {value} AS val "
        f"FROM {table} t JOIN _lantern_blocks b ON {on_block} {sub_join}"
        f') v WHERE {table}.unique_id = v.unique_id AND {table}."{rule.column}" IS DISTINCT FROM v.val'
    )
    dropped = con.execute(
        f"SELECT count(*) FROM {table} t JOIN _lantern_blocks b ON {on_block} "
        f'WHERE b.n > {int(cap)} AND t."{rule.column}" IS NULL'
    ).fetchone()
    stats.mentions_dropped[rule.column] = int(dropped[0]) if dropped else 0


def _refine(rule: Rule, alias: str = "") -> str:
    """The refining value as the join value carries it (VARCHAR); NULL for a rule without one."""
    prefix = f"{alias}." if alias else ""
    return f'{prefix}"{rule.refine}"::VARCHAR' if rule.refine else "CAST(NULL AS VARCHAR)"


def _merge(
    keys: np.ndarray[Any, Any],
    counts: np.ndarray[Any, Any],
    more: np.ndarray[Any, Any],
    more_counts: np.ndarray[Any, Any],
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Two sorted arrays of distinct block hashes (none in both), and their counts, as one."""
    at = np.searchsorted(keys, more) + np.arange(len(more))
    rest = np.ones(len(keys) + len(more), dtype=bool)
    rest[at] = False
    out, out_counts = np.empty(len(rest), dtype=np.uint64), np.empty(len(rest), dtype=np.int64)
    out[at], out_counts[at] = more, more_counts
    out[rest], out_counts[rest] = keys, counts
    return out, out_counts


@dataclass
class _Crowd:
    """A block with more mentions than the cap: the distinct signatures in it, and in each of
    its sub-blocks (by refining value)."""

    sigs: set[str] = field(default_factory=set)
    subs: dict[str, set[str]] = field(default_factory=dict)

    def add(self, refine: str | None, sig: str) -> None:
        # One string for a signature however many blocks hold it (a mention is in a block of
        # each rule): what is kept grows with the rows of blocks over the cap (17.5k kept at
        # 100k synthetic held; 115k there under a cap of 10, as a larger force's may be).
        sig = sys.intern(sig)
        self.sigs.add(sig)
        if refine is not None:
            self.subs.setdefault(refine, set()).add(sig)

    def value(self, block: str, refine: str | None, cap: int) -> str | None:
        """The join value of a row of this block (crowded) with ``refine``, as ``assign`` sets it."""
        if refine is not None and len(self.subs[refine]) <= cap:
            return block + _SEP_CHAR + refine
        return None


class Incremental:
    """Assignment batch by batch: each batch's join values, and those of the held mentions
    whose blocks the batch changes, without reading every held mention.

    Kept from the last full assignment on: the mention count of every block (block hashes,
    sorted, and their counts; a block with no more mentions than the cap has no more
    signatures either, so it is whole and its rows hold the plain key), and, for every block
    with more mentions than the cap, its distinct signatures and its sub-blocks' (``_Crowd``),
    which is all its join values depend on. So a batch's rows are all that is read, but where
    a block or sub-block crosses the cap, which happens to a few blocks a batch at most
    (signatures only grow): then its held rows are found by the value they hold (the plain key
    of a whole block, the refined key of a kept sub-block), which is theirs alone.

    A block enters the kept ones when its count first passes the cap; its held rows hold its
    plain key then (it had fewer mentions). A hash collision only adds two blocks' counts
    together, so a block may be kept before it need be: harmless, since it is kept whole."""

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str = "mentions", cap: int = BLOCK_CAP) -> None:
        self.con, self.table, self.cap = con, table, cap
        self._hashes, self._counts = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        self._recent, self._recent_counts = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        self._crowds: dict[tuple[int, str], _Crowd] = {}
        self._ready = False

    def load(self) -> None:
        """Take the counts a full assignment left (one since the last load replaces what is
        kept); with none on this connection yet, assign the table in full first. ``add`` calls
        it; calling it before the first batch keeps that batch from paying for it."""
        con, counts, cap = self.con, _counts_table(self.table), int(self.cap)
        if not _exists(con, counts):
            if self._ready:
                return
            assign(con, self.table, cap)
        got = con.execute(f"SELECT h, n FROM {counts}").fetchnumpy()
        hashes = np.asarray(got["h"], dtype=np.uint64)
        n = np.asarray(got["n"], dtype=np.int64)
        if len(hashes) > 1 and not bool(np.all(hashes[1:] > hashes[:-1])):
            # Not in order, or one hash for blocks of two rules: sorted, and their counts added.
            hashes, where = np.unique(hashes, return_inverse=True)
            n = np.bincount(where, weights=n, minlength=len(hashes)).astype(np.int64)
        self._hashes, self._counts = hashes, n
        self._recent, self._recent_counts = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        self._crowds = {}
        rules = [
            int(r[0]) for r in con.execute(f"SELECT DISTINCT rule FROM {counts} WHERE n > {cap}").fetchall()
        ]
        if rules:
            rows = con.execute(
                " UNION ALL ".join(
                    f"SELECT DISTINCT {i}, {_keystr(CAPPED[i])}, {_refine(CAPPED[i])}, {SIGNATURE} "
                    f"FROM {self.table} WHERE {_present(CAPPED[i])} AND {_block_hash(i, CAPPED[i])} IN "
                    f"(SELECT h FROM {counts} WHERE rule = {i} AND n > {cap})"
                    for i in sorted(rules)
                )
            ).fetchall()
            for i, block, refine, sig in rows:
                self._crowd(i, block).add(refine, sig)
        con.execute(f"DROP TABLE {counts}")
        self._ready = True

    def _crowd(self, i: int, block: str) -> _Crowd:
        got = self._crowds.get((i, block))
        if got is None:
            got = self._crowds[(i, block)] = _Crowd()
        return got

    def _count(self, hashes: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Add one mention to the block of each of ``hashes``; the blocks now over the cap.

        Blocks first seen since the last merge are kept apart, in a short sorted array merged
        into the long one when it reaches an eighth of its length: inserting into the long one
        every batch copied all of it (~6 ms a batch at 100k held, growing with the held)."""
        blocks, n = np.unique(hashes, return_counts=True)
        now = n.astype(np.int64)
        seen = np.zeros(len(blocks), dtype=bool)
        for keys, counts in ((self._hashes, self._counts), (self._recent, self._recent_counts)):
            at = np.searchsorted(keys, blocks)
            hit = at < len(keys)
            hit[hit] = keys[at[hit]] == blocks[hit]
            counts[at[hit]] += n[hit]
            now[hit] = counts[at[hit]]
            seen |= hit
        self._recent, self._recent_counts = _merge(self._recent, self._recent_counts, blocks[~seen], n[~seen])
        if len(self._recent) > len(self._hashes) // 8:
            self._hashes, self._counts = _merge(self._hashes, self._counts, self._recent, self._recent_counts)
            self._recent, self._recent_counts = np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int64)
        return blocks[now > self.cap]

    def add(self, batch: str) -> set[int]:
        """Join values for ``batch`` (new mentions with the table's columns, not yet in it: the
        caller inserts them after), and for the held mentions whose values it changes; returns
        the capped rules (numbers in ``CAPPED``) whose held rows' values it changed."""
        self.load()
        con, table, cap = self.con, self.table, int(self.cap)
        sets = ", ".join(f'"{r.column}" = CASE WHEN {_present(r)} THEN {_keystr(r)} END' for r in CAPPED)
        con.execute(f"UPDATE {batch} SET {sets}")
        touched = self._touched(batch)
        if not touched:
            return set()  # every block the batch touched is whole: its rows hold the plain key
        self._enter(table, [key for key in touched if key not in self._crowds])
        # Per rule: the batch's rows' values (unique id, value); held rows' changes (the value
        # they hold, their refining value, the new value).
        mine: dict[int, dict[str, str | None]] = {}
        held: dict[int, list[tuple[str, str | None, str | None]]] = {}
        for (i, block), members in touched.items():
            crowd = self._crowds[(i, block)]
            before = len(crowd.sigs)
            sub_before = {r: len(crowd.subs.get(r, ())) for _u, r, _s in members if r is not None}
            for _uid, refine, sig in members:
                crowd.add(refine, sig)
            if len(crowd.sigs) <= cap:
                continue  # whole: every row, the batch's too, holds the plain key
            mine.setdefault(i, {}).update((uid, crowd.value(block, r, cap)) for uid, r, _s in members)
            if before <= cap:
                # Crowded by this batch: split for its held rows too (they hold the plain key).
                held.setdefault(i, []).extend(
                    (block, r, crowd.value(block, r, cap)) for r in [*crowd.subs, None]
                )
            else:
                # Crowded already: only a kept sub-block this batch crowds changes (its held
                # rows hold the refined key).
                held.setdefault(i, []).extend(
                    (block + _SEP_CHAR + r, r, None)
                    for r, n in sub_before.items()
                    if n <= cap < len(crowd.subs[r])
                )
        changed = {i for i, changes in held.items() if changes}
        for i, changes in sorted(held.items()):
            if changes:
                col = CAPPED[i].column
                con.execute(
                    f'UPDATE {table} SET "{col}" = c.new FROM (SELECT unnest(?::VARCHAR[]) AS old, '
                    "unnest(?::VARCHAR[]) AS refine, unnest(?::VARCHAR[]) AS new) c "
                    f'WHERE {table}."{col}" = c.old '
                    f"AND {_refine(CAPPED[i], table)} IS NOT DISTINCT FROM c.refine",
                    [list(x) for x in zip(*changes, strict=True)],
                )
        if mine:
            self._set_batch(batch, mine)
        return changed

    def _touched(self, batch: str) -> dict[tuple[int, str], list[tuple[str, str | None, str]]]:
        """Count the batch's rows into their blocks; its rows in blocks now over the cap in
        mentions, by (rule, block): unique id, refining value, signature."""
        got = self.con.execute(
            "SELECT unique_id, "
            + ", ".join(
                f"CASE WHEN {_present(r)} THEN {_block_hash(i, r)} END AS h{i}" for i, r in enumerate(CAPPED)
            )
            + f" FROM {batch}"
        ).fetchnumpy()
        hashes = [np.ma.asarray(got[f"h{i}"]) for i in range(len(CAPPED))]
        present = [~np.ma.getmaskarray(h) for h in hashes]
        big = self._count(
            np.concatenate(
                [np.asarray(h.data[p], dtype=np.uint64) for h, p in zip(hashes, present, strict=True)]
            )
        )
        ids = np.asarray(got["unique_id"], dtype=object)
        hit = {i: ids[present[i] & np.isin(hashes[i].data, big)].tolist() for i in range(len(CAPPED))}
        rules = [i for i in sorted(hit) if hit[i]]
        touched: dict[tuple[int, str], list[tuple[str, str | None, str]]] = {}
        if not rules:
            return touched
        rows = self.con.execute(
            " UNION ALL ".join(
                f"SELECT {i}, unique_id, {_keystr(CAPPED[i])}, {_refine(CAPPED[i])}, {SIGNATURE} "
                f"FROM {batch} WHERE unique_id IN (SELECT unnest(?::VARCHAR[]))"
                for i in rules
            ),
            [hit[i] for i in rules],
        ).fetchall()
        for i, uid, block, refine, sig in rows:
            touched.setdefault((i, block), []).append((uid, refine, sig))
        return touched

    def _set_batch(self, batch: str, values: dict[int, dict[str, str | None]]) -> None:
        """Set ``values`` (per rule: unique id -> join value) in ``batch``, in one statement (one
        a rule cost ~1.5 ms each, several rules a batch)."""
        uids = sorted({u for per_rule in values.values() for u in per_rule})
        rules = sorted(values)
        params: list[list[Any]] = [uids]
        items = ["unnest(?::VARCHAR[]) AS unique_id"]
        sets = []
        for i in rules:
            col = CAPPED[i].column
            params += [[u in values[i] for u in uids], [values[i].get(u) for u in uids]]
            items += [f"unnest(?::BOOLEAN[]) AS has{i}", f"unnest(?::VARCHAR[]) AS val{i}"]
            sets.append(f'"{col}" = CASE WHEN c.has{i} THEN c.val{i} ELSE {batch}."{col}" END')
        self.con.execute(
            f"UPDATE {batch} SET {', '.join(sets)} FROM (SELECT {', '.join(items)}) c "
            f"WHERE {batch}.unique_id = c.unique_id",
            params,
        )

    def _enter(self, table: str, blocks: list[tuple[int, str]]) -> None:
        """Keep ``blocks`` (just over the cap in mentions): their held rows' sub-blocks and
        signatures, found by the plain key they hold."""
        if not blocks:
            return
        for i, block in blocks:
            self._crowd(i, block)
        rules = sorted({i for i, _b in blocks})
        rows = self.con.execute(
            " UNION ALL ".join(
                f'SELECT DISTINCT {i}, "{CAPPED[i].column}", {_refine(CAPPED[i])}, {SIGNATURE} FROM {table} '
                f'WHERE "{CAPPED[i].column}" IN (SELECT unnest(?::VARCHAR[]))'
                for i in rules
            ),
            [[b for j, b in blocks if j == i] for i in rules],
        ).fetchall()
        for i, block, refine, sig in rows:
            self._crowds[(i, block)].add(refine, sig)
