"""A batch's candidate pairs, looked up in an index of the held mentions' join values.

Blocking as SQL joins (``Resolver._blocking_sql``) reads every held mention's join columns,
once per rule, every batch: at 100,000 held its 21 joins cost ~0.15 s a batch, a fifth of
resolving it, and the cost grows with what is held. DuckDB's hash joins cannot probe a kept
index (they build a hash table on one side and scan the other), so each rule keeps here, for
every held mention, the hash of the values it joins on, sorted (NumPy), and a batch is paired
by looking its own values up: the work grows with the batch and its pairs, not the held.

The pairs are the joins' (the same rules on the same columns; a NULL joins nothing; a pair
keeps the smallest rule number that found it; a mention with itself and the mirrored half of
two batch mentions' pairs are left out). A 64-bit hash collision could add a pair the join
would not make, which scoring then judges on its fields like any other; it never loses one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from persons.blocking import Rule

_Array = np.ndarray[Any, Any]
# A held row's number as the index keeps it (two billion rows; half the memory of int64: at a
# million held, 21 rules' rows are ~84 MB this way).
_ROW = np.int32


def _expand(lo: _Array, hi: _Array) -> tuple[_Array, _Array]:
    """For ranges ``lo[i]:hi[i]``: the range number and the position of every element."""
    n = hi - lo
    total = int(n.sum())
    which = np.repeat(np.arange(len(lo)), n)
    at = np.arange(total) - np.repeat(np.cumsum(n) - n, n) + np.repeat(lo, n)
    return which, at


def _sorted(hashes: _Array, rows: _Array) -> tuple[_Array, _Array]:
    order = np.argsort(hashes, kind="stable")
    return hashes[order], rows[order]


def _merged(keys: _Array, rows: _Array, more: _Array, more_rows: _Array) -> tuple[_Array, _Array]:
    """Sorted ``keys`` (with ``rows``) and unsorted ``more`` as one sorted run: ``more`` is
    sorted and inserted, a copy of the run rather than a sort of it."""
    more, more_rows = _sorted(more, more_rows)
    at = np.searchsorted(keys, more, "right")
    return np.insert(keys, at, more), np.insert(rows, at, more_rows, axis=0)


class _Runs:
    """Sorted keys, each with a row (of a 1-d or 2-d array). Rows added since the last merge
    are kept apart in a short sorted run, merged into the long one when it reaches an eighth
    of its length (re-sorting the long one at every addition would cost more than the
    lookups)."""

    def __init__(self, keys: _Array, rows: _Array) -> None:
        self.long = _sorted(keys, rows)
        self.short = (keys[:0], rows[:0])

    def __len__(self) -> int:
        return len(self.long[0]) + len(self.short[0])

    def __iter__(self) -> Iterator[tuple[_Array, _Array]]:
        yield self.long
        yield self.short

    def add(self, keys: _Array, rows: _Array) -> None:
        self.short = _merged(*self.short, keys, rows)
        if len(self.short[0]) > len(self.long[0]) // 8:
            self.long = _merged(*self.long, *self.short)
            self.short = (self.short[0][:0], self.short[1][:0])


class _Keys(_Runs):
    """One rule's held join values: their hashes, sorted, with the rows holding them."""

    def find(self, probe: _Array) -> tuple[_Array, _Array]:
        """Every (probe number, held row) whose hashes are equal."""
        which, rows = [], []
        for hashes, held in self:
            if not len(hashes):
                continue
            lo = np.searchsorted(hashes, probe, "left")
            hi = np.searchsorted(hashes, probe, "right")
            w, at = _expand(lo, hi)
            which.append(w)
            rows.append(held[at])
        if not which:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(which), np.concatenate(rows).astype(np.int64)


def _hash(cols: Sequence[str]) -> str:
    """The hash of a row's values in ``cols``; NULL when one is (a NULL joins nothing)."""
    present = " AND ".join(f'"{c}" IS NOT NULL' for c in cols)
    values = ", ".join(f'"{c}"' for c in cols)
    return f"CASE WHEN {present} THEN hash({values}) END"


def _column(got: dict[str, Any], name: str) -> tuple[_Array, _Array]:
    """A fetched column of hashes: its values and where they are present."""
    col = np.ma.asarray(got[name])
    present = ~np.ma.getmaskarray(col)
    return np.asarray(col.data, dtype=np.uint64), present


class PairIndex:
    """The held mentions' join values per rule (``Rule.sides``), in the order the held table
    returns its rows (its insertion order: rows are only ever appended, or all deleted, and
    the owner then builds the index again)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, rules: Sequence[Rule], name_column: str) -> None:
        self._con = con
        self.rules = list(rules)
        self.name_column = name_column
        self._left = [r.sides()[0] for r in self.rules]
        self._right = [r.sides()[1] for r in self.rules]
        self._missing = sorted({r.missing for r in self.rules if r.missing})
        self._keys: list[_Keys] = []
        # Each rule's number as the joins give it (match_key).
        self._labels = pa.array([str(k) for k in range(len(self.rules))], pa.string())
        # Unique ids by row, in chunks (a batch's appended as one), gathered by Arrow.
        self._ids = pa.chunked_array([], pa.string())
        self._names = np.empty(0, dtype=np.int64)
        self._null: dict[str, _Array] = {}
        self.size = 0

    # SQL below is built from the rules' column names (the model's, checked against
    # persons.blocking by the resolver) and the caller's table names: no user input.
    def _select(self, table: str, *, right: bool) -> dict[str, Any]:
        items = ["unique_id", f'"{self.name_column}"']
        items += [f"{_hash(cols)} AS l{k}" for k, cols in enumerate(self._left)]
        if right:
            items += [f"{_hash(cols)} AS r{k}" for k, cols in enumerate(self._right) if cols != self._left[k]]
        items += [f'"{c}" IS NULL AS null_{c}' for c in self._missing]
        return dict(self._con.execute(f"SELECT {', '.join(items)} FROM {table}").fetchnumpy())  # noqa: S608

    def load(self, table: str) -> None:
        """Index every row of ``table`` (replacing what was held)."""
        # Rows are numbered in the order scans return them: DuckDB's insertion order, which
        # a connection may trade away for memory.
        kept = self._con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()
        if not kept[0][0]:
            raise RuntimeError("the pair index needs DuckDB's preserve_insertion_order")
        got = self._select(table, right=False)
        n = len(got["unique_id"])
        rows = np.arange(n, dtype=_ROW)
        self._keys = []
        for k in range(len(self.rules)):
            hashes, present = _column(got, f"l{k}")
            self._keys.append(_Keys(hashes[present], rows[present]))
        self._ids = pa.chunked_array([pa.array(got["unique_id"], pa.string())])
        self._names = self._name_ids(got)
        self._null = {c: np.asarray(got[f"null_{c}"], dtype=bool) for c in self._missing}
        self.size = n

    def _name_ids(self, got: dict[str, Any]) -> _Array:
        names = np.ma.asarray(got[self.name_column])
        # No name ids (a model without name comparisons): -1 stands for NULL.
        return np.where(np.ma.getmaskarray(names), -1, np.asarray(names.data, dtype=np.int64))

    def refresh(self, table: str, rules: Sequence[int]) -> None:
        """Read ``rules``' join values of every row of ``table`` again (held rows' values that
        changed: a block made crowded is split for its held rows too, ``blocking.Incremental``)."""
        if not rules:
            return
        hashes = ", ".join(f"{_hash(self._left[k])} AS l{k}" for k in rules)
        got = dict(self._con.execute(f"SELECT unique_id, {hashes} FROM {table}").fetchnumpy())  # noqa: S608
        # The rows must be the ones numbered (rare enough to check every time).
        if not pa.array(got["unique_id"], pa.string()).equals(self._ids.combine_chunks()):
            raise RuntimeError(f"{table}'s rows are not the pair index's, in its order")
        rows = np.arange(self.size, dtype=_ROW)
        for k in rules:
            values, present = _column(got, f"l{k}")
            self._keys[k] = _Keys(values[present], rows[present])

    def add(self, batch: str) -> pa.Table:
        """Hold ``batch``'s rows (appended to the held table in the same order), and return the
        candidate pairs of everything held x the batch: ``match_key`` (the smallest rule that
        pairs them, as text), ``join_key_l`` and ``join_key_r`` (unique ids),
        ``lantern_name_l`` and ``lantern_name_r`` (name ids)."""
        got = self._select(batch, right=True)
        base = self.size
        ids = np.asarray(got["unique_id"], dtype=object)
        n = len(ids)
        rows = np.arange(base, base + n, dtype=_ROW)
        probes = []
        for k in range(len(self.rules)):
            hashes, present = _column(got, f"l{k}")
            self._keys[k].add(hashes[present], rows[present])
            if self._right[k] != self._left[k]:
                hashes, present = _column(got, f"r{k}")
            probes.append((hashes, present))
        chunks = [*self._ids.chunks, pa.array(ids, pa.string())]
        # Gathering from many chunks costs more than from few: now and then, one.
        self._ids = pa.chunked_array(chunks if len(chunks) < 32 else [pa.concat_arrays(chunks)])
        names = self._name_ids(got)
        self._names = np.concatenate([self._names, names])
        null = {c: np.asarray(got[f"null_{c}"], dtype=bool) for c in self._missing}
        for c in self._missing:
            self._null[c] = np.concatenate([self._null[c], null[c]])
        self.size = base + n
        return self._pairs(probes, base, ids, names, null)

    def _pairs(
        self,
        probes: list[tuple[_Array, _Array]],
        base: int,
        ids: _Array,
        names: _Array,
        null: dict[str, _Array],
    ) -> pa.Table:
        # A batch's ids as ranks (equal ids one rank): the joins' pairs are of ids, so two rows
        # of one id are one side, and "the larger id on the left" compares them as text.
        distinct, rank = np.unique(ids, return_inverse=True) if len(ids) else (ids, np.empty(0, np.int64))
        rank = np.asarray(rank, dtype=np.int64).ravel()
        lefts, rights, rules = [], [], []
        for k, (hashes, present) in enumerate(probes):
            batch_rows = np.flatnonzero(present)
            which, held = self._keys[k].find(hashes[batch_rows])
            right = batch_rows[which]
            missing = self.rules[k].missing
            if missing:
                keep = self._null[missing][held] | null[missing][right]
                held, right = held[keep], right[keep]
            lefts.append(held)
            rights.append(right)
            rules.append(np.full(len(held), k, dtype=np.int64))
        held, right, rule = np.concatenate(lefts), np.concatenate(rights), np.concatenate(rules)
        mine = held >= base
        # Left side as a code: a held row's position, or past them a batch id's rank.
        left = np.where(mine, base + rank[np.where(mine, held - base, 0)], held)
        right_rank = rank[right]
        keep = ~(mine & (left - base >= right_rank))
        left, right_rank, rule, held = left[keep], right_rank[keep], rule[keep], held[keep]
        code = left * max(len(distinct), 1) + right_rank
        order = np.lexsort((rule, code))
        code = code[order]
        first = np.ones(len(code), dtype=bool)
        first[1:] = code[1:] != code[:-1]
        pick = order[first]
        held, right_rank, rule = held[pick], right_rank[pick], rule[pick]
        # One row of each batch id, for its id and name id.
        row_of_rank = np.empty(len(distinct), dtype=np.int64)
        row_of_rank[rank[::-1]] = np.arange(len(rank))[::-1]
        names_l = self._names[held]
        names_r = names[row_of_rank[right_rank]]
        return pa.table(
            {
                "match_key": self._labels.take(rule),
                "join_key_l": self._ids.take(held),
                "join_key_r": pa.array(distinct, pa.string()).take(right_rank),
                "lantern_name_l": pa.array(names_l, pa.int32(), mask=names_l < 0),
                "lantern_name_r": pa.array(names_r, pa.int32(), mask=names_r < 0),
            }
        )


class PairValues:
    """Values kept per pair of ids (int64 codes), looked up many at a time (``_Runs``)."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._runs = _Runs(np.empty(0, np.int64), np.empty((0, width), np.int32))

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, codes: _Array) -> tuple[_Array, _Array]:
        """The values of ``codes``, and which of them are kept (rows of the others are 0)."""
        values = np.zeros((len(codes), self.width), np.int32)
        found = np.zeros(len(codes), dtype=bool)
        for kept, rows in self._runs:
            if not len(kept):
                continue
            at = np.minimum(np.searchsorted(kept, codes), len(kept) - 1)
            hit = kept[at] == codes
            values[hit] = rows[at[hit]]
            found |= hit
        return values, found

    def add(self, codes: _Array, values: _Array) -> None:
        """Keep ``values`` of ``codes`` (distinct, none kept yet)."""
        self._runs.add(codes, np.asarray(values, np.int32))
