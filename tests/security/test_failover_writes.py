"""The writes a portal request makes on its way survive a node failover (tests/cluster's
``test_clients_keep_working_when_one_host_goes_away`` once got a 503 right after a node stop):
they wait long enough for a new primary, a retried audit append that had landed is not
appended twice, and a session's last_seen that cannot be written does not refuse the request."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from opensearchpy import NotFoundError, OpenSearch

from lantern.audit import AuditLog, event_hash
from lantern.clock import iso, utcnow
from lantern.principal import Principal
from lantern.search_client import request_write_params
from lantern.settings import Settings
from portal.security.sessions import SessionStore


@pytest.fixture
def own(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}fo{uuid.uuid4().hex[:6]}-",
            "audit_head_file": tmp_path / "head.log",
        }
    )


def test_request_writes_outlast_a_primary_promotion(settings: Settings) -> None:
    # The engine's own wait ends (503, nothing written) before the client would give up.
    s = settings.model_copy(update={"opensearch_timeout_serving": 5.0, "opensearch_timeout_write": 30.0})
    assert request_write_params(s) == {"request_timeout": 30.0, "timeout": "28s"}
    # Never shorter than the serving timeout.
    s = s.model_copy(update={"opensearch_timeout_serving": 60.0})
    assert request_write_params(s) == {"request_timeout": 60.0, "timeout": "58s"}


def test_a_retried_audit_append_that_had_landed_is_not_appended_twice(
    client: OpenSearch, own: Settings
) -> None:
    log = AuditLog(client, own)
    who = Principal("u1", "User One", frozenset({"officer"}))
    first = log.record(None, "search", details={"query": "one"}, principal=who)
    event = {k: v for k, v in first.items() if k not in ("seq", "prev_hash", "hash")}
    event["details"] = {"query": "two"}
    # The first attempt of seq 2 reached the engine, but its answer was lost (node left):
    landed = {**event, "seq": 2, "prev_hash": first["hash"]}
    landed["hash"] = event_hash(landed)
    client.index(index=log.write_index, id="2", body=landed, op_type="create", refresh=True)
    # ...so the retry meets its own event under seq 2.
    doc = log.append(event)
    assert doc["seq"] == 2 and doc["hash"] == landed["hash"]
    with pytest.raises(NotFoundError):
        client.get(index=log.index, id="3")
    # A different event under the next seq is still chained after, not overwritten.
    third = log.record(None, "search", details={"query": "three"}, principal=who)
    assert third["seq"] == 3 and third["prev_hash"] == landed["hash"]
    log.refresh()
    result = log.verify()
    assert result.ok and result.last_seq == 3, result.problem


def test_session_last_seen_that_cannot_be_written_does_not_refuse_the_request(
    client: OpenSearch, own: Settings
) -> None:
    store = SessionStore(client, own)
    token, sess = store.create("u1", client_addr="127.0.0.1", user_agent="pytest")
    stale = utcnow() - timedelta(minutes=5)
    client.update(index=store.write_index, id=sess.id, body={"doc": {"last_seen": iso(stale)}}, refresh=True)
    # The sessions index refuses writes (as a shard between primaries would).
    client.indices.put_settings(index=store.index, body={"index.blocks.write": True})
    try:
        loaded = store.load(token)
    finally:
        client.indices.put_settings(index=store.index, body={"index.blocks.write": False})
    assert loaded is not None and loaded.username == "u1"
    # Not written (the block held), and the next request moves it on.
    assert client.get(index=store.index, id=sess.id)["_source"]["last_seen"] == iso(stale)
    assert store.load(token) is not None
    assert client.get(index=store.index, id=sess.id)["_source"]["last_seen"] != iso(stale)
