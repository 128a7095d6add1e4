"""Audit MAC keys and the signed anchor file (no OpenSearch here; the chain tamper tests
against the secured node are in test_audit_chain.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from lantern.audit_anchor import (
    AuditKeyError,
    append_checkpoint,
    load_keys,
    read_anchor,
    rotate_keys,
)
from lantern.errors import AuditUnavailable


def test_key_file_created_private_and_rotated(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    with pytest.raises(AuditKeyError, match="missing"):
        load_keys(path, create=False)
    keys = load_keys(path, create=True)
    assert keys.current == "k1" and len(keys.keys["k1"]) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    kid, mac = keys.mac("event")
    assert kid == "k1"
    assert rotate_keys(path) == "k2"
    rotated = load_keys(path, create=False)
    assert rotated.current == "k2"
    # Old events keep verifying with their key; a MAC never verifies under another key.
    assert rotated.check("event", "k1", mac)
    assert not rotated.check("event", "k2", mac)
    assert not rotated.check("event", "k9", mac)
    assert not rotated.check("evenT", "k1", mac)


def test_checkpoints_are_signed_and_edits_detected(tmp_path: Path) -> None:
    keys = load_keys(tmp_path / "keys.json", create=True)
    anchor = tmp_path / "anchor.log"
    for seq in (1, 2, 3):
        append_checkpoint(anchor, keys, "lantern-audit", seq, f"mac{seq}", "2026-11-30T06:00:00Z")
    append_checkpoint(anchor, keys, "other-audit", 1, "x", "2026-11-30T06:00:00Z")
    reading = read_anchor(anchor, "lantern-audit", keys)
    assert reading.problems == [] and sorted(reading.checkpoints) == [1, 2, 3]

    lines = anchor.read_text().splitlines()
    edited = json.loads(lines[1])
    edited["mac"] = "forged"
    lines[1] = json.dumps(edited)
    anchor.write_text("\n".join(lines) + "\n")
    reading = read_anchor(anchor, "lantern-audit", keys)
    assert 2 not in reading.checkpoints
    assert any("bad signature" in p for p in reading.problems)

    # A checkpoint signed with a key the verifier does not hold is no checkpoint.
    stranger = load_keys(tmp_path / "stranger.json", create=True)
    append_checkpoint(anchor, stranger, "lantern-audit", 4, "mac4", "2026-11-30T06:00:00Z")
    assert 4 not in read_anchor(anchor, "lantern-audit", keys).checkpoints


def test_anchor_path_must_be_absolute(tmp_path: Path) -> None:
    keys = load_keys(tmp_path / "keys.json", create=True)
    with pytest.raises(AuditUnavailable):
        append_checkpoint(Path("relative/anchor.log"), keys, "i", 1, "m", "t")
