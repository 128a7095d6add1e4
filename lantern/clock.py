"""Index bootstrap and time helpers shared by the security stores."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import ModuleType
from typing import cast

from opensearchpy import OpenSearch

from lantern.indices import IndexModule, ensure, writer_target
from lantern.settings import Settings
from mappings import audit as audit_mapping
from mappings import sessions as sessions_mapping
from mappings import users as users_mapping

SECURITY_MODULES: tuple[ModuleType, ...] = (users_mapping, sessions_mapping, audit_mapping)

_ensured: set[tuple[int, str]] = set()
_ensure_lock = threading.Lock()


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime) -> str:
    """UTC ISO-8601 with microseconds and a ``Z``: one spelling, so hashes are stable."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def write_target(settings: Settings, module: ModuleType) -> str:
    """Where writes go (the write alias), so ``lantern index migrate`` can move the index."""
    return writer_target(settings, cast(IndexModule, module))


def ensure_security_indices(client: OpenSearch, settings: Settings) -> None:
    """Create the users, sessions and audit indices if missing (once per process and prefix)."""
    key = (id(client), settings.index_prefix)
    if key in _ensured:
        return
    with _ensure_lock:
        if key in _ensured:
            return
        for module in SECURITY_MODULES:
            ensure(client, settings, cast(IndexModule, module))
        _ensured.add(key)
