"""The model file: training is reproducible and the committed model is complete."""

from __future__ import annotations

import pytest

from demo.persons import generate
from entity_extraction import names as nk
from persons import model as pm
from persons.features import feature_table


def _params(model: dict) -> list[tuple[str, str, float | None, float | None]]:
    return [
        (c["output_column_name"], lv["label_for_charts"], lv.get("m_probability"), lv.get("u_probability"))
        for c in model["comparisons"]
        for lv in c["comparison_levels"]
        if not lv.get("is_null_level")
    ]


@pytest.mark.slow
def test_training_twice_on_the_same_data_gives_the_same_model() -> None:
    table = feature_table([x.mention for x in generate(4000, seed=31)])
    one = pm.train(table, max_pairs=2e5)
    two = pm.train(table, max_pairs=2e5)
    assert _params(one) == _params(two)
    assert one["probability_two_random_records_match"] == two["probability_two_random_records_match"]


def test_committed_model_is_fully_trained_and_has_a_threshold() -> None:
    model = pm.load_model()
    meta = pm.lantern_meta(model)
    assert 0.5 <= meta["threshold"] < 1 and meta["version"] == pm.MODEL_VERSION
    for comp, label, m, u in _params(model):
        assert m is not None and u is not None, (comp, label)
        assert 0 < m <= 1 and 0 < u <= 1, (comp, label)
    weights = {(c, label): m / u for c, label, m, u in _params(model)}  # type: ignore[operator]
    # The evidence runs the right way: agreement for, disagreement against.
    assert weights[("pnc", "PNC ID agrees")] > 1000
    assert weights[("pnc", "PNC IDs differ")] < 0.01
    assert weights[("dob", "DOB agrees")] > weights[("dob", "DOB has day and month swapped")] > 1
    assert weights[("forename", "forename disagrees")] < 0.1


def _sql_level(condition: str, rows: list[dict[str, object]]) -> list[bool]:
    """Evaluate one comparison level's SQL on DuckDB, as Splink does, for (l, r) rows."""
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.register("pairs", pa.Table.from_pylist(rows))
    out = [bool(r[0]) for r in con.execute(f"SELECT coalesce({condition}, false) FROM pairs").fetchall()]
    con.close()
    return out


def test_the_short_form_level_agrees_with_the_python_rule() -> None:
    from persons.features import is_short_form

    names = [
        ("abdi", "abdirahman"),
        ("adenike", "nike"),
        ("jo", "joanna"),
        ("daniel", "daniela"),
        ("abdi", "ahmed"),
    ]
    got = _sql_level(pm.SHORT_FORM, [{"forename_l": a, "forename_r": b} for a, b in names])
    assert got == [is_short_form(a, b) for a, b in names] == [True, True, False, False, False]


def test_names_swapped_with_a_slip_or_a_sound_alike_meet_the_swap_level() -> None:
    def row(fl: str, sl: str, fr: str, sr: str) -> dict[str, object]:
        feats: dict[str, object] = {}
        for side, f, s in (("l", fl, sl), ("r", fr, sr)):
            feats[f"forename_{side}"] = f
            feats[f"surname_{side}"] = s
            feats[f"forename_phon_{side}"] = sorted(nk.phonetic_keys(f))
            feats[f"surname_phon_{side}"] = sorted(nk.phonetic_keys(s))
        return feats

    rows = [
        row("baliey", "emma", "emma", "bailey"),  # a slip in one half
        row("warsame", "muhammad", "mohamed", "warsame"),  # a transliteration in one half
        row("emma", "bailey", "emma", "bailey"),  # not swapped
        row("jones", "emma", "emma", "smith"),  # one half only
    ]
    assert _sql_level(pm.SWAPPED_ALIKE, rows) == [True, True, False, False]


def test_the_committed_model_blocks_with_the_rules_in_the_code() -> None:
    # The model file carries its own copy of the rules (Splink settings): a rule changed in
    # model.py and not in the file would never run.
    rules = [r["blocking_rule"] for r in pm.load_model()["blocking_rules_to_generate_predictions"]]
    assert rules == pm.BLOCKING_RULES


def test_every_comparison_of_the_model_has_a_weight_field_in_the_persons_index() -> None:
    # The person page's waterfall reads the stored weights: a comparison the mapping lacks
    # would be dropped from it silently (the store keeps only the mapped fields).
    from mappings import persons as P

    names = {c["output_column_name"] for c in pm.comparisons()}
    assert names == set(P.WEIGHT_FIELDS)


def test_a_slip_in_a_short_name_meets_the_one_letter_level() -> None:
    # Jaro-Winkler puts "Daly" / "Daiy" at 0.83, under the slip level: one edit catches it.
    levels = {
        lv["label_for_charts"]: lv["sql_condition"] for c in pm.comparisons() for lv in c["comparison_levels"]
    }
    pairs = [("daly", "daiy"), ("paul", "poul"), ("john", "jhn"), ("daly", "dale"), ("daly", "davies")]
    rows: list[dict[str, object]] = [
        {"surname_l": a, "surname_r": b, "forename_l": a, "forename_r": b} for a, b in pairs
    ]
    expected = [True, True, True, True, False]
    assert _sql_level(levels["surname is one letter off"], rows) == expected
    assert _sql_level(levels["forename is one letter off"], rows) == expected
