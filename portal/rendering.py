"""The one way routes render a template: context in, response out, no I/O in the template.

A full page carries the header's unread-notifications badge, so it is computed here, by
the route's call, and passed in like any other context value; htmx fragments (``block``)
do not show the header and do not pay for it.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from alerts.notifications import badge_count
from lantern.principal import Principal


def notification_badge(request: Request) -> int:
    """Unread notifications of the signed-in user (0 when signed out or unavailable).

    Only an app with the analyst tools installed (``portal.analyst.install``) has a badge.
    """
    if not getattr(request.app.state, "analyst_tools", False):
        return 0
    user: Principal | None = getattr(request.state, "principal", None)
    return badge_count(request.app.state.client, request.app.state.settings, user)


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    templates = request.app.state.templates
    if block is not None:
        response: Response = templates.TemplateResponse(
            request, name, context, status_code=status_code, headers=headers, block_name=block
        )
        return response
    full = {"unread_notifications": notification_badge(request), **context}
    response = templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)
    return response
