"""Queries over the audit trail for the auditor pages and ``lantern audit export``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from opensearchpy import OpenSearch

from lantern.settings import Settings
from mappings import fields as F
from search.gateway import SecuredRecords

SEARCH_ACTIONS = ["search", "api.search"]
VIEW_ACTIONS = ["record.view", "api.record.view", "entity.view", "api.entity.view", "record.denied", "export"]
FLAGS = (
    "no_reference",
    "self_search",
    "colleague_search",
    "own_postcode",
    "out_of_hours_bulk",
    "review_sample",
)
BASELINE_ACTIONS = [
    "search",
    "api.search",
    "record.view",
    "api.record.view",
    "entity.view",
    "api.entity.view",
    "export",
    "batch_search",
]


@dataclass
class AuditFilter:
    user: str | None = None
    action: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    subject: str | None = None  # a record id or reference, a person's name, an identifier
    flag: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive day
    related_ids: list[str] = field(default_factory=list)  # records about ``subject``

    def as_dict(self) -> dict[str, Any]:
        out = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}
        out.pop("related_ids", None)
        return {k: v for k, v in out.items() if v not in (None, "", [])}


def build_query(f: AuditFilter) -> dict[str, Any]:
    filters: list[dict[str, Any]] = []
    if f.user:
        filters.append({"term": {"user": f.user.strip().lower()}})
    if f.action:
        filters.append({"term": {"action": f.action.strip()}})
    if f.purpose:
        filters.append({"term": {"purpose_code": f.purpose.strip()}})
    if f.outcome:
        filters.append({"term": {"outcome": f.outcome.strip()}})
    if f.flag:
        filters.append({"term": {"flags": f.flag.strip()}})
    if f.since or f.until:
        rng: dict[str, str] = {}
        if f.since:
            rng["gte"] = f.since.isoformat()
        if f.until:
            rng["lt"] = (f.until + timedelta(days=1)).isoformat()
        filters.append({"range": {"ts": rng}})
    if f.subject and f.subject.strip():
        s = f.subject.strip()
        ids = [s, *f.related_ids]
        filters.append(
            {
                "bool": {
                    "should": [
                        {"terms": {"target_ids": ids}},
                        {"terms": {"shown_ids": ids}},
                        {"match": {"query": {"query": s, "operator": "and"}}},
                    ],
                    "minimum_should_match": 1,
                }
            }
        )
    return {"bool": {"filter": filters}} if filters else {"match_all": {}}


def subject_records_query(subject: str) -> dict[str, Any]:
    """Records about ``subject``: its id or reference, a person's name, an identifier."""
    s = subject.strip()
    return {
        "bool": {
            "should": [
                {"term": {F.ID: s}},
                {"term": {F.REFERENCE: s.upper()}},
                {
                    "nested": {
                        "path": F.PEOPLE,
                        "query": {"match": {F.people(F.P_NAME): {"query": s, "operator": "and"}}},
                    }
                },
                {"multi_match": {"query": s, "fields": [f"{F.ENTITIES}.*"], "lenient": True}},
            ],
            "minimum_should_match": 1,
        }
    }


def related_record_ids(records: SecuredRecords, subject: str, limit: int = 2000) -> list[str]:
    """Ids of records about ``subject``, regardless of markings (the gateway's auditor path): an
    auditor sees ids and who looked at them, never the records' content. An engine error is
    raised (an error page), never an empty list that would under-report who looked."""
    if not subject.strip():
        return []
    return records.auditor_record_ids(subject_records_query(subject), limit=limit)


def search_events(
    client: OpenSearch, settings: Settings, f: AuditFilter, *, page: int = 1, size: int = 50
) -> tuple[int, list[dict[str, Any]]]:
    res = client.search(
        index=settings.index_name("audit"),
        body={
            "query": build_query(f),
            "sort": [{"seq": "desc"}],
            "from": (page - 1) * size,
            "size": size,
            "track_total_hits": True,
        },
    )
    return int(res["hits"]["total"]["value"]), [h["_source"] for h in res["hits"]["hits"]]


def subject_summary(client: OpenSearch, settings: Settings, f: AuditFilter) -> list[dict[str, Any]]:
    """Who looked at the subject, for what purposes, how often, and when last."""
    res = client.search(
        index=settings.index_name("audit"),
        body={
            "size": 0,
            "query": build_query(f),
            "aggs": {
                "users": {
                    "terms": {"field": "user", "size": 200},
                    "aggs": {
                        "last": {"max": {"field": "ts"}},
                        "purposes": {
                            "terms": {"field": "purpose_code", "size": 10},
                            "aggs": {"refs": {"terms": {"field": "purpose_reference", "size": 10}}},
                        },
                        "actions": {"terms": {"field": "action", "size": 10}},
                    },
                }
            },
        },
    )
    out = []
    for b in res["aggregations"]["users"]["buckets"]:
        out.append(
            {
                "user": b["key"],
                "count": b["doc_count"],
                "last": b["last"].get("value_as_string"),
                "purposes": [
                    {"code": p["key"], "refs": [r["key"] for r in p["refs"]["buckets"]]}
                    for p in b["purposes"]["buckets"]
                ],
                "actions": {a["key"]: a["doc_count"] for a in b["actions"]["buckets"]},
            }
        )
    return out


def user_summary(client: OpenSearch, settings: Settings, f: AuditFilter) -> dict[str, Any]:
    res = client.search(
        index=settings.index_name("audit"),
        body={
            "size": 0,
            "query": build_query(f),
            "aggs": {
                "actions": {"terms": {"field": "action", "size": 50}},
                "purposes": {"terms": {"field": "purpose_code", "size": 50}},
                "flags": {"terms": {"field": "flags", "size": 10}},
                "first": {"min": {"field": "ts"}},
                "last": {"max": {"field": "ts"}},
            },
        },
    )
    a = res["aggregations"]
    return {
        "total": res["hits"]["total"]["value"],
        "actions": [(b["key"], b["doc_count"]) for b in a["actions"]["buckets"]],
        "purposes": [(b["key"], b["doc_count"]) for b in a["purposes"]["buckets"]],
        "flags": [(b["key"], b["doc_count"]) for b in a["flags"]["buckets"]],
        "first": a["first"].get("value_as_string"),
        "last": a["last"].get("value_as_string"),
    }


def volume_anomalies(
    client: OpenSearch, settings: Settings, f: AuditFilter, per_hour: int
) -> list[dict[str, Any]]:
    """Hours in which a user ran more than ``per_hour`` searches."""
    base = build_query(AuditFilter(user=f.user, since=f.since, until=f.until))
    query = {"bool": {"filter": [base, {"terms": {"action": SEARCH_ACTIONS}}]}}
    res = client.search(
        index=settings.index_name("audit"),
        body={
            "size": 0,
            "query": query,
            "aggs": {
                "users": {
                    "terms": {"field": "user", "size": 500},
                    "aggs": {
                        "hours": {
                            "date_histogram": {
                                "field": "ts",
                                "fixed_interval": "1h",
                                "min_doc_count": per_hour + 1,
                            }
                        },
                    },
                }
            },
        },
    )
    out = []
    for u in res["aggregations"]["users"]["buckets"]:
        for h in u["hours"]["buckets"]:
            if h["doc_count"] > per_hour:
                out.append({"user": u["key"], "hour": h["key_as_string"], "count": h["doc_count"]})
    out.sort(key=lambda r: (-r["count"], r["user"]))
    return out


def baseline_spikes(
    client: OpenSearch,
    settings: Settings,
    day: date,
    *,
    baseline_days: int = 28,
    factor: float | None = None,
    min_actions: int | None = None,
) -> list[dict[str, Any]]:
    """Users whose data actions on ``day`` exceed ``factor`` times their own daily average over
    the ``baseline_days`` before it (and ``min_actions``): a spike against the user's own habit,
    not a force-wide threshold that a busy analyst always trips and a quiet officer never does."""
    factor = factor or settings.volume_spike_factor
    floor = min_actions or settings.volume_spike_min_actions
    start = day - timedelta(days=baseline_days)
    window = {"gte": start.isoformat(), "lt": (day + timedelta(days=1)).isoformat()}
    res = client.search(
        index=settings.index_name("audit"),
        body={
            "size": 0,
            "query": {
                "bool": {
                    "filter": [
                        {"terms": {"action": BASELINE_ACTIONS}},
                        {"range": {"ts": window}},
                    ]
                }
            },
            "aggs": {
                "users": {
                    "terms": {"field": "user", "size": 1000},
                    "aggs": {
                        "today": {"filter": {"range": {"ts": {"gte": day.isoformat()}}}},
                    },
                }
            },
        },
    )
    out = []
    for b in res["aggregations"]["users"]["buckets"]:
        today = int(b["today"]["doc_count"])
        before = int(b["doc_count"]) - today
        baseline = before / baseline_days
        if today >= floor and today > factor * max(baseline, 1.0):
            out.append(
                {"user": b["key"], "day": day.isoformat(), "count": today, "baseline": round(baseline, 1)}
            )
    out.sort(key=lambda r: (-r["count"], r["user"]))
    return out
