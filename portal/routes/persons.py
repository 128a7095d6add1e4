"""Person pages: ``/persons/{id}`` (a nominal, as the viewer may see it) and its decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from persons import store
from persons.resolver import Decision
from portal.errors import NOT_FOUND, error_response
from portal.person_reads import person_view
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose

router = APIRouter(include_in_schema=False)

DECIDERS = ("analyst", "supervisor")
MAX_REASON = 500


@router.get("/persons/{nominal_id}")
def person_page(
    request: Request, nominal_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    view = person_view(request.app.state.client, request.app.state.settings, user, nominal_id)
    if view is None:
        # The same answer as an id that does not exist, audited as a denial.
        audit.record(request, "person.denied", target={"id": nominal_id[:64]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    audit.record(
        request,
        "person.view",
        target={"id": view.id},
        details={"shown_ids": [r.record_id for r in view.records], "names": view.names},
    )
    return render(
        request,
        "person.html",
        {"person": view, "can_decide": user.has_role(*DECIDERS), "done": request.query_params.get("done")},
    )


@router.post("/persons/{nominal_id}/decisions")
async def person_decide(request: Request, nominal_id: str, user: CurrentUser, audit: Auditor) -> Response:
    client, settings = request.app.state.client, request.app.state.settings
    view = person_view(client, settings, user, nominal_id)
    if view is None:
        audit.record(request, "person.denied", target={"id": nominal_id[:64]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    if not user.has_role(*DECIDERS):
        audit.record(
            request,
            "access.denied",
            outcome="denied",
            target={"path": request.url.path},
            details={"required_roles": list(DECIDERS)},
        )
        return Response("Only an analyst or a supervisor may record this decision.", status_code=403)
    form = await request.form()
    a, b = str(form.get("mention_a", "")), str(form.get("mention_b", ""))
    same = str(form.get("decision", "")) == "same"
    reason = str(form.get("reason", "")).strip()[:MAX_REASON]
    # Both mentions must be on this page as the user sees it (readable records only).
    records = {r.mention_id: r.record_id for r in view.records}
    if a not in records or b not in records or a == b or not reason:
        return Response("Choose two different records of this person and give a reason.", status_code=400)
    role = "supervisor" if user.has_role("supervisor") else "analyst"
    did = store.add_decision(
        client,
        settings,
        Decision(a, b, same, reason, user.username),
        record_a=records[a],
        record_b=records[b],
        by_role=role,
    )
    audit.record(
        request,
        "person.decision",
        target={"id": view.id, "decision": did},
        details={"same": same, "reason": reason, "records": [records[a], records[b]]},
    )
    return RedirectResponse(f"/persons/{view.id}?done=decided", status_code=303)
