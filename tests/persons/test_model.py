"""The model file: training is reproducible and the committed model is complete."""

from __future__ import annotations

import pytest

from demo.persons import generate
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
