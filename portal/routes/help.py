"""Pages about the portal itself: the accessibility statement (public, as the regulations expect)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.rendering import render

router = APIRouter()


@router.get("/accessibility", include_in_schema=False)
def accessibility_statement(request: Request) -> Response:
    return render(request, "accessibility.html", {})
