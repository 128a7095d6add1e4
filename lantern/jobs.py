"""Background jobs kept in OpenSearch, so any portal process can start, poll and show them.

Portal processes ``enqueue`` and ``get``; ``lantern worker`` processes ``lease`` a job,
report ``progress`` (which renews the lease) and ``finish`` it. Every change to a leased
job is a conditional write (``if_seq_no``/``if_primary_term``): a worker whose lease was
taken over after it stalled gets ``LeaseLost`` on its next write and stops, so a job is
never written by two workers. A job whose lease ran out (its worker died or hung) is
leased again by any worker and resumes after the last chunk recorded.

A queue in the search engine rather than a broker: jobs are few (a handful per analyst
per hour) and OpenSearch is already the one shared, backed-up store; adding Redis or a
message broker would add a second stateful service to operate and back up for no gain.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConflictError, NotFoundError

from lantern.clock import iso, parse_iso, utcnow
from lantern.indices import ensure_once, read_alias, writer_target
from lantern.settings import Settings
from mappings import jobs as J

DEFAULT_LEASE_SECONDS = 30.0
JOB_TTL = timedelta(days=1)


class LeaseLost(RuntimeError):
    """Another worker now holds this job (our lease ran out); stop working on it."""


@dataclass
class Job:
    id: str
    source: dict[str, Any]
    seq_no: int = 0
    primary_term: int = 0
    created: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.created = parse_iso(str(self.source[J.CREATED_AT]))

    @property
    def kind(self) -> str:
        return str(self.source[J.KIND])

    @property
    def owner(self) -> str:
        return str(self.source[J.OWNER])

    @property
    def status(self) -> str:
        return str(self.source[J.STATUS])

    @property
    def total(self) -> int:
        return int(self.source.get(J.TOTAL) or 0)

    @property
    def done(self) -> int:
        return int(self.source.get(J.DONE) or 0)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.source.get(J.PARAMS) or {})

    @property
    def results(self) -> list[dict[str, Any]]:
        return list(self.source.get(J.RESULTS) or [])

    @property
    def notices(self) -> list[str]:
        return list(self.source.get(J.NOTICES) or [])

    @property
    def error(self) -> str | None:
        value = self.source.get(J.ERROR)
        return str(value) if value else None

    @property
    def finished(self) -> bool:
        return self.status in J.FINISHED

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 100


@dataclass(frozen=True)
class QueueStats:
    queued: int
    running: int
    oldest_queued_age_seconds: float


class JobStore:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.settings = settings
        self.index = read_alias(settings, J)
        self.target = writer_target(settings, J)
        ensure_once(client, settings, [J])

    # ------------------------------------------------------------------ portal side

    def enqueue(
        self,
        kind: str,
        owner: str,
        params: Mapping[str, Any],
        *,
        total: int,
        notices: Sequence[str] = (),
        request_id: str | None = None,
    ) -> Job:
        now = iso(utcnow())
        source: dict[str, Any] = {
            J.KIND: kind,
            J.OWNER: owner,
            J.STATUS: J.QUEUED,
            J.CREATED_AT: now,
            J.UPDATED_AT: now,
            J.TOTAL: total,
            J.DONE: 0,
            J.ATTEMPTS: 0,
            J.PARAMS: dict(params),
            J.RESULTS: [],
            J.NOTICES: list(notices),
            J.REQUEST_ID: request_id,
        }
        job_id = secrets.token_urlsafe(16)
        # refresh=wait_for: the next poll, through any process, finds it by search too.
        res = self.client.index(
            index=self.target, id=job_id, body=source, op_type="create", refresh="wait_for"
        )
        return Job(job_id, source, res["_seq_no"], res["_primary_term"])

    def get(self, job_id: str) -> Job | None:
        try:
            doc = self.client.get(index=self.index, id=job_id)
        except NotFoundError:
            return None
        return Job(doc["_id"], doc["_source"], doc["_seq_no"], doc["_primary_term"])

    def unfinished_count(self, owner: str) -> int:
        res = self.client.count(
            index=self.index,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {J.OWNER: owner}},
                            {"terms": {J.STATUS: [J.QUEUED, J.RUNNING]}},
                        ]
                    }
                }
            },
        )
        return int(res["count"])

    # ------------------------------------------------------------------ worker side

    def _claimable(self, now: datetime) -> dict[str, Any]:
        return {
            "bool": {
                "should": [
                    {"term": {J.STATUS: J.QUEUED}},
                    {
                        "bool": {
                            "filter": [
                                {"term": {J.STATUS: J.RUNNING}},
                                {"range": {J.LEASE_UNTIL: {"lt": iso(now)}}},
                            ]
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        }

    def lease(self, worker: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Job | None:
        """The oldest job that is queued or whose lease ran out, now leased to ``worker``."""
        now = utcnow()
        self.client.indices.refresh(index=self.index)
        res = self.client.search(
            index=self.index,
            body={
                "query": self._claimable(now),
                "sort": [{J.CREATED_AT: "asc"}],
                "size": 10,
                "seq_no_primary_term": True,
                "_source": {"excludes": [J.RESULTS, J.PARAMS]},
            },
        )
        for hit in res["hits"]["hits"]:
            fresh = self.get(hit["_id"])  # the full document at its current version
            if fresh is None or fresh.finished:
                continue
            if fresh.status == J.RUNNING and parse_iso(str(fresh.source[J.LEASE_UNTIL])) >= now:
                continue
            source = dict(fresh.source)
            source.update(
                {
                    J.STATUS: J.RUNNING,
                    J.LEASE_OWNER: worker,
                    J.LEASE_UNTIL: iso(now + timedelta(seconds=lease_seconds)),
                    J.ATTEMPTS: int(source.get(J.ATTEMPTS) or 0) + 1,
                    J.UPDATED_AT: iso(now),
                }
            )
            try:
                return self._write(fresh, source)
            except LeaseLost:
                continue  # another worker took it first
        return None

    def _write(self, job: Job, source: dict[str, Any]) -> Job:
        try:
            res = self.client.index(
                index=self.target,
                id=job.id,
                body=source,
                if_seq_no=job.seq_no,
                if_primary_term=job.primary_term,
            )
        except ConflictError as exc:
            raise LeaseLost(job.id) from exc
        return Job(job.id, source, res["_seq_no"], res["_primary_term"])

    def progress(
        self,
        job: Job,
        results: Sequence[Mapping[str, Any]],
        *,
        done: int,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> Job:
        """Append ``results``, record ``done`` and renew the lease (LeaseLost if it was taken)."""
        now = utcnow()
        source = dict(job.source)
        source[J.RESULTS] = [*job.results, *results]
        source[J.DONE] = done
        source[J.LEASE_UNTIL] = iso(now + timedelta(seconds=lease_seconds))
        source[J.UPDATED_AT] = iso(now)
        return self._write(job, source)

    def finish(self, job: Job, *, error: str | None = None) -> Job:
        source = dict(job.source)
        source[J.STATUS] = J.FAILED if error else J.SUCCEEDED
        source[J.ERROR] = error
        source[J.LEASE_UNTIL] = None
        source[J.UPDATED_AT] = iso(utcnow())
        return self._write(job, source)

    # ------------------------------------------------------------------ housekeeping

    def purge_finished(self, older_than: timedelta = JOB_TTL) -> int:
        cutoff = iso(utcnow() - older_than)
        res = self.client.delete_by_query(
            index=self.index,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"terms": {J.STATUS: list(J.FINISHED)}},
                            {"range": {J.UPDATED_AT: {"lt": cutoff}}},
                        ]
                    }
                }
            },
            params={"conflicts": "proceed", "refresh": "true"},
        )
        return int(res.get("deleted", 0))

    def stats(self) -> QueueStats:
        """Queue depth and the age of the oldest waiting job (for metrics)."""
        res = self.client.search(
            index=self.index,
            body={
                "size": 0,
                "query": {"terms": {J.STATUS: [J.QUEUED, J.RUNNING]}},
                "aggs": {
                    "by_status": {"terms": {"field": J.STATUS}},
                    "oldest_queued": {
                        "filter": {"term": {J.STATUS: J.QUEUED}},
                        "aggs": {"min_created": {"min": {"field": J.CREATED_AT}}},
                    },
                },
            },
        )
        counts = {b["key"]: int(b["doc_count"]) for b in res["aggregations"]["by_status"]["buckets"]}
        oldest = res["aggregations"]["oldest_queued"]["min_created"].get("value")
        age = 0.0
        if oldest is not None:
            age = max(0.0, utcnow().timestamp() - float(oldest) / 1000.0)
        return QueueStats(counts.get(J.QUEUED, 0), counts.get(J.RUNNING, 0), age)
