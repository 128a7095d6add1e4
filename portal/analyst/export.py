"""CSV export of a search's results: the fields that matter per record type, streamed.

Rows come from one point in time (count and rows agree, so the audited row count is what
the file holds), paged with ``search_after``, secured like every records query, and capped
at ``settings.export_max_rows``. Cells are neutralised against spreadsheet formula
injection (a leading ``= + - @``, tab or carriage return gets a ``'`` in front).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from opensearchpy import OpenSearch

from lantern.jobs import Job, JobStore
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from portal.present import TYPE_LABELS, humanise
from search import builders as B
from search.gateway import Scan, SecuredRecords
from search.parser import PlaceLookup, parse
from search.places import place_lookup
from search.urlstate import SearchState, base_query, state_from_params

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
IDENTIFIER_COLUMNS = (
    ("vrms", "VRM"),
    ("phones", "PHONE"),
    ("postcodes", "POSTCODE"),
    ("pnc_ids", "PNC_ID"),
    ("cro_numbers", "CRO_NO"),
    ("ninos", "NINO"),
    ("emails", "EMAIL"),
    ("weapons", "WEAPON"),
    ("drugs", "DRUG"),
)
COLUMNS = (
    "reference",
    "record_type",
    "record_date",
    "title",
    "station",
    "court",
    "borough",
    "unit",
    "status",
    "outcome",
    "offence_categories",
    "grading",
    "people",
    *(name for name, _ in IDENTIFIER_COLUMNS),
    "record_id",
)
SOURCE = [
    F.ID,
    F.RECORD_TYPE,
    F.REFERENCE,
    F.TITLE,
    F.RECORD_DATE,
    F.STATION,
    F.COURT,
    F.BOROUGH,
    F.UNIT,
    F.STATUS,
    F.OUTCOME,
    F.OFFENCE_CATEGORIES,
    F.GRADING,
    F.people(F.P_ROLE),
    F.people(F.P_NAME),
    F.people(F.P_DOB),
    F.people(F.P_PNC_ID),
    *(F.entity(label) for _, label in IDENTIFIER_COLUMNS),
]
PAGE_SIZE = 1000


def safe_cell(value: Any) -> str:
    """A cell a spreadsheet will show as text, never evaluate."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _join(values: Iterable[Any]) -> str:
    return "; ".join(str(v) for v in values if v not in (None, ""))


def _person(p: Mapping[str, Any]) -> str:
    out = str(p.get(F.P_NAME) or "").strip()
    extras = [
        x
        for x in (
            p.get(F.P_DOB) and f"b. {str(p[F.P_DOB])[:10]}",
            p.get(F.P_PNC_ID) and f"PNC {p[F.P_PNC_ID]}",
        )
        if x
    ]
    if extras:
        out += f" ({', '.join(extras)})"
    role = humanise(str(p.get(F.P_ROLE) or "")).capitalize()
    return f"{role}: {out}" if role else out


def row(src: Mapping[str, Any]) -> list[str]:
    """One CSV row (already safe) for a search document's ``_source``."""
    entities: Mapping[str, list[str]] = src.get(F.ENTITIES) or {}
    rtype = str(src.get(F.RECORD_TYPE) or "")
    values: dict[str, Any] = {
        "reference": src.get(F.REFERENCE),
        "record_type": TYPE_LABELS.get(rtype, rtype),
        "record_date": str(src.get(F.RECORD_DATE) or "")[:19].replace("T", " "),
        "title": src.get(F.TITLE),
        "station": src.get(F.STATION),
        "court": src.get(F.COURT),
        "borough": src.get(F.BOROUGH),
        "unit": src.get(F.UNIT),
        "status": humanise(src.get(F.STATUS)),
        "outcome": humanise(src.get(F.OUTCOME)),
        "offence_categories": _join(src.get(F.OFFENCE_CATEGORIES) or []),
        "grading": src.get(F.GRADING),
        "people": _join(_person(p) for p in (src.get(F.PEOPLE) or [])),
        "record_id": src.get(F.ID),
    }
    for name, label in IDENTIFIER_COLUMNS:
        values[name] = _join(entities.get(label.lower()) or [])
    return [safe_cell(values.get(c)) for c in COLUMNS]


def sort_for(state: SearchState) -> list[Any]:
    return B._sort(state.sort, bool(state.q.strip()))  # the search page's own order


def export_query(state: SearchState, today: date | None, places: PlaceLookup | None = None) -> dict[str, Any]:
    """The search page's query (with its facet selections as filters), scored like it."""
    query = base_query(state, today, places)
    if state.sort == "relevance" and not parse(state.q).empty:
        query = B.with_recency(query)
    return query


@dataclass
class Export:
    total: int  # readable matches
    rows: int  # rows the file will hold (capped)
    scan: Scan
    hits: list[dict[str, Any]] | None = None

    def materialise(self) -> list[str]:
        """Read every row before anything is sent, and return the record ids the file will hold.

        Each exported id is audited (a manifest) before the first byte leaves, so the rows are
        read first; the cap (``export_max_rows``) bounds the memory this takes.
        """
        try:
            self.hits = list(self.scan)
        finally:
            self.scan.close()
        self.rows = len(self.hits)
        return [str((h.get("_source") or {}).get(F.ID) or h.get("_id")) for h in self.hits]

    def chunks(self) -> Iterator[str]:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        buf.write("\ufeff")  # Excel reads UTF-8 only with a BOM
        writer.writerow(COLUMNS)
        for n, hit in enumerate(self.hits if self.hits is not None else self.scan, start=1):
            writer.writerow(row(hit.get("_source") or {}))
            if n % 200 == 0:
                yield buf.getvalue()
                buf.seek(0)
                buf.truncate()
        yield buf.getvalue()

    def close(self) -> None:
        self.scan.close()


def open_export(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    state: SearchState,
    *,
    today: date | None = None,
    limit: int | None = None,
) -> Export:
    """The export of ``state``'s results as ``user`` (call ``chunks()`` to stream, or ``close()``)."""
    cap = max(1, min(limit or settings.export_max_rows, settings.export_max_rows))
    scan = SecuredRecords(client, settings, user).scan(
        export_query(state, today, place_lookup(client, settings)),
        sort=sort_for(state),
        source=SOURCE,
        limit=cap,
        page_size=min(PAGE_SIZE, cap),
        today=today,
    )
    return Export(scan.total, min(scan.total, cap), scan)


# ------------------------------------------------------------------------ export jobs
#
# An export of more than ``settings.export_inline_rows`` rows is not read inside the request:
# it is queued in the ``jobs`` index and a ``lantern worker`` reads it as the user, audits
# every row's id (``export.manifest``, which also counts against the daily quota) and stores
# the ids, never record content, a chunk at a time (a worker that takes over a dead worker's
# job resumes after the chunks already recorded, so no row is counted twice). The download,
# served by any portal process, reads those records again through the gateway as the user,
# in the stored order: a record the user may no longer read by then is left out (the trail
# may over-state, never under-state).

JOB_KIND = "export"
# Ids stored per progress write (each write also renews the worker's lease).
JOB_CHUNK = 1000


def start_job(
    store: JobStore,
    user: Principal,
    state: SearchState,
    *,
    limit: int,
    estimate: int,
    today: date | None,
    request_id: str | None,
    audit_context: dict[str, Any],
) -> Job:
    """Queue the export of ``state`` (at most ``limit`` rows) for a worker."""
    params = {
        "state": [list(p) for p in state.params()],
        "limit": limit,
        "today": today.isoformat() if today else None,
        "audit": audit_context,
    }
    return store.enqueue(JOB_KIND, user.username, params, total=estimate, request_id=request_id)


def run_job(
    client: OpenSearch,
    settings: Settings,
    store: JobStore,
    job: Job,
    user: Principal,
    *,
    lease_seconds: float,
    quota_left: int,
    recorded: Mapping[int, list[str]],
    before_store: Callable[[int, list[str]], None],
) -> Job:
    """Read the export as ``user`` (worker side) and store its record ids, chunk by chunk.

    ``before_store(chunk, ids)`` audits a chunk's ids before the chunk is stored, so before any
    can be downloaded. ``recorded`` holds the chunks this job's manifests already recorded (a
    previous worker died part-way): those rows were disclosed, so they are kept as they are,
    never recorded again, and the read resumes after them. A point in time does not outlive
    its worker, so the takeover reads from the top in a new one and skips the ids it has; if
    the records changed meanwhile, the file holds fewer rows, never more than ``limit``.

    ``quota_left`` is the user's export allowance now, which already counts this job's
    recorded rows (another export may have used some since this one was queued).
    """
    params = job.params
    state = state_from_params((str(k), str(v)) for k, v in params.get("state") or [])
    today = date.fromisoformat(params["today"]) if params.get("today") else None
    stored = {int(part["chunk"]): part for part in job.results if part.get("chunk")}
    parts = {n: list(ids) for n, ids in recorded.items()}
    for n, part in stored.items():
        parts.setdefault(n, [str(i) for i in part.get("ids") or []])
    have = [i for n in sorted(parts) for i in parts[n]]
    seen = set(have)
    # This job's own recorded rows are in ``quota_left``'s used count already.
    limit = min(int(params.get("limit") or 0), quota_left + len(have))
    if limit <= 0:
        return store.finish(job, error="quota")
    export = open_export(client, settings, user, state, today=today, limit=limit)
    current = job
    done = len(have)

    def store_part(n: int, ids: list[str]) -> None:
        nonlocal current
        current = store.progress(
            current, [{"chunk": n, "ids": ids, "total": export.total}], done=done, lease_seconds=lease_seconds
        )

    try:
        # Chunks recorded but not stored (the worker died in between) are stored first.
        for n in sorted(set(parts) - set(stored)):
            store_part(n, parts[n])
        chunk = max(parts, default=0)
        pending: list[str] = []

        def flush() -> None:
            nonlocal chunk, done, current, pending
            chunk += 1
            # Renew the lease first: a worker whose job was taken over stops before recording.
            current = store.progress(current, [], done=done, lease_seconds=lease_seconds)
            before_store(chunk, pending)
            done += len(pending)
            store_part(chunk, pending)
            pending = []

        for hit in export.scan:
            if done + len(pending) >= limit:
                break
            rid = str((hit.get("_source") or {}).get(F.ID) or hit.get("_id"))
            if rid in seen:
                continue
            seen.add(rid)
            pending.append(rid)
            if len(pending) == JOB_CHUNK:
                flush()
        if pending:
            flush()
    finally:
        export.close()
    if not current.results:  # nothing to export: the matches count is still shown
        empty = [{"ids": [], "total": export.total}]
        current = store.progress(current, empty, done=0, lease_seconds=lease_seconds)
    return store.finish(current)


@dataclass
class ExportJobView:
    """A stored export job as its owner sees it."""

    id: str
    rows: int  # the estimate while running, the rows stored when finished
    done: int
    percent: int
    finished: bool
    error: str | None
    total: int  # readable matches when it ran
    ids: list[str]


def job_view(store: JobStore, user: Principal, job_id: str) -> ExportJobView | None:
    """The job if it exists, is an export and belongs to ``user``; None otherwise."""
    job = store.get(job_id)
    if job is None or job.kind != JOB_KIND or job.owner != user.username:
        return None
    parts = sorted(job.results, key=lambda part: int(part.get("chunk") or 0))
    ids = [str(i) for part in parts for i in part.get("ids", [])]
    total = max((int(part.get("total") or 0) for part in job.results), default=0)
    error = None
    if job.error == "quota":
        error = "Your export quota for today was used up before this export ran. A supervisor can grant more."
    elif job.error:
        error = "The export failed; nothing was exported. Try again, or tell the service desk."
    rows = len(ids) if job.finished else job.total
    return ExportJobView(job.id, rows, job.done, job.percent, job.finished, error, total, ids)


def download_rows(client: OpenSearch, settings: Settings, user: Principal, ids: list[str]) -> Iterator[str]:
    """The CSV of ``ids``, read now as ``user`` (records no longer readable are left out)."""
    records = SecuredRecords(client, settings, user)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(COLUMNS)
    for start in range(0, len(ids), PAGE_SIZE):
        part = ids[start : start + PAGE_SIZE]
        body = {"query": {"ids": {"values": part}}, "size": len(part), "_source": {"includes": SOURCE}}
        res = records.search(body)
        found = {h["_id"]: h for h in res["hits"]["hits"]}
        for rid in part:
            if rid in found:
                writer.writerow(row(found[rid].get("_source") or {}))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()
