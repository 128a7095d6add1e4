"""Pages about the portal itself: the user guide (``/help``) and the accessibility statement
(public, as the regulations expect)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal import guide
from portal.errors import NOT_FOUND, error_response
from portal.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/accessibility")
def accessibility_statement(request: Request) -> Response:
    return render(request, "accessibility.html", {})


@router.get("/help")
def help_index(request: Request) -> Response:
    return render(request, "help.html", {"guides": guide.GUIDES, "current": None, "body": None})


@router.get("/help/{slug}")
def help_page(request: Request, slug: str) -> Response:
    # Signed out, only public guides get here (the session middleware sends the rest to sign in).
    html = guide.render_guide(slug)
    if html is None:
        return error_response(request, NOT_FOUND)
    signed_in = request.state.principal is not None
    return render(
        request,
        "help.html",
        {"guides": guide.visible(signed_in), "current": guide.BY_SLUG[slug], "body": html},
    )
