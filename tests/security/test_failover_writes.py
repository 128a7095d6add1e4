"""The writes a portal request makes on its way survive a node failover (tests/cluster's
``test_clients_keep_working_when_one_host_goes_away`` once got a 503 right after a node stop):
they wait long enough for a new primary, a retried audit append that had landed is not
appended twice, and a session's last_seen that cannot be written does not refuse the request."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from opensearchpy import NotFoundError, OpenSearch

from lantern.audit import AuditLog
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


class _AnswerLost:
    """The OpenSearch client as the audit writer sees it when a node leaves mid-request: the
    armed ``bulk`` call (the event and its disclosures) reaches the engine, its answer is
    lost, and the transport sends the same request again (to another host). Everything else
    is the real client."""

    def __init__(self, client: OpenSearch) -> None:
        self._client = client
        self.armed = False
        self.sent = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def bulk(self, **kwargs: Any) -> Any:
        if self.armed:
            self.armed = False
            self.sent += 1
            self._client.bulk(**kwargs)  # landed; the answer never came back
        self.sent += 1
        return self._client.bulk(**kwargs)


def test_a_retried_audit_append_that_had_landed_is_not_appended_twice(
    client: OpenSearch, own: Settings
) -> None:
    lossy = _AnswerLost(client)
    log = AuditLog(cast(OpenSearch, lossy), own)
    who = Principal("u1", "User One", frozenset({"officer"}))
    first = log.record(None, "search", details={"query": "one"}, principal=who)
    # The real append of seq 2 (hash chained, MAC'd with the audit key) lands, its answer is
    # lost, and the retry meets its own event under seq 2 (a 409 from op_type=create).
    lossy.armed = True
    second = log.record(None, "search", details={"query": "two", "shown_ids": ["r1"]}, principal=who)
    assert lossy.sent >= 3, "the retry was not sent"
    assert second["seq"] == 2 and second["prev_hash"] == first["hash"] and second["mac"]
    assert client.get(index=log.index, id="2")["_source"] == second
    with pytest.raises(NotFoundError):
        client.get(index=log.index, id="3")
    # A different event under the next seq is still chained after, not overwritten.
    third = log.record(None, "search", details={"query": "three"}, principal=who)
    assert third["seq"] == 3 and third["prev_hash"] == second["hash"]
    log.refresh()
    result = log.verify()
    assert result.ok and result.last_seq == 3, result.problem
    # Its disclosure too was created once (the retry's 409 is success), bound to the event.
    assert [(w["user"], w["count"]) for w in log.disclosures.who_saw(["r1"])] == [("u1", 1)]
    assert result.orphans == []


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
