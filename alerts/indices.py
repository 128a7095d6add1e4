"""Create the analyst indices once per process (and index prefix)."""

from __future__ import annotations

import threading
from types import ModuleType
from typing import cast

from opensearchpy import OpenSearch

from lantern.indices import IndexModule, ensure, writer_target
from lantern.settings import Settings
from mappings import notifications as notifications_mapping
from mappings import percolator as percolator_mapping
from mappings import saved_queries as saved_mapping

_ensured: set[tuple[int, str]] = set()
_lock = threading.Lock()


def module(m: ModuleType) -> IndexModule:
    return cast(IndexModule, m)


def write_target(settings: Settings, m: ModuleType) -> str:
    return writer_target(settings, module(m))


def ensure_analyst_indices(client: OpenSearch, settings: Settings) -> None:
    key = (id(client), settings.index_prefix)
    if key in _ensured:
        return
    with _lock:
        if key in _ensured:
            return
        for m in (saved_mapping, notifications_mapping, percolator_mapping):
            ensure(client, settings, module(m))
        _ensured.add(key)


def forget_ensured() -> None:
    """Tests that delete or rebuild indices call this so the next use ensures again."""
    with _lock:
        _ensured.clear()
