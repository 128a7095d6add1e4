"""Batch search: a pasted or uploaded list, each line searched exactly like the search box.

Input is one search per line, or a CSV. A CSV whose first row names its columns (name,
forename, surname, dob, vrm, phone, postcode, pnc, cro, nino, email, imei, ref) has each
row turned into a search-box query (``John Smith dob:12/03/1985 vrm:"AB12 CDE"``), so the
parser, builders and ranking are the search box's own; a CSV without a header has its
cells joined with spaces. Every query is secured with the user's access filter and sent
in ``msearch`` chunks.

Small lists run inside the request (works without JavaScript). Larger ones are queued as
a job in the ``jobs`` index and run by a ``lantern worker`` process; the job page, served
by any portal process, shows progress (htmx polling, or a meta refresh without
JavaScript) and then the table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from opensearchpy import OpenSearch

from lantern.jobs import Job, JobStore
from lantern.principal import Principal
from lantern.settings import Settings
from portal.present import ResultItem, result_item
from search import builders as B
from search.gateway import MSEARCH_CHUNK, SecuredRecords
from search.parser import parse
from search.urlstate import SearchState

MAX_LINES = 1000
MAX_LINE_CHARS = 300
MAX_INPUT_BYTES = 1_000_000
SYNC_MAX_LINES = 100
BEST_MATCHES = 3
MAX_JOBS_PER_USER = 3

Format = Literal["auto", "lines", "csv"]

# CSV header (lower-cased, spaces/underscores/hyphens removed) -> how its cells enter the query.
WORD_COLUMNS = {
    "name",
    "fullname",
    "person",
    "forename",
    "forenames",
    "firstname",
    "givenname",
    "givennames",
    "middlename",
    "surname",
    "lastname",
    "familyname",
    "alias",
}
FIELD_COLUMNS = {
    "dob": "dob",
    "dateofbirth": "dob",
    "born": "dob",
    "birthdate": "dob",
    "vrm": "vrm",
    "reg": "vrm",
    "registration": "vrm",
    "vehicle": "vrm",
    "numberplate": "vrm",
    "phone": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "phonenumber": "phone",
    "postcode": "postcode",
    "pnc": "pnc",
    "pncid": "pnc",
    "cro": "cro",
    "crono": "cro",
    "nino": "nino",
    "ni": "nino",
    "nationalinsurance": "nino",
    "email": "email",
    "imei": "imei",
    "ref": "ref",
    "reference": "ref",
}
QUERY_COLUMNS = {"query", "search", "q"}


class BatchError(ValueError):
    """The list cannot be searched as given (shown to the user with their input kept)."""


@dataclass(frozen=True)
class BatchLine:
    number: int  # line (or CSV row) number in the input
    text: str  # as given
    query: str  # what is searched


@dataclass(frozen=True)
class ParsedInput:
    lines: list[BatchLine]
    notices: list[str]
    format: str


def _key(header: str) -> str:
    return "".join(c for c in header.lower() if c.isalnum())


def _quote(value: str) -> str:
    cleaned = value.replace('"', " ").strip()
    return f'"{cleaned}"' if any(c.isspace() for c in cleaned) else cleaned


def _is_header(cells: Sequence[str]) -> bool:
    """A header row: no digits, and at least half its names are columns we know."""
    names = [c for c in cells if c.strip()]
    if not names or any(ch.isdigit() for c in names for ch in c):
        return False
    known = WORD_COLUMNS | set(FIELD_COLUMNS) | QUERY_COLUMNS
    hits = sum(1 for c in names if _key(c) in known)
    return hits >= 1 and 2 * hits >= len(names)


def decode(data: bytes) -> str:
    if len(data) > MAX_INPUT_BYTES:
        raise BatchError(f"The file is larger than {MAX_INPUT_BYTES // 1_000_000} MB.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def parse_input(text: str, fmt: Format = "auto", filename: str | None = None) -> ParsedInput:
    """The lines to search; raises BatchError for an empty or over-long list."""
    text = text.replace("\x00", " ")
    raw_lines = text.splitlines()
    first = next((ln for ln in raw_lines if ln.strip()), "")
    if fmt == "auto":
        looks_csv = (filename or "").lower().endswith(".csv") or (
            "," in first and _is_header(next(csv.reader([first]), []))
        )
        fmt = "csv" if looks_csv else "lines"
    notices: list[str] = []
    lines: list[BatchLine] = []
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(text)))
        header: list[str] | None = None
        start = 0
        nonempty = [i for i, r in enumerate(rows) if any(c.strip() for c in r)]
        if nonempty and _is_header(rows[nonempty[0]]):
            header = [_key(c) for c in rows[nonempty[0]]]
            start = nonempty[0] + 1
            ignored = sorted(
                {
                    rows[nonempty[0]][i].strip()
                    for i, k in enumerate(header)
                    if k and k not in WORD_COLUMNS and k not in FIELD_COLUMNS and k not in QUERY_COLUMNS
                }
            )
            if ignored:
                notices.append(f"Columns not used: {', '.join(ignored)}.")
        for i in range(start, len(rows)):
            cells = rows[i]
            if not any(c.strip() for c in cells):
                continue
            query = _row_query(cells, header)
            lines.append(BatchLine(i + 1, ", ".join(c.strip() for c in cells if c.strip()), query))
    else:
        for i, line in enumerate(raw_lines, start=1):
            if line.strip():
                lines.append(BatchLine(i, line.strip(), line.strip()))
    if not lines:
        raise BatchError("The list is empty: paste one search per line, or upload a CSV or text file.")
    if len(lines) > MAX_LINES:
        raise BatchError(
            f"The list has {len(lines):,} lines; the limit is {MAX_LINES:,}. Split it and search "
            "each part separately."
        )
    too_long = [ln.number for ln in lines if len(ln.query) > MAX_LINE_CHARS]
    if too_long:
        notices.append(
            f"{len(too_long)} line(s) longer than {MAX_LINE_CHARS} characters were shortened "
            f"(first: line {too_long[0]})."
        )
        lines = [BatchLine(ln.number, ln.text, ln.query[:MAX_LINE_CHARS]) for ln in lines]
    return ParsedInput(lines, notices, fmt)


def _row_query(cells: Sequence[str], header: Sequence[str] | None) -> str:
    if header is None:
        return " ".join(c.strip() for c in cells if c.strip())
    words: list[str] = []
    fields: list[str] = []
    for k, cell in zip(header, cells, strict=False):
        value = cell.strip()
        if not value:
            continue
        if k in WORD_COLUMNS or k in QUERY_COLUMNS:
            words.append(value)
        elif k in FIELD_COLUMNS:
            fields.append(f"{FIELD_COLUMNS[k]}:{_quote(value)}")
    return " ".join([*words, *fields])


# ------------------------------------------------------------------------ searching


@dataclass
class LineResult:
    line: BatchLine
    total: int = 0
    matches: list[ResultItem] = field(default_factory=list)
    href: str = ""
    error: str | None = None
    notices: tuple[str, ...] = ()


def line_request(line: BatchLine, dob_years: int, today: date | None) -> B.SearchRequest:
    parsed = parse(line.query, dob_years=dob_years, today=today)
    return B.SearchRequest(parsed=parsed, size=BEST_MATCHES, with_facets=False, with_highlight=False)


def run_lines(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    lines: Sequence[BatchLine],
    *,
    dob_years: int = 0,
    today: date | None = None,
    on_progress: Callable[[list[LineResult]], None] | None = None,
) -> list[LineResult]:
    """Search every line as ``user``; ``on_progress`` gets each chunk's results as they arrive."""
    out: list[LineResult] = []
    records = SecuredRecords(client, settings, user)
    for start in range(0, len(lines), MSEARCH_CHUNK):
        chunk = lines[start : start + MSEARCH_CHUNK]
        reqs = [line_request(ln, dob_years, today) for ln in chunk]
        bodies = [B.build_search(r) for r in reqs]
        results: list[LineResult] = []
        for ln, req, resp in zip(chunk, reqs, records.msearch(bodies, today=today), strict=True):
            href = SearchState(q=ln.query, dob_years=dob_years).href("/search")
            if "error" in resp:
                results.append(
                    LineResult(
                        ln, href=href, error="This line could not be searched.", notices=req.parsed.notices
                    )
                )
                continue
            hits = resp.get("hits", {})
            results.append(
                LineResult(
                    ln,
                    total=int(hits.get("total", {}).get("value", 0)),
                    matches=[result_item(h, user) for h in hits.get("hits", [])],
                    href=href,
                    notices=req.parsed.notices,
                )
            )
        out.extend(results)
        if on_progress is not None:
            on_progress(results)
    return out


def shown_ids(results: Sequence[LineResult]) -> list[str]:
    return [m.id for r in results for m in r.matches]


def summary(results: Sequence[LineResult]) -> dict[str, Any]:
    return {
        "lines_with_hits": sum(1 for r in results if r.total),
        "lines_failed": sum(1 for r in results if r.error),
        "shown_ids": [m.id for r in results for m in r.matches],
    }


# ------------------------------------------------------------------------ jobs
#
# A job lives in the ``jobs`` index (lantern.jobs), not in this process: it is started
# through one portal process, run by a ``lantern worker`` process, and polled and shown
# through any portal process. Only the ids of each line's matches are stored; the page
# reads those records as the user when it is shown, so access is decided at view time.

JOB_KIND = "batch"
# The audit action of a batch search (its manifests are ``batch_search.manifest``).
AUDIT_ACTION = "batch_search"


def start_job(
    store: JobStore,
    user: Principal,
    parsed: ParsedInput,
    *,
    dob_years: int,
    today: date | None = None,
    request_id: str | None = None,
    audit_context: dict[str, Any] | None = None,
) -> Job:
    """Queue ``parsed`` for a worker; BatchError when the user already has enough running.

    ``audit_context`` is what the worker's manifest events need of the request that started
    the job (``of_seq`` of its ``batch_search`` event, purpose, client address, session).
    """
    running = store.unfinished_count(user.username)
    if running >= MAX_JOBS_PER_USER:
        raise BatchError(f"You already have {running} batch searches running; wait for one to finish.")
    params = {
        "lines": [{"n": ln.number, "text": ln.text, "query": ln.query} for ln in parsed.lines],
        "dob_years": dob_years,
        "today": today.isoformat() if today else None,
        "audit": audit_context or {},
    }
    return store.enqueue(
        JOB_KIND,
        user.username,
        params,
        total=len(parsed.lines),
        notices=parsed.notices,
        request_id=request_id,
    )


def _stored(result: LineResult) -> dict[str, Any]:
    return {
        "n": result.line.number,
        "text": result.line.text,
        "query": result.line.query,
        "total": result.total,
        "ids": [m.id for m in result.matches],
        "href": result.href,
        "error": result.error,
        "notices": list(result.notices),
    }


def run_job(
    client: OpenSearch,
    settings: Settings,
    store: JobStore,
    job: Job,
    user: Principal,
    *,
    lease_seconds: float,
    recorded: Mapping[int, Sequence[str]] | None = None,
    before_show: Callable[[int, list[LineResult]], None] | None = None,
) -> Job:
    """Search the lines ``job`` has not done yet as ``user``, recording each chunk (worker side).

    Chunk ``n`` is lines ``(n - 1) * MSEARCH_CHUNK + 1`` onwards, ``MSEARCH_CHUNK`` of them.
    ``before_show(n, results)`` gets each chunk before it is stored (the worker audits the
    disclosed ids there); if it raises, the job stops and the chunk is never stored, so never
    shown. ``recorded`` holds the ids this job's manifests already recorded, by chunk (a
    previous worker died between recording a chunk and storing it): such a chunk is searched
    again but not recorded again, and keeps only the matches its manifest holds, so every
    id shown was recorded, once (if the records changed meanwhile, the line shows fewer
    matches, never one that was not recorded).
    Raises LeaseLost when another worker has taken the job over; the caller stops.
    """
    params = job.params
    lines = [BatchLine(int(x["n"]), str(x["text"]), str(x["query"])) for x in params.get("lines", [])]
    today = date.fromisoformat(params["today"]) if params.get("today") else None
    already = {int(n): set(ids) for n, ids in (recorded or {}).items()}
    current = job

    def progress(chunk: list[LineResult]) -> None:
        nonlocal current
        number = current.done // MSEARCH_CHUNK + 1
        if number in already:
            chunk = [_only(r, already[number]) for r in chunk]
        elif before_show is not None:
            # Renew the lease first: a worker whose job was taken over stops before recording.
            current = store.progress(current, [], done=current.done, lease_seconds=lease_seconds)
            before_show(number, chunk)
        current = store.progress(
            current,
            [_stored(r) for r in chunk],
            done=current.done + len(chunk),
            lease_seconds=lease_seconds,
        )

    # Resume after the last stored chunk when a previous worker died part-way.
    run_lines(
        client,
        settings,
        user,
        lines[current.done :],
        dob_years=int(params.get("dob_years") or 0),
        today=today,
        on_progress=progress,
    )
    return store.finish(current)


def _only(result: LineResult, ids: set[str]) -> LineResult:
    """``result`` with only the matches in ``ids`` (those not in it are neither listed nor counted)."""
    kept = [m for m in result.matches if m.id in ids]
    return replace(result, matches=kept, total=max(0, result.total - (len(result.matches) - len(kept))))


@dataclass
class BatchJobView:
    """A stored job as its owner sees it now (results re-read through the gateway)."""

    id: str
    total: int
    done: int
    percent: int
    finished: bool
    error: str | None
    notices: list[str]
    results: list[LineResult]


def job_view(
    client: OpenSearch, settings: Settings, store: JobStore, user: Principal, job_id: str
) -> BatchJobView | None:
    """The job if it exists, is a batch job and belongs to ``user``; None otherwise."""
    job = store.get(job_id)
    if job is None or job.kind != JOB_KIND or job.owner != user.username:
        return None
    results: list[LineResult] = []
    error = job.error and "The search service failed part-way through; the lines searched so far are shown."
    if job.finished:
        stored = job.results
        ids = [i for r in stored for i in r.get("ids", [])]
        hits = _readable_hits(client, settings, user, ids)
        for r in stored:
            line = BatchLine(int(r["n"]), str(r["text"]), str(r["query"]))
            matches = [result_item(hits[i], user) for i in r.get("ids", []) if i in hits]
            # A match the user may no longer read is neither listed nor counted.
            lost = len(r.get("ids", [])) - len(matches)
            results.append(
                LineResult(
                    line,
                    total=max(0, int(r.get("total") or 0) - lost),
                    matches=matches,
                    href=str(r.get("href") or ""),
                    error=r.get("error"),
                    notices=tuple(r.get("notices") or ()),
                )
            )
    return BatchJobView(job.id, job.total, job.done, job.percent, job.finished, error, job.notices, results)


def _readable_hits(
    client: OpenSearch, settings: Settings, user: Principal, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    records = SecuredRecords(client, settings, user)
    unique = sorted(set(ids))
    out: dict[str, dict[str, Any]] = {}
    for start in range(0, len(unique), 1000):
        part = unique[start : start + 1000]
        body = {
            "query": {"ids": {"values": part}},
            "size": len(part),
            "_source": {"includes": B.RESULT_SOURCE},
        }
        for hit in records.search(body)["hits"]["hits"]:
            out[hit["_id"]] = hit
    return out
