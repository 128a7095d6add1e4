"""Person resolution at ingest: each record's people carry their nominal, kept current."""

from __future__ import annotations

import pytest
from opensearchpy import OpenSearch

from demo.persons import generate
from indexer.deletion import delete_record
from indexer.nominals import ingest_resolver, refresh_record_nominals
from indexer.pipeline import index_records
from lantern.records import parse_record
from lantern.settings import Settings
from mappings import fields as F
from persons import store
from persons.resolver import Decision
from tests.indexer.conftest import crime


def _people(client: OpenSearch, settings: Settings, record_id: str) -> dict[str, dict[str, str]]:
    alias = settings.index_name("records")
    client.indices.refresh(index=alias)
    doc = client.get(index=alias, id=record_id)["_source"]
    return {p[F.P_ROLE]: p for p in doc[F.PEOPLE]}


@pytest.mark.slow
def test_load_resolves_people_and_a_decision_plus_rebuild_moves_the_records(
    client: OpenSearch, isettings: Settings
) -> None:
    # A population first, so name frequencies mean something (as in a force's store).
    store.rebuild(client, isettings, [x.mention for x in generate(1500, seed=21)])
    resolver = ingest_resolver(client, isettings)
    one, two = parse_record(crime(1)), parse_record(crime(2, created_at="2024-05-01T10:00:00Z"))
    index_records([one], isettings, client, extract_entities=False, refresh=True, people_resolver=resolver)
    index_records([two], isettings, client, extract_entities=False, refresh=True, people_resolver=resolver)
    p1, p2 = _people(client, isettings, one.record_id), _people(client, isettings, two.record_id)
    for role in ("suspect", "victim"):
        assert p1[role][F.P_NOMINAL_ID] == p2[role][F.P_NOMINAL_ID]
        assert p1[role][F.P_MENTION_ID] != p2[role][F.P_MENTION_ID]
    assert p1["suspect"][F.P_NOMINAL_ID] != p1["victim"][F.P_NOMINAL_ID]
    nominal = store.get_nominal(client, isettings, p1["suspect"][F.P_NOMINAL_ID])
    assert nominal is not None and {one.record_id, two.record_id} <= set(nominal["record_ids"])

    # An analyst says the two suspects are different people; a rebuild moves one record.
    store.add_decision(
        client,
        isettings,
        Decision(
            p1["suspect"][F.P_MENTION_ID], p2["suspect"][F.P_MENTION_ID], False, "different people", "ana"
        ),
        record_a=one.record_id,
        record_b=two.record_id,
        by_role="analyst",
    )
    mentions = store.load_state(client, isettings).mentions
    res = store.rebuild(client, isettings, mentions)
    assert refresh_record_nominals(client, isettings, res.moved, refresh=True) >= 1
    q1, q2 = _people(client, isettings, one.record_id), _people(client, isettings, two.record_id)
    assert q1["suspect"][F.P_NOMINAL_ID] != q2["suspect"][F.P_NOMINAL_ID]
    assert q1["victim"][F.P_NOMINAL_ID] == q2["victim"][F.P_NOMINAL_ID] == p1["victim"][F.P_NOMINAL_ID]


def test_a_record_deleted_at_source_leaves_the_persons_index(client: OpenSearch, isettings: Settings) -> None:
    resolver = ingest_resolver(client, isettings)
    one, two = parse_record(crime(11)), parse_record(crime(12, created_at="2024-05-01T10:00:00Z"))
    index_records(
        [one, two], isettings, client, extract_entities=False, refresh=True, people_resolver=resolver
    )
    suspect = _people(client, isettings, one.record_id)["suspect"][F.P_NOMINAL_ID]
    held = store.get_nominal(client, isettings, suspect)
    assert held is not None and {one.record_id, two.record_id} <= set(held["record_ids"])

    delete_record(client, isettings, one.source_system, one.source_id, reason="expunged", by="test")
    after = store.get_nominal(client, isettings, suspect)
    assert after is not None
    assert one.record_id not in after["record_ids"] and two.record_id in after["record_ids"]
    assert all(m["record_id"] != one.record_id for m in after["mentions"])
