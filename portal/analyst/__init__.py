"""Analyst tools: saved queries, alerts (percolator), notifications, batch search, CSV export.

* :mod:`alerts.queries`: a saved search <-> its URL state and its alert query (pure).
* :mod:`alerts.saved_queries`: the saved queries (owner-only, optionally shared read-only
  with one of the owner's units).
* :mod:`alerts.percolation`: stored alert queries, kept in step with the saved
  queries and the records mapping, and the indexer hook that percolates each batch.
* :mod:`alerts.notifications`: matches and problems for a user, re-checked
  against the records index as the user every time they are shown.
* :mod:`search.scan`: the multi-search / count / point-in-time requests these
  tools send to the records index, each one secured like ``search.gateway``.
* :mod:`portal.analyst.batch` and :mod:`portal.analyst.export`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Include the analyst routes and the header badge helper (called by ``create_app``)."""
    from alerts.notifications import badge_count
    from portal.routes import batch, export, notifications, saved

    app.include_router(saved.router)
    app.include_router(notifications.router)
    app.include_router(batch.router)
    app.include_router(export.router)
    app.state.templates.env.globals["unread_notifications"] = badge_count
