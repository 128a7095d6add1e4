"""The notifications page (``/notifications``) and mark read/unread (POST)."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from alerts.notifications import NotificationStore
from portal.present import TYPE_LABELS
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose
from portal.security.middleware import safe_next

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


def notifications(request: Request) -> NotificationStore:
    return NotificationStore(request.app.state.client, request.app.state.settings)


@router.get("/notifications")
def notifications_page(
    request: Request,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    show: str = "all",
    page: int = 1,
) -> Response:
    unread_only = show == "unread"
    items = notifications(request).visible(user, unread_only=unread_only)
    pages = max(1, math.ceil(len(items) / PAGE_SIZE))
    page = max(1, min(page, pages))
    shown = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    # Every record of every group shown, one by one: a group is one line but each record's
    # title is disclosed.
    record_ids = [rid for n in shown for rid in n.record_ids]
    if record_ids:
        # Record titles are shown: who saw which record is part of the audit trail.
        audit.record(
            request,
            "notifications.view",
            details={"shown_ids": record_ids, "page": page, "unread_only": unread_only},
        )
    ctx: dict[str, Any] = {
        "items": shown,
        "page": page,
        "pages": pages,
        "show": "unread" if unread_only else "all",
        "unread": sum(1 for n in items if not n.read) if not unread_only else len(items),
        "TYPE_LABELS": TYPE_LABELS,
    }
    return render(request, "analyst/notifications.html", ctx)


def _back(next_url: str | None) -> str:
    target = safe_next(next_url, "/notifications")
    return target if target.startswith("/notifications") else "/notifications"


@router.post("/notifications/{notification_id}/read")
def mark_read(
    request: Request, notification_id: str, user: CurrentUser, audit: Auditor, next: str = Form("")
) -> Response:
    done = notifications(request).set_read(user, notification_id, True)
    audit.record(
        request,
        "notification.read",
        target={"notification": notification_id[:100]},
        outcome="success" if done else "not_found",
    )
    return RedirectResponse(_back(next), status_code=303)


@router.post("/notifications/{notification_id}/unread")
def mark_unread(
    request: Request, notification_id: str, user: CurrentUser, audit: Auditor, next: str = Form("")
) -> Response:
    done = notifications(request).set_read(user, notification_id, False)
    audit.record(
        request,
        "notification.unread",
        target={"notification": notification_id[:100]},
        outcome="success" if done else "not_found",
    )
    return RedirectResponse(_back(next), status_code=303)


@router.post("/notifications/read-all")
def mark_all_read(request: Request, user: CurrentUser, audit: Auditor) -> Response:
    store = notifications(request)
    ids = [n.id for n in store.visible(user, unread_only=True)]
    count = store.mark_all_read(user, ids)
    audit.record(request, "notifications.read_all", details={"notifications": ids, "count": count})
    return RedirectResponse("/notifications", status_code=303)
