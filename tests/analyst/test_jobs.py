"""Batch jobs live in the ``jobs`` index: leased safely, taken over when a worker dies,
and started, polled and shown through any portal process."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from opensearchpy import OpenSearch

from lantern.jobs import JobStore, LeaseLost
from lantern.settings import Settings
from mappings import jobs as J
from portal.analyst import batch as B
from portal.analyst.worker import run_leased
from portal.app import create_app
from tests.analyst.conftest import Loader, crime, principal, signed_in, tag
from tests.portal_fixtures import csrf_from


def _queue(store: JobStore, lines: list[str], owner: str = "ofc") -> str:
    parsed = B.parse_input("\n".join(lines), "lines")
    return B.start_job(store, principal(owner), parsed, dob_years=0).id


def _lease_as_b(store: JobStore, job_id: str) -> Any:
    """Worker B leases until it gets ``job_id`` (other tests' queued jobs may come first)."""
    b = None
    for _ in range(20):
        b = store.lease("worker-b", lease_seconds=30)
        if b is not None and b.id == job_id:
            break
    return b


def test_a_job_is_leased_to_one_worker_only(client: OpenSearch, asettings: Settings) -> None:
    store = JobStore(client, asettings)
    job_id = _queue(store, [f"nomatch{tag()}"])
    first = second = None
    # Both see the job as claimable; the conditional write lets only one have it.
    for _ in range(20):
        first = store.lease("worker-a", lease_seconds=60)
        if first is not None and first.id == job_id:
            break
    assert first is not None and first.id == job_id
    second = store.lease("worker-b", lease_seconds=60)
    assert second is None or second.id != job_id
    stale = store.get(job_id)
    assert stale is not None
    store.progress(first, [], done=0)
    with pytest.raises(LeaseLost):  # a write based on an old version is refused
        store.progress(stale, [], done=0)
    latest = store.get(job_id)
    assert latest is not None and latest.source[J.LEASE_OWNER] == "worker-a"
    store.finish(latest)


def test_a_dead_workers_job_is_taken_over_and_resumed(
    client: OpenSearch, asettings: Settings, loader: Loader
) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    store = JobStore(client, asettings)
    lines = [f"nomatch{i}" for i in range(120)] + [t]
    job_id = _queue(store, lines)
    # Worker A leases briefly, records its first chunk, then dies (stops renewing).
    a = None
    while a is None or a.id != job_id:
        a = store.lease("worker-a", lease_seconds=1.0)
    first: list[dict[str, Any]] = [
        {"n": i, "text": "x", "query": "x", "total": 0, "ids": [], "error": None, "notices": []}
        for i in range(50)
    ]
    a = store.progress(a, first, done=50, lease_seconds=1.0)
    held = store.get(job_id)
    assert held is not None and held.source[J.LEASE_OWNER] == "worker-a"  # lease still valid
    time.sleep(1.5)
    b = _lease_as_b(store, job_id)
    assert b is not None and b.id == job_id and b.done == 50
    assert int(b.source[J.ATTEMPTS]) == 2
    run_leased(client, asettings, store, b)
    done = store.get(job_id)
    assert done is not None and done.status == J.SUCCEEDED and done.done == len(lines)
    # Resumed after the recorded chunk: every line exactly once, in order.
    assert len(done.results) == len(lines)
    assert [r["n"] for r in done.results[50:]] == list(range(51, len(lines) + 1))
    assert done.results[-1]["total"] == 1 and len(done.results[-1]["ids"]) == 1
    # Worker A comes back to life: its write is refused, the finished job stays as it is.
    with pytest.raises(LeaseLost):
        store.progress(a, [], done=51)


def test_job_started_on_one_process_is_polled_and_shown_on_another(
    client: OpenSearch, asettings: Settings, loader: Loader, worker: None
) -> None:
    t = tag()
    loader.load([crime(t)], alerts=False)
    one, two = create_app(asettings), create_app(asettings)
    tc1 = signed_in(one, "anl")
    form = tc1.get("/batch")
    lines = [t] + [f"nomatch{i}" for i in range(B.SYNC_MAX_LINES + 5)]
    res = tc1.post("/batch", data={"csrf_token": csrf_from(form.text), "text": "\n".join(lines)})
    assert res.status_code == 303
    job_url = res.headers["location"]
    # The same user's session (the session lives in OpenSearch too) on the other app.
    tc2 = signed_in(two, "anl")
    page = tc2.get(job_url)
    assert page.status_code == 200
    for _ in range(120):
        page = tc2.get(job_url)
        if "lines searched" in page.text:
            break
        time.sleep(0.5)
    assert f"{len(lines):,} lines searched" in page.text
    assert f"Theft of motor vehicle {t}" in page.text
    # Another user cannot see it through either process.
    other = signed_in(one, "mem")
    assert other.get(job_url).status_code == 404


def test_purge_removes_only_old_finished_jobs(client: OpenSearch, asettings: Settings) -> None:
    store = JobStore(client, asettings)
    job_id = _queue(store, ["nomatch"], owner="mem")
    assert store.purge_finished(older_than=timedelta(seconds=0)) >= 0
    assert store.get(job_id) is not None  # still queued: never purged
    stats = store.stats()
    assert stats.queued >= 1 and stats.oldest_queued_age_seconds >= 0


class _WorkerDied(BaseException):
    """The worker process ends here (not an error it could catch and record)."""


def _worker_a_dies(
    client: OpenSearch,
    asettings: Settings,
    store: JobStore,
    job_id: str,
    monkeypatch: pytest.MonkeyPatch,
    target: type,
    name: str,
    dying: Any,
) -> None:
    """Worker A leases ``job_id`` (1 s lease) and runs it with ``target.name`` replaced by
    ``dying``, which raises :class:`_WorkerDied` part-way through the job."""
    a = None
    while a is None or a.id != job_id:
        a = store.lease("worker-a", lease_seconds=1.0)
    with monkeypatch.context() as m:
        m.setattr(target, name, dying)
        with pytest.raises(_WorkerDied):
            run_leased(client, asettings.model_copy(update={"job_lease_seconds": 1.0}), store, a)


def test_an_export_taken_over_from_a_dead_worker_discloses_every_row_once(
    client: OpenSearch, asettings: Settings, loader: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A records two chunks' manifests, stores only the first and dies; worker B takes
    the job over after the lease runs out and finishes it: every row is in the file, the
    audit trail and the disclosures once, and the quota counts it once."""
    from lantern.audit import AuditLog
    from lantern.disclosures import DisclosureLog
    from mappings import disclosures as D
    from portal.analyst import export as E
    from portal.security.ratelimit import quota_of
    from search.urlstate import state_from_params

    t = tag()
    loader.load([crime(t) for _ in range(8)] + [crime(t, sensitivity=["protected_person"])], alerts=False)
    monkeypatch.setattr(E, "JOB_CHUNK", 3)
    audit = AuditLog(client, asettings)
    used_before = quota_of(client, asettings, audit, "anl").used
    event = audit.record(None, "export", username="anl")
    store = JobStore(client, asettings)
    job_id = E.start_job(
        store,
        principal("anl"),
        state_from_params([("q", t), ("sort", "newest")]),
        limit=25,
        estimate=8,
        today=None,
        request_id=None,
        audit_context={"of_seq": event["seq"], "purpose_code": "investigation", "purpose_reference": "OP/1"},
    ).id

    real_record = AuditLog.record_job_manifest

    def dies_after_second_manifest(self: AuditLog, *args: Any, **kwargs: Any) -> dict[str, Any]:
        written = real_record(self, *args, **kwargs)
        if written["details"]["chunk"] == 2:
            raise _WorkerDied  # recorded, never stored
        return written

    dying = dies_after_second_manifest
    _worker_a_dies(client, asettings, store, job_id, monkeypatch, AuditLog, "record_job_manifest", dying)
    dead = store.get(job_id)
    assert dead is not None and dead.status == J.RUNNING and [p["chunk"] for p in dead.results] == [1]
    time.sleep(1.5)
    b = _lease_as_b(store, job_id)
    assert b is not None and b.id == job_id
    run_leased(client, asettings, store, b)

    done = store.get(job_id)
    assert done is not None and done.status == J.SUCCEEDED, done and done.source
    view = E.job_view(store, principal("anl"), job_id)
    assert view is not None and view.rows == 8 and len(set(view.ids)) == 8
    manifests = [
        e for e in audit.iter_events({"term": {"target_ids": job_id}}) if e["action"] == "export.manifest"
    ]
    assert sorted(m["details"]["chunk"] for m in manifests) == [1, 2, 3]
    assert sorted(i for m in manifests for i in m["shown_ids"]) == sorted(view.ids)
    disclosures = DisclosureLog(client, asettings)
    disclosures.refresh()
    per_record = client.search(
        index=disclosures.index,
        body={
            "size": 0,
            "query": {"terms": {D.RECORD_IDS: view.ids}},
            "aggs": {"ids": {"terms": {"field": D.RECORD_IDS, "size": 20}}},
        },
    )["aggregations"]["ids"]["buckets"]
    assert {b["key"]: b["doc_count"] for b in per_record} == dict.fromkeys(view.ids, 1)
    assert quota_of(client, asettings, audit, "anl").used == used_before + 8
    # Two workers recording one chunk (one hung past its lease): the rows still count once.
    audit.record_job_manifest("export", job_id, 3, view.ids[6:], of_seq=event["seq"], username="anl")
    assert quota_of(client, asettings, audit, "anl").used == used_before + 8


def test_a_batch_job_taken_over_from_a_dead_worker_records_every_id_once(
    client: OpenSearch, asettings: Settings, loader: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker A records two chunks' manifests, stores only the first and dies; a record
    matching the unstored chunk arrives; worker B takes the job over and finishes it: every
    id shown is in the trail and the disclosures once, and the late record, never recorded,
    is not shown."""
    from lantern.audit import AuditLog
    from lantern.disclosures import DisclosureLog
    from mappings import disclosures as D

    tags = [tag() for _ in range(6)]
    loader.load([crime(t) for t in tags], alerts=False)
    monkeypatch.setattr(B, "MSEARCH_CHUNK", 2)  # lines 1-2, 3-4, 5-6
    audit = AuditLog(client, asettings)
    event = audit.record(None, "batch_search", username="anl")
    store = JobStore(client, asettings)
    parsed = B.parse_input("\n".join(tags), "lines")
    job_id = B.start_job(
        store, principal("anl"), parsed, dob_years=0, audit_context={"of_seq": event["seq"]}
    ).id

    real_progress = JobStore.progress

    def dies_storing_line_3(self: JobStore, job: Any, results: Any, **kwargs: Any) -> Any:
        if any(r["n"] == 3 for r in results):
            raise _WorkerDied  # chunk 2 recorded in the trail, never stored
        return real_progress(self, job, results, **kwargs)

    _worker_a_dies(client, asettings, store, job_id, monkeypatch, JobStore, "progress", dies_storing_line_3)
    dead = store.get(job_id)
    assert dead is not None and dead.status == J.RUNNING and dead.done == 2
    loader.load([crime(tags[2])], alerts=False)  # matches line 3 too, after its chunk was recorded
    time.sleep(1.5)
    b = _lease_as_b(store, job_id)
    assert b is not None and b.id == job_id
    run_leased(client, asettings, store, b)

    done = store.get(job_id)
    assert done is not None and done.status == J.SUCCEEDED, done and done.source
    assert [r["n"] for r in done.results] == [1, 2, 3, 4, 5, 6]
    shown = [i for r in done.results for i in r["ids"]]
    assert len(shown) == 6 and all(len(r["ids"]) == 1 and r["total"] == 1 for r in done.results)
    manifests = [
        e
        for e in audit.iter_events({"term": {"target_ids": job_id}})
        if e["action"] == "batch_search.manifest"
    ]
    assert sorted(m["details"]["chunk"] for m in manifests) == [1, 2, 3]
    assert sorted(i for m in manifests for i in m["shown_ids"]) == sorted(shown)
    assert {m["details"]["of_seq"] for m in manifests} == {event["seq"]}
    disclosures = DisclosureLog(client, asettings)
    disclosures.refresh()
    per_record = client.search(
        index=disclosures.index,
        body={
            "size": 0,
            "query": {"terms": {D.RECORD_IDS: shown}},
            "aggs": {"ids": {"terms": {"field": D.RECORD_IDS, "size": 20}}},
        },
    )["aggregations"]["ids"]["buckets"]
    assert {b["key"]: b["doc_count"] for b in per_record} == dict.fromkeys(shown, 1)
