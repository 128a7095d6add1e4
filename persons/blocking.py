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
every mention; incremental resolution recomputes it, after each batch is held, for the keys
that batch touched (every held mention with such a key, so a block that becomes crowded is
split for everyone), and both then run the same Splink rules. They can differ in one way
only: pairs a block gave before it became crowded were scored (and perhaps merged) by the
batches that saw it small; a rebuild does not make them.

Identifiers the police issue and validate (PNC ID, CRO number) are never capped: one is one
person's for life, however many records they have. NI numbers, emails, phones and vehicles
come from the person and can be shared or false, so they are capped like names and DOBs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import duckdb

log = logging.getLogger(__name__)

# Distinct signatures (people, near enough) a block may hold before it is crowded. At 100k
# synthetic mentions the largest ordinary blocks hold ~60 (surname key and birth year); a
# crowded block of 100 still gives at most ~5,000 pairs, so the pair count grows linearly.
BLOCK_CAP = 100
# Who a mention may be: different people differ in one of these, one person's mentions
# mostly do not (a keying slip adds a signature, not one per record).
SIGNATURE = "concat_ws('|', forename_key, surname_key, dob)"
_SEP = "chr(31)"


@dataclass(frozen=True)
class Rule:
    """One blocking rule: equality on ``keys`` (same column both sides) and ``where``.

    ``capped`` False: the rule is used as written. ``refine``: the column that splits a
    crowded block. ``sql`` (with no ``keys``): a rule that is not same-column equality
    (names keyed into each other's boxes), used as written; its blocks are pairs of name
    keys read crosswise, which no crowd fills."""

    keys: tuple[str, ...] = ()
    where: str = ""
    refine: str | None = None
    capped: bool = True
    sql: str = ""

    @property
    def column(self) -> str:
        return "blk_" + "_".join(self.keys)

    @property
    def is_capped(self) -> bool:
        return self.capped and bool(self.keys)

    def splink_sql(self) -> str:
        if not self.keys:
            return self.sql
        if self.is_capped:
            join = f'l."{self.column}" = r."{self.column}"'
        else:
            join = " AND ".join(f'l."{k}" = r."{k}"' for k in self.keys)
        return f"{join} AND {self.where}" if self.where else join


_DOB_MISSING = '(l."dob" IS NULL OR r."dob" IS NULL)'

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
    Rule(("surname_key", "forename_key"), where=_DOB_MISSING, refine="postcode"),
    # forename and surname keyed into each other's boxes:
    Rule(sql='l."surname_key" = r."forename_key" AND l."forename_key" = r."surname_key"'),
    # ...and one of the two also keyed as a diminutive or with a slip: the DOB carries it.
    Rule(sql='l."dob" = r."dob" AND l."surname_key" = r."forename_key"'),
    Rule(sql='l."dob" = r."dob" AND l."forename_key" = r."surname_key"'),
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
    Rule(("surname_key", "forename_initial"), where=_DOB_MISSING, refine="postcode"),
    # a phone number or a vehicle in common, whatever the names and DOBs say. On one value
    # per mention (the first): Splink's exploding rules would catch every shared value but
    # re-explode everything held on every ingest batch, which costs more than the load.
    # A custody suite's number is a crowd: the surname splits it, one person's stays whole.
    Rule(("phone_key",), refine="surname_key"),
    Rule(("vrm_key",), refine="surname_key"),
    # a diminutive or variant forename (issue 11's table) and a missing DOB:
    Rule(("surname_key", "forename_group"), where=_DOB_MISSING, refine="postcode"),
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


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    got = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name]).fetchone()
    return bool(got and got[0])


def _block_counts(table: str, without: str | None = None) -> str:
    """Mentions per block of every capped rule in ``table``: (rule number, hash of the key
    values, count), less the rows of ``without``. A hash collision within a rule adds two
    blocks' counts together, which can only send a rule through the exact path needlessly,
    never keep a crowded block whole."""
    skip = f"AND unique_id NOT IN (SELECT unique_id FROM {without})" if without else ""
    return " UNION ALL ".join(
        f"SELECT CAST({i} AS SMALLINT) AS rule, hash({_cols(r)}) AS h, count(*) AS n "
        f"FROM {table} WHERE {_present(r)} {skip} GROUP BY ALL"
        for i, r in enumerate(CAPPED)
    )


def _count_blocks(
    con: duckdb.DuckDBPyConnection, table: str, counts: str, without: str | None = None
) -> None:
    """The mention count of every capped rule's every block in ``table``, as ``counts``
    (primary key: rule and key hash), which incremental assignment keeps up to date."""
    con.execute(f"DROP TABLE IF EXISTS {counts}")
    con.execute(f"CREATE TABLE {counts} (rule SMALLINT, h UBIGINT, n BIGINT, PRIMARY KEY (rule, h))")
    con.execute(f"INSERT INTO {counts} {_block_counts(table, without)}")


def assign(
    con: duckdb.DuckDBPyConnection, table: str = "mentions", touched: str | None = None, cap: int = BLOCK_CAP
) -> CapStats:
    """Set every capped rule's join column of ``table`` from the block sizes in ``table``.

    ``touched`` (a table with the same columns, e.g. the batch just inserted into ``table``):
    only blocks whose key it holds are recomputed (incremental: the other blocks did not
    change); its rows must be new in ``table`` since the last call (their mentions are added
    to the blocks' kept counts). None: all of them."""
    stats = CapStats({}, {}, {})
    found = list(range(len(CAPPED)))  # the rules (by number) whose blocks are recomputed
    counts = f"_lantern_n_{table}"
    if touched is None:
        _count_blocks(con, table, counts)
    else:
        if not _exists(con, counts):
            # No full assignment on this connection yet: the counts before the batch.
            _count_blocks(con, table, counts, without=touched)
        # Incremental, per batch. "May be crowded": more mentions than the cap (a block has
        # no more signatures than mentions). The mention count of every block is kept
        # (``_count_blocks``); the batch's are added to its blocks' through the table's primary
        # key, which returns the new counts, so the batch's rows are all this reads (counting
        # over the held table, once per rule, read every held mention's key columns every
        # batch: a quarter of a batch's resolution at 100k held).
        big = [
            (i, h)
            for i, h, n in con.execute(
                f"INSERT INTO {counts} {_block_counts(touched)} "
                f"ON CONFLICT DO UPDATE SET n = n + EXCLUDED.n RETURNING rule, h, n"
            ).fetchall()
            if n > cap
        ]
        # Every touched row first takes every rule's plain key; only the blocks that may be
        # crowded (the few with more mentions than the cap) are then recomputed, held rows
        # included. A touched block with no more mentions than the cap had none before either,
        # so its held rows already hold the plain key.
        for r in CAPPED:
            stats.crowded[r.column] = 0
        sets = ", ".join(f'"{r.column}" = CASE WHEN {_present(r)} THEN {_keystr(r)} END' for r in CAPPED)
        con.execute(f"UPDATE {table} SET {sets} WHERE unique_id IN (SELECT unique_id FROM {touched})")
        found = sorted({i for i, _h in big})
        if big:
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _lantern_big AS SELECT unnest(?::SMALLINT[]) AS rule, "
                "unnest(?::UBIGINT[]) AS h",
                [[i for i, _h in big], [h for _i, h in big]],
            )
    for i in found:
        rule = CAPPED[i]
        scope = f"hash({_cols(rule)}) IN (SELECT h FROM _lantern_big WHERE rule = {i})" if touched else "true"
        _assign_rule(con, rule, table, scope, touched is None, cap, stats)
    con.execute("DROP TABLE IF EXISTS _lantern_big")
    con.execute("DROP TABLE IF EXISTS _lantern_blocks")
    con.execute("DROP TABLE IF EXISTS _lantern_subs")
    if touched is None and any(stats.crowded.values()):
        log.info("blocking: %s", stats.summary())
    return stats


def _assign_rule(
    con: duckdb.DuckDBPyConnection, rule: Rule, table: str, scope: str, full: bool, cap: int, stats: CapStats
) -> None:
    """``rule``'s join column for the blocks of ``table`` that ``scope`` (a condition on its
    rows) selects; ``full``: every block (``stats`` then counts what was dropped and kept)."""
    keys, present, keystr = _cols(rule), _present(rule), _keystr(rule, "t")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _lantern_blocks AS SELECT {keys}, "
        f"count(DISTINCT {SIGNATURE}) AS n FROM {table} WHERE {present} AND {scope} GROUP BY ALL"
    )
    crowded = con.execute(f"SELECT count(*) FROM _lantern_blocks WHERE n > {int(cap)}").fetchone()
    stats.crowded[rule.column] = n_crowded = int(crowded[0]) if crowded else 0
    if rule.refine and n_crowded:
        con.execute(
            f'CREATE OR REPLACE TEMP TABLE _lantern_subs AS SELECT {keys}, t."{rule.refine}" AS refine, '
            f"count(DISTINCT {SIGNATURE}) AS n FROM {table} t JOIN _lantern_blocks b USING ({keys}) "
            f'WHERE b.n > {int(cap)} AND t."{rule.refine}" IS NOT NULL GROUP BY ALL'
        )
        if full:
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
    if full:
        dropped = con.execute(
            f"SELECT count(*) FROM {table} t JOIN _lantern_blocks b ON {on_block} "
            f'WHERE b.n > {int(cap)} AND t."{rule.column}" IS NULL'
        ).fetchone()
        stats.mentions_dropped[rule.column] = int(dropped[0]) if dropped else 0
