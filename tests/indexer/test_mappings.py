"""The records mapping against mappings.fields, and what the real node makes of it."""

from __future__ import annotations

from typing import Any

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from lantern import indices
from lantern.settings import Settings
from mappings import fields as F
from mappings import records


def _leaves(props: dict[str, Any], prefix: str = "") -> set[str]:
    """Mapped leaf paths; multi-fields (``title.keyword``) belong to their parent."""
    out: set[str] = set()
    for name, spec in props.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            out |= _leaves(spec["properties"], f"{path}.")
        else:
            out.add(path)
    return out


def _constant_paths() -> set[str]:
    paths: set[str] = set()
    for const, value in vars(F).items():
        if not const.isupper() or not isinstance(value, str):
            continue
        if const.startswith("P_"):
            paths.add(F.people(value))
        elif const.startswith("D_"):
            paths.add(F.document(value))
        elif const in {"PEOPLE", "ENTITIES", "DOCUMENT"}:
            continue  # containers: their children are checked
        else:
            paths.add(value)
    paths |= {F.entity(label) for label in F.ENTITY_LABELS}
    return paths


def test_every_constant_is_mapped_and_every_leaf_has_a_constant() -> None:
    leaves = _leaves(records.mappings()["properties"])
    constants = _constant_paths()
    assert constants - leaves == set(), "constants without a mapping"
    assert leaves - constants == set(), "mapped fields without a constant"


def test_mapping_is_strict_at_every_object_level() -> None:
    m = records.mappings()
    assert m["dynamic"] == "strict"
    assert m["properties"][F.PEOPLE]["dynamic"] == "strict"
    assert m["properties"][F.ENTITIES]["dynamic"] == "strict"
    assert m["properties"][F.DOCUMENT]["dynamic"] == "strict"


@pytest.fixture(scope="module")
def records_index(client: OpenSearch, settings: Settings) -> str:
    indices.ensure(client, settings, records)
    return indices.writer_target(settings, records)


@pytest.mark.parametrize(
    "doc",
    [
        {"not_a_field": "x"},
        {F.PEOPLE: [{F.P_SURNAME: "Smith", "shoe_size": 9}]},
        {F.ENTITIES: {"spaceship": ["X"]}},
    ],
)
def test_unknown_field_is_rejected_by_opensearch(client: OpenSearch, records_index: str, doc: dict) -> None:
    with pytest.raises(RequestError) as err:
        client.index(index=records_index, body={F.ID: "strict-test", **doc})
    assert err.value.error == "strict_dynamic_mapping_exception"


@pytest.mark.parametrize(
    ("normalizer", "variants", "expected"),
    [
        ("lantern_identifier", ["ab12cde", "AB12 CDE", "ab-12.cde"], "AB12CDE"),
        ("lantern_identifier", ["qq 12 34 56 c", "QQ123456C"], "QQ123456C"),
        ("lantern_postcode", ["se17pb", "SE1 7PB", " se1   7pb"], "SE1 7PB"),
        ("lantern_postcode", ["m11ae"], "M1 1AE"),
        ("lantern_keyword", ["Zoë@Example.COM"], "zoe@example.com"),
    ],
)
def test_normalizers_on_the_real_node(
    client: OpenSearch,
    settings: Settings,
    records_index: str,
    normalizer: str,
    variants: list[str],
    expected: str,
) -> None:
    index = settings.index_name(records.NAME)
    for text in variants:
        tokens = client.indices.analyze(index=index, body={"normalizer": normalizer, "text": text})["tokens"]
        assert [t["token"] for t in tokens] == [expected]


def test_name_analyzer_folds_accents_and_apostrophes(
    client: OpenSearch, settings: Settings, records_index: str
) -> None:
    index = settings.index_name(records.NAME)
    tokens = client.indices.analyze(
        index=index, body={"analyzer": "lantern_name", "text": "Zoë O’Neill-Smith"}
    )["tokens"]
    assert [t["token"] for t in tokens] == ["zoe", "oneill", "smith"]


def test_discover_finds_records_and_ignores_helpers() -> None:
    found = indices.discover()
    assert found["records"] is records
    assert "fields" not in found and "analysis" not in found
