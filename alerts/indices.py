"""The indices the alert stores create together on first use."""

from __future__ import annotations

from types import ModuleType

from opensearchpy import OpenSearch

from lantern.indices import ensure_once
from lantern.settings import Settings
from mappings import notifications as notifications_mapping
from mappings import percolator as percolator_mapping
from mappings import saved_queries as saved_mapping

ALERT_INDICES: tuple[ModuleType, ...] = (saved_mapping, notifications_mapping, percolator_mapping)


def ensure_alert_indices(client: OpenSearch, settings: Settings) -> None:
    ensure_once(client, settings, ALERT_INDICES)
