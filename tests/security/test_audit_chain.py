"""The audit hash chain: verification catches edits, deletions, reordering, insertion and tail
truncation; appends stay linear under concurrency; writes fail closed."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from lantern.audit import GENESIS, AuditLog, event_hash, is_self_search
from lantern.audit_anchor import event_mac_input, rotate_keys
from lantern.disclosures import disclosure_docs
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
        _force_orphan(chain, "rec-cli")
        ok = runner.invoke(app, ["audit", "verify"])
        assert ok.exit_code == 0, ok.output
        # Reported, not a broken chain (rich wraps the lines).
        said = " ".join(ok.output.split())
        assert "1 orphan disclosure(s)" in said and "lost the race for seq 8" in said
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


# ------------------------------------------------- disclosures bound to their event (one _bulk)


def _disclosures_of(log: AuditLog, rid: str) -> list[dict]:
    log.disclosures.refresh()
    hits = log.client.search(
        index=log.disclosures.index, body={"size": 100, "query": {"term": {"record_ids": rid}}}
    )["hits"]["hits"]
    return [h["_source"] for h in hits]


def _force_orphan(chain: AuditLog, rid: str) -> tuple[dict, dict]:
    """``chain`` (a process whose cached head is now stale) views ``rid`` after another
    process appended: its first try takes a seq already taken (409) after its disclosure was
    created in the same request. Returns (the other process's event, ``chain``'s event)."""
    chain.record(None, "search", details={"query": "warm the head cache"})
    other = AuditLog(make_client(chain.settings, "serving"), chain.settings)
    theirs = other.record(None, "search", details={"query": "taken first"})
    mine = chain.record(None, "record.view", target={"id": rid}, username="u2")
    assert mine["seq"] == theirs["seq"] + 1  # the retry chained onto the other's event
    return theirs, mine


def test_lost_race_disclosures_are_orphans_not_counted_and_reported(chain):
    rid = f"rec-{uuid.uuid4().hex[:8]}"
    theirs, mine = _force_orphan(chain, rid)
    docs = _disclosures_of(chain, rid)
    # Two documents: the losing try's (bound to a hash no event has) and the retry's.
    assert sorted(d["audit_seq"] for d in docs) == [theirs["seq"], mine["seq"]]
    assert {d["audit_hash"] for d in docs if d["audit_seq"] == mine["seq"]} == {mine["hash"]}
    seen = chain.disclosures.who_saw([rid])
    assert [(w["user"], w["count"], w["audit_seqs"]) for w in seen] == [("u2", 1, [mine["seq"]])]
    since = datetime.now(UTC) - timedelta(hours=1)
    assert chain.disclosures.count(user="u2", actions=["record.view"], since=since) == 1
    result = chain.verify()
    assert result.ok, result.problem
    assert [(o.audit_seq, o.documents, o.chain_hash) for o in result.orphans] == [
        (theirs["seq"], 1, theirs["hash"])
    ]
    assert "lost the race" in result.orphans[0].describe()


def test_concurrent_writers_count_each_disclosure_once(chain):
    """Two processes appending record views at once: whatever races they lost, "who looked at
    X" counts every view that is in the chain exactly once, and only those."""
    other = AuditLog(make_client(chain.settings, "serving"), chain.settings)
    rid = f"rec-{uuid.uuid4().hex[:8]}"
    written: list[dict] = []
    errors: list[Exception] = []

    def write(log: AuditLog, user: str) -> None:
        try:
            for _ in range(8):
                written.append(log.record(None, "record.view", target={"id": rid}, username=user))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(log, u)) for log, u in ((chain, "ua"), (other, "ub"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    seen = {w["user"]: w["count"] for w in chain.disclosures.who_saw([rid])}
    assert seen == {"ua": 8, "ub": 8}
    result = chain.verify()
    assert result.ok, result.problem
    # Every document not counted is reported as an orphan of a lost race.
    docs = _disclosures_of(chain, rid)
    assert len(docs) - 16 == sum(o.documents for o in result.orphans)
    assert all(o.chain_hash for o in result.orphans)


def test_event_and_disclosures_fail_closed_together(chain):
    """The disclosures index refuses writes (a write block) while the audit index takes the
    event: the action is refused though its event is in the chain, and the event is anchored
    (the chain verifies)."""
    chain.record(None, "record.view", target={"id": "warm"}, username="u3")  # index exists
    physical = chain.client.indices.get_alias(name=chain.disclosures.index)
    index = next(iter(physical))
    chain.client.indices.put_settings(index=index, body={"index.blocks.write": True})
    try:
        with pytest.raises(AuditUnavailable):
            chain.record(None, "record.view", target={"id": "blocked"}, username="u3")
    finally:
        chain.client.indices.put_settings(index=index, body={"index.blocks.write": None})
    result = chain.verify()
    assert result.ok, result.problem
    assert result.last_seq == 8 and _doc(chain, 8)["target"] == {"id": "blocked"}


def test_an_event_discloses_its_ids_in_one_document(chain):
    """A search showing several records writes one disclosure document listing them (not one
    per record); each record's "who looked" finds it, and the quota counts every id."""
    ids = [f"rec-{uuid.uuid4().hex[:8]}" for _ in range(5)]
    event = chain.record(None, "export.manifest", details={"shown_ids": [*ids, ids[0]]}, username="u4")
    docs = _disclosures_of(chain, ids[0])
    assert [(d["record_ids"], d["rows"], d["audit_seq"], d["audit_hash"]) for d in docs] == [
        (ids, 5, event["seq"], event["hash"])
    ]
    for rid in ids:
        assert [(w["user"], w["count"]) for w in chain.disclosures.who_saw([rid])] == [("u4", 1)]
    since = datetime.now(UTC) - timedelta(hours=1)
    assert chain.disclosures.count(user="u4", actions=["export.manifest"], since=since) == 5


def test_disclosures_migrate_to_bound_lists_and_old_ones_still_count(settings, client, tmp_path):
    """An index from before ``audit_hash`` and lists of ids (version 2: one document per record
    id) moves with ``lantern index migrate`` (``indices.migrate``, the module's
    ``REINDEX_SCRIPT``); its documents, written once their event was in the chain, still count,
    beside new documents bound to their event; a lost race's orphan does not."""
    from types import SimpleNamespace

    from lantern import indices
    from mappings import disclosures as D

    s = settings.model_copy(
        update={
            "index_prefix": f"{settings.index_prefix}migr{uuid.uuid4().hex[:6]}-",
            "audit_head_file": tmp_path / "head.log",
            "audit_key_file": tmp_path / "keys.json",
        }
    )
    v2_body = D.body(s)
    props = v2_body["mappings"]["properties"]
    for field in (D.AUDIT_HASH, D.RECORD_IDS, D.ROWS):
        del props[field]
    props[D.LEGACY_RECORD_ID] = {"type": "keyword"}
    v2 = SimpleNamespace(
        NAME=D.NAME, VERSION=2, APPEND_ONLY=True, pipelines=D.pipelines, body=lambda _s: v2_body
    )
    old = indices.ensure(client, s, v2)
    assert [m.NAME for m in indices.outdated(client, s)] == [D.NAME]
    log = AuditLog(client, s)
    # The event alone: version 2 cannot hold this code's disclosures (strict mapping), so
    # until the migration every action that discloses a record is refused.
    with pytest.raises(AuditUnavailable):
        log.record(None, "record.view", target={"id": "rec-refused"}, username="u1")
    now = datetime.now(UTC).isoformat()
    event = log.append({"ts": now, "action": "record.view", "user": "u1", "target": {"id": "rec-old"}})
    source = disclosure_docs(event)[0][1]
    legacy = {k: v for k, v in source.items() if k not in (D.AUDIT_HASH, D.RECORD_IDS, D.ROWS)}
    legacy[D.LEGACY_RECORD_ID] = "rec-old"
    client.index(index=old, id=f"{event['seq']}:rec-old", body=legacy, op_type="create", refresh=True)
    new = indices.migrate(client, s, D)
    assert new.startswith(f"{s.index_name(D.NAME)}-v{D.VERSION}-") and D.VERSION == 4
    assert indices.outdated(client, s) == []
    migrated = client.get(index=s.index_name(D.NAME), id=f"{event['seq']}:rec-old")["_source"]
    assert migrated[D.RECORD_IDS] == ["rec-old"] and migrated[D.ROWS] == 1
    assert D.LEGACY_RECORD_ID not in migrated
    indices.forget_ensured()
    log = AuditLog(client, s)
    _force_orphan(log, "rec-old")
    assert {w["user"]: w["count"] for w in log.disclosures.who_saw(["rec-old"])} == {"u1": 1, "u2": 1}
    since = datetime.now(UTC) - timedelta(hours=1)
    assert log.disclosures.count(user="u1", actions=["record.view"], since=since) == 1
    result = log.verify()
    assert result.ok, result.problem
    # Only the lost race's orphan: the view refused before the migration wrote no disclosure.
    assert [(o.documents, o.rows) for o in result.orphans] == [(1, 1)]
    assert log.disclosures.who_saw(["rec-refused"]) == []
