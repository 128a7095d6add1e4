"""The audit hash chain: verification catches edits, deletions, reordering, insertion and tail
truncation; appends stay linear under concurrency; writes fail closed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid

import pytest
from typer.testing import CliRunner

from lantern.audit import GENESIS, AuditLog, event_hash, is_self_search
from lantern.audit_anchor import event_mac_input, rotate_keys
from lantern.errors import AuditUnavailable
from lantern.principal import Principal
from lantern.search_client import make_client


@pytest.fixture
def chain(settings, client, tmp_path):
    """A private audit index and head file, so tampering never touches other tests' chain."""
    s = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}chain{uuid.uuid4().hex[:6]}-",
            "audit_head_file": tmp_path / "head.log",
            # Its own key: rotation in one test must not touch the others' chains.
            "audit_key_file": tmp_path / "keys.json",
        }
    )
    log = AuditLog(client, s)
    for i in range(6):
        log.record(
            None,
            "search",
            details={"query": f"query {i}", "shown_ids": [f"r{i}"]},
            principal=Principal("u1", "User One", frozenset({"officer"})),
        )
    log.refresh()
    return log


def _doc(log: AuditLog, seq: int) -> dict:
    return log.client.get(index=log.index, id=str(seq))["_source"]


def _put(log: AuditLog, seq: int, body: dict) -> None:
    """Rewrite event ``seq`` as an OpenSearch admin can: the audit index's guard pipeline
    refuses overwrites, but the admin may delete a document and create it again."""
    log.client.delete(index=log.write_index, id=str(seq), refresh=True, ignore=[404])
    log.client.index(index=log.write_index, id=str(seq), body=body, op_type="create", refresh=True)


def test_intact_chain_verifies(chain):
    result = chain.verify()
    assert result.ok, result.problem
    assert result.checked == 6 and result.last_seq == 6
    first = _doc(chain, 1)
    assert first["prev_hash"] == GENESIS
    assert _doc(chain, 2)["prev_hash"] == first["hash"] == event_hash(first)


def test_edited_event_detected(chain):
    ev = _doc(chain, 3)
    ev["query"] = "something innocent"
    _put(chain, 3, ev)
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "altered" in result.problem


def _rechain_from(chain: AuditLog, start: int, edit: dict, mac_key: bytes | None = None) -> None:
    """A forger with write access to OpenSearch rewrites event ``start`` and re-chains every
    later event with recomputed (unkeyed) hashes, so the hash chain alone is consistent."""
    prev = _doc(chain, start - 1)["hash"]
    for seq in range(start, 7):
        ev = _doc(chain, seq)
        if seq == start:
            ev.update(edit)
        ev["prev_hash"] = prev
        ev["hash"] = event_hash(ev)
        if mac_key is not None:
            ev["mac"] = hmac.new(mac_key, event_mac_input(ev).encode(), hashlib.sha256).hexdigest()
        prev = ev["hash"]
        _put(chain, seq, ev)


def test_forged_event_with_recomputed_unkeyed_hash_detected(chain):
    _rechain_from(chain, 3, {"user": "someone-else"})
    assert all(event_hash(_doc(chain, s)) == _doc(chain, s)["hash"] for s in range(1, 7))
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "MAC" in result.problem


def test_forger_with_a_key_of_their_own_detected(chain):
    _rechain_from(chain, 3, {"user": "someone-else"}, mac_key=b"o" * 32)
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 3 and "MAC" in result.problem


def test_deleted_anchor_detected(chain):
    assert chain.head_file.is_absolute()
    chain.head_file.unlink()
    result = chain.verify()
    assert not result.ok and "anchor" in result.problem and "missing" in result.problem


def test_edited_checkpoint_detected(chain):
    lines = chain.head_file.read_text().splitlines()
    cp = json.loads(lines[2])
    cp["mac"] = _doc(chain, 4)["mac"]
    lines[2] = json.dumps(cp)
    chain.head_file.write_text("\n".join(lines) + "\n")
    result = chain.verify()
    assert not result.ok and "bad signature" in result.problem


def test_anchor_behind_reports_uncovered_events(chain):
    lines = chain.head_file.read_text().splitlines()
    chain.head_file.write_text("\n".join(lines[:4]) + "\n")
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 5
    assert "5..6 are not covered" in result.problem


def test_key_rotation_keeps_old_events_verifiable(chain):
    rotate_keys(chain.settings.audit_key_file)
    rotated = AuditLog(chain.client, chain.settings)
    event = rotated.record(None, "search", details={"query": "after rotation"})
    assert event["key_id"] != _doc(chain, 1)["key_id"]
    rotated.refresh()
    result = rotated.verify()
    assert result.ok, result.problem
    assert result.last_seq == 7


def test_deleted_event_detected(chain):
    chain.client.delete(index=chain.write_index, id="4", refresh=True)
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 4
    assert "removed" in result.problem


def test_reordered_events_detected(chain):
    three, four = _doc(chain, 3), _doc(chain, 4)
    # Swap the events but keep each slot's seq: content and order no longer match the hashes.
    three["seq"], four["seq"] = 4, 3
    _put(chain, 3, four)
    _put(chain, 4, three)
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 3


def test_reordered_events_whole_documents_detected(chain):
    three, four = _doc(chain, 3), _doc(chain, 4)
    _put(chain, 3, four)  # seq fields travel with the documents
    _put(chain, 4, three)
    result = chain.verify()
    assert not result.ok and result.first_bad_seq == 3


def test_inserted_event_detected(chain):
    extra = dict(_doc(chain, 2))
    extra["query"] = "inserted"
    chain.client.index(index=chain.write_index, id="2b", body=extra, op_type="create", refresh=True)
    result = chain.verify()
    assert not result.ok and result.first_bad_seq in (2, 3)


def test_truncated_tail_detected(chain):
    chain.client.delete(index=chain.write_index, id="6", refresh=True)
    chain.client.delete(index=chain.write_index, id="5", refresh=True)
    result = chain.verify()
    assert not result.ok
    assert "tail truncated" in result.problem and result.last_seq == 4


def test_concurrent_writers_keep_the_chain_linear(chain, client):
    # Two AuditLog objects stand for two portal processes (separate locks and head caches).
    other = AuditLog(make_client(chain.settings, "serving"), chain.settings)
    errors: list[Exception] = []

    def write(log: AuditLog, n: int) -> None:
        try:
            for i in range(n):
                log.record(None, "record.view", target={"id": f"rec-{i}"})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(log, 10)) for log in (chain, other, chain, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    result = chain.verify()
    assert result.ok, result.problem
    assert result.last_seq == 6 + 40


def test_writer_far_behind_the_head_still_appends(chain):
    """A portal process whose cached head is stale by more than its retry budget (other
    processes wrote 120 events since) finds the head again instead of failing closed."""
    other = AuditLog(chain.client, chain.settings)
    for i in range(120):
        other.record(None, "record.view", target={"id": f"rec-{i}"})
    event = chain.record(None, "search", details={"query": "late"})
    assert event["seq"] == 6 + 120 + 1
    result = chain.verify()
    assert result.ok, result.problem


def test_fail_closed_when_unreachable(settings, tmp_path):
    dead = settings.model_copy(
        update={"opensearch_hosts": ["http://127.0.0.1:9"], "audit_head_file": tmp_path / "h.log"}
    )
    log = AuditLog(make_client(dead, "serving"), dead)
    with pytest.raises(AuditUnavailable):
        log.record(None, "search", details={"query": "x"})
    assert not (tmp_path / "h.log").exists()


def test_cli_verify_exit_codes(chain, monkeypatch):
    from lantern.cli import app
    from lantern.settings import get_settings
    from portal.cli import register

    register(app)
    s = chain.settings
    monkeypatch.setenv("LANTERN_INDEX_PREFIX", s.index_prefix)
    monkeypatch.setenv("LANTERN_AUDIT_HEAD_FILE", str(s.audit_head_file))
    monkeypatch.setenv("LANTERN_AUDIT_KEY_FILE", str(s.audit_key_file))
    monkeypatch.setenv("LANTERN_EMBEDDED_PORT", str(s.embedded_port))
    monkeypatch.setenv("LANTERN_EMBEDDED_HOME", str(s.embedded_home))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(app, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        chain.client.delete(index=chain.write_index, id="2", refresh=True)
        bad = runner.invoke(app, ["audit", "verify"])
        assert bad.exit_code == 1
        assert "removed" in bad.output
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize(
    "query,name,expected",
    [
        ("olivia okafor", "Olivia Okafor", True),
        ("OKAFOR Olivia", "Olivia Okafor", True),
        ("Olivia Okafur", "Olivia Okafor", True),  # sound-alike
        ("bill smyth", "William Smith", True),  # nickname + spelling
        ("okafor", "Olivia Okafor", False),  # a surname alone is not enough
        ("john okafor", "Olivia Okafor", False),
        ("AB12 CDE", "Olivia Okafor", False),
    ],
)
def test_self_search_detection(query, name, expected):
    assert is_self_search(query, name) is expected
