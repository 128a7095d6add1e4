"""The pair index (persons.candidates) gives a batch the candidate pairs the SQL joins give."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pyarrow as pa
import pytest

from demo.generator import sample_records
from demo.persons import generate
from persons import blocking
from persons.candidates import PairIndex, PairValues
from persons.features import Mention, mentions_from_record
from persons.resolver import Resolver
from tests.persons.test_blocking import CROWD, CUSTODY_PHONE, SMITHS
from tests.persons.test_resolver import M

Row = tuple[str, str, str, int | None, int | None]


def _rows(table: pa.Table) -> list[Row]:
    cols = [table.column(c).to_pylist() for c in ("match_key", "join_key_l", "join_key_r")]
    names = [table.column(c).to_pylist() for c in ("lantern_name_l", "lantern_name_r")]
    return sorted(zip(*cols, *names, strict=True))


def _compare(
    monkeypatch: pytest.MonkeyPatch, cap: int, held: list[Mention], batches: list[list[Mention]]
) -> tuple[list[tuple[list[Row], list[Row]]], list[list[int]]]:
    """Resolve ``batches`` against ``held``; per batch, the pairs from the index and those of
    the rules' SQL joins over the same tables at that moment; and the rules refreshed."""
    compared: list[tuple[list[Row], list[Row]]] = []
    refreshed: list[list[int]] = []
    score = Resolver._score_batch
    refresh = PairIndex.refresh

    def spy_score(self: Resolver, blocked: pa.Table | None = None) -> Any:
        assert blocked is not None
        assert self._batch_sql is not None
        joined = self.con.sql(f"SELECT * FROM ({self._batch_sql[0]})").to_arrow_table()
        compared.append((_rows(blocked), _rows(joined)))
        return score(self, blocked)

    def spy_refresh(self: PairIndex, table: str, rules: Sequence[int]) -> None:
        refreshed.append(list(rules))
        refresh(self, table, rules)

    monkeypatch.setattr(Resolver, "_score_batch", spy_score)
    monkeypatch.setattr(PairIndex, "refresh", spy_refresh)
    r = Resolver(block_cap=cap)
    r.rebuild(held)
    r.prepare()
    for batch in batches:
        r.resolve_new(batch)
    assert len(compared) == len(batches)
    return compared, refreshed


def test_batch_by_batch_the_index_pairs_are_the_joins_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every batch (demo records' people against held synthetic people): the same pairs, each
    with the same smallest rule and the same name ids, as the rules' SQL joins."""
    # Forename and surname keyed into each other's boxes (the crosswise rules' pairs).
    swapped = [
        M("sw1", "Aoife", "Brennan", date(1988, 3, 14)),
        M("sw2", "Brennan", "Aoife", date(1988, 3, 14)),
        M("sw3", "Brennan", "Aoife", date(1988, 4, 14)),
    ]
    records = sample_records(300, seed=9)
    batches = [
        [m for rec in records[start : start + 100] for m in mentions_from_record(rec)]
        for start in range(0, 300, 100)
    ]
    batches[0] += swapped[1:]
    compared, _ = _compare(
        monkeypatch, 4, [*(p.mention for p in generate(1500, seed=7)), swapped[0]], batches
    )
    for from_index, from_joins in compared:
        assert from_index == from_joins
        assert from_joins
    # The pairs came through rules of every kind: capped, as written, crosswise, and with a DOB
    # missing on one side.
    keys = {int(row[0]) for _i, joined in compared for row in joined}
    kinds = {
        "capped": {k for k, rule in enumerate(blocking.RULES) if rule.is_capped and not rule.missing},
        "as written": {k for k, rule in enumerate(blocking.RULES) if rule.keys and not rule.capped},
        "crosswise": {k for k, rule in enumerate(blocking.RULES) if rule.cross},
        "DOB missing": {k for k, rule in enumerate(blocking.RULES) if rule.missing},
    }
    assert all(keys & ks for ks in kinds.values()), {kind: sorted(keys & ks) for kind, ks in kinds.items()}


def test_held_rows_of_a_block_a_batch_crowds_are_paired_by_their_new_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch that crowds a block splits it for its held rows too (``blocking.Incremental``):
    the index reads their values again, so a later batch's mention of a kept sub-block is
    paired with the held ones in it, as the joins pair them."""
    # The custody phone's block holds three people (the cap), then a batch crowds it: it is
    # split by surname, for the held Smith too.
    held = [SMITHS[0], CROWD[0], CROWD[1]]
    later_smith = M("s9", "Ian", "Smith", date(1975, 6, 7), phones=(CUSTODY_PHONE,))
    compared, refreshed = _compare(monkeypatch, 3, held, [CROWD[2:4], [later_smith]])
    assert [from_index for from_index, _j in compared] == [from_joins for _i, from_joins in compared]
    assert any(refreshed)
    # Only the Smiths' sub-block of the phone's block pairs the two Smiths.
    phone_rule = str(next(k for k, rule in enumerate(blocking.RULES) if rule.keys == ("phone_key",)))
    assert [row[:3] for row in compared[1][1] if row[1] == SMITHS[0].mention_id] == [
        (phone_rule, SMITHS[0].mention_id, "s9")
    ]


def test_a_model_blocked_by_other_rules_is_blocked_by_sql_joins() -> None:
    r = Resolver()
    assert r._index_rules is blocking.RULES
    model = dict(r.model)
    rules = list(model["blocking_rules_to_generate_predictions"])
    model["blocking_rules_to_generate_predictions"] = [*rules, {"blocking_rule": 'l."pnc" = r."cro"'}]
    other = Resolver(model)
    assert other._index_rules is None
    assert other._held_index() is None


def test_name_levels_kept_across_batches_score_as_evaluating_them_in_each_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The name comparisons' levels kept per pair of name ids (``Resolver._levels_of``) give
    every batch the nominals, links, probabilities and waterfalls that evaluating them in
    the batch's scoring statement gives; and later batches do find pairs met before."""
    found: list[int] = []
    get = PairValues.get

    def spy_get(self: PairValues, codes: Any) -> Any:
        values, hit = get(self, codes)
        found.append(int(hit.sum()))
        return values, hit

    monkeypatch.setattr(PairValues, "get", spy_get)
    held = [p.mention for p in generate(1500, seed=11)]
    records = sample_records(300, seed=12)
    kept, each = Resolver(), Resolver()
    for r in (kept, each):
        r.rebuild(held)
        r.prepare()
    assert kept._levels_sql is not None
    each._levels_sql = None
    for start in range(0, len(records), 100):
        batch = [m for rec in records[start : start + 100] for m in mentions_from_record(rec)]
        assert kept.resolve_new(batch) == each.resolve_new(batch)
        assert (kept.last_changed, kept.last_moved) == (each.last_changed, each.last_moved)
    assert kept.links == each.links
    assert kept.more_links == each.more_links
    assert len(kept._name_levels) > 0
    assert any(found[2:])


def test_the_index_refuses_a_table_whose_rows_are_not_the_ones_it_numbered() -> None:
    r = Resolver()
    r.rebuild([p.mention for p in generate(200, seed=3)])
    index = r._held_index()
    assert index is not None
    index.refresh("mentions", [0])
    r.con.execute("DELETE FROM mentions WHERE unique_id = (SELECT min(unique_id) FROM mentions)")
    with pytest.raises(RuntimeError, match="not the pair index's"):
        index.refresh("mentions", [0])
