"""The one door to the records index: :class:`SecuredRecords`.

Everything that reads records as somebody (the search pages and API, entity and record
pages, batch search, CSV export, saved-query counts, notifications) goes through a
``SecuredRecords(client, settings, user)``. Every body it sends is passed through
:func:`secure_body`, which wraps the query with the user's access filter
(:func:`search.access.secure`) and refuses the request shapes that could see past it:
body keys outside an allow-list (``suggest``/``rescore`` run outside the query,
``script_fields``/``runtime_mappings`` could read any field) and aggregations outside an
allow-list (``global`` ignores the query; ``significant_terms`` compares with the whole
index; ``terms`` with ``min_doc_count: 0`` lists values of records the query excluded).

Engine errors become domain errors here, at this one boundary (index missing ->
:class:`~lantern.errors.IndexMissing`, refused query -> :class:`~lantern.errors.BadQuery`,
unreachable or timed out -> :class:`~lantern.errors.SearchUnavailable`), so callers never
catch ``opensearchpy`` exceptions.

Three reads are deliberately not filtered by a reader's access, and each has its own named
path: :meth:`SecuredRecords.auditor_record_ids` (the ids of records that mention a subject,
for "who looked at X"; ids only, never content, auditors only),
:func:`documents_to_percolate` (the alert hook re-reading records it indexed itself; each
match is checked with ``can_read`` for every recipient before anyone is told) and
:func:`records_for_resolution` (person resolution reading every record as the system; every
view of a nominal is recomputed from the records its viewer may read, persons/views.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    HTTP_EXCEPTIONS,
    AuthenticationException,
    AuthorizationException,
    ConnectionError,
    ConnectionTimeout,
    NotFoundError,
    RequestError,
    SerializationError,
    TransportError,
)
from opensearchpy.helpers import scan

from lantern.clock import today_utc
from lantern.errors import BadQuery, IndexMissing, NotFound, SearchUnavailable
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from search.access import secure

# Body keys a caller may send; anything else is refused.
ALLOWED_KEYS = frozenset(
    {
        "query",
        "from",
        "size",
        "sort",
        "track_total_hits",
        "_source",
        "aggs",
        "post_filter",
        "highlight",
        "search_after",
        "timeout",
        # Stops collecting after that many matching documents per shard (the answer says
        # ``terminated_early``): a bound on work, never a way past the access filter.
        "terminate_after",
    }
)
# Aggregations that only ever see documents matching the (secured) query. Bucket
# aggregations that can list values from non-matching documents are absent on purpose.
ALLOWED_AGGS = frozenset(
    {
        "terms",
        "date_histogram",
        "histogram",
        "filter",
        "filters",
        "nested",
        "reverse_nested",
        "cardinality",
        "value_count",
        "min",
        "max",
        "avg",
        "sum",
        "stats",
        "top_hits",
        # The map (issue 14): grid cells, their centres and the extent of matching records'
        # points. Each buckets or measures only documents the secured query matched.
        "geotile_grid",
        "geo_centroid",
        "geo_bounds",
        # The chart's hub cap (issue 14): the best-scoring of the matching documents only.
        "sampler",
    }
)
_AGG_SIBLING_KEYS = frozenset({"aggs", "aggregations", "meta"})
_SCRIPT_KEYS = frozenset({"script", "script_fields"})
MSEARCH_CHUNK = 50
AUDITOR_ROLE = "auditor"


class UnsafeQuery(ValueError):
    """A request body that could escape access control (a programming error)."""


def records_alias(settings: Settings) -> str:
    return settings.index_name("records")


# ------------------------------------------------------------------------ securing


def _has_script(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(k in _SCRIPT_KEYS or _has_script(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_script(v) for v in value)
    return False


def _check_aggs(aggs: Any) -> None:
    if not isinstance(aggs, Mapping):
        raise UnsafeQuery("malformed aggregations")
    for agg in aggs.values():
        if not isinstance(agg, Mapping):
            raise UnsafeQuery("malformed aggregation")
        kinds = [k for k in agg if k not in _AGG_SIBLING_KEYS]
        if len(kinds) != 1:
            raise UnsafeQuery("an aggregation must have exactly one type")
        kind = kinds[0]
        if kind not in ALLOWED_AGGS:
            raise UnsafeQuery(f"aggregation type not allowed: {kind}")
        params = agg[kind]
        if not isinstance(params, Mapping):
            raise UnsafeQuery(f"malformed {kind} aggregation")
        if _has_script(params):
            raise UnsafeQuery("scripts are not allowed in aggregations")
        if kind == "terms" and int(params.get("min_doc_count", 1)) < 1:
            raise UnsafeQuery("terms aggregations need min_doc_count >= 1")
        for key in ("aggs", "aggregations"):
            if key in agg:
                _check_aggs(agg[key])


def secure_body(body: Mapping[str, Any], user: Principal, today: date | None = None) -> dict[str, Any]:
    """``body`` with its query restricted to what ``user`` may read (pure; unit-tested)."""
    extra = set(body) - ALLOWED_KEYS
    if extra:
        raise UnsafeQuery(f"request keys not allowed: {sorted(extra)}")
    if body.get("aggs"):
        _check_aggs(body["aggs"])
    out = dict(body)
    out["query"] = secure(body.get("query"), user, today or today_utc())
    return out


# ------------------------------------------------------------------------ engine errors


def _index_missing(exc: TransportError) -> bool:
    return "index_not_found" in f"{exc.error}{exc.info}"


@contextlib.contextmanager
def engine_errors() -> Iterator[None]:
    """Turn ``opensearchpy`` exceptions into Lantern's domain errors (the details stay chained)."""
    try:
        yield
    except ConnectionTimeout as exc:
        raise SearchUnavailable("the search service timed out") from exc
    except ConnectionError as exc:
        raise SearchUnavailable("the search service cannot be reached") from exc
    except (AuthenticationException, AuthorizationException) as exc:
        raise SearchUnavailable("the search service refused Lantern's credentials") from exc
    except NotFoundError as exc:
        if _index_missing(exc):
            raise IndexMissing("the records index does not exist") from exc
        raise NotFound("not found") from exc
    except RequestError as exc:
        raise BadQuery("the search service refused the query") from exc
    except TransportError as exc:
        status = exc.status_code
        if isinstance(status, int) and 400 <= status < 500 and status not in (401, 403, 408, 429):
            raise BadQuery("the search service refused the query") from exc
        raise SearchUnavailable("the search service failed") from exc
    except SerializationError as exc:
        raise SearchUnavailable("the search service sent an unreadable answer") from exc


def raise_item_error(answer: Mapping[str, Any]) -> None:
    """Raise one ``_msearch`` answer's error as the domain error a search would have raised."""
    status = int(answer.get("status") or 500)
    error = answer.get("error")
    kind = error.get("type", "") if isinstance(error, Mapping) else str(error)
    with engine_errors():
        raise HTTP_EXCEPTIONS.get(status, TransportError)(status, kind, {"error": error})


# ------------------------------------------------------------------------ the gateway


class Scan:
    """Hits of one point in time, paged with ``search_after``; ``close()`` releases the snapshot."""

    def __init__(
        self,
        client: OpenSearch,
        pit_id: str,
        page: Callable[[list[Any] | None, int, bool], dict[str, Any]],
        first: dict[str, Any],
        limit: int,
        page_size: int,
    ) -> None:
        self.client = client
        self.pit_id: str | None = pit_id
        self._page = page
        self._first = first
        self.limit = limit
        self.page_size = page_size
        self.total = int(first["hits"]["total"]["value"])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        sent = 0
        try:
            res = self._first
            while True:
                hits = res["hits"]["hits"]
                for hit in hits:
                    if sent >= self.limit:
                        return
                    sent += 1
                    yield hit
                if not hits or sent >= self.limit or len(hits) < self.page_size:
                    return
                res = self._page(hits[-1]["sort"], min(self.page_size, self.limit - sent), False)
        finally:
            self.close()

    def close(self) -> None:
        if self.pit_id is not None:
            pit_id, self.pit_id = self.pit_id, None
            # A point in time left behind expires with its keep_alive anyway.
            with contextlib.suppress(Exception):
                self.client.delete_pit(body={"pit_id": [pit_id]})


def _sorts_on_id(s: Any) -> bool:
    return (isinstance(s, Mapping) and F.ID in s) or s == F.ID


class SecuredRecords:
    """The records index as ``user`` may read it; the only reader of that index."""

    def __init__(self, client: OpenSearch, settings: Settings, user: Principal) -> None:
        self.client = client
        self.settings = settings
        self.user = user

    def search(self, body: Mapping[str, Any], *, today: date | None = None) -> dict[str, Any]:
        """Run ``body`` as the user."""
        secured = secure_body(body, self.user, today)
        with engine_errors():
            result: dict[str, Any] = self.client.search(index=records_alias(self.settings), body=secured)
        return result

    def search_in_pit(
        self,
        body: Mapping[str, Any],
        pit_id: str | None,
        *,
        keep_alive: str = "10m",
        today: date | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Run ``body`` as the user in point in time ``pit_id`` (a new one when None or expired);
        the answer and the point in time it came from (its keep_alive renewed)."""
        secured = secure_body(body, self.user, today)
        for attempt in (1, 2):
            if pit_id is None:
                with engine_errors():
                    pit = self.client.create_pit(
                        index=records_alias(self.settings), params={"keep_alive": keep_alive}
                    )
                pit_id = str(pit["pit_id"])
            # The point in time names the index; it adds no access, the query is secured.
            try:
                with engine_errors():
                    result: dict[str, Any] = self.client.search(
                        body={**secured, "pit": {"id": pit_id, "keep_alive": keep_alive}}
                    )
                return result, pit_id
            except (NotFound, BadQuery):
                # An expired (or unknown) point in time: read the page from a new one; the
                # sort values carried over still say where to continue.
                if attempt == 2:
                    raise
                pit_id = None
        raise AssertionError("unreachable")

    def search_beside(
        self,
        body: Mapping[str, Any],
        beside: Sequence[tuple[str | None, Mapping[str, Any]]],
        *,
        today: date | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Run ``body`` as the user, and in the same request (one ``_msearch``) the searches
        ``beside``: ``(index, body)`` pairs, each answered as the engine answered it
        (``{"error": ...}`` for one it refused). The records answer is raised as a domain
        error like :meth:`search`.

        For a page that needs another index's answer too (the person cards beside a
        search): one round trip instead of two requests competing. An index named
        ``beside`` may not be the records index (it would not be secured); ``None`` is the
        records index as the user may read it, its body secured like ``body`` (the cards'
        readability probe).
        """
        index = records_alias(self.settings)
        day = today or today_utc()
        lines: list[Mapping[str, Any]] = [{"index": index}, secure_body(body, self.user, day)]
        for other, other_body in beside:
            if other is None:
                lines += [{"index": index}, secure_body(other_body, self.user, day)]
                continue
            if not other or other.startswith(index) or any(ch in other for ch in "*?,") or other[0] in "-_.":
                raise UnsafeQuery(f"a search beside the records search must name another index: {other!r}")
            if "pit" in other_body or "index" in other_body:
                raise UnsafeQuery("a search beside the records search names its index once")
            lines += [{"index": other}, other_body]
        with engine_errors():
            res = self.client.msearch(body=lines)
        first, *rest = res["responses"]
        if "error" in first:
            raise_item_error(first)
        return first, rest

    def msearch(
        self, bodies: Sequence[Mapping[str, Any]], *, today: date | None = None, chunk: int = MSEARCH_CHUNK
    ) -> Iterator[dict[str, Any]]:
        """One response per body, in order (``{"error": ...}`` for a body the engine refused)."""
        day = today or today_utc()
        index = records_alias(self.settings)
        for start in range(0, len(bodies), chunk):
            lines: list[Mapping[str, Any]] = []
            for body in bodies[start : start + chunk]:
                lines.append({"index": index})
                lines.append(secure_body(body, self.user, day))
            with engine_errors():
                res = self.client.msearch(body=lines)
            yield from res["responses"]

    def readable(
        self, ids: Sequence[str], *, fields: Sequence[str] = (), today: date | None = None
    ) -> dict[str, dict[str, Any]]:
        """Of ``ids``, those the user may read now, with ``fields`` of each (access checked at read time)."""
        out: dict[str, dict[str, Any]] = {}
        unique = sorted(set(ids))
        for start in range(0, len(unique), 1000):
            part = unique[start : start + 1000]
            body: dict[str, Any] = {
                "query": {"ids": {"values": part}},
                "size": len(part),
                "_source": {"includes": list(fields)} if fields else False,
            }
            for hit in self.search(body, today=today)["hits"]["hits"]:
                out[hit["_id"]] = hit.get("_source") or {}
        return out

    def readable_ids(self, ids: Sequence[str], *, today: date | None = None) -> set[str]:
        """Of ``ids``, those the user may read now (as :meth:`readable` without fields).

        Answered by an aggregation on the id field (records are indexed under ``F.ID``), so
        no hit is fetched: the engine skips the fetch phase and the client reads a short
        list of keys (the person cards' check; bench-persons)."""
        out: set[str] = set()
        unique = sorted(set(ids))
        for start in range(0, len(unique), 1000):
            part = unique[start : start + 1000]
            body: dict[str, Any] = {
                "query": {"ids": {"values": part}},
                "size": 0,
                "track_total_hits": False,
                "aggs": {"ids": {"terms": {"field": F.ID, "size": len(part)}}},
            }
            res = self.search(body, today=today)
            out |= {str(b["key"]) for b in res["aggregations"]["ids"]["buckets"]}
        return out

    def scan(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[Any],
        source: Sequence[str],
        limit: int,
        page_size: int = 1000,
        keep_alive: str = "2m",
        today: date | None = None,
    ) -> Scan:
        """At most ``limit`` readable hits of ``query`` from one point in time, and their total.

        The point in time makes the count and the rows come from the same snapshot, so what
        is audited as the row count is what is streamed.
        """
        day = today or today_utc()
        with engine_errors():
            pit = self.client.create_pit(
                index=records_alias(self.settings), params={"keep_alive": keep_alive}
            )
        pit_id = str(pit["pit_id"])
        sort_keys = list(sort) if any(_sorts_on_id(s) for s in sort) else [*sort, {F.ID: "asc"}]
        size = max(1, min(page_size, limit))

        def page(after: list[Any] | None, n: int, count: bool) -> dict[str, Any]:
            body = secure_body(
                {
                    "query": query,
                    "size": n,
                    "sort": sort_keys,
                    "track_total_hits": count,
                    "_source": {"includes": list(source)},
                },
                self.user,
                day,
            )
            # The point in time names the index; it adds no access, the query above is secured.
            body["pit"] = {"id": pit_id, "keep_alive": keep_alive}
            if after is not None:
                body["search_after"] = after
            with engine_errors():
                return dict(self.client.search(body=body))

        try:
            first = page(None, size, True)
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.delete_pit(body={"pit_id": [pit_id]})
            raise
        return Scan(self.client, pit_id, page, first, limit, size)

    def auditor_record_ids(self, query: Mapping[str, Any], *, limit: int = 2000) -> list[str]:
        """Ids of the records matching ``query`` regardless of markings: the auditor's path.

        An auditor must see who looked at a restricted record they may not read themselves,
        so this read is not filtered by the auditor's access; it returns ids only (never a
        field of a record), only to a user with the auditor role. An engine error is raised
        like any other read: "who looked at X" must not silently under-report.
        """
        if not self.user.has_role(AUDITOR_ROLE):
            raise PermissionError("only auditors may look records up regardless of markings")
        body = {"size": limit, "_source": False, "query": dict(query)}
        with engine_errors():
            res = self.client.search(index=records_alias(self.settings), body=body)
        return [str(h["_id"]) for h in res["hits"]["hits"]]


def documents_to_percolate(
    client: OpenSearch, settings: Settings, ids: Sequence[str]
) -> list[dict[str, Any]]:
    """The search documents of ``ids`` as indexed (realtime), for the alert hook only.

    Used to percolate records a previous load indexed but did not get to percolate. Nothing
    read here is shown to anyone: every match is checked with ``can_read`` for each
    recipient before a notification is created, exactly as at ingest.
    """
    if not ids:
        return []
    with engine_errors():
        res = client.mget(index=records_alias(settings), body={"ids": list(ids)}, realtime=True)
    return [d["_source"] for d in res["docs"] if d.get("found")]


def alert_matches(
    client: OpenSearch,
    settings: Settings,
    ids: Sequence[str],
    queries: Mapping[str, Mapping[str, Any]],
    *,
    group: int = 50,
) -> tuple[dict[str, set[str]], set[str]]:
    """Which of the records ``ids`` each named query matches, for the alert hook only, and
    which of ``ids`` the records index holds (a load into an index not yet behind the alias,
    ``index load --rebuild``, is matched by the caller some other way).

    The alert hook matches each acknowledged batch against the alert queries here, on the
    records as indexed, instead of having the percolator index the batch a second time. The
    records are refreshed first (a load does not refresh while it runs). Nothing read here is
    shown to anyone (only ids come back): every match is checked with ``can_read`` for each
    recipient before a notification is created.

    Each search is restricted to the batch (``ids``) and answers with a ``filters``
    aggregation, one named filter per query, each bucket listing its records' ids (a
    ``terms`` sub-aggregation, ``map`` hint: no global ordinals on the id field of an index
    being loaded). Named queries on hits (``matched_queries``) gave the same answer with more
    work: each hit was matched again, one query at a time, in the fetch phase, and its ``_id``
    read from stored fields (the bench's 1,000 queries on 2,000-document batches: 15.5-19.4 s
    for 4,000 records that way, 12.5-18.4 s this way, on a loaded shared node). ``queries`` go
    ``group`` to a search; a group the engine refuses as too large is split.
    """
    out: dict[str, set[str]] = {}
    if not ids:
        return out, set()
    index = records_alias(settings)
    names = list(queries)
    batch = {"ids": {"values": list(ids)}}
    ids_of = {"terms": {"field": F.ID, "size": len(ids), "execution_hint": "map"}}
    with engine_errors():
        client.indices.refresh(index=index)
        res = client.search(
            index=index,
            body={"query": batch, "size": 0, "track_total_hits": False, "aggs": {"present": ids_of}},
        )
        present = {str(b["key"]) for b in res["aggregations"]["present"]["buckets"]}
        pending = [names[i : i + group] for i in range(0, len(names), group)]
        while pending:
            lines: list[dict[str, Any]] = []
            for part in pending:
                lines.append({"index": index})
                lines.append(
                    {
                        "size": 0,
                        "track_total_hits": False,
                        "query": batch,
                        "aggs": {
                            "q": {
                                "filters": {"filters": {n: queries[n] for n in part}},
                                "aggs": {"ids": ids_of},
                            }
                        },
                    }
                )
            res = client.msearch(body=lines, request_timeout=max(600.0, settings.opensearch_timeout_ingest))
            retry: list[list[str]] = []
            for part, answer in zip(pending, res["responses"], strict=True):
                if "error" in answer:
                    # Too many clauses or buckets for one search: a smaller group will do.
                    too_large = "too_many" in str(answer["error"])
                    if int(answer.get("status") or 500) != 400 and not too_large:
                        raise SearchUnavailable("the search service failed")
                    if len(part) == 1:
                        raise BadQuery(f"alert query {part[0]} was refused: {str(answer['error'])[:300]}")
                    half = len(part) // 2
                    retry += [part[:half], part[half:]]
                    continue
                for name, bucket in answer["aggregations"]["q"]["buckets"].items():
                    found = {str(b["key"]) for b in bucket["ids"]["buckets"]}
                    if found:
                        out.setdefault(str(name), set()).update(found)
            pending = retry
    return out, present


def records_for_resolution(
    client: OpenSearch, settings: Settings, *, page_size: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every record as validated at ingest (``F.RECORD``), for person resolution only
    (``lantern persons rebuild`` / ``train``). Nothing read here is shown to anyone as is:
    a nominal is shown only through ``persons.views.readable_view`` with the viewer's
    readable record ids, which come from :meth:`SecuredRecords.readable`."""
    with engine_errors():
        for hit in scan(
            client,
            index=records_alias(settings),
            query={"query": {"match_all": {}}},
            _source=[F.RECORD],
            size=page_size,
            preserve_order=False,
        ):
            yield hit["_source"][F.RECORD]
