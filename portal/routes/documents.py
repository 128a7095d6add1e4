"""Attached documents: the viewer (``/documents/{id}``), page images, the original, and the
admin status page (``/admin/documents``).

A document is a search document in the records index (``indexer.attachments``), so it is
fetched through the same gateway and access filter as a record: a document the user may not
read is "not found", exactly like a record. Every view, page image and download is audited
with the purpose in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from documents.errors import DocumentError
from documents.ledger import Ledger, LedgerRow
from documents.pages import page_field, page_is_ocr, page_text
from documents.render import PageRenderer, renderable
from documents.store import ContentStore
from lantern.principal import Principal
from mappings import fields as F
from portal import reads
from portal.errors import NOT_FOUND, error_response
from portal.present import DOCUMENT_KIND_LABELS, Segment, document_href, mention_segments
from portal.rendering import render
from portal.security.deps import Auditor, CurrentUser, RequirePurpose, require_role

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class PageView:
    number: int
    ocr: bool
    segments: list[Segment]


def _fetch_document(request: Request, user: Principal, doc_id: str) -> reads.RecordHit | None:
    hit = reads.fetch_record(request.app.state.client, request.app.state.settings, user, doc_id)
    if hit is None or F.DOCUMENT not in hit.source:
        return None
    return hit


def _renderer(request: Request) -> PageRenderer:
    s = request.app.state.settings
    return PageRenderer(ContentStore(s.documents_root), s.documents_root)


def _page_number(value: str | None, count: int) -> int:
    try:
        n = int(value or 1)
    except ValueError:
        n = 1
    return max(1, min(n, max(count, 1)))


def _target(src: dict[str, Any], page: int | None = None) -> dict[str, Any]:
    doc = src[F.DOCUMENT]
    out = {
        "id": src.get(F.ID),
        "record": doc.get(F.D_PARENT_ID),
        "reference": src.get(F.REFERENCE),
        "document": doc.get(F.D_NAME),
        "kind": doc.get(F.D_KIND),
    }
    if page is not None:
        out["page"] = page
    return out


@router.get("/documents/{doc_id}")
def document_view(
    request: Request,
    doc_id: str,
    user: CurrentUser,
    purpose: RequirePurpose,
    audit: Auditor,
    page: str | None = None,
) -> Response:
    hit = _fetch_document(request, user, doc_id)
    if hit is None:
        audit.record(request, "document.denied", target={"id": doc_id[:100]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    src = hit.source
    doc = src[F.DOCUMENT]
    pages_meta = doc.get(F.D_PAGES) or []
    number = _page_number(page, len(pages_meta))
    field = page_field(number)
    mentions = [m for m in src.get(F.MENTIONS) or [] if m.get("field") == field]
    view = PageView(number, page_is_ocr(src, number), mention_segments(page_text(src, number), mentions))
    audit.record(request, "document.view", target=_target(src, number))
    return render(
        request,
        "document.html",
        {
            "source": src,
            "doc": doc,
            "doc_id": src.get(F.ID),
            "kind_label": DOCUMENT_KIND_LABELS.get(str(doc.get(F.D_KIND)), "Document"),
            "page": view,
            "pages": len(pages_meta),
            "has_image": renderable(str(doc.get(F.D_CONTENT_TYPE, ""))),
            "record_href": f"/records/{quote(str(doc.get(F.D_PARENT_ID)), safe='')}",
            "document_href": document_href,
        },
    )


@router.get("/documents/{doc_id}/pages/{number}.png")
def document_page_image(
    request: Request, doc_id: str, number: int, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    hit = _fetch_document(request, user, doc_id)
    if hit is None:
        audit.record(request, "document.denied", target={"id": doc_id[:100]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    src = hit.source
    doc = src[F.DOCUMENT]
    if not 1 <= number <= int(doc.get(F.D_PAGE_COUNT) or 0):
        return error_response(request, NOT_FOUND)
    try:
        png = _renderer(request).page_png(str(doc[F.D_DIGEST]), str(doc.get(F.D_CONTENT_TYPE)), number)
    except DocumentError:
        return error_response(request, NOT_FOUND)
    audit.record(request, "document.page", target=_target(src, number))
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


@router.get("/documents/{doc_id}/original")
def document_original(
    request: Request, doc_id: str, user: CurrentUser, purpose: RequirePurpose, audit: Auditor
) -> Response:
    hit = _fetch_document(request, user, doc_id)
    if hit is None:
        audit.record(request, "document.denied", target={"id": doc_id[:100]}, outcome="not_found")
        return error_response(request, NOT_FOUND)
    src = hit.source
    doc = src[F.DOCUMENT]
    store = ContentStore(request.app.state.settings.documents_root)
    digest = str(doc[F.D_DIGEST])
    if not store.exists(digest):
        return error_response(request, NOT_FOUND)
    # Audited before the bytes leave: a download that cannot be audited does not happen.
    audit.record(request, "document.download", target={**_target(src), "sha256": digest})
    name = str(doc.get(F.D_NAME) or "document").replace('"', "")
    return Response(
        store.path(digest).read_bytes(),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/admin/documents")
def documents_admin(
    request: Request,
    audit: Auditor,
    user: Annotated[Principal, Depends(require_role("admin"))],
) -> Response:
    s = request.app.state.settings
    ledger = Ledger(s.state_dir / "documents.sqlite")
    audit.record(request, "documents.status", target={"page": "admin/documents"})
    failed = [_Row(r, _when(r.updated_at)) for r in ledger.rows(status="failed", limit=200)]
    return render(
        request,
        "admin/documents.html",
        {"counts": ledger.counts(), "failed": failed, "recent": ledger.rows(limit=50)},
    )


@dataclass(frozen=True)
class _Row:
    row: LedgerRow
    when: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.row, name)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
