"""Alert queries in the percolator, and the indexer hook that matches each batch against them.

Flow: saving/editing a saved query registers its alert query (``register``); deleting it
unregisters it. ``lantern index load`` calls :class:`AlertHook` with every acknowledged
batch: :func:`match_batch` finds which saved queries match which new documents (the stored
alert queries run on the batch as the records index holds it, a few searches per batch; the
same matches a ``percolate`` request finds, without the engine indexing the batch again),
and each match becomes a notification for every
recipient (the owner; for a shared query, the unit's members) who may read that record
(:func:`search.access.can_read` over the document) - nobody else learns it exists.

The percolator index is derived data. :func:`sync_percolator` rebuilds it from the saved
queries when the records mapping it was built under has changed (fingerprint in its
``_meta``), and registers any saved query not yet registered under the current mapping.
A query that no longer registers is marked invalid and its owner is told (a notification
and a warning on the saved-queries page), never silently dropped.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import jellyfish
from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError
from rapidfuzz.distance import OSA

from alerts.indices import ensure_alert_indices
from alerts.notifications import NotificationStore
from alerts.queries import Fuzzy, alert_query, split_fuzzy
from alerts.saved_queries import SavedQuery, SavedQueryStore
from lantern import indices
from lantern.clock import today_utc
from lantern.principal import Principal
from lantern.search_client import make_client
from lantern.settings import Settings
from lantern.users import UserStore
from mappings import fields as F
from mappings import percolator as P
from search.access import can_read
from search.gateway import alert_matches, documents_to_percolate
from search.parser import PlaceLookup
from search.places import place_lookup

log = logging.getLogger(__name__)

PERCOLATOR = cast(indices.IndexModule, P)

# Stored, not indexed, in the records index (the original, the mentions), or only used by
# type-ahead (``suggest``, never part of a saved search): the percolator need not index them.
NOT_PERCOLATED = (F.RECORD, F.MENTIONS, F.SUGGEST)
PERCOLATE_PAGE = 1000
# Documents matched at a time (see AlertHook). Matching a batch costs mostly per batch (a
# refresh, the stored queries read, the names analysed, every query parsed once per search
# group), so a larger batch costs less per record: 4,000 documents took 8-11 s where two
# batches of 2,000 took 12-18 s (the bench's 1,000 queries, loaded shared node). Bounded by
# memory: up to ``PERCOLATE_OVERLAP`` + 1 batches of documents are held at once.
PERCOLATE_BATCH = 4000
# Batches percolating or queued beside the load before the load waits (see AlertHook).
PERCOLATE_OVERLAP = 2
USERS_TTL = 60.0
# Seconds one percolate request may take (see _search_matches).
PERCOLATE_TIMEOUT = 600.0
# Distinct fuzzy clauses read per batch (far more than 1,000 saved queries produce).
FUZZY_KEYS_MAX = 65_000
# Characters of text per _analyze request (under index.analyze.max_token_count, 10,000).
ANALYZE_CHARS = 20_000
# Where the matching documents' slots are: one percolate clause, or the two named ones.
SLOT_FIELDS = (
    "_percolator_document_slot",
    "_percolator_document_slot_exact",
    "_percolator_document_slot_stored",
)


def percolator_alias(settings: Settings) -> str:
    return settings.index_name(P.NAME)


# ------------------------------------------------------------------------ registration


def _reason(exc: Exception) -> str:
    if isinstance(exc, TransportError):
        info = exc.info if isinstance(exc.info, Mapping) else {}
        err = info.get("error") if isinstance(info, Mapping) else None
        if isinstance(err, Mapping):
            root = (err.get("root_cause") or [{}])[0]
            return str(root.get("reason") or err.get("reason") or exc.error)
        return str(exc.error)
    return str(exc) or exc.__class__.__name__


def _percolator_doc(sq: SavedQuery, today: date, places: PlaceLookup | None = None) -> dict[str, Any]:
    query = alert_query(sq.state, today, places)
    exact, fuzzy = split_fuzzy(query)
    meta: dict[str, Any] = {"saved_id": sq.id, "owner": sq.owner, "shared_unit": sq.shared_unit}
    if fuzzy:
        meta.update(fuzzy=[f.key() for f in fuzzy], fuzzy_n=len(fuzzy))
    return {P.QUERY: query, P.QUERY_EXACT: exact, P.META: meta}


def _register_into(
    client: OpenSearch,
    index: str,
    sq: SavedQuery,
    today: date,
    *,
    refresh: bool,
    places: PlaceLookup | None = None,
) -> str | None:
    """Index ``sq``'s alert query into ``index``; the reason if the engine refuses it."""
    try:
        doc = _percolator_doc(sq, today, places)
    except Exception as exc:  # a builder that cannot handle a stored search: report, don't crash
        log.exception("cannot build the alert query of saved query %s", sq.id)
        return f"the search can no longer be built: {exc}"
    try:
        client.index(index=index, id=sq.id, body=doc, refresh="wait_for" if refresh else "false")
    except RequestError as exc:
        return _reason(exc)
    return None


def _bulk_reason(error: Mapping[str, Any]) -> str:
    reasons: list[str] = []
    cur: Any = error
    while isinstance(cur, Mapping):
        if cur.get("reason"):
            reasons.append(str(cur["reason"]))
        cur = cur.get("caused_by")
    # The deepest cause names the field; the outer reason is often just "failed to parse".
    return reasons[-1] if reasons else "refused by the search engine"


def _register_many(
    client: OpenSearch,
    index: str,
    items: Sequence[SavedQuery],
    today: date,
    places: PlaceLookup | None = None,
) -> list[tuple[SavedQuery, str | None]]:
    """Register many alert queries with bulk requests; (query, reason if refused) for each."""
    outcomes: dict[str, str | None] = {}
    docs: list[tuple[SavedQuery, dict[str, Any]]] = []
    for sq in items:
        try:
            docs.append((sq, _percolator_doc(sq, today, places)))
        except Exception as exc:
            log.exception("cannot build the alert query of saved query %s", sq.id)
            outcomes[sq.id] = f"the search can no longer be built: {exc}"
    for start in range(0, len(docs), 200):
        part = docs[start : start + 200]
        lines: list[dict[str, Any]] = []
        for sq, doc in part:
            lines.append({"index": {"_index": index, "_id": sq.id}})
            lines.append(doc)
        res = client.bulk(body=lines)
        for (sq, _), item in zip(part, res["items"], strict=True):
            op = item["index"]
            if int(op.get("status", 500)) >= 300:
                if int(op.get("status", 500)) != 400:
                    raise RuntimeError(f"percolator write failed: {op.get('error')}")
                outcomes[sq.id] = _bulk_reason(op.get("error") or {})
            else:
                outcomes[sq.id] = None
    return [(sq, outcomes[sq.id]) for sq in items]


def register(client: OpenSearch, settings: Settings, sq: SavedQuery, *, notify: bool = True) -> SavedQuery:
    """Register (or replace) ``sq``'s alert query; mark it invalid and tell its owner if refused."""
    ensure_alert_indices(client, settings)
    # A percolator built under an older layout (or records mapping) is rebuilt first (once
    # per process), or this query would be written into an index that cannot hold it.
    sync_percolator(client, settings)
    error = _register_into(
        client,
        indices.writer_target(settings, P),
        sq,
        today_utc(),
        refresh=True,
        places=place_lookup(client, settings),
    )
    if error is not None:
        # An invalid query must not keep alerting with its previous form.
        unregister(client, settings, sq.id)
    return _record_outcome(client, settings, sq, error, notify=notify)


def _record_outcome(
    client: OpenSearch, settings: Settings, sq: SavedQuery, error: str | None, *, notify: bool
) -> SavedQuery:
    fp = P.records_fingerprint()
    updated = SavedQueryStore(client, settings).set_registration(sq, fingerprint=fp, error=error)
    if error is not None:
        log.warning("saved query %s (%s) is invalid: %s", sq.id, sq.owner, error)
        if notify:
            NotificationStore(client, settings).notify_invalid(sq, error, fingerprint=fp)
    return updated


def unregister(client: OpenSearch, settings: Settings, saved_id: str) -> None:
    with contextlib.suppress(NotFoundError):
        client.delete(index=indices.writer_target(settings, P), id=saved_id, refresh="wait_for")


@dataclass
class SyncReport:
    rebuilt: bool = False
    registered: int = 0
    invalid: list[str] = field(default_factory=list)


_sync_lock = threading.Lock()
_synced: set[tuple[int, str, str]] = set()


def reregister_near(client: OpenSearch, settings: Settings) -> int:
    """Register again every saved query with ``near:``/``within:`` (after a gazetteer load, so
    one saved before its postcode had a point now measures distances instead of matching that
    postcode only); how many were registered."""
    fp = P.records_fingerprint()
    store = SavedQueryStore(client, settings)
    wanted = [sq for sq in store.all() if any(w in sq.state.q.lower() for w in ("near:", "within:"))]
    if not wanted:
        return 0
    ensure_alert_indices(client, settings)
    target = indices.writer_target(settings, P)
    outcomes = _register_many(client, target, wanted, today_utc(), place_lookup(client, settings))
    for sq, error in outcomes:
        if error is not None:
            unregister(client, settings, sq.id)
    client.indices.refresh(index=target)
    store.set_registrations([(sq, fp, error) for sq, error in outcomes])
    return len(wanted)


def stored_fingerprint(client: OpenSearch, settings: Settings) -> str | None:
    current = indices.current_index(client, settings, PERCOLATOR)
    if current is None:
        return None
    mapping = client.indices.get_mapping(index=current)[current]["mappings"]
    meta = mapping.get("_meta") or {}
    return str(meta.get("records_fingerprint")) if meta.get("records_fingerprint") else None


def sync_percolator(client: OpenSearch, settings: Settings, *, force: bool = False) -> SyncReport:
    """Bring the percolator in step with the saved queries and the current records mapping."""
    fp = P.records_fingerprint()
    key = (id(client), settings.index_prefix, fp)
    if key in _synced and not force:
        return SyncReport()
    with _sync_lock:
        ensure_alert_indices(client, settings)
        report = SyncReport()
        store = SavedQueryStore(client, settings)
        today = today_utc()
        if stored_fingerprint(client, settings) != fp:
            # The records mapping changed: build a new percolator index under the new mapping
            # from the saved queries, then swap the aliases to it (the old one serves meanwhile).
            report.rebuilt = True
            target = indices.create_building(client, settings, PERCOLATOR)
            try:
                outcomes = _register_many(
                    client, target, list(store.all()), today, place_lookup(client, settings)
                )
                indices.promote(client, settings, PERCOLATOR, target)
            except BaseException:
                client.indices.delete(index=target, ignore=[404])
                raise
        else:
            target = indices.writer_target(settings, P)
            pending = [sq for sq in store.all() if sq.registered_fingerprint != fp]
            outcomes = _register_many(client, target, pending, today, place_lookup(client, settings))
            for sq, error in outcomes:
                if error is not None:
                    unregister(client, settings, sq.id)
            client.indices.refresh(index=target)
        store.set_registrations([(sq, fp, error) for sq, error in outcomes])
        notifications = NotificationStore(client, settings)
        for sq, error in outcomes:
            report.registered += error is None
            if error is not None:
                log.warning("saved query %s (%s) is invalid: %s", sq.id, sq.owner, error)
                notifications.notify_invalid(sq, error, fingerprint=fp)
                report.invalid.append(sq.id)
        _synced.add(key)
        return report


def forget_synced() -> None:
    with _sync_lock:
        _synced.clear()


# ------------------------------------------------------------------------ percolation


@dataclass(frozen=True)
class Match:
    saved_id: str
    owner: str
    shared_unit: str | None
    slots: tuple[int, ...]


def fuzzy_keys(client: OpenSearch, settings: Settings) -> list[str]:
    """Every fuzzy clause of the registered queries (``alerts.queries.Fuzzy`` keys)."""
    res = client.search(
        index=percolator_alias(settings),
        body={"size": 0, "aggs": {"keys": {"terms": {"field": P.META_FUZZY, "size": FUZZY_KEYS_MAX}}}},
    )
    return [str(b["key"]) for b in res["aggregations"]["keys"]["buckets"]]


def _values(node: Any, path: Sequence[str]) -> Iterator[str]:
    """The strings at ``path`` in a document (through lists; a text's sub-field is the text)."""
    if isinstance(node, list):
        for item in node:
            yield from _values(item, path)
    elif isinstance(node, str):
        yield node
    elif isinstance(node, dict) and path and path[0] in node:
        yield from _values(node[path[0]], path[1:])


def _tokens(client: OpenSearch, index: str, field_name: str, texts: Sequence[str]) -> list[set[str]]:
    """Each of ``texts`` as ``field_name``'s analyser indexes it (the percolator index has the
    records mapping): few requests, each under the engine's token limit. A token is traced
    to its text by its offset (texts of one request are offset by their length plus one)."""
    out: list[set[str]] = [set() for _ in texts]
    start = 0
    while start < len(texts):
        end, size = start, 0
        while end < len(texts) and (end == start or size + len(texts[end]) < ANALYZE_CHARS):
            size += len(texts[end]) + 1
            end += 1
        part = list(texts[start:end])
        bases = list(itertools.accumulate((len(t) + 1 for t in part), initial=0))
        res = client.indices.analyze(index=index, body={"field": field_name, "text": part})
        for token in res["tokens"]:
            at = bisect.bisect_right(bases, int(token["start_offset"])) - 1
            out[start + at].add(str(token["token"]))
        start = end
    return out


# (percolator alias, field) -> a query word -> its tokens (a word is analysed once per process).
_query_tokens: dict[tuple[str, str], dict[str, frozenset[str]]] = {}


def live_fuzzy(
    client: OpenSearch, settings: Settings, documents: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> set[str]:
    """The fuzzy clauses (of ``keys``) that may match something in ``documents``.

    A clause is live when one of its words is within its edit distance (and shares its
    prefix) of a term the batch indexes in its field. Errs towards live: Damerau-Levenshtein
    is never more than the percolator's distance.
    """
    index = percolator_alias(settings)
    live: set[str] = set()
    by_field: dict[str, list[Fuzzy]] = {}
    for clause in (Fuzzy.from_key(k) for k in keys):
        by_field.setdefault(clause.field, []).append(clause)
    for field_name, group in by_field.items():
        texts = sorted({v for d in documents for v in _values(d, field_name.split("."))})
        if not texts:
            continue
        indexed: set[str] = set().union(*_tokens(client, index, field_name, texts))
        by_start: dict[str, list[str]] = {}
        for token in indexed:
            by_start.setdefault(token[:1], []).append(token)
        known = _query_tokens.setdefault((index, field_name), {})
        todo = sorted({c.text for c in group if c.mode == "match" and c.text not in known})
        for text, tokens in zip(todo, _tokens(client, index, field_name, todo), strict=True):
            known[text] = frozenset(tokens)
        for clause in group:
            words = {clause.text} if clause.mode == "term" else known[clause.text]
            if any(_near(word, clause, by_start, indexed) for word in words):
                live.add(clause.key())
    return live


def _near(word: str, clause: Fuzzy, by_start: Mapping[str, list[str]], indexed: set[str]) -> bool:
    edits = clause.max_edits(word)
    prefix = word[: clause.prefix_length]
    pool: Iterable[str] = by_start.get(word[:1], []) if clause.prefix_length >= 1 else indexed
    return any(
        t.startswith(prefix)
        and abs(len(t) - len(word)) <= edits
        and jellyfish.damerau_levenshtein_distance(t, word) <= edits
        for t in pool
    )


def _percolate_query(
    client: OpenSearch, settings: Settings, documents: list[dict[str, Any]], keys: Sequence[str]
) -> dict[str, Any]:
    """The percolate query for a batch: each stored query in its exact form when none of its
    fuzzy clauses (of ``keys``) can match anything in the batch (the same matches, far
    cheaper), else as stored."""
    full: dict[str, Any] = {"percolate": {"field": P.QUERY, "documents": documents}}
    if not keys:
        return full
    try:
        live = live_fuzzy(client, settings, documents, keys)
    except (TransportError, ValueError, KeyError):
        log.warning("could not check the fuzzy clauses; percolating every query as stored", exc_info=True)
        return full
    if len(live) == len(set(keys)):
        return full
    needs_stored = {"terms": {P.META_FUZZY: sorted(live)}}
    exact = {"percolate": {"field": P.QUERY_EXACT, "documents": documents, "name": "exact"}}
    stored = {"percolate": {"field": P.QUERY, "documents": documents, "name": "stored"}}
    should: list[dict[str, Any]] = [{"bool": {"filter": [exact], "must_not": [needs_stored]}}]
    if live:
        should.append({"bool": {"filter": [needs_stored, stored]}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _search_matches(
    client: OpenSearch, settings: Settings, query: dict[str, Any], found: dict[str, Match]
) -> None:
    """Every stored query ``query`` selects, paged, added to ``found`` (slots merged)."""
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "query": {"constant_score": {"filter": query}},
            "size": PERCOLATE_PAGE,
            "sort": [{P.META_SAVED_ID: "asc"}],
            "_source": {"includes": [P.META_SAVED_ID, P.META_OWNER, P.META_SHARED_UNIT]},
            "track_total_hits": False,
        }
        if after is not None:
            body["search_after"] = after
        # It runs beside the load, so it may take long on a busy node; giving up (and the
        # client's retry re-sending it) only stops the load and adds work.
        res = client.search(
            index=percolator_alias(settings),
            body=body,
            request_timeout=max(PERCOLATE_TIMEOUT, settings.opensearch_timeout_ingest),
        )
        hits = res["hits"]["hits"]
        for hit in hits:
            meta = hit["_source"].get(P.META) or {}
            fields = hit.get("fields", {})
            slots = {int(s) for name in SLOT_FIELDS for s in fields.get(name) or []} or {0}
            saved_id = str(meta.get("saved_id") or hit["_id"])
            before = found.get(saved_id)
            found[saved_id] = Match(
                saved_id,
                str(meta.get("owner") or ""),
                meta.get("shared_unit") or None,
                tuple(sorted(slots | set(before.slots if before else ()))),
            )
        if len(hits) < PERCOLATE_PAGE:
            return
        after = hits[-1]["sort"]


def percolate(client: OpenSearch, settings: Settings, docs: Sequence[Mapping[str, Any]]) -> list[Match]:
    """Which stored alert queries match which of ``docs`` (one percolate request, paged).

    Queries none of whose fuzzy clauses can match anything in ``docs`` run in their exact
    form (see ``_percolate_query``). A query registered while this ran, with fuzzy clauses
    not yet known when the batch was checked, is percolated again as stored: none is missed.
    """
    if not docs:
        return []
    documents = [{k: v for k, v in d.items() if k not in NOT_PERCOLATED} for d in docs]
    keys = fuzzy_keys(client, settings)
    found: dict[str, Match] = {}
    _search_matches(client, settings, _percolate_query(client, settings, documents, keys), found)
    if keys:
        new = sorted(set(fuzzy_keys(client, settings)) - set(keys))
        if new:
            stored = {"percolate": {"field": P.QUERY, "documents": documents}}
            _search_matches(
                client, settings, {"bool": {"filter": [{"terms": {P.META_FUZZY: new}}, stored]}}, found
            )
    return [found[k] for k in sorted(found)]


# ------------------------------------------------------------------------ matching a batch
#
# Percolating a batch makes the engine index it a second time (an in-memory index with the
# records mapping, per request) and verify every stored query against it, fuzzy name
# clauses (a Levenshtein automaton each) included: on a 2-core machine that cost more than
# the load itself. The hook instead runs the stored alert queries against the batch as the
# records index already holds it (``search.gateway.alert_matches``), with every fuzzy match
# clause replaced by the terms it can reach in this batch, computed here: the batch's own
# tokens of that field within the clause's edit distance (optimal string alignment, as
# Lucene's transposition-aware automata count) sharing its prefix, at most
# ``MAX_EXPANSIONS`` of them chosen as Lucene's top-terms rewrite chooses them. A record
# matches a term set exactly when it matches the fuzzy clause in a percolator index of the
# batch, so the matches are the same (tests/analyst/test_alerts.py and
# scripts/profile_percolate.py compare the two); identical queries run once.

# A match query's default ``max_expansions``: a fuzzy word stands for at most this many terms.
MAX_EXPANSIONS = 50
# Alert queries per search when matching a batch (see search.gateway.alert_matches).
MATCH_GROUP = 50
# The match-query options a fuzzy clause may have to be expanded here (else it runs as is).
_EXPANDABLE = frozenset({"query", "fuzziness", "prefix_length", "operator"})


@dataclass(frozen=True)
class StoredQuery:
    saved_id: str
    owner: str
    shared_unit: str | None
    query: dict[str, Any]


def stored_queries(client: OpenSearch, settings: Settings) -> list[StoredQuery]:
    """Every registered alert query (as stored in the percolator), by saved query id."""
    out: list[StoredQuery] = []
    after: list[Any] | None = None
    while True:
        body: dict[str, Any] = {
            "size": PERCOLATE_PAGE,
            "sort": [{P.META_SAVED_ID: "asc"}],
            "_source": {"includes": [P.QUERY, P.META]},
        }
        if after is not None:
            body["search_after"] = after
        hits = client.search(index=percolator_alias(settings), body=body)["hits"]["hits"]
        for hit in hits:
            meta = hit["_source"].get(P.META) or {}
            out.append(
                StoredQuery(
                    str(meta.get("saved_id") or hit["_id"]),
                    str(meta.get("owner") or ""),
                    meta.get("shared_unit") or None,
                    hit["_source"][P.QUERY],
                )
            )
        if len(hits) < PERCOLATE_PAGE:
            return out
        after = hits[-1]["sort"]


def _expandable(node: Any) -> tuple[str, dict[str, Any]] | None:
    """(field, spec) when ``node`` is a fuzzy ``match`` clause this module can expand."""
    if not (isinstance(node, dict) and len(node) == 1 and isinstance(node.get("match"), dict)):
        return None
    body = node["match"]
    if len(body) != 1:
        return None
    ((name, spec),) = body.items()
    if not isinstance(spec, dict) or "fuzziness" not in spec or not set(spec) <= _EXPANDABLE:
        return None
    if str(spec.get("operator") or "or").lower() not in ("or", "and"):
        return None
    return str(name), spec


def expansions(word: str, clause: Fuzzy, by_start: Mapping[str, list[str]], indexed: set[str]) -> list[str]:
    """The batch terms (``indexed``) a fuzzy query for ``word`` reaches, as Lucene picks them."""
    edits = clause.max_edits(word)
    if edits == 0 or clause.prefix_length >= len(word):
        return [word] if word in indexed else []
    prefix = word[: clause.prefix_length]
    pool: Iterable[str] = by_start.get(word[:1], []) if clause.prefix_length >= 1 else indexed
    reached: list[tuple[int, str]] = []
    for term in pool:
        if term.startswith(prefix) and abs(len(term) - len(word)) <= edits:
            distance = int(OSA.distance(word, term, score_cutoff=edits))
            if distance <= edits:
                reached.append((distance, term))
    if len(reached) > MAX_EXPANSIONS:
        # Lucene's top-terms rewrite keeps the most similar (1 - edits / shorter length),
        # the smaller term first among equals.
        def rank(item: tuple[int, str]) -> tuple[float, str]:
            distance, term = item
            similarity = 1.0 if distance == 0 else 1.0 - distance / min(len(term), len(word))
            return (-similarity, term)

        reached = sorted(reached, key=rank)[:MAX_EXPANSIONS]
    return sorted(term for _, term in reached)


def _batch_form(node: Any, expand: Mapping[tuple[str, str], list[list[str]]]) -> Any:
    """``node`` with each expandable fuzzy clause replaced by the batch terms it reaches."""
    found = _expandable(node)
    if found is not None:
        name, spec = found
        reach = expand[(name, str(spec.get("query") or ""))]
        if str(spec.get("operator") or "or").lower() == "and":
            if not reach or any(not terms for terms in reach):
                return {"match_none": {}}
            return {"bool": {"filter": [{"terms": {name: terms}} for terms in reach]}}
        union = sorted({t for terms in reach for t in terms})
        return {"terms": {name: union}} if union else {"match_none": {}}
    if isinstance(node, dict):
        return {k: _batch_form(v, expand) for k, v in node.items()}
    if isinstance(node, list):
        return [_batch_form(v, expand) for v in node]
    return node


def batch_forms(
    client: OpenSearch, settings: Settings, documents: Sequence[Mapping[str, Any]], queries: Sequence[Any]
) -> list[Any]:
    """Each of ``queries`` with its fuzzy clauses expanded against ``documents``' terms."""
    index = percolator_alias(settings)
    expand: dict[tuple[str, str], list[list[str]]] = {}
    specs: dict[tuple[str, str], Fuzzy] = {}

    def collect(node: Any) -> None:
        found = _expandable(node)
        if found is not None:
            name, spec = found
            specs[(name, str(spec.get("query") or ""))] = Fuzzy(
                "match",
                name,
                str(spec.get("query") or ""),
                str(spec.get("fuzziness", "AUTO")),
                int(spec.get("prefix_length") or 0),
            )
        elif isinstance(node, dict):
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    for query in queries:
        collect(query)
    by_field: dict[str, list[str]] = {}
    for name, text in sorted(specs):
        by_field.setdefault(name, []).append(text)
    for field_name, query_texts in by_field.items():
        texts = sorted({v for d in documents for v in _values(d, field_name.split("."))})
        indexed: set[str] = set().union(*_tokens(client, index, field_name, texts)) if texts else set()
        by_start: dict[str, list[str]] = {}
        for token in indexed:
            by_start.setdefault(token[:1], []).append(token)
        known = _query_tokens.setdefault((index, field_name), {})
        todo = sorted({t for t in query_texts if t not in known})
        for text, tokens in zip(todo, _tokens(client, index, field_name, todo), strict=True):
            known[text] = frozenset(tokens)
        cache: dict[tuple[str, str, int], list[str]] = {}
        for text in query_texts:
            clause = specs[(field_name, text)]
            reach: list[list[str]] = []
            for word in sorted(known[text]):
                key = (word, clause.fuzziness, clause.prefix_length)
                if key not in cache:
                    cache[key] = expansions(word, clause, by_start, indexed) if indexed else []
                reach.append(cache[key])
            expand[(field_name, text)] = reach
    return [_batch_form(q, expand) for q in queries]


def match_batch(client: OpenSearch, settings: Settings, docs: Sequence[Mapping[str, Any]]) -> list[Match]:
    """Which stored alert queries match which of ``docs`` (acknowledged by the records index):
    the same matches as :func:`percolate`, found on the records as indexed (see above).
    Documents the records index does not hold (a load into an index not yet behind the alias)
    are percolated."""
    if not docs:
        return []
    stored = stored_queries(client, settings)
    if not stored:
        return []
    documents = [{k: v for k, v in d.items() if k not in NOT_PERCOLATED} for d in docs]
    forms = batch_forms(client, settings, documents, [sq.query for sq in stored])
    # Identical queries (the same search saved by several people) run once.
    names: dict[str, str] = {}
    queries: dict[str, dict[str, Any]] = {}
    by_name: dict[str, list[StoredQuery]] = {}
    for sq, form in zip(stored, forms, strict=True):
        key = json.dumps(form, sort_keys=True, separators=(",", ":"))
        name = names.setdefault(key, f"q{len(names)}")
        queries[name] = form
        by_name.setdefault(name, []).append(sq)
    slots: dict[str, list[int]] = {}
    for n, d in enumerate(docs):
        slots.setdefault(str(d[F.ID]), []).append(n)
    found: dict[str, Match] = {}
    hits, present = alert_matches(client, settings, list(slots), queries, group=MATCH_GROUP)
    for name, ids in hits.items():
        matched = tuple(sorted(n for rid in ids for n in slots.get(rid, [])))
        for sq in by_name.get(name, []):
            found[sq.saved_id] = Match(sq.saved_id, sq.owner, sq.shared_unit, matched)
    missing = [n for rid, ns in slots.items() if rid not in present for n in ns]
    if missing:
        for m in percolate(client, settings, [docs[n] for n in missing]):
            extra = tuple(missing[s] for s in m.slots if s < len(missing))
            before = found.get(m.saved_id)
            merged = tuple(sorted(set(extra) | set(before.slots if before else ())))
            found[m.saved_id] = Match(m.saved_id, m.owner, m.shared_unit, merged)
    return [found[k] for k in sorted(found)]


class Directory:
    """Current accounts (roles, units, clearances) for deciding who may read a match."""

    def __init__(self, client: OpenSearch, settings: Settings, ttl: float = USERS_TTL) -> None:
        self.client = client
        self.settings = settings
        self.ttl = ttl
        self._loaded = 0.0
        self._users: dict[str, Principal] = {}
        self._units: dict[str, list[Principal]] = {}

    def _refresh(self) -> None:
        if time.monotonic() - self._loaded < self.ttl and self._loaded:
            return
        users = [u for u in UserStore(self.client, self.settings).list() if not u.disabled]
        self._users = {u.username: u.principal() for u in users}
        self._units = {}
        for p in self._users.values():
            for unit in p.units:
                self._units.setdefault(unit, []).append(p)
        self._loaded = time.monotonic()

    def recipients(self, owner: str, shared_unit: str | None) -> list[Principal]:
        self._refresh()
        out: dict[str, Principal] = {}
        if owner in self._users:
            out[owner] = self._users[owner]
        if shared_unit:
            for p in self._units.get(shared_unit, []):
                out.setdefault(p.username, p)
        return list(out.values())


class AlertHook:
    """``indexer.pipeline`` hook: percolate acknowledged documents and notify readers.

    A percolate request costs mostly per stored query, little per document, so documents
    are gathered until ``min_batch`` (default ``PERCOLATE_BATCH``) and percolated in one
    request; ``flush()`` percolates the rest (``lantern index load`` calls it at the end).

    Percolation runs beside the load, not after it: a full batch is handed to one background
    thread and the load goes on indexing the next batches meanwhile. The queue is bounded
    (``overlap`` batches percolating or waiting, default ``PERCOLATE_OVERLAP``): when it is
    full the load waits, so memory stays bounded and percolation cannot fall behind without
    limit. ``overlap=0`` percolates inline.

    The ids of gathered and of handed-over, not yet percolated documents are kept in a file
    under ``state_dir``, written before the hook returns (before the loader counts the batch
    as done): if the load dies before percolating them, the next hook (the next load)
    fetches them from the records index and percolates them first, so no alert is lost.
    A failure (the percolator or notifications index unreachable) propagates at the next
    call or at ``flush()`` and stops the load, its documents left in the file; notification
    ids make any replay harmless.
    """

    def __init__(
        self,
        settings: Settings,
        client: OpenSearch,
        *,
        directory: Directory | None = None,
        min_batch: int | None = None,
        overlap: int = PERCOLATE_OVERLAP,
    ) -> None:
        self.settings = settings
        self.client = client
        self.directory = directory or Directory(client, settings)
        self.notifications = NotificationStore(client, settings)
        self.report = sync_percolator(client, settings)
        self.min_batch = max(1, min_batch if min_batch is not None else PERCOLATE_BATCH)
        self.overlap = max(0, overlap)
        self.matched = 0
        self.notified = 0  # (saved query, record, recipient) newly notified
        self.groups = 0  # notification documents written (one per query, recipient, batch)
        self.withheld = 0
        self.requests = 0
        self.waited = 0.0  # seconds the load waited for the percolation queue
        self._buffer: dict[str, dict[str, Any]] = {}
        # Handed to the background thread, not yet percolated: batch number -> ids.
        self._inflight: dict[int, list[str]] = {}
        self._batches = itertools.count(1)
        self._futures: deque[Future[None]] = deque()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        key = hashlib.sha256(settings.index_prefix.encode()).hexdigest()[:12]
        self._dir = Path(settings.state_dir) / "alerts"
        self._pending = self._dir / f"pending-{key}-{os.getpid()}-{id(self):x}.json"
        self._pattern = f"pending-{key}-*.json"
        self._recover()

    def __call__(self, docs: list[dict[str, Any]]) -> None:
        with self._lock:
            for doc in docs:
                self._buffer[str(doc[F.ID])] = doc  # a record twice: its latest version
            full = len(self._buffer) >= self.min_batch
        if docs:
            self._save_pending()  # before the loader counts their batch as done
        # An earlier batch that failed stops the load here (these documents are pending).
        self._reap()
        if full:
            self._hand_over()

    def flush(self) -> None:
        """Percolate everything gathered so far and wait for it (raises the first failure)."""
        if self._buffer:
            self._hand_over()
        try:
            self._drain()
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None
        with self._lock:
            done = not self._buffer and not self._inflight
        if done:
            self._pending.unlink(missing_ok=True)

    def _hand_over(self) -> None:
        with self._lock:
            docs = list(self._buffer.values())
            self._buffer.clear()
            batch = next(self._batches)
            self._inflight[batch] = [str(d[F.ID]) for d in docs]
        self._save_pending()  # before the loader counts these documents as done
        if self.overlap == 0:
            self._percolate_batch(batch, docs)
            return
        # Bounded: wait for the oldest batch while the queue is full.
        t = time.perf_counter()
        while len(self._futures) >= self.overlap:
            self._futures.popleft().result()
        self.waited += time.perf_counter() - t
        if self._executor is None:
            # One thread: percolate requests go one at a time, beside the bulk requests.
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="percolate")
        self._futures.append(self._executor.submit(self._percolate_batch, batch, docs))

    def _percolate_batch(self, batch: int, docs: list[dict[str, Any]]) -> None:
        self._percolate(docs)
        with self._lock:
            del self._inflight[batch]
        self._save_pending()

    def _reap(self) -> None:
        """Raise a finished batch's failure (the load stops; its ids stay pending)."""
        while self._futures and self._futures[0].done():
            self._futures.popleft().result()

    def _drain(self) -> None:
        error: BaseException | None = None
        while self._futures:
            try:
                self._futures.popleft().result()
            except BaseException as exc:  # wait for every batch, then report the first failure
                error = error or exc
        if error is not None:
            raise error

    def _save_pending(self) -> None:
        with self._lock:
            ids = sorted({*self._buffer, *(i for part in self._inflight.values() for i in part)})
            self._dir.mkdir(parents=True, exist_ok=True)
            tmp = self._pending.with_suffix(".tmp")
            tmp.write_text(json.dumps(ids), encoding="utf-8")
            tmp.replace(self._pending)

    def _recover(self) -> None:
        """Percolate documents a previous load acknowledged but did not get to percolate."""
        if not self._dir.is_dir():
            return
        for path in sorted(self._dir.glob(self._pattern)):
            if path == self._pending:
                continue
            try:
                ids = [str(i) for i in json.loads(path.read_text(encoding="utf-8"))]
            except (OSError, ValueError):
                ids = []
            if ids:
                docs = documents_to_percolate(self.client, self.settings, ids)
                log.info("percolating %d record(s) left over by an interrupted load", len(docs))
                self._percolate(docs)
            path.unlink(missing_ok=True)

    def _percolate(self, docs: list[dict[str, Any]]) -> None:
        today = today_utc()
        pending: list[tuple[str, str, str]] = []  # (saved query, record id, recipient)
        self.requests += 1
        for match in match_batch(self.client, self.settings, docs):
            recipients = self.directory.recipients(match.owner, match.shared_unit)
            for slot in match.slots:
                if slot >= len(docs):
                    continue
                doc = docs[slot]
                self.matched += 1
                for person in recipients:
                    if can_read(person, doc, today):
                        pending.append((match.saved_id, str(doc[F.ID]), person.username))
                    else:
                        self.withheld += 1
        added = self.notifications.add_matches(pending)
        self.notified += added.records
        self.groups += added.groups

    def summary(self) -> str:
        invalid = f"; {len(self.report.invalid)} saved query(ies) now invalid" if self.report.invalid else ""
        return (
            f"alerts: {self.matched:,} saved-query match(es), {self.notified:,} newly notified in "
            f"{self.groups:,} notification(s), "
            f"{self.withheld:,} withheld (recipient may not read the record){invalid}"
        )


def alert_hooks(settings: Settings, client: OpenSearch | None = None) -> list[AlertHook]:
    """The hooks ``lantern index load`` registers."""
    if client is None:
        client = make_client(settings, "ingest")
    return [AlertHook(settings, client)]


def registered_ids(client: OpenSearch, settings: Settings, ids: Iterable[str]) -> set[str]:
    """Which of ``ids`` have an alert query in the percolator (tests, diagnostics)."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    res = client.mget(index=percolator_alias(settings), body={"ids": wanted})
    return {d["_id"] for d in res["docs"] if d.get("found")}
