"""Keys and the anchor of the audit chain: what makes it hold against whoever runs OpenSearch.

An unkeyed hash chain can be recomputed by anyone who can write the audit index. So:

- every event also carries ``key_id`` and ``mac`` = HMAC-SHA-256(key, event hash), with a key
  the OpenSearch operator does not hold (a file on the portal hosts, 0600, or a secret store
  in production). ``key_id`` names the key so it can be rotated: old events keep verifying
  with their old key, new ones use the current one;
- every append also writes a signed checkpoint (index, sequence, head MAC, time, key id,
  signature) to the *anchor*: an append-only file outside OpenSearch at an absolute path,
  flushed with fsync before the action goes ahead. In production the anchor should be a WORM
  store (an S3/MinIO bucket with Object Lock in compliance mode, one object per checkpoint
  batch) shipped from that file; the file is what the portal hosts write synchronously.

``lantern audit verify`` then fails when an event's MAC is wrong (forged, even with a
recomputed hash), when the anchor is missing, edited (bad signature) or disagrees with the
chain (rewritten), when the chain is shorter than the anchor (truncated), and when the anchor
is behind the chain, naming the events it does not cover.

The standard library's ``hmac`` is used directly: it is the reference implementation and
there is nothing a library would add.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lantern.errors import AuditUnavailable


class AuditKeyError(RuntimeError):
    """The audit MAC keys are missing or unusable."""


@dataclass(frozen=True)
class AuditKeys:
    """MAC keys by id; ``current`` signs new events and checkpoints."""

    current: str
    keys: dict[str, bytes]

    def key(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)

    def mac(self, data: str, key_id: str | None = None) -> tuple[str, str]:
        kid = key_id or self.current
        key = self.keys.get(kid)
        if key is None:
            raise AuditKeyError(f"no audit MAC key with id {kid!r}")
        return kid, hmac.new(key, data.encode(), hashlib.sha256).hexdigest()

    def check(self, data: str, key_id: str | None, mac: str | None) -> bool:
        key = self.keys.get(key_id or "")
        if key is None or not mac:
            return False
        return hmac.compare_digest(hmac.new(key, data.encode(), hashlib.sha256).hexdigest(), mac)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _dump(keys: AuditKeys) -> bytes:
    body = {"current": keys.current, "keys": {k: base64.b64encode(v).decode() for k, v in keys.keys.items()}}
    return json.dumps(body, indent=2).encode()


def load_keys(path: Path, *, create: bool) -> AuditKeys:
    """The key file (``{"current": id, "keys": {id: base64}}``); created with a first random
    key when missing and ``create`` (development and tests; production must provision it)."""
    try:
        raw = json.loads(path.read_text())
        keys = {str(k): base64.b64decode(v) for k, v in raw["keys"].items()}
        current = str(raw["current"])
    except FileNotFoundError:
        if not create:
            raise AuditKeyError(
                f"audit MAC key file {path} is missing; provision it (see README: audit keys)"
            ) from None
        fresh = AuditKeys("k1", {"k1": secrets.token_bytes(32)})
        _write_private(path, _dump(fresh))
        return fresh
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AuditKeyError(f"audit MAC key file {path} is unreadable: {exc}") from exc
    if current not in keys or any(len(v) < 16 for v in keys.values()):
        raise AuditKeyError(f"audit MAC key file {path}: current key missing or a key shorter than 16 bytes")
    return AuditKeys(current, keys)


def rotate_keys(path: Path) -> str:
    """Add a new random key and make it current; old keys stay to verify old events."""
    keys = load_keys(path, create=False)
    n = 1
    while f"k{n}" in keys.keys:
        n += 1
    new_id = f"k{n}"
    rotated = AuditKeys(new_id, {**keys.keys, new_id: secrets.token_bytes(32)})
    _write_private(path, _dump(rotated))
    return new_id


# --------------------------------------------------------------------------- the anchor


@dataclass(frozen=True)
class Checkpoint:
    index: str
    seq: int
    mac: str
    time: str
    key_id: str
    sig: str

    def signed_text(self) -> str:
        return checkpoint_text(self.index, self.seq, self.mac, self.time)

    @classmethod
    def from_line(cls, line: str) -> Checkpoint:
        """One anchor line; ValueError, KeyError or TypeError if it is not a checkpoint."""
        raw = json.loads(line)
        return cls(
            str(raw["index"]),
            int(raw["seq"]),
            str(raw["mac"]),
            str(raw["time"]),
            str(raw["key_id"]),
            str(raw["sig"]),
        )


def checkpoint_text(index: str, seq: int, mac: str, time: str) -> str:
    return json.dumps(
        {"index": index, "seq": seq, "mac": mac, "time": time}, sort_keys=True, separators=(",", ":")
    )


def append_checkpoint(path: Path, keys: AuditKeys, index: str, seq: int, mac: str, time: str) -> None:
    """Append one signed checkpoint and fsync it: when this returns the line is on disk."""
    if not path.is_absolute():
        raise AuditUnavailable(f"the audit anchor path must be absolute, got {path}")
    key_id, sig = keys.mac(checkpoint_text(index, seq, mac, time))
    line = json.dumps(
        {"index": index, "seq": seq, "mac": mac, "time": time, "key_id": key_id, "sig": sig},
        sort_keys=True,
        separators=(",", ":"),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_APPEND: one short write per line is atomic, so several portal processes share the file.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class AnchorReading:
    checkpoints: dict[int, Checkpoint]
    problems: list[str]


def read_anchor(path: Path, index: str, keys: AuditKeys) -> AnchorReading:
    """This index's checkpoints by sequence; a line that does not parse or whose signature
    does not verify is a problem (an edited anchor), never silently skipped."""
    out: dict[int, Checkpoint] = {}
    problems: list[str] = []
    for n, line in enumerate(_lines(path), start=1):
        try:
            cp = Checkpoint.from_line(line)
        except (ValueError, KeyError, TypeError):
            problems.append(f"anchor line {n} is not a checkpoint (edited or corrupted)")
            continue
        if not keys.check(cp.signed_text(), cp.key_id, cp.sig):
            problems.append(f"anchor line {n} (seq {cp.seq}) has a bad signature: the checkpoint was edited")
            continue
        if cp.index != index:
            continue
        if cp.seq in out and out[cp.seq].mac != cp.mac:
            problems.append(f"anchor has two different checkpoints for seq {cp.seq}")
        out[cp.seq] = cp
    return AnchorReading(out, problems)


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line.strip()


def event_mac_input(event: dict[str, Any]) -> str:
    """What an event's MAC covers: its hash, which covers every other field and the link to
    the previous event."""
    return f"{event.get('seq')}:{event.get('hash')}"
