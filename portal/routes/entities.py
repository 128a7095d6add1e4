"""Entity pages: ``/entity/{label}/{value}``."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mappings import fields as F
from portal import reads
from portal.errors import NOT_FOUND, error_response
from portal.present import ENTITY_LABEL_NAMES, entity_href
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.ratelimit import enforce

router = APIRouter(include_in_schema=False)

MAX_VALUE_CHARS = 200


def _page(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 400))
    except ValueError:
        return 1


@dataclass(frozen=True)
class PageLinks:
    label: str
    value: str

    def page_href(self, page: int) -> str:
        base = entity_href(self.label, self.value)
        return base if page <= 1 else f"{base}?page={page}"


@router.get("/entity/{label}/{value:path}")
def entity_view(
    request: Request,
    label: str,
    value: str,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    page: str | None = None,
) -> Response:
    label_u = label.upper()
    if label_u not in F.ENTITY_LABELS or not value.strip() or len(value) > MAX_VALUE_CHARS:
        return error_response(request, NOT_FOUND)
    canonical = reads.canonical_entity_value(label_u, value)
    if canonical != value or label_u != label:
        return RedirectResponse(entity_href(label_u, canonical), status_code=303)
    enforce(request, "record", user)
    data = reads.entity_page(
        request.app.state.client, request.app.state.settings, user, label_u, canonical, page=_page(page)
    )
    audit.record(
        request,
        "entity.view",
        target={"label": label_u, "value": canonical},
        details={"result_count": data.total, "shown_ids": [i.id for i in data.items], "page": data.page},
    )
    return render(
        request,
        "entity.html",
        {"entity": data, "label_name": ENTITY_LABEL_NAMES[label_u], "linker": PageLinks(label_u, canonical)},
    )
