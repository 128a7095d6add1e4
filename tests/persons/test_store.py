"""The persons store on the real OpenSearch node: documents, decisions, incremental writes."""

from __future__ import annotations

from datetime import date

import pytest
from opensearchpy import OpenSearch
from opensearchpy.exceptions import RequestError

from demo.persons import generate
from lantern import indices
from lantern.settings import Settings
from mappings import persons as P
from persons import store
from persons.features import Mention
from persons.resolver import Decision
from tests.persons.test_resolver import CASES, PNC_SHORT, M


@pytest.fixture()
def own(settings: Settings) -> Settings:
    """A prefix per test: each test owns its persons and decisions indices."""
    import uuid

    return settings.model_copy(update={"index_prefix": f"{settings.index_prefix}p{uuid.uuid4().hex[:6]}-"})


@pytest.fixture(scope="module")
def background() -> list[Mention]:
    return [x.mention for x in generate(2000, seed=12)]


def _nominal_of(client: OpenSearch, settings: Settings) -> dict[str, str]:
    return store.load_state(client, settings).nominal_of


def test_rebuild_writes_one_document_per_nominal_with_explained_links(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    res = store.rebuild(client, own, background + CASES)
    doc = store.get_nominal(client, own, res.nominal_of["pw1"])
    assert doc is not None
    assert set(doc[P.RECORD_IDS]) == {"rec-pw1", "rec-pw2", "rec-pw3"}
    assert {"Paweł Wiśniewski", "Pawel Wisniewski"} <= set(doc[P.NAMES])
    assert set(doc[P.DOBS]) == {"1984-03-07", "1984-07-03"}
    assert len(doc[P.PNC_IDS]) == 1  # long and short forms are one identifier
    linked = [m for m in doc[P.MENTIONS] if m.get(P.M_PROBABILITY)]
    assert linked and all(m[P.M_REASONS] for m in linked)
    assert any("PNC ID agrees" in m[P.M_REASONS] for m in linked)
    assert all(set(m[P.M_WEIGHTS]) <= set(P.WEIGHT_FIELDS) for m in linked)
    count = client.count(index=indices.read_alias(own, P))["count"]
    assert count == len(set(res.nominal_of.values()))
    # The mention -> nominal lookup that records use.
    assert store.nominal_of_mentions(client, own, ["pw2", "so1"]) == {
        "pw2": res.nominal_of["pw2"],
        "so1": res.nominal_of["so1"],
    }


def test_persons_mapping_is_strict(client: OpenSearch, own: Settings) -> None:
    store.ensure(client, own)
    with pytest.raises(RequestError):
        client.index(index=indices.writer_target(own, P), body={P.ID: "x", "nickname": "Bob"})


def test_decisions_are_stored_and_survive_every_rebuild(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    first = store.rebuild(client, own, background + CASES)
    assert first.nominal_of["pw1"] == first.nominal_of["pw2"]
    with pytest.raises(PermissionError):
        store.add_decision(
            client,
            own,
            Decision("pw1", "pw2", False, "no", "bob"),
            record_a="rec-pw1",
            record_b="rec-pw2",
            by_role="viewer",
        )
    store.add_decision(
        client,
        own,
        Decision("pw1", "pw2", False, "different tattoos on custody photos", "ana"),
        record_a="rec-pw1",
        record_b="rec-pw2",
        by_role="analyst",
    )
    second = store.rebuild(client, own, background + CASES)
    assert second.nominal_of["pw1"] != second.nominal_of["pw2"]
    third = store.rebuild(client, own, background + CASES)
    assert third.nominal_of == second.nominal_of
    doc = store.get_nominal(client, own, second.nominal_of["pw2"])
    assert doc is not None
    assert any(m[P.M_DECIDED] for m in doc[P.MENTIONS] if m[P.M_ID] == "pw2")
    # Untouched nominals kept their ids through both rebuilds.
    assert all(third.nominal_of[m] == first.nominal_of[m] for m in first.nominal_of if not m.startswith("pw"))


def test_incremental_load_resolves_against_stored_nominals_and_reload_changes_nothing(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    base = [c for c in CASES if c.mention_id != "pw3"]
    first = store.rebuild(client, own, background + base)
    inc = store.IncrementalResolver(client, own)
    out = inc.resolve([M("pw9", "Pawel", "Wisniewski", date(1984, 3, 7), pnc_id=PNC_SHORT)], refresh=True)
    assert out["pw9"] == first.nominal_of["pw1"]
    doc = store.get_nominal(client, own, first.nominal_of["pw1"])
    assert doc is not None and "rec-pw9" in doc[P.RECORD_IDS]
    # A second process sees the same state; reloading unchanged mentions changes no id.
    before = _nominal_of(client, own)
    again = store.IncrementalResolver(client, own).resolve(background[:200] + base, refresh=True)
    assert all(again[m] == before[m] for m in again)
    assert _nominal_of(client, own) == before


def test_a_deleted_record_leaves_the_nominals_that_held_its_people(
    client: OpenSearch, own: Settings, background: list[Mention]
) -> None:
    res = store.rebuild(client, own, background + CASES, refresh=True)
    nid = res.nominal_of["pw1"]
    before = store.get_nominal(client, own, nid)
    assert before is not None and "rec-pw2" in before[P.RECORD_IDS]
    assert store.forget_record(client, own, "rec-pw2") == 1
    after = store.get_nominal(client, own, nid)
    assert after is not None
    assert "rec-pw2" not in after[P.RECORD_IDS]
    assert {m[P.M_ID] for m in after[P.MENTIONS]} == {m[P.M_ID] for m in before[P.MENTIONS]} - {"pw2"}
    assert all(m.get(P.M_LINKED_TO) != "pw2" for m in after[P.MENTIONS])
    assert after[P.MENTION_COUNT] == before[P.MENTION_COUNT] - 1
    # Resuming from the store (the next load) no longer holds the deleted person.
    assert "pw2" not in _nominal_of(client, own)
    # A nominal whose only record is deleted is gone.
    alone = next(n for n, ms in res.nominals().items() if len(ms) == 1)
    only = store.get_nominal(client, own, alone)
    assert only is not None
    assert store.forget_record(client, own, only[P.RECORD_IDS][0]) == 1
    assert store.get_nominal(client, own, alone) is None
    assert store.forget_record(client, own, "rec-never-indexed") == 0
