"""``lantern worker``: runs the background jobs portal processes queue in the ``jobs`` index
(batch searches and large CSV exports).

Any number of workers may run, on any hosts: each job is leased to one of them with a
conditional write, and a job whose worker died is taken over once its lease runs out
(``LANTERN_JOB_LEASE_SECONDS``) and resumed after its last recorded chunk.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from typing import Any

from opensearchpy import OpenSearch

from lantern import tracing
from lantern.audit import AuditLog
from lantern.jobs import Job, JobStore, LeaseLost
from lantern.observability import request_id
from lantern.principal import Principal
from lantern.ratelimits import OpenSearchStorage
from lantern.settings import Settings
from lantern.users import UserStore
from mappings import jobs as J
from portal.analyst import batch as B
from portal.analyst import export as E
from portal.security.purposes import from_stored
from portal.security.ratelimit import quota_of

log = logging.getLogger(__name__)

PURGE_EVERY_SECONDS = 600.0


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_leased(client: OpenSearch, settings: Settings, store: JobStore, job: Job) -> None:
    """Run one leased job to its end (or until its lease is lost)."""
    try:
        users = UserStore(client, settings)
        account = users.get(job.owner)
        if account is None or account.disabled:
            # The account was disabled after the job was queued: it must not read on.
            store.finish(job, error="account disabled")
            return
        if job.kind not in (B.JOB_KIND, E.JOB_KIND):
            store.finish(job, error=f"unknown job kind {job.kind!r}")
            return
        user = account.principal()
        if job.kind == E.JOB_KIND:
            _run_export(client, settings, store, job, user)
            return
        _run_batch(client, settings, store, job, user)
    except LeaseLost:
        log.warning("job %s was taken over by another worker; stopping it here", job.id)
    except Exception as exc:  # the job is marked failed; the worker goes on with the next
        log.exception("job %s failed", job.id)
        latest = store.get(job.id)
        if latest is not None and not latest.finished:
            with contextlib.suppress(LeaseLost):
                store.finish(latest, error=type(exc).__name__)


def _run_export(client: OpenSearch, settings: Settings, store: JobStore, job: Job, user: Principal) -> None:
    """An export job: rows read as ``user`` within today's quota, every id audited
    (``export.manifest`` in the context of the request that queued it) before it is stored.

    Each chunk's manifest names the job and its chunk number, so a worker taking over a dead
    worker's job finds the chunks already recorded and resumes after them: every row is
    disclosed, and counted against the quota, once.
    """
    audit = AuditLog(client, settings)
    of_seq, context = _job_context(job, user)

    def before_store(chunk: int, ids: list[str]) -> None:
        audit.record_job_manifest(E.JOB_KIND, job.id, chunk, ids, of_seq=of_seq, **context)

    # Read before the quota: the re-written disclosures of a chunk recorded just before a
    # worker died are then in the quota's count, which run_job adds back as this job's own.
    recorded = audit.job_manifests(E.JOB_KIND, job.id)
    E.run_job(
        client,
        settings,
        store,
        job,
        user,
        lease_seconds=settings.job_lease_seconds,
        quota_left=quota_of(client, settings, audit, user.username).left,
        recorded=recorded,
        before_store=before_store,
    )


def _job_context(job: Job, user: Principal) -> tuple[int, dict[str, Any]]:
    """The queuing request's audit event (its seq) and the context its manifests carry."""
    ctx = job.params.get("audit") or {}
    context = {
        "principal": user,
        "purpose": from_stored(ctx.get("purpose_code"), ctx.get("purpose_reference")),
        "client_addr": ctx.get("client_addr"),
        "session_ref": ctx.get("session_ref"),
    }
    return int(ctx.get("of_seq") or 0), context


def _run_batch(client: OpenSearch, settings: Settings, store: JobStore, job: Job, user: Principal) -> None:
    """A batch job: its lines searched as ``user``, each chunk's disclosed ids recorded as a
    ``batch_search.manifest`` event (in the context of the request that queued it) before the
    chunk is stored, so before it can be shown.

    As for exports, each manifest names the job and its chunk, and its disclosures are keyed
    by job: a worker taking over a dead worker's job finds the chunks already recorded and does
    not record them again, so every id is in the trail and the disclosures once.
    """
    audit = AuditLog(client, settings)
    of_seq, context = _job_context(job, user)

    def before_show(chunk: int, results: list[B.LineResult]) -> None:
        ids = B.shown_ids(results)
        if ids:  # a chunk of lines without matches discloses nothing
            audit.record_job_manifest(B.AUDIT_ACTION, job.id, chunk, ids, of_seq=of_seq, **context)

    B.run_job(
        client,
        settings,
        store,
        job,
        user,
        lease_seconds=settings.job_lease_seconds,
        recorded=audit.job_manifests(B.AUDIT_ACTION, job.id),
        before_show=before_show,
    )


def run_once(client: OpenSearch, settings: Settings, name: str | None = None) -> bool:
    """Lease and run one job; False when there was none."""
    store = JobStore(client, settings)
    job = store.lease(name or worker_name(), lease_seconds=settings.job_lease_seconds)
    if job is None:
        return False
    # The request that queued the job names the worker's engine calls (X-Opaque-Id), its log
    # lines and its span, so the job can be followed from the request that started it.
    rid = job.source.get(J.REQUEST_ID)
    token = request_id.set(str(rid)) if rid else None
    tracer = tracing.tracer()
    span = (
        tracer.start_as_current_span(
            f"lantern job {job.kind}",
            attributes={"lantern.job_id": job.id, tracing.REQUEST_ID_ATTRIBUTE: str(rid or "")},
        )
        if tracer is not None
        else contextlib.nullcontext()
    )
    try:
        with span:
            log.info(
                "running job %s (%s, %d lines, attempt %s)",
                job.id,
                job.kind,
                job.total,
                job.source.get("attempts"),
            )
            run_leased(client, settings, store, job)
    finally:
        if token is not None:
            request_id.reset(token)
    return True


def run_forever(client: OpenSearch, settings: Settings, stop: threading.Event | None = None) -> None:
    """Poll for jobs until ``stop`` is set (or forever); engine outages are waited out."""
    stop = stop or threading.Event()
    name = worker_name()
    last_purge = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() - last_purge > PURGE_EVERY_SECONDS:
                JobStore(client, settings).purge_finished()
                # Rate-limit windows nobody has hit for longer than their window.
                OpenSearchStorage(client, settings).purge()
                last_purge = time.monotonic()
            if run_once(client, settings, name):
                continue
        except Exception:
            log.exception("worker loop error; retrying")
        stop.wait(settings.worker_poll_seconds)
