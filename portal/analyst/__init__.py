"""Analyst pages' own logic: batch search and CSV export; ``install`` adds the analyst routes.

Saved queries, alert queries and notifications are the ``alerts`` package; every read of
the records index goes through :class:`search.gateway.SecuredRecords`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Include the analyst routes (called by ``create_app``)."""
    from portal.routes import batch, chart, export, map, notifications, saved, timeline

    app.include_router(saved.router)
    app.include_router(notifications.router)
    app.include_router(batch.router)
    app.include_router(export.router)
    app.include_router(chart.router)
    app.include_router(chart.api)
    app.include_router(timeline.router)
    app.include_router(timeline.api)
    app.include_router(map.router)
    app.include_router(map.api)
    app.state.analyst_tools = True  # full pages carry the notifications badge
