"""Bulk indexing with sized chunks, retries and per-item outcomes.

``opensearch-py``'s ``streaming_bulk`` splits by count and bytes and retries items the
node rejects with 429 (back-pressure). It does not retry a chunk lost to a connection
error or a timeout: those items come back marked with the exception, and are retried here
with the same exponential backoff. Deterministic ids make every retry idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout
from opensearchpy.helpers import streaming_bulk

from lantern.settings import Settings
from mappings import fields as F

log = logging.getLogger(__name__)

INITIAL_BACKOFF = 1
MAX_BACKOFF = 30


@dataclass(frozen=True, slots=True)
class ItemResult:
    doc_id: str
    ok: bool
    result: str  # created | updated | noop | stale | failed
    status: int | str | None = None
    reason: str | None = None


def _transient(info: dict[str, Any]) -> bool:
    exc = info.get("exception")
    transient_status = info.get("status") in (429, 502, 503, 504)
    return isinstance(exc, OSConnectionError | ConnectionTimeout) or transient_status


def _reason(info: dict[str, Any]) -> str:
    error = info.get("error")
    if isinstance(error, dict):
        reason = f"{error.get('type', 'error')}: {error.get('reason', '')}"
        cause = error.get("caused_by")
        if isinstance(cause, dict):
            reason += f" (caused by {cause.get('type')}: {cause.get('reason')})"
        return reason
    return str(error)


def bulk_index(
    client: OpenSearch,
    settings: Settings,
    index: str,
    docs: Iterable[dict[str, Any]],
    *,
    versions: dict[str, int] | None = None,
    sleep: Any = time.sleep,
) -> Iterator[ItemResult]:
    """Index ``docs`` (ids from ``F.ID``) into ``index``; one result per doc, any order.

    ``versions``: external version per id (``version_type=external_gte``): the engine keeps
    a newer indexed version and answers 409, reported as result ``stale``.
    """
    pending: dict[str, dict[str, Any]] = {doc[F.ID]: doc for doc in docs}
    versions = versions or {}
    attempt = 0

    def action(doc_id: str, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"_op_type": "index", "_index": index, "_id": doc_id, "_source": doc}
        if doc_id in versions:
            out |= {"version": versions[doc_id], "version_type": "external_gte"}
        return out

    while pending:
        actions = (action(doc_id, doc) for doc_id, doc in pending.items())
        retry: dict[str, dict[str, Any]] = {}
        for ok, item in streaming_bulk(
            client,
            actions,
            chunk_size=settings.bulk_chunk_size,
            max_chunk_bytes=settings.bulk_max_bytes,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=settings.bulk_max_retries,
            initial_backoff=INITIAL_BACKOFF,
            max_backoff=MAX_BACKOFF,
            yield_ok=True,
        ):
            _op, info = next(iter(item.items()))
            doc_id = str(info.get("_id"))
            if ok:
                yield ItemResult(doc_id, True, str(info.get("result", "updated")), info.get("status"))
            elif info.get("status") == 409 and doc_id in versions:
                yield ItemResult(doc_id, False, "stale", 409, _reason(info))
            elif _transient(info) and attempt < settings.bulk_max_retries and doc_id in pending:
                retry[doc_id] = pending[doc_id]
            else:
                yield ItemResult(doc_id, False, "failed", info.get("status"), _reason(info))
        if retry:
            attempt += 1
            delay = min(MAX_BACKOFF, INITIAL_BACKOFF * 2 ** (attempt - 1))
            log.warning(
                "bulk: %d document(s) hit a connection error; retry %d in %.1fs", len(retry), attempt, delay
            )
            sleep(delay)
        pending = retry
