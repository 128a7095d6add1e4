"""Domain errors. Engine exceptions on record reads become these in ``search.gateway``; the portal
shows each as a page or JSON (``portal.errors``)."""

from __future__ import annotations


class LanternError(Exception):
    """Base class for errors Lantern reports to users or operators."""


class SearchUnavailable(LanternError):
    """OpenSearch cannot be reached or the index does not exist yet (HTTP 503)."""


class IndexMissing(SearchUnavailable):
    """The records index does not exist yet: no data has been loaded (HTTP 503)."""


class BadQuery(LanternError):
    """The engine rejected a query (HTTP 400)."""


class NotFound(LanternError):
    """A record does not exist, or the user may not know that it exists (HTTP 404)."""


class AuditUnavailable(LanternError):
    """An audit event could not be written; the action it describes must not happen."""


class LauncherError(LanternError):
    """The embedded OpenSearch node could not be built, started or stopped."""
