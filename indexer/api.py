"""The ingest API: source systems push new, changed and deleted records.

``POST /api/ingest`` takes NDJSON (one record per line, up to ``settings.ingest_max_bytes``)
and answers per line: ``created``, ``updated``, ``unchanged``, ``stale`` (older than what
is indexed), ``deleted`` (tombstoned at source earlier), ``rejected`` (with the errors and
the line number) or ``failed`` (the engine refused it). A malformed line costs that line,
not the batch. ``DELETE /api/ingest/{source_system}/{source_id}?reason=...`` deletes a record
at source (``indexer.deletion``).

Callers are service accounts, not users: ``Authorization: Bearer <token>``, one account per
source system with the record types it may write (``indexer.service_accounts``). A missing,
unknown, revoked or expired token is 401; a token used for another source system or a
record type it may not write is 403, and nothing of that request is written. Every call,
refused or not, is audited; the audit event is written before the records are, so a call
whose audit event cannot be written does nothing (503).

``create_ingest_app`` serves it on its own (``lantern ingest serve``, ``indexer.cli``), with
its OpenAPI document at ``/api/ingest/openapi.json``; the composition root (``lantern
serve``) also installs it on the portal's app, so it is in the portal's OpenAPI document.
Writes go through the same ``BatchIndexer`` as file loads: same validation, versions,
content-hash skip, tombstones, alert hooks and person resolution (each person gets its
nominal on arrival, as ``lantern index load`` does).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from opensearchpy import OpenSearch
from pydantic import BaseModel, Field

from indexer.deletion import delete_record
from indexer.nominals import SharedIngestResolver
from indexer.pipeline import BatchIndexer, Entry, Hook, PeopleResolver
from indexer.service_accounts import ServiceAccount, ServiceAccounts
from indexer.validation import validate
from lantern.errors import AuditUnavailable
from lantern.profile import ForceProfile, profile_for
from lantern.records import AnyRecord, record_id
from lantern.settings import Settings
from mappings import tombstones as T

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
MAX_AUDITED_IDS = 1000


class Auditor(Protocol):
    """The audit chain writer (``lantern.audit.AuditLog``): raises AuditUnavailable on failure."""

    def record(
        self,
        request: Any,
        action: str,
        *,
        target: dict[str, Any] | None = None,
        outcome: str = "success",
        details: dict[str, Any] | None = None,
        username: str | None = None,
    ) -> dict[str, Any]: ...


@dataclass
class IngestContext:
    settings: Settings
    client: OpenSearch
    accounts: ServiceAccounts
    auditor: Auditor
    profile: ForceProfile
    extract_entities: bool
    hooks: Sequence[Hook] = field(default_factory=tuple)
    # Resolves each written record's people to nominals as ``lantern index load`` does.
    people_resolver: PeopleResolver | None = None


# ------------------------------------------------------------------------- schemas


class LineError(BaseModel):
    loc: str = Field(description="Field path in the record, or (row) for the whole line")
    msg: str


class LineResult(BaseModel):
    line: int = Field(description="1-based line number in the request body")
    status: Literal["created", "updated", "unchanged", "stale", "deleted", "rejected", "failed"]
    id: str | None = Field(None, description="Lantern's record id (uuid5 of source system and id)")
    source_id: str | None = None
    errors: list[LineError] = Field(default_factory=list)


class IngestResponse(BaseModel):
    counts: dict[str, int] = Field(description="Lines per status")
    results: list[LineResult]


class DeleteResponse(BaseModel):
    id: str
    source_system: str
    source_id: str
    reason: str
    found: bool = Field(description="The record was in the index (False: only a tombstone was written)")
    already_deleted: bool


class Problem(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No token, or an unknown, revoked or expired one"},
    403: {
        "model": Problem,
        "description": "The token's account may not write this source system or record type",
    },
    503: {"model": Problem, "description": "The audit trail cannot be written; nothing was done"},
}

# ------------------------------------------------------------------------- auth

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ServiceAccountToken",
    description="A source system's service-account token (`lantern ingest-account create`).",
)


def _ctx(request: Request) -> IngestContext:
    ctx: IngestContext = request.app.state.ingest
    return ctx


def _audit(ctx: IngestContext, request: Request, action: str, **kw: Any) -> None:
    try:
        ctx.auditor.record(request, action, **kw)
    except AuditUnavailable as exc:
        raise HTTPException(503, detail=str(exc)) from exc


def service_account(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ServiceAccount:
    ctx = _ctx(request)
    verdict = ctx.accounts.verify(creds.credentials if creds is not None else None)
    if verdict.problem is None and verdict.account is not None:
        return verdict.account
    who = f"service:{verdict.account.account}" if verdict.account is not None else "service:?"
    _audit(
        ctx,
        request,
        "ingest.auth",
        outcome="denied",
        username=who,
        details={"problem": verdict.problem, "token_id": verdict.token_id, "method": request.method},
        target={"path": request.url.path},
    )
    raise HTTPException(401, detail=verdict.problem, headers={"WWW-Authenticate": "Bearer"})


Account = Annotated[ServiceAccount, Depends(service_account)]

router = APIRouter(prefix="/api/ingest", tags=["ingest"], responses=ERRORS)


# ------------------------------------------------------------------------- POST


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"the body is over the {limit:,}-byte limit; send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                413, detail=f"the body is over the {limit:,}-byte limit; send smaller batches"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class _Line:
    number: int
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    record: AnyRecord | None = None


def _parse_lines(body: bytes) -> list[_Line]:
    out: list[_Line] = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            out.append(_Line(number, None, [{"loc": "(row)", "msg": "not valid UTF-8"}]))
            continue
        except (ValueError, RecursionError) as exc:
            out.append(_Line(number, None, [{"loc": "(row)", "msg": f"not valid JSON: {exc}"}]))
            continue
        if not isinstance(value, dict):
            out.append(_Line(number, None, [{"loc": "(row)", "msg": "each line must be a JSON object"}]))
            continue
        out.append(_Line(number, value, []))
    return out


def _scope_violations(lines: list[_Line], account: ServiceAccount) -> list[dict[str, Any]]:
    """Lines that name another source system or a record type the account may not write."""
    bad: list[dict[str, Any]] = []
    for ln in lines:
        if ln.data is None:
            continue
        system = ln.data.setdefault("source_system", account.source_system)
        if system != account.source_system:
            bad.append(
                {
                    "line": ln.number,
                    "msg": f"source_system {system!r}: this token writes {account.source_system!r}",
                }
            )
        rtype = ln.data.get("record_type")
        if isinstance(rtype, str) and rtype not in account.record_types:
            allowed = ", ".join(account.record_types)
            bad.append({"line": ln.number, "msg": f"record_type {rtype!r}: this token writes {allowed}"})
    return bad


def _ingest(ctx: IngestContext, lines: list[_Line], refresh: bool) -> IngestResponse:
    indexer = BatchIndexer(
        ctx.settings,
        ctx.client,
        extract_entities=ctx.extract_entities,
        hooks=ctx.hooks,
        profile=ctx.profile,
        people_resolver=ctx.people_resolver,
    )
    results: dict[int, LineResult] = {}
    valid: list[_Line] = []
    for ln in lines:
        if ln.data is not None and not ln.errors:
            ln.record, ln.errors = validate(ln.data, None, ctx.profile)
        if ln.record is None:
            results[ln.number] = LineResult(
                line=ln.number,
                status="rejected",
                source_id=str(ln.data.get("source_id")) if ln.data and ln.data.get("source_id") else None,
                errors=[LineError(loc=e["loc"], msg=e["msg"]) for e in ln.errors],
            )
        else:
            valid.append(ln)
    size = ctx.settings.bulk_chunk_size
    for start in range(0, len(valid), size):
        chunk = valid[start : start + size]
        outcome = indexer.run([Entry(ln.record, "(api)", ln.number) for ln in chunk if ln.record is not None])
        for ln, status, errors in zip(chunk, outcome.statuses, outcome.errors, strict=True):
            assert ln.record is not None
            results[ln.number] = LineResult(
                line=ln.number,
                status=status,
                id=ln.record.record_id,
                source_id=ln.record.source_id,
                errors=[LineError(loc=str(e.get("loc")), msg=str(e.get("msg"))) for e in errors],
            )
    if refresh and valid:
        ctx.client.indices.refresh(index=indexer.index)
    ordered = [results[n] for n in sorted(results)]
    counts: dict[str, int] = {}
    for r in ordered:
        counts[r.status] = counts.get(r.status, 0) + 1
    return IngestResponse(counts=counts, results=ordered)


@router.post(
    "",
    response_model=IngestResponse,
    summary="Create or update records (NDJSON, one record per line)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                NDJSON: {
                    "schema": {"type": "string", "format": "binary"},
                    "example": '{"record_type": "crime", "source_id": "C-1", ...}\n',
                }
            },
        }
    },
    responses={
        400: {"model": Problem, "description": "The body is empty"},
        413: {"model": Problem, "description": "The body is over the size limit"},
    },
)
async def ingest(
    request: Request,
    account: Account,
    refresh: Annotated[
        bool, Query(description="Wait until the written records are searchable before answering")
    ] = False,
) -> IngestResponse:
    """Each line is a record of the record model (``source_system`` may be left out: it is
    the token's). The answer has one result per non-blank line, in line order."""
    ctx = _ctx(request)
    username = f"service:{account.account}"
    body = await _read_body(request, ctx.settings.ingest_max_bytes)
    if not body.strip():
        # The body is required (the OpenAPI document says so): a push with nothing in it is a
        # client fault, not an empty success.
        _audit(
            ctx,
            request,
            "ingest.write",
            outcome="denied",
            username=username,
            target={"source_system": account.source_system},
            details={"problem": "empty body", "token_id": account.token_id},
        )
        raise HTTPException(400, detail="the body is empty: send one record per line (NDJSON)")
    lines = _parse_lines(body)
    violations = _scope_violations(lines, account)
    if violations:
        _audit(
            ctx,
            request,
            "ingest.write",
            outcome="denied",
            username=username,
            target={"source_system": account.source_system},
            details={"lines": len(lines), "violations": violations[:50], "token_id": account.token_id},
        )
        raise HTTPException(403, detail={"message": "nothing was written", "violations": violations[:50]})
    ids = [
        record_id(str(ln.data["source_system"]), str(ln.data.get("source_id")))
        for ln in lines
        if ln.data is not None and ln.data.get("source_id") is not None
    ]
    _audit(
        ctx,
        request,
        "ingest.write",
        username=username,
        target={"source_system": account.source_system, "ids": ids[:MAX_AUDITED_IDS]},
        details={"lines": len(lines), "bytes": len(body), "token_id": account.token_id},
    )
    response = await run_in_threadpool(_ingest, ctx, lines, refresh)
    try:
        ctx.auditor.record(
            request,
            "ingest.write.result",
            username=username,
            target={"source_system": account.source_system},
            details={"counts": response.counts},
        )
    except AuditUnavailable:
        # The call itself was audited before anything was written; only its tally is lost.
        log.exception("could not audit the result of an ingest call")
    return response


# ------------------------------------------------------------------------- DELETE


@router.delete(
    "/{source_system}/{source_id}",
    response_model=DeleteResponse,
    summary="Delete a record at source (expunged, disposal, duplicate)",
)
def delete(
    request: Request,
    account: Account,
    source_system: str,
    source_id: str,
    reason: Annotated[Literal["expunged", "disposal", "duplicate"], Query(description="Why it goes")],
) -> DeleteResponse:
    """Removes the record from search, entity pages, exports and alerts, and leaves a
    tombstone (ids only) so no later load or push brings it back."""
    assert reason in T.REASONS
    ctx = _ctx(request)
    username = f"service:{account.account}"
    target = {
        "id": record_id(source_system, source_id),
        "source_system": source_system,
        "source_id": source_id,
    }
    if source_system != account.source_system:
        _audit(
            ctx,
            request,
            "ingest.delete",
            outcome="denied",
            username=username,
            target=target,
            details={"reason": reason, "token_id": account.token_id, "problem": "another source system"},
        )
        raise HTTPException(403, detail=f"this token deletes records of {account.source_system!r} only")
    _audit(
        ctx,
        request,
        "ingest.delete",
        username=username,
        target=target,
        details={"reason": reason, "token_id": account.token_id},
    )
    result = delete_record(ctx.client, ctx.settings, source_system, source_id, reason=reason, by=username)
    return DeleteResponse(
        id=result.record_id,
        source_system=source_system,
        source_id=source_id,
        reason=reason,
        found=result.found,
        already_deleted=result.already_deleted,
    )


# ------------------------------------------------------------------------- wiring


def _per_call(hooks: Sequence[Hook]) -> Hook | None:
    """One hook running ``hooks`` and flushing them at once, under a lock.

    Load hooks may gather documents until the end of a load (alert percolation does);
    a pushed record must alert now, and requests run on several threads.
    """
    if not hooks:
        return None
    lock = threading.Lock()

    def run(docs: list[dict[str, Any]]) -> None:
        with lock:
            for hook in hooks:
                hook(docs)
                flush = getattr(hook, "flush", None)
                if callable(flush):
                    flush()

    return run


def install(
    app: FastAPI,
    settings: Settings,
    client: OpenSearch,
    auditor: Auditor,
    *,
    hooks: Sequence[Hook] | None = None,
    extract_entities: bool | None = None,
    resolve_people: bool = True,
) -> None:
    """Add the ingest routes to ``app`` (the portal's, or ``create_ingest_app``'s).

    ``hooks``: run on every acknowledged write; default, as ``lantern index load``: the
    saved-query alerts (``alerts.percolation``). ``resolve_people``: as ``index load``
    (without ``--no-persons``), each written record's people are resolved to nominals on
    arrival, not at the next ``lantern persons rebuild``.
    """
    if hooks is None:
        from alerts.percolation import alert_hooks

        hooks = alert_hooks(settings, client)
    app.state.ingest = IngestContext(
        settings=settings,
        client=client,
        accounts=ServiceAccounts(client, settings),
        auditor=auditor,
        profile=profile_for(settings.force_profile),
        extract_entities=settings.ingest_entities if extract_entities is None else extract_entities,
        hooks=tuple(h for h in [_per_call(hooks)] if h is not None),
        people_resolver=SharedIngestResolver(client, settings) if resolve_people else None,
    )
    app.include_router(router)


def create_ingest_app(
    settings: Settings,
    client: OpenSearch,
    auditor: Auditor,
    *,
    hooks: Sequence[Hook] | None = None,
    resolve_people: bool = True,
) -> FastAPI:
    """The ingest API on its own (``lantern ingest serve``), e.g. on an internal interface."""
    app = FastAPI(
        title="Lantern ingest API",
        summary="Source systems push new, changed and deleted records",
        version="1",
        docs_url="/api/ingest/docs",
        redoc_url=None,
        openapi_url="/api/ingest/openapi.json",
    )
    install(app, settings, client, auditor, hooks=hooks, resolve_people=resolve_people)
    return app
