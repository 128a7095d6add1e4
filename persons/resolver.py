"""Resolution: Splink scores pairs of mentions, ``cluster`` groups them into nominals.

``Resolver.rebuild`` resolves everything; ``Resolver.resolve_new`` resolves a batch of new
mentions against the nominals already held (Splink ``predict_between`` existing x new, plus
``predict_within`` the batch), which is what ingest calls. Both run the same clustering, so
an incremental run and a rebuild agree on the same data.
"""

from __future__ import annotations

import gc
import logging
import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import count, pairwise, repeat
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from persons import blocking
from persons import model as pm
from persons.candidates import PairIndex, PairValues
from persons.cluster import AMBIGUOUS_PROBABILITY, Attrs, Edge, assign_ids, cluster
from persons.features import SCHEMA, Mention, feature_table

log = logging.getLogger(__name__)

LINKS_KEPT = 3
# Ingest recomputes the term-frequency tables (how common "Smith" is) only when the mentions
# held have grown by this share since they were last computed: a full scan of everything held
# on every batch cost more than the rest of the resolution, and a few per cent more mentions
# moves a name's frequency, hence its match weight, by hundredths of a bit.
TF_REFRESH_GROWTH = 0.05
# Pairs below this are not kept at all; the clustering threshold (from the model file) is higher.
KEEP_PROBABILITY = 0.5


@dataclass(frozen=True)
class Decision:
    """A human assertion about two mentions: ``same`` True (same person) or False (not)."""

    a: str
    b: str
    same: bool
    reason: str = ""
    by: str = ""
    at: str = ""


@dataclass(frozen=True)
class ScoredLink:
    """Why two mentions were linked: probability and the per-comparison waterfall."""

    other: str
    probability: float
    weights: dict[str, float]
    labels: dict[str, str]
    # Reasons as stored with a nominal (a link reloaded from the index has no level labels).
    stored_reasons: tuple[str, ...] | None = None

    def reasons(self) -> list[str]:
        """Phrases for comparisons that moved the score, strongest first."""
        if self.stored_reasons is not None:
            return list(self.stored_reasons)
        items = sorted(self.weights.items(), key=lambda kv: -abs(kv[1]))
        return [
            self.labels[k]
            for k, w in items
            if abs(w) >= 1.0 and not self.labels[k].startswith("not recorded")
        ]


@dataclass
class Resolution:
    nominal_of: dict[str, str]  # mention id -> nominal id
    links: dict[str, ScoredLink] = field(default_factory=dict)  # mention id -> its best in-cluster link
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    # Mentions whose nominal differs from the one stored before (records to update).
    moved: dict[str, str] = field(default_factory=dict)

    def nominals(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for m, n in self.nominal_of.items():
            out.setdefault(n, []).append(m)
        return out


def _decisions_to_constraints(
    decisions: Iterable[Decision],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    # The latest decision on a pair wins (decisions arrive oldest first).
    latest: dict[tuple[str, str], Decision] = {}
    for d in decisions:
        latest[(min(d.a, d.b), max(d.a, d.b))] = d
    must = [k for k, d in latest.items() if d.same]
    cannot = [k for k, d in latest.items() if not d.same]
    return must, cannot


# A scored pair as read from Splink: probability, gamma per comparison, match weight per comparison.
_Raw = tuple[float, tuple[Any, ...], tuple[Any, ...]]


@dataclass(frozen=True)
class _Pairs:
    """Scored pairs as read from DuckDB, one row per pair: ids and probability as Python
    lists, the gamma and match weight per comparison as numpy matrices. Only the few links
    that end up explaining a nominal become ScoredLinks, so only their rows become Python
    values (reading every row as a tuple cost more than the rest of reading the pairs, and
    a rebuild of a million mentions holds millions of pairs)."""

    a: list[str]
    b: list[str]
    p: list[float]
    gammas: np.ndarray[Any, Any]
    weights: np.ndarray[Any, Any]

    def raw(self, i: int) -> _Raw:
        return self.p[i], tuple(self.gammas[i].tolist()), tuple(self.weights[i].tolist())


# The canonical order of a batch's scored pairs: each pair by its ids, the row with the smaller
# id on the left first. Not DuckDB's join output order (it follows the plan): the clustering
# meets the edges in this order (``cluster._detach_ambiguous``) and the first row of a pair
# is the one kept, so a batch's result does not depend on how DuckDB ran the scoring.
_ORDER = "ORDER BY least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r), unique_id_l"
# A batch's scored pairs that ingest drops: a mention with itself, and of two batch mentions
# (blocked both ways round) the row with the larger id on the left.
_SELF_OR_MIRROR = "join_key_l >= join_key_r AND join_key_l IN (SELECT unique_id FROM batch)"


# The comparisons whose levels later batches evaluate once per distinct pair of names rather
# than once per candidate pair (``Resolver._dedupe_names``): string similarities on every
# candidate pair were most of the scoring (a batch of ~1,000 people at 100,000 held: ~32,000
# candidates, ~7,000 distinct pairs of names), and their levels read the names only.
_NAME_COMPARISONS = ("forename", "surname")
# The mentions' name id column (equal ids: equal values in every column the name
# comparisons read), and the table of those values per id.
_NAME_ID = "lantern_name_id"
# One gamma column of Splink's comparison vectors: its CASE, as Splink renders it.
_GAMMA_CASE = re.compile(r"\n\s*(CASE\n.*?\n\s*END) as gamma_(\w+),", re.S)


@contextmanager
def _recording(db: Any, *, empty: bool = False) -> Iterator[list[tuple[str, str, str]]]:
    """The statements Splink runs through ``db`` meanwhile, as (sql, templated name, physical
    name), recorded so that they can be run again without Splink rendering them (sqlglot).
    ``empty``: each is run on no rows (only the statement is wanted)."""
    ran: list[tuple[str, str, str]] = []
    run = db._sql_to_splink_dataframe

    def record(sql: str, templated_name: str, physical_name: str) -> Any:
        ran.append((sql, templated_name, physical_name))
        # The SQL is Splink's own statement.
        return run(f"SELECT * FROM ({sql}) LIMIT 0" if empty else sql, templated_name, physical_name)  # noqa: S608

    db._sql_to_splink_dataframe = record
    try:
        yield ran
    finally:
        del db._sql_to_splink_dataframe


# A mention's link candidates, held as (-probability, partner, ...), strongest first, then by
# partner id (a total order: partners are unique per mention).
_BY_RANK = itemgetter(0, 1)
_PARTNER = itemgetter(1)


def _ordered(*keys: tuple[np.ndarray[Any, Any], int]) -> np.ndarray[Any, Any]:
    """The order ``np.lexsort`` gives rows by ``keys`` (the first the most significant), each
    non-negative and below its bound: one stable argsort of the keys combined into one
    integer when that fits in 64 bits (lexsort's pass per key took three times as long)."""
    if math.prod(bound for _k, bound in keys) >= 2**63:
        return np.lexsort(tuple(k for k, _bound in reversed(keys)))
    combined = keys[0][0].astype(np.int64)
    for k, bound in keys[1:]:
        combined = combined * bound + k
    return np.argsort(combined, kind="stable")


def _strength(p: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], int]:
    """Each probability's rank among ``p``'s values, the strongest 0 and NaN last, and the
    number of ranks (a key for ``_ordered``)."""
    values, rank = np.unique(-p, return_inverse=True)
    return rank.reshape(-1), len(values)


@contextmanager
def _no_gc() -> Iterator[None]:
    """The resolver holds millions of small objects and allocates millions more per run; the
    cyclic collector's full passes over them cost more than the work (measured: 2x). Nothing
    here makes reference cycles, so collection is paused for the run."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Resolver:
    def __init__(
        self,
        model: dict[str, Any] | None = None,
        *,
        threads: int | None = None,
        block_cap: int = blocking.BLOCK_CAP,
    ) -> None:
        self.model = model if model is not None else pm.load_model()
        meta = pm.lantern_meta(self.model)
        self.threshold = float(meta.get("threshold", 0.99))
        # Clustering's second pass and ambiguity level (cluster.py), chosen with the threshold.
        self.attach = float(meta["attach"]) if meta.get("attach") is not None else None
        self.attach_dob = float(meta["attach_dob"]) if meta.get("attach_dob") is not None else None
        self.margin = float(meta["margin"]) if meta.get("margin") is not None else None
        self.ambiguous = float(meta.get("ambiguous", AMBIGUOUS_PROBABILITY))
        self.con = pm.connect(threads)
        self._empty = pa.Table.from_pylist([], schema=SCHEMA)
        self.con.register("_empty", self._empty)
        self.con.execute("CREATE TABLE mentions AS SELECT * FROM _empty")
        self.con.unregister("_empty")
        blocking.add_columns(self.con, "mentions")
        self.con.execute(f"ALTER TABLE mentions ADD COLUMN {_NAME_ID} INTEGER")
        self.block_cap = block_cap
        # The capped rules' join values batch by batch (from the last full assignment on).
        self._blocks = blocking.Incremental(self.con, "mentions", block_cap)
        # A batch's candidate pairs from an index of the held join values (persons.candidates),
        # when the model's blocking rules are persons.blocking's (a model trained with others
        # is blocked by SQL joins, ``_blocking_sql``); None until built, and again whenever
        # rows are held other than by ``resolve_new``.
        rules = pm.splink_settings(self.model)["blocking_rules_to_generate_predictions"]
        same = [r.get("blocking_rule") for r in rules] == blocking.splink_rules() and all(
            set(r) <= {"blocking_rule", "sql_dialect"} for r in rules
        )
        self._index_rules = blocking.RULES if same else None
        self._pair_index: PairIndex | None = None
        # The name comparisons' levels per pair of name ids, kept across batches (a name id
        # never changes its values): (the statement giving new pairs' levels, the scoring
        # statement reading every pair's from ``lantern_gammas``), from ``_dedupe_names``.
        self._name_levels = PairValues(len(_NAME_COMPARISONS))
        self._levels_sql: tuple[str, str] | None = None
        # Blocks over the cap in the last full assignment (persons.blocking).
        self.cap_stats: blocking.CapStats | None = None
        self.nominal_of: dict[str, str] = {}
        self.order_key: dict[str, str] = {}
        self.attrs: dict[str, Attrs] = {}
        self.links: dict[str, ScoredLink] = {}
        self.more_links: dict[str, list[ScoredLink]] = {}
        self.decisions: list[Decision] = []
        self.mentions: dict[str, Mention] = {}
        self.members: dict[str, set[str]] = {}
        self._linker_db: tuple[Any, Any] | None = None
        # Splink's SQL for scoring held x batch (blocking, then scoring), generated once: see
        # ``_score_batch``.
        self._batch_sql: tuple[str, str] | None = None
        # The columns the name comparisons read: every mention is given the id of its values
        # in them as it is held (``_name_ids``), for ``_dedupe_names``.
        self._name_cols = self._name_columns()
        if self._name_cols:
            quoted = ", ".join(f'"{c}"' for c in self._name_cols)
            self.con.execute(
                f"CREATE TABLE lantern_names AS SELECT CAST(NULL AS INTEGER) AS {_NAME_ID}, {quoted} "  # noqa: S608
                "FROM mentions LIMIT 0"
            )
        # Name values -> name id, for batches (``_batch_name_ids``); None: to be read from
        # ``lantern_names`` (rows added in bulk are given ids there, by ``_name_ids``).
        self._name_index: dict[tuple[Any, ...], int] | None = None
        self._name_next = 1
        self._edges_sql: dict[str, str] = {}
        # Mentions held when the term-frequency tables kept for ingest were computed (0: none).
        self._tf_rows = 0
        # Splink's SQL computing each term-frequency table (``_capture_tf_sql``).
        self._tf_sql: dict[str, str] | None = None
        # Nominal ids created, changed or gone in the last resolve_new (what a store rewrites),
        # and already-held mentions whose nominal it changed (what records must be told).
        self.last_changed: set[str] = set()
        self.last_moved: dict[str, str] = {}
        self._labels = self._level_labels()
        self._comps = list(self._labels)
        self._label_maps = [self._labels[c] for c in self._comps]
        # Level labels per combination of gammas (``_waterfall``).
        self._labels_of: dict[tuple[Any, ...], dict[str, str]] = {}

    # ------------------------------------------------------------------ model plumbing
    def _level_labels(self) -> dict[str, dict[int, str]]:
        out: dict[str, dict[int, str]] = {}
        for comp in pm.splink_settings(self.model)["comparisons"]:
            levels = comp["comparison_levels"]
            non_null = [lv for lv in levels if not lv.get("is_null_level")]
            gammas: dict[int, str] = {-1: "not recorded on one side"}
            for i, lv in enumerate(non_null):
                gammas[len(non_null) - 1 - i] = lv["label_for_charts"]
            out[comp["output_column_name"]] = gammas
        return out

    def _linker(self, table_name: str) -> Any:
        """One Linker over the ``mentions`` table for the resolver's life (building one validates
        the settings with sqlglot, ~1.5 s); its cached tables are dropped after every insert."""
        from splink import Linker
        from splink.backends.duckdb import DuckDBAPI

        if self._linker_db is None:
            db = DuckDBAPI(connection=self.con)
            linker = Linker(db.register(table_name), pm.splink_settings(self.model))
            self._linker_db = (linker, db)
        else:
            self._linker_db[0].table_management.invalidate_cache()
        return self._linker_db

    def _tf_due(self) -> bool:
        held = len(self.nominal_of) + 1
        return not self._tf_rows or held >= self._tf_rows * (1 + TF_REFRESH_GROWTH)

    def _term_frequencies(self) -> None:
        """Term frequencies over everything held (so "Smith" counts as in a rebuild), kept in
        tables of our own (``lantern_tf_<column>``, read by the batch scoring SQL); recomputed
        after growth of ``TF_REFRESH_GROWTH``."""
        if not self._tf_due():
            return
        if self._tf_sql is None:
            self._tf_sql = self._capture_tf_sql()
        for col, select in self._tf_sql.items():
            # Names are the model's TF columns; the SQL is Splink's: no user input.
            self.con.execute(f"CREATE OR REPLACE TABLE lantern_tf_{col} AS {select}")
        self._tf_rows = len(self.nominal_of) + 1

    def _capture_tf_sql(self) -> dict[str, str]:
        """The statement Splink's ``compute_tf_table`` runs per column (it reads ``mentions``
        by name), kept: every refresh runs it directly. Splink rebuilt the statement every
        time, reading the input table's columns through sqlglot, which cost more than
        computing the table."""
        linker, db = self._linker("mentions")
        out: dict[str, str] = {}
        # Only the statement is wanted: Splink's table is left empty, and dropped.
        with _recording(db, empty=True) as ran:
            for col in pm.TF_COLUMNS:
                ran.clear()
                linker.table_management.compute_tf_table(col).drop_table_from_database_and_remove_from_cache()
                if len(ran) != 1 or re.findall(r"__splink__\w*_[0-9a-f]{9}\b", ran[0][0]):
                    raise RuntimeError(f"term frequencies of {col}: not one statement over held tables")
                out[col] = ran[0][0]
        return out

    def _held_index(self) -> PairIndex | None:
        """The pair index of everything held (built from ``mentions`` when there is none)."""
        if self._index_rules is None:
            return None
        if self._pair_index is None:
            self._settle()
            self._pair_index = PairIndex(self.con, self._index_rules, _NAME_ID)
            self._pair_index.load("mentions")
        return self._pair_index

    def _score_batch(self, blocked: pa.Table | None = None) -> _Pairs:
        """Score every held mention (the batch included) x the ``batch`` table; returns the
        scored pairs (>= ``KEEP_PROBABILITY``) in the canonical order (``_ORDER``).

        The first batch runs Splink's ``predict_between`` and keeps the scoring statement it
        executes (scoring the blocked id pairs); later batches run that SQL directly, on id
        pairs blocked by ``_blocking_sql``. Building it again per batch cost more than running
        it (Splink validates and renders every column through sqlglot: about a second a
        batch), and its inputs never change name: ``mentions``, ``batch``, ``lantern_tf_*``,
        ``lantern_blocked`` (and ``lantern_names``: the name comparisons are evaluated once
        per pair of names, ``_dedupe_names``). This is the approach of Splink's own
        ``realtime.compare_records`` (``sql_cache_key``). ``blocked``: the batch's candidate
        pairs from the pair index (else ``_blocking_sql`` joins for them)."""
        if self._batch_sql is None:
            # Splink has just scored this batch: its table is the batch's (not run twice).
            self._batch_sql = self._capture_batch_sql()
            pairs = self._read_pairs("lantern_scored")
            self.con.execute("DROP TABLE lantern_scored")
            return pairs
        blocked_sql, scored_sql = self._batch_sql
        if blocked is not None and "lantern_name_l" in blocked_sql:
            self._table("lantern_blocked", blocked)
            if self._levels_sql is not None:
                scored_sql = self._levels_sql[1]
                self._table("lantern_gammas", self._levels_of(blocked))
        else:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE lantern_blocked AS {blocked_sql}")
        # Only the columns read, straight from the query: materialising Splink's table (every
        # input column of both sides, lists included) cost a fifth of the scoring.
        cols = self._pair_columns("lantern_scored")
        pairs = self._fetch_pairs(f"SELECT {cols} FROM ({scored_sql}) {_ORDER}")  # noqa: S608
        self.con.execute("DROP TABLE lantern_blocked")
        self.con.execute("DROP TABLE IF EXISTS lantern_gammas")
        return pairs

    def _table(self, name: str, table: pa.Table) -> None:
        """``table`` as the temporary table ``name`` (read through an Arrow view, the scoring's
        joins ran slower than the copy costs)."""
        self.con.register("_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _arrow")  # noqa: S608
        self.con.unregister("_arrow")

    def _levels_of(self, blocked: pa.Table) -> pa.Table:
        """The name comparisons' levels of every distinct pair of name ids in ``blocked``: those
        kept from earlier batches, the others evaluated (by Splink's CASEs, ``_dedupe_names``)
        and kept. Most of a batch's name pairs were met before (60% at 100,000 held), and
        evaluating the levels (Jaro-Winkler and the rest) was the scoring's largest part. What
        is kept grows with the distinct pairs met (~4,000 a batch of 1,000 mentions; 16 bytes
        each)."""
        if self._levels_sql is None:
            raise RuntimeError("name levels: no statement captured (_dedupe_names)")
        left = blocked.column("lantern_name_l").to_numpy().astype(np.int64)
        right = blocked.column("lantern_name_r").to_numpy().astype(np.int64)
        codes = np.unique((left << 32) | right)
        values, found = self._name_levels.get(codes)
        if not found.all():
            new = codes[~found]
            self._table(
                "lantern_name_pairs",
                pa.table(
                    {
                        "lantern_name_l": pa.array(new >> 32, pa.int32()),
                        "lantern_name_r": pa.array(new & 0xFFFFFFFF, pa.int32()),
                    }
                ),
            )
            got = self.con.execute(self._levels_sql[0]).fetchnumpy()
            self.con.execute("DROP TABLE lantern_name_pairs")
            got_codes = (np.asarray(got["lantern_name_l"], np.int64) << 32) | np.asarray(
                got["lantern_name_r"], np.int64
            )
            order = np.argsort(got_codes)
            levels = np.column_stack(
                [np.asarray(got[f"lantern_gamma_{n}"], np.int32)[order] for n in _NAME_COMPARISONS]
            )
            if not np.array_equal(got_codes[order], new):
                raise RuntimeError("name levels: a pair of name ids was not found in lantern_names")
            self._name_levels.add(new, levels)
            # ``new`` is ``codes`` not found, in the same (sorted) order.
            values[~found] = levels
        cols: dict[str, Any] = {
            "lantern_name_l": pa.array(codes >> 32, pa.int32()),
            "lantern_name_r": pa.array(codes & 0xFFFFFFFF, pa.int32()),
        }
        for i, n in enumerate(_NAME_COMPARISONS):
            cols[f"lantern_gamma_{n}"] = pa.array(values[:, i], pa.int32())
        return pa.table(cols)

    def _blocking_sql(self, splinks: str) -> str:
        """The id pairs Splink's blocking gives for ``mentions`` x ``batch`` (``splinks``: its
        SQL), less the pairs ingest drops anyway: a mention with itself, and of a pair of two
        batch mentions the row with the larger id on the left (each is blocked both ways).

        Splink writes rule k as a join with the condition "and none of rules 0..k-1" so each
        pair comes out once; evaluating those 21 growing conditions on every candidate was
        most of the blocking's time. Here each rule is a plain join and a pair keeps the
        smallest rule number that found it (GROUP BY): the same pairs with the same
        ``match_key``. Rules Splink treats specially (arrays to explode, salting) keep its SQL.
        """
        rules = pm.splink_settings(self.model)["blocking_rules_to_generate_predictions"]
        if any(set(rule) - {"blocking_rule", "sql_dialect"} for rule in rules):
            return f"SELECT * FROM ({splinks}) WHERE NOT ({_SELF_OR_MIRROR})"  # noqa: S608
        # The rules are the model file's SQL (as Splink runs them) over our own tables. Each join
        # reads ``mentions`` and ``batch`` themselves: a CTE of the held side read by 21 joins
        # was materialised (a copy of every held mention's blocking columns per batch), which
        # cost as much as the joins.
        joins = " UNION ALL ".join(
            f"SELECT {k} AS match_key, l.unique_id AS join_key_l, r.unique_id AS join_key_r, "  # noqa: S608
            f"l.{_NAME_ID} AS name_l, r.{_NAME_ID} AS name_r "
            f"FROM mentions AS l INNER JOIN batch AS r ON ({rule['blocking_rule']})"
            for k, rule in enumerate(rules)
        )
        # Each pair also carries its two mentions' name ids (``_dedupe_names``).
        return (
            f"SELECT CAST(min(match_key) AS VARCHAR) AS match_key, join_key_l, join_key_r, "  # noqa: S608
            f"any_value(name_l) AS lantern_name_l, any_value(name_r) AS lantern_name_r FROM ({joins}) "
            f"GROUP BY join_key_l, join_key_r HAVING NOT ({_SELF_OR_MIRROR})"
        )

    def _capture_batch_sql(self) -> tuple[str, str]:
        """Run Splink's ``predict_between`` on ``mentions`` x ``batch`` once: its scored
        pairs become ``lantern_scored``; returned: the blocking SQL for later batches
        (``_blocking_sql``) and Splink's scoring statement."""
        linker, db = self._linker("mentions")
        for col in pm.TF_COLUMNS:
            linker.table_management.register_term_frequency_lookup(db.register(f"lantern_tf_{col}"), col)
        with _recording(db) as ran:
            pred = linker.inference.predict_between(
                db.register("mentions"),
                db.register("batch"),
                threshold_match_probability=KEEP_PROBABILITY,
                warning_mode="never",
            )
        # The pairs are this batch's: kept under our name (Splink's drop of its own name is
        # then a no-op that clears its cache entry).
        self.con.execute("DROP TABLE IF EXISTS lantern_scored")
        self.con.execute(f"ALTER TABLE {pred.physical_name} RENAME TO lantern_scored")
        pred.drop_table_from_database_and_remove_from_cache()
        by_name = {templated: (sql, physical) for sql, templated, physical in ran}
        blocked_sql, blocked_physical = by_name["__splink__blocked_id_pairs"]
        scored_sql, _ = by_name["__splink__df_predict"]
        scored_sql = scored_sql.replace(blocked_physical, "lantern_blocked")
        blocked_sql = self._blocking_sql(blocked_sql)
        # Our own blocking gives each pair's name ids (Splink's, kept for rules it treats
        # specially, does not): only then are the name comparisons looked up per pair of names.
        if "lantern_name_l" in blocked_sql:
            scored_sql = self._dedupe_names(scored_sql)
        # Every table the SQL reads must be one of ours (a Splink table with a cache hash in
        # its name would be gone, or stale, by the next batch).
        for sql in (blocked_sql, scored_sql):
            stale = re.findall(r"__splink__\w*_[0-9a-f]{9}\b", sql)
            if stale:
                raise RuntimeError(f"batch scoring SQL reads Splink's cached tables: {sorted(set(stale))}")
        return blocked_sql, scored_sql

    def _dedupe_names(self, scored_sql: str) -> str:
        """Splink's scoring SQL with the name comparisons' levels (``_NAME_COMPARISONS``)
        evaluated once per distinct pair of name ids among the blocked pairs, then joined to
        the pairs, instead of once per pair. The levels are Splink's own CASE text, moved
        verbatim, and read the same values (the names table holds the mentions' values), so
        every gamma is the one Splink gives; the rest of the SQL is untouched. Returned
        unchanged when Splink's SQL is not laid out as expected (the scoring is then as
        before)."""
        cases = {m.group(2): m.group(1) for m in _GAMMA_CASE.finditer(scored_sql)}
        if not all(c in cases for c in _NAME_COMPARISONS):
            return scored_sql
        cols = sorted({c for n in _NAME_COMPARISONS for c in re.findall(r'"(\w+)_[lr]"', cases[n])})
        held = {
            r[0]
            for r in self.con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'mentions'"
            ).fetchall()
        }
        # The ids are given for the columns the model's name comparisons read: the CASEs must
        # read those and no others.
        if cols != self._name_cols or not set(cols) <= held:
            return scored_sql
        sides = ", ".join([f'nl."{c}" AS "{c}_l"' for c in cols] + [f'nr."{c}" AS "{c}_r"' for c in cols])
        gammas = ", ".join(f"{cases[n]} AS lantern_gamma_{n}" for n in _NAME_COMPARISONS)

        # Column and table names are the model's and ours; the CASEs are Splink's SQL.
        def levels(pairs: str) -> str:
            return (
                f"SELECT lantern_name_l, lantern_name_r, {gammas} FROM ("  # noqa: S608
                f"SELECT p.lantern_name_l, p.lantern_name_r, {sides} FROM {pairs} p "
                "JOIN lantern_names nl ON nl.lantern_name_id = p.lantern_name_l "
                "JOIN lantern_names nr ON nr.lantern_name_id = p.lantern_name_r)"
            )

        distinct = "(SELECT DISTINCT lantern_name_l, lantern_name_r FROM lantern_blocked)"
        lookup = f"lantern_name_gammas as ({levels(distinct)}), \n\n"
        edits = [
            *(
                (f"{cases[n]} as gamma_{n},", f"lantern_g.lantern_gamma_{n} as gamma_{n},")
                for n in _NAME_COMPARISONS
            ),
            (
                "    b.match_key\n    from lantern_blocked as b",
                "    b.match_key, b.lantern_name_l, b.lantern_name_r\n    from lantern_blocked as b",
            ),
            ("__splink__df_comparison_vectors as (", lookup + "__splink__df_comparison_vectors as ("),
            (
                "    match_key\n    from blocked_with_cols\n)",
                "    match_key\n    from blocked_with_cols JOIN lantern_name_gammas AS lantern_g ON "
                "blocked_with_cols.lantern_name_l = lantern_g.lantern_name_l AND "
                "blocked_with_cols.lantern_name_r = lantern_g.lantern_name_r\n)",
            ),
        ]
        out = scored_sql
        for old, new in edits:
            if out.count(old) != 1:
                return scored_sql
            out = out.replace(old, new)
        # With the pair index: the levels of pairs not met before (``lantern_name_pairs``), and
        # the scoring reading every pair's from ``lantern_gammas`` (``_levels_of``).
        self._levels_sql = (
            levels("lantern_name_pairs"),
            out.replace(lookup, "lantern_name_gammas as (SELECT * FROM lantern_gammas), \n\n"),
        )
        return out

    def _name_columns(self) -> list[str]:
        """The mention columns the name comparisons' levels read (``_NAME_COMPARISONS``)."""
        cols: set[str] = set()
        for comp in pm.splink_settings(self.model)["comparisons"]:
            if comp["output_column_name"] in _NAME_COMPARISONS:
                for level in comp["comparison_levels"]:
                    cols |= set(re.findall(r'"(\w+)_[lr]"', level["sql_condition"]))
        return sorted(cols)

    def _name_ids(self, table: str) -> None:
        """Give the rows of ``table`` (held mentions just added, or a batch before it is held)
        without one the id of their values in the name comparisons' columns
        (``lantern_names``; values not seen before get new ids)."""
        if not self._name_cols:
            return
        cols = self._name_cols
        quoted = ", ".join(f'"{c}"' for c in cols)
        same = " AND ".join(f'new."{c}" IS NOT DISTINCT FROM n."{c}"' for c in cols)
        # Table and column names are ours and the model's comparisons': no user input.
        self.con.execute(
            f"INSERT INTO lantern_names SELECT CAST((SELECT coalesce(max({_NAME_ID}), 0) "  # noqa: S608
            f"FROM lantern_names) + row_number() OVER () AS INTEGER), {quoted} FROM (SELECT DISTINCT "
            f"{quoted} FROM {table} WHERE {_NAME_ID} IS NULL) new WHERE NOT EXISTS "
            f"(SELECT 1 FROM lantern_names n WHERE {same})"
        )
        on = " AND ".join(f'{table}."{c}" IS NOT DISTINCT FROM n."{c}"' for c in cols)
        self.con.execute(
            f"UPDATE {table} SET {_NAME_ID} = n.{_NAME_ID} FROM lantern_names n "  # noqa: S608
            f"WHERE {table}.{_NAME_ID} IS NULL AND {on}"
        )

    def _settle(self) -> None:
        """Finish a result someone left unread on the connection (a query read with
        ``fetchone``): DuckDB refuses to register a table, or start a relation, until it is."""
        self.con.complete()

    def _load_name_index(self) -> dict[tuple[Any, ...], int]:
        if self._name_index is None:
            self._settle()
            self._name_index = {}
            if self._name_cols:
                quoted = ", ".join(f'"{c}"' for c in self._name_cols)
                # Column names are the model's comparisons': no user input.
                got = self.con.sql(f"SELECT {_NAME_ID}, {quoted} FROM lantern_names").to_arrow_table()  # noqa: S608
                ids = got.column(0).to_pylist()
                for nid, key in zip(ids, self._name_keys(got), strict=True):
                    self._name_index[key] = nid
                self._name_next = max(ids, default=0) + 1
        return self._name_index

    def _name_keys(self, table: pa.Table) -> list[tuple[Any, ...]]:
        """Each row's values in the name comparisons' columns, hashable (lists as tuples)."""
        cols = []
        for c in self._name_cols:
            values = table.column(c).to_pylist()
            if pa.types.is_list(table.schema.field(c).type):
                values = [None if v is None else tuple(v) for v in values]
            cols.append(values)
        return list(zip(*cols, strict=True)) if cols else [() for _ in range(table.num_rows)]

    def _batch_name_ids(self, table: pa.Table) -> pa.Table:
        """``table`` (a batch's features) with each row's name id (as ``_name_ids`` gives held
        rows): looked up in a dictionary of the ids given so far, new values given new ids and
        added to ``lantern_names``. Done in SQL per batch, the lookup read the whole names
        table twice (an anti-join to find new values, a join to fetch ids), a tenth of a
        batch's resolution at 100,000 held."""
        index = self._load_name_index()
        ids: list[int | None] = []
        new_rows: list[int] = []
        if self._name_cols:
            for i, key in enumerate(self._name_keys(table)):
                nid = index.get(key)
                if nid is None:
                    nid = index[key] = self._name_next
                    self._name_next += 1
                    new_rows.append(i)
                ids.append(nid)
        else:
            ids = [None] * table.num_rows
        if new_rows:
            self._settle()
            fresh = table.select(self._name_cols).take(new_rows)
            fresh = fresh.add_column(0, _NAME_ID, pa.array([ids[i] for i in new_rows], pa.int32()))
            self.con.register("_names", fresh)
            self.con.execute("INSERT INTO lantern_names BY NAME SELECT * FROM _names")
            self.con.unregister("_names")
        return table.append_column(_NAME_ID, pa.array(ids, pa.int32()))

    def _pair_columns(self, physical: str) -> str:
        """The columns of scored pairs read (ids, probability, gamma and match weight per
        comparison), as found in the table ``physical`` (the batch table's kept: its columns
        are the same every batch)."""
        select = self._edges_sql.get(physical)
        if select is None:
            present = {
                r[0]
                for r in self.con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [physical]
                ).fetchall()
            }
            # Match weight per comparison (log2 Bayes factor), with its term-frequency part added.
            weight_sql = [
                f"mw_{c}" + (f" + coalesce(mw_tf_adj_{c}, 0)" if f"mw_tf_adj_{c}" in present else "")
                for c in self._comps
            ]
            gamma_sql = [f"gamma_{c}" for c in self._comps]
            # Column names come from the model's comparisons: no user input.
            select = ", ".join(["unique_id_l", "unique_id_r", "match_probability", *gamma_sql, *weight_sql])
            if physical == "lantern_scored":
                self._edges_sql[physical] = select
        return select

    def _read_pairs(self, physical: str) -> _Pairs:
        # The table name comes from Splink or from us: no user input.
        sql = f"SELECT {self._pair_columns(physical)} FROM {physical}"  # noqa: S608
        return self._fetch_pairs(sql + (f" {_ORDER}" if physical == "lantern_scored" else ""))

    def _fetch_pairs(self, sql: str) -> _Pairs:
        got = self.con.execute(sql).fetchnumpy()
        cols_out = list(got.values())
        for col in cols_out:
            if np.ma.isMaskedArray(col) and np.ma.is_masked(col):
                raise RuntimeError("scored pairs hold NULLs")
        n = len(self._comps)

        def matrix(part: list[Any], dtype: Any) -> np.ndarray[Any, Any]:
            if not part[0].shape[0]:
                return np.empty((0, n), dtype=dtype)
            return np.column_stack([np.asarray(c, dtype=dtype) for c in part])

        return _Pairs(
            cols_out[0].tolist(),
            cols_out[1].tolist(),
            np.asarray(cols_out[2], dtype=np.float64).tolist(),
            matrix(cols_out[3 : 3 + n], np.int64),
            matrix(cols_out[3 + n : 3 + 2 * n], np.float64),
        )

    def _edges_from(self, scored: str | _Pairs) -> tuple[list[Edge], dict[tuple[str, str], _Raw]]:
        """Every scored pair (of the table ``scored``, or as read) as an edge, and its
        probability, gammas and weights (what the equivalence tests compare)."""
        pairs = self._read_pairs(scored) if isinstance(scored, str) else scored
        edges = [Edge(a, b, p) for a, b, p in zip(pairs.a, pairs.b, pairs.p, strict=True)]
        return edges, {(e.a, e.b): pairs.raw(i) for i, e in enumerate(edges)}

    def _waterfalls(
        self, pairs: _Pairs, rows: list[int]
    ) -> dict[int, tuple[dict[str, float], dict[str, str]]]:
        """Scored pairs' (``rows`` of ``pairs``) match weight and level label per comparison.

        Pairs scored alike (the same gammas and weights: a quarter to a half of a batch's are
        distinct) share one waterfall, read only like the labels. Each distinct weight is
        rounded once (Python's ``round``, correctly rounded, as before; numpy's differs in the
        last place). Both are found with numpy, by bit pattern (so -0.0 stays -0.0)."""
        if not rows:
            return {}
        comps = self._comps
        gammas = np.ascontiguousarray(pairs.gammas[rows], dtype=np.int64)
        values = np.ascontiguousarray(pairs.weights[rows], dtype=np.float64)
        # Each row's bytes as one value (``np.unique`` by rows, ``axis=0``, took ten times as
        # long).
        both = np.hstack([gammas.view(np.uint64), values.view(np.uint64)])
        alike, first, which = np.unique(
            both.view(np.dtype((np.void, both.dtype.itemsize * both.shape[1]))).ravel(),
            return_index=True,
            return_inverse=True,
        )
        distinct, where = np.unique(values[first].view(np.uint64).ravel(), return_inverse=True)
        rounded = np.array([round(w, 2) for w in distinct.view(np.float64).tolist()], dtype=np.float64)
        weights = rounded[where].reshape(len(alike), len(comps)).tolist()
        built: list[tuple[dict[str, float], dict[str, str]]] = []
        for ws, levels in zip(weights, map(tuple, gammas[first].tolist()), strict=True):
            # The labels follow from the gammas alone, and few combinations occur (3,737 among
            # 179,159 links at 100,000 mentions): one mapping per combination, shared by its
            # links (read only), rather than one per link (~0.9 GB of a million mentions' links).
            labels = self._labels_of.get(levels)
            if labels is None:
                labels = {
                    c: lab.get(int(g), c) for c, lab, g in zip(comps, self._label_maps, levels, strict=True)
                }
                self._labels_of[levels] = labels
            built.append((dict(zip(comps, ws, strict=True)), labels))
        return dict(zip(rows, map(built.__getitem__, which.ravel().tolist()), strict=True))

    def _add_rows(self, table: pa.Table) -> None:
        self._settle()
        self.con.register("_new", table)
        self.con.execute("INSERT INTO mentions BY NAME SELECT * FROM _new")
        self.con.unregister("_new")
        self._name_ids("mentions")
        self._name_index = None
        self._pair_index = None

    def _remember(self, mentions: Sequence[Mention], table: pa.Table) -> None:
        cols = {c: table.column(c).to_pylist() for c in ("pnc", "cro", "forename", "surname")}
        fvars = table.column("forename_variants").to_pylist()
        fphon = table.column("forename_phon").to_pylist()
        sphon = table.column("surname_phon").to_pylist()
        for i, m in enumerate(mentions):
            self.mentions[m.mention_id] = m
            self.order_key[m.mention_id] = f"{m.record_date}|{m.mention_id}"
            # Identifiers as validated by the features (an invalid PNC is no evidence either way).
            self.attrs[m.mention_id] = Attrs(
                dob=m.dob.isoformat() if m.dob else None,
                pnc=cols["pnc"][i],
                cro=cols["cro"][i],
                forename=cols["forename"][i],
                surname=cols["surname"][i],
                forename_keys=frozenset((fvars[i] or []) + (fphon[i] or [])),
                surname_keys=frozenset(sphon[i] or []),
            )

    def _set_nominals(self, assigned: dict[str, str]) -> None:
        for mid, nid in assigned.items():
            old = self.nominal_of.get(mid)
            if old == nid:
                # Most of a batch's mentions keep their nominal (already among its members).
                continue
            if old is not None:
                self.members[old].discard(mid)
                if not self.members[old]:
                    del self.members[old]
            self.nominal_of[mid] = nid
            self.members.setdefault(nid, set()).add(mid)

    def _best_links(self, groups: Sequence[Sequence[str]], rows: np.ndarray[Any, Any], pairs: _Pairs) -> None:
        """Each mention's strongest links inside its nominal (up to ``LINKS_KEPT``): the first
        explains it; the others let a viewer who cannot read the first partner's record still
        be given a reason from records they can read. ``rows``: the rows of ``pairs`` that
        count (distinct pairs, none of a mention with itself). Links already held (earlier
        batches) compete with the new ones, by partner: a new link to a partner replaces the
        one held.

        Ranked with numpy, held links with new ones (a batch holds ~15,000 pairs, and at
        100,000 held two thirds of the mentions a batch links already hold links: ranking
        those mention by mention in Python cost a third of the clustering step), in the
        order ``_BY_RANK`` gives, so the links are the ones it chose. A mention whose order
        numpy cannot give (a NaN; a partner held twice) is ranked in Python
        (``_ranked_in_python``)."""
        flat = [m for g in groups for m in g]
        if not flat or not len(rows):
            return
        # Codes in id order: a partner's code orders as its id does (``_BY_RANK``'s tie-break).
        names = sorted(flat)
        code = dict(zip(names, range(len(names)), strict=True))
        coded = np.fromiter(map(code.__getitem__, flat), np.int64, len(flat))
        group_of = np.empty(len(names), np.int64)
        group_of[coded] = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        ca = np.fromiter(
            map(code.get, np.array(pairs.a, dtype=object)[rows], repeat(-1)), np.int64, len(rows)
        )
        cb = np.fromiter(
            map(code.get, np.array(pairs.b, dtype=object)[rows], repeat(-1)), np.int64, len(rows)
        )
        inside = np.flatnonzero((ca >= 0) & (cb >= 0) & (group_of[ca] == group_of[cb]))
        if not len(inside):
            return
        # Each pair inside a nominal is a candidate of both its mentions: (mention, partner).
        x = np.concatenate([ca[inside], cb[inside]])
        y = np.concatenate([cb[inside], ca[inside]])
        row = np.concatenate([rows[inside], rows[inside]])
        p = np.asarray(pairs.p, dtype=np.float64)[row]
        # One run per mention (``who``), its candidates strongest first, ties by partner id.
        order = _ordered((x, len(names)), _strength(p), (y, len(names)))
        x, y, row, p = x[order], y[order], row[order], p[order]
        starts = np.flatnonzero(np.concatenate([[True], x[1:] != x[:-1]]))
        ends = np.append(starts[1:], len(x))
        run = np.repeat(np.arange(len(starts)), ends - starts)
        who = x[starts]
        # A mention with a NaN candidate is ranked in Python from all its candidates, in the
        # order they were met (rows): its order with NaN depends on the order given.
        odd = np.add.reduceat(np.isnan(p), starts) > 0
        mentions = [names[c] for c in who.tolist()]
        links, more_links = self.links, self.more_links
        # Their held links, flattened (``hrun``: each one's run).
        held: list[ScoredLink] = []
        held_run: list[int] = []
        for i, first, more in zip(count(), map(links.get, mentions), map(more_links.get, mentions)):
            if first is not None:
                held.append(first)
                held_run.append(i)
                if more:
                    held += more
                    held_run += repeat(i, len(more))
        hrun = np.array(held_run, dtype=np.int64)
        hp = np.array([lk.probability for lk in held], dtype=np.float64)
        # A held partner's key: twice its code, or (outside the groups) the odd number between
        # the keys of the ids either side of its id.
        hkey = np.fromiter(
            (
                2 * c if (c := code.get(lk.other)) is not None else 2 * bisect_left(names, lk.other) - 1
                for lk in held
            ),
            np.int64,
            len(held),
        )
        span = 2 * len(names) + 1
        held_id = hrun * span + hkey + 1
        # Ranked in Python: a mention with a NaN candidate or held link, or two held links of
        # one key (a partner held twice: the last counts; two partners outside the groups
        # between the same two ids: their ids decide).
        slow = odd.copy()
        ids = np.sort(held_id)
        slow[ids[1:][ids[1:] == ids[:-1]] // span] = True
        slow[hrun[np.isnan(hp)]] = True
        # A mention's new candidates that may be kept, and its held links to other partners,
        # ranked together by (-probability, partner key): the keys of a mention's links
        # differ, so this is ``_BY_RANK``'s order. ``ref``: the candidate's index in ``x``,
        # or ~ the held link's in ``held``.
        top = np.flatnonzero((np.arange(len(x)) - starts[run] < LINKS_KEPT) & ~slow[run])
        also = np.flatnonzero(~slow[hrun] & ~np.isin(held_id, run[top] * span + 2 * y[top] + 1))
        lrun = np.concatenate([run[top], hrun[also]])
        key = np.concatenate([2 * y[top], hkey[also]]) + 1
        order = _ordered((lrun, len(starts)), _strength(np.concatenate([p[top], hp[also]])), (key, span))
        lrun, ref = lrun[order], np.concatenate([top, ~also])[order]
        lstarts = np.flatnonzero(np.concatenate([[True], lrun[1:] != lrun[:-1]]))
        rank = np.arange(len(lrun)) - np.repeat(lstarts, np.diff(np.append(lstarts, len(lrun))))
        lrun, ref = lrun[rank < LINKS_KEPT], ref[rank < LINKS_KEPT]
        prob = pairs.p
        ys, rs = y.tolist(), row.tolist()
        in_python: dict[int, list[tuple[float, str, int | ScoredLink]]] = {}
        for i in np.flatnonzero(slow).tolist():
            at = np.arange(starts[i], ends[i])
            if odd[i]:
                at = at[np.argsort(row[at], kind="stable")]
            cands = zip((-p[at]).tolist(), [names[c] for c in y[at].tolist()], row[at].tolist(), strict=True)
            in_python[i] = self._ranked_in_python(mentions[i], list(cands), bool(odd[i]))
        # Waterfalls only for the links kept (about half the candidates that could be), each
        # once: a pair kept by both its mentions explains both (the links only read it).
        need = set(row[ref[ref >= 0]].tolist())
        need.update(
            v for ranked in in_python.values() for _p, _y, v in ranked if not isinstance(v, ScoredLink)
        )
        waterfalls = self._waterfalls(pairs, sorted(need))
        made = [
            ScoredLink(names[ys[i]], prob[rs[i]], *waterfalls[rs[i]]) if i >= 0 else held[~i]
            for i in ref.tolist()
        ]
        bounds = np.flatnonzero(np.concatenate([[True], lrun[1:] != lrun[:-1], [True]])).tolist()
        made_of = dict(zip(lrun[bounds[:-1]].tolist(), pairwise(bounds), strict=True)) if len(lrun) else {}
        # In the groups' order (as the links dict met its mentions before).
        place = np.empty(len(names), np.int64)
        place[coded] = np.arange(len(coded))
        for i in np.argsort(place[who]).tolist():
            mention = mentions[i]
            ranked = in_python.get(i)
            if ranked is None:
                lo, hi = made_of[i]
                links[mention] = made[lo]
                more_links[mention] = made[lo + 1 : hi]
            else:
                kept = [
                    v if isinstance(v, ScoredLink) else ScoredLink(partner, prob[v], *waterfalls[v])
                    for _p, partner, v in ranked
                ]
                links[mention] = kept[0]
                more_links[mention] = kept[1:]

    def _ranked_in_python(
        self, mention: str, cands: Sequence[tuple[float, str, int | ScoredLink]], odd: bool
    ) -> list[tuple[float, str, int | ScoredLink]]:
        """``mention``'s links kept (up to ``LINKS_KEPT``), ranked by ``_BY_RANK`` from its new
        candidates (``cands``: (-probability, partner, row), strongest first; ``odd``: holding
        a NaN, in the order met) and its held links."""
        ranked: list[tuple[float, str, int | ScoredLink]] = (
            sorted(cands, key=_BY_RANK)[:LINKS_KEPT] if odd else list(cands[:LINKS_KEPT])
        )
        held = self.links.get(mention)
        if held is not None:
            new = set(map(_PARTNER, ranked))
            more = self.more_links.get(mention)
            held_by = {lk.other: lk for lk in (held, *more)} if more else {held.other: held}
            ranked += [(-lk.probability, lk.other, lk) for lk in held_by.values() if lk.other not in new]
            ranked.sort(key=_BY_RANK)
            del ranked[LINKS_KEPT:]
        return ranked

    # ------------------------------------------------------------------ public
    def rebuild(
        self,
        mentions: Sequence[Mention],
        decisions: Iterable[Decision] = (),
        previous: dict[str, str] | None = None,
    ) -> Resolution:
        """Resolve every mention from scratch; ``previous`` (mention -> nominal) keeps ids stable."""
        with _no_gc():
            return self._rebuild(mentions, decisions, previous)

    def _rebuild(
        self,
        mentions: Sequence[Mention],
        decisions: Iterable[Decision],
        previous: dict[str, str] | None,
    ) -> Resolution:
        self.con.execute("DELETE FROM mentions")
        self._tf_rows = 0
        self.nominal_of, self.links, self.order_key, self.attrs, self.mentions = {}, {}, {}, {}, {}
        self.members, self.more_links = {}, {}
        self.decisions = list(decisions)
        edges, rows, pairs = self._score_all(mentions)
        must, cannot = _decisions_to_constraints(self.decisions)
        groups, refused = cluster(
            [m.mention_id for m in mentions],
            edges,
            self.threshold,
            self.attrs,
            must,
            cannot,
            attach=self.attach,
            attach_dob=self.attach_dob,
            margin=self.margin,
            ambiguous=self.ambiguous,
        )
        self._set_nominals(assign_ids(groups, self.order_key, previous))
        self._best_links(groups, rows, pairs)
        return Resolution(dict(self.nominal_of), dict(self.links), refused)

    def _score_all(
        self, mentions: Sequence[Mention], floor: float | None = KEEP_PROBABILITY
    ) -> tuple[list[Edge], np.ndarray[Any, Any], _Pairs]:
        table = feature_table(mentions)
        self._add_rows(table)
        self.cap_stats = blocking.assign(self.con, "mentions", cap=self.block_cap)
        self._remember(mentions, table)
        # The rows are in DuckDB now: not held through the scoring (~0.4 GB a million mentions).
        del table
        linker, _db = self._linker("mentions")
        pred = linker.inference.predict(threshold_match_probability=floor, warning_mode="never")
        pairs = self._read_pairs(pred.physical_name)
        pred.drop_table_from_database_and_remove_from_cache()
        edges = [Edge(a, b, p) for a, b, p in zip(pairs.a, pairs.b, pairs.p, strict=True)]
        # The rows of distinct pairs (the last of a pair scored twice, as before).
        detail = {(e.a, e.b): i for i, e in enumerate(edges)}
        return edges, np.fromiter(detail.values(), np.int64, len(detail)), pairs

    def score(self, mentions: Sequence[Mention], *, floor: float | None = KEEP_PROBABILITY) -> list[Edge]:
        """Every scored pair (>= ``floor``; None: every pair the blocking rules compare) of a
        fresh resolver's mentions, without clustering: what a sweep of the clustering
        parameters and the evaluation's diagnosis need (``self.attrs`` is set)."""
        with _no_gc():
            self.con.execute("DELETE FROM mentions")
            self.nominal_of, self.attrs, self.mentions, self.order_key = {}, {}, {}, {}
            return self._score_all(mentions, floor)[0]

    def load_existing(
        self,
        mentions: Sequence[Mention],
        nominal_of: dict[str, str],
        decisions: Iterable[Decision] = (),
        links: dict[str, ScoredLink] | None = None,
        more_links: dict[str, list[ScoredLink]] | None = None,
    ) -> None:
        """Hold already-resolved mentions (from the persons store) without re-resolving them."""
        self.decisions = list(decisions)
        self.links.update(links or {})
        self.more_links.update(more_links or {})
        table = feature_table(mentions)
        self._add_rows(table)
        self.cap_stats = blocking.assign(self.con, "mentions", cap=self.block_cap)
        self._remember(mentions, table)
        self._set_nominals({m.mention_id: nominal_of[m.mention_id] for m in mentions})

    def prepare(self) -> None:
        """Ready the resolver for ingest, once, before the first batch: Splink's batch scoring
        SQL is rendered and kept (``_capture_batch_sql``, ~1.5 s: building the Linker and
        rendering every comparison through sqlglot) by scoring an empty batch, so no batch of a
        load pays for it. Like loading spaCy's model, this is the load's set-up, not a batch's.
        Without it the first batch captures the SQL as it is scored (the same scores)."""
        with _no_gc():
            # What incremental blocking keeps, from the full assignment just made, and the
            # index of the held join values.
            self._blocks.load()
            self._held_index()
        if self._batch_sql is not None:
            return
        with _no_gc():
            self._batch_table(self._batch_name_ids(self._empty))
            # The SQL reads our term-frequency tables by name; until the first batch computes
            # them (over everything held then, batch included: ``_term_frequencies``), empty
            # ones of the same columns stand in, which is all rendering the SQL needs.
            have = {
                r[0]
                for r in self.con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'lantern_tf_%'"
                ).fetchall()
            }
            for col in pm.TF_COLUMNS:
                if f"lantern_tf_{col}" not in have:
                    # Names are the model's TF columns: no user input.
                    self.con.execute(
                        f'CREATE TABLE lantern_tf_{col} AS SELECT "{col}", CAST(NULL AS DOUBLE) AS '  # noqa: S608
                        f'"tf_{col}" FROM mentions LIMIT 0'
                    )
            if self._tf_sql is None:
                # Splink's term-frequency SQL too (rendering it costs more than running it);
                # before the scoring SQL is captured, which registers our tables as Splink's.
                self._tf_sql = self._capture_tf_sql()
            self._batch_sql = self._capture_batch_sql()
            self._pair_columns("lantern_scored")  # the columns read from every batch's pairs
            self.con.execute("DROP TABLE lantern_scored")
            self.con.execute("DROP TABLE batch")

    def _batch_table(self, table: pa.Table) -> None:
        """``table`` (new mentions' features) as the ``batch`` table the scoring SQL reads."""
        self.con.execute("DROP TABLE IF EXISTS batch")
        self.con.register("_batch", table)
        # The held table's own columns (the capped rules' join columns), NULL, in the
        # statement that creates the batch (an ALTER TABLE each cost ~1 ms a column).
        extra = ", ".join(blocking.null_columns())
        self.con.execute(f"CREATE TEMP TABLE batch AS SELECT *, {extra} FROM _batch")  # noqa: S608
        self.con.unregister("_batch")

    def resolve_new(self, mentions: Sequence[Mention]) -> dict[str, str]:
        with _no_gc():
            return self._resolve_new(mentions)

    def _resolve_new(self, mentions: Sequence[Mention]) -> dict[str, str]:
        """Nominal id for each new mention: an existing nominal when one matches, else a new one.

        A mention already held (a reload of an unchanged record) keeps its nominal.
        """
        self.last_changed, self.last_moved = set(), {}
        fresh = [m for m in mentions if m.mention_id not in self.nominal_of]
        out = {
            m.mention_id: self.nominal_of[m.mention_id] for m in mentions if m.mention_id in self.nominal_of
        }
        if not fresh:
            return out
        table = feature_table(fresh)
        self._batch_table(self._batch_name_ids(table))
        # The capped rules' join columns: the batch's, and those of held mentions whose blocks
        # the batch changes (a block it makes crowded is split for its held mentions too).
        changed = self._blocks.add("batch")
        index = self._held_index()
        if index is not None:
            # Held rows whose join values the batch changed: read again before it is held.
            index.refresh("mentions", [blocking.RULES.index(blocking.CAPPED[i]) for i in sorted(changed)])
        self.con.execute("INSERT INTO mentions BY NAME SELECT * FROM batch")
        self._remember(fresh, table)
        self._term_frequencies()
        # One pass: everything held (the batch included) x the batch. That covers existing x new
        # and new x new; self-pairs and the mirrored new x new pairs are dropped.
        pairs = self._score_batch(index.add("batch") if index is not None else None)
        assigned = self._cluster_batch([m.mention_id for m in fresh], pairs)
        out.update({m.mention_id: assigned[m.mention_id] for m in fresh})
        return out

    def _cluster_batch(self, fresh: list[str], pairs: _Pairs) -> dict[str, str]:
        """Cluster a batch's new mentions (``fresh``, held already) with the nominals its
        scored ``pairs`` touch; returns the nominal of every mention of those clusters."""
        # Edges that can merge, and those that make a mention ambiguous (cluster.py); the
        # weaker ones are kept for explanations only (``detail``: pair -> row of ``pairs``).
        floor = min(
            self.threshold,
            self.ambiguous,
            *(a for a in (self.attach, self.attach_dob) if a is not None),
        )
        # Each pair once, smaller id first, at its first row; none of a mention with itself.
        # The canonical order (``_ORDER``) puts a pair's rows next to each other, so each row
        # is compared with the one before it (with numpy: a Python loop over ~15,000 rows cost
        # as much as the clustering).
        a = np.array(pairs.a, dtype=object)
        b = np.array(pairs.b, dtype=object)
        swap = b < a
        lo, hi = np.where(swap, b, a), np.where(swap, a, b)
        first = a != b
        first[1:] &= (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
        rows = np.flatnonzero(first)
        prob = np.asarray(pairs.p, dtype=np.float64)
        linked = rows[prob[rows] >= floor]
        edge_a, edge_b = lo[linked].tolist(), hi[linked].tolist()
        # Each edge made by the tuple constructor, in C (``Edge`` is a NamedTuple; its own
        # ``__new__`` is a Python call per edge, ~15,000 a batch).
        edges = list(
            map(partial(tuple.__new__, Edge), zip(edge_a, edge_b, prob[linked].tolist(), strict=True))
        )
        touched = set(fresh).union(edge_a, edge_b)
        involved = {self.nominal_of[m] for m in touched if m in self.nominal_of}
        seed_groups = [sorted(self.members[n]) for n in sorted(involved)]
        must, cannot = _decisions_to_constraints(self.decisions)
        ids = {m for g in seed_groups for m in g} | set(fresh)
        groups, _refused = cluster(
            sorted(ids),
            edges,
            self.threshold,
            self.attrs,
            [p for p in must if p[0] in ids and p[1] in ids],
            [p for p in cannot if p[0] in ids and p[1] in ids],
            seed_groups,
            attach=self.attach,
            attach_dob=self.attach_dob,
            margin=self.margin,
            ambiguous=self.ambiguous,
        )
        previous = {m: self.nominal_of[m] for m in ids if m in self.nominal_of}
        assigned = assign_ids(groups, self.order_key, previous)
        self.last_changed = set(previous.values()) | set(assigned.values())
        self.last_moved = {m: n for m, n in assigned.items() if m in previous and previous[m] != n}
        self._set_nominals(assigned)
        self._best_links(groups, rows, pairs)
        return assigned
