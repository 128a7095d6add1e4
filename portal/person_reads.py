"""Reading nominals as a user: everything recomputed from the records they may read.

The persons index is derived data holding every mention; what a user sees of a nominal is
``persons.views.readable_view`` of it with the ids ``SecuredRecords.readable`` returns for
that user. A nominal with no readable record is ``None`` here, exactly like an unknown id.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import date
from typing import Any, TypeVar

from opensearchpy import OpenSearch

from lantern import indices
from lantern.errors import IndexMissing
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import fields as F
from mappings import person_decisions as D
from mappings import persons as P
from persons import store
from persons.query import (
    PersonCard,
    candidate_record_ids,
    person_cards,
    persons_query,
    records_named_alike,
    sound_keys,
)
from persons.views import NominalView, readable_view
from search.gateway import SecuredRecords, engine_errors, raise_item_error

MAX_CARDS = 5
# The readability probe beside the cards' persons search answers for at most this many records
# (per shard it stops collecting there): past it, a name is common enough that the records it
# could not vouch for are asked about as before.
PROBE_CAP = 1000
T = TypeVar("T")


def person_view(
    client: OpenSearch, settings: Settings, user: Principal, nominal_id: str
) -> NominalView | None:
    if not nominal_id.startswith("N-") or len(nominal_id) > 64:
        return None
    try:
        with engine_errors():
            doc = store.get_nominal(client, settings, nominal_id)
    except IndexMissing:
        return None
    if doc is None:
        return None
    gateway = SecuredRecords(client, settings, user)
    readable = set(gateway.readable(doc.get(P.RECORD_IDS, [])))
    if not readable:
        return None
    mention_ids = [m[P.M_ID] for m in doc.get(P.MENTIONS, []) if m[P.M_RECORD_ID] in readable]
    with engine_errors():
        decisions = store.decisions_for(client, settings, mention_ids)
    # A decision names a second record, often on another nominal: shown only if that one is
    # readable too.
    others = {d[k] for d in decisions for k in (D.RECORD_A, D.RECORD_B)} - readable
    if others:
        readable |= set(gateway.readable(sorted(others)))
    return readable_view(doc, readable, decisions)


def find_persons(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    name: str,
    dob: date | None = None,
    *,
    years: int = 0,
    size: int = MAX_CARDS,
) -> list[PersonCard]:
    """Nominals matching ``name`` (+ ``dob`` with tolerance) on what ``user`` may read."""
    try:
        body = persons_query(name, dob, years=years, size=size * 4)
    except ValueError:
        return []
    try:
        with engine_errors():
            hits = client.search(index=indices.read_alias(settings, P), body=body)["hits"]["hits"]
    except IndexMissing:
        return []
    readable = set(SecuredRecords(client, settings, user).readable(candidate_record_ids(hits)))
    return person_cards(hits, readable, name, dob, years)[:size]


# A search sent beside the records search: (index, body); index None is the records index
# through the user's access filter (``SecuredRecords.search_beside``).
Beside = tuple[str | None, dict[str, Any]]


def readability_probe(keys: Sequence[str]) -> dict[str, Any]:
    """Records body: the ids of the records with a person whose name sounds like one of
    ``keys`` (run through the access filter, so only readable ones come back).

    An aggregation on the id field, so no hit is fetched (as ``SecuredRecords.readable_ids``);
    bounded by ``terminate_after`` so a common name costs at most ``PROBE_CAP`` records."""
    return {
        "query": {
            "nested": {"path": F.PEOPLE, "query": {"terms": {F.people(F.P_NAME_PHONETIC): list(keys)}}}
        },
        "size": 0,
        "track_total_hits": False,
        "terminate_after": PROBE_CAP,
        "aggs": {"ids": {"terms": {"field": F.ID, "size": PROBE_CAP}}},
    }


def probe_answer(answer: dict[str, Any]) -> tuple[set[str], bool]:
    """The record ids a readability probe returned, and whether they are all it matched."""
    if "error" in answer:
        return set(), False
    ids = answer.get("aggregations", {}).get("ids", {})
    stopped = bool(answer.get("terminated_early"))
    complete = "buckets" in ids and not stopped and int(ids.get("sum_other_doc_count", 1)) == 0
    return {str(b["key"]) for b in ids.get("buckets", [])}, complete


def cards_beside(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    name: str | None,
    dob: date | None,
    years: int,
    run: Callable[[Sequence[Beside]], tuple[T, Sequence[dict[str, Any]], Collection[str]]],
) -> tuple[T, list[PersonCard]]:
    """The records search and the person cards matching ``name`` (+ ``dob``) in one request,
    and seldom one more for the cards.

    ``run(beside)`` runs the records search with the searches ``beside`` in the same request
    (``reads.run_search(beside=...)``) and returns its result, the answers beside it, and the
    ids of the records the search returned. Beside it go the persons search and a
    readability probe (``readability_probe``): a records search, through the access filter
    like the search itself, for the records with a person whose name sounds like a word of
    ``name``. For each candidate nominal's record:

    - returned by the records search or by the probe: read through the access filter in
      this very request, so readable;
    - not returned by a complete probe although one of its mentions' names sounds like the
      query (``records_named_alike``: the probe matches such a record whoever runs it):
      not readable by this user;
    - otherwise (a mention named quite differently; a probe stopped at ``PROBE_CAP``):
      asked about as before (``SecuredRecords.readable_ids``), nothing asked when none.

    Only records a secured search returned ever count as readable, so a card shows nothing
    of a record the user may not read. The second case is the only inference: it rests on
    records and nominals agreeing on a mention's name; a record whose people changed since
    it was resolved may fail the probe and is left off the card until resolution catches up
    (hidden, never shown). The cards are then ``find_persons``'s: every name, DOB and count
    from the records the user may read.

    The check used to be a second round trip on nearly every name + DOB search (the
    candidates' records not on the page; bench-persons); before that the lookup ran in a
    thread beside the search, its requests competing with the search on two cores.
    ``name`` None: no person lookup.
    """
    if name is None:
        out, _, _ = run(())
        return out, []
    try:
        body = persons_query(name, dob, years=years, size=MAX_CARDS * 4)
    except ValueError:
        out, _, _ = run(())
        return out, []
    keys = sound_keys(name)
    beside: list[Beside] = [(indices.read_alias(settings, P), body)]
    if keys:
        beside.append((None, readability_probe(keys)))
    out, answers, shown = run(beside)
    answer = answers[0]
    if "error" in answer:
        try:
            raise_item_error(answer)
        except IndexMissing:
            return out, []
    hits = answer["hits"]["hits"]
    candidates = candidate_record_ids(hits)
    if not candidates:
        return out, []
    known, complete = probe_answer(answers[1]) if keys else (set(), False)
    known.update(shown)
    readable = {rid for rid in candidates if rid in known}
    unreadable = records_named_alike(hits, keys) - readable if complete else set()
    rest = [rid for rid in candidates if rid not in readable and rid not in unreadable]
    if rest:
        readable |= SecuredRecords(client, settings, user).readable_ids(rest)
    return out, person_cards(hits, readable, name, dob, years)[:MAX_CARDS]


def nominal_ids_of_record(source_people: list[dict[str, object]]) -> list[str | None]:
    """The nominal of each person of a record document, in the record's people order."""
    from mappings import fields as F

    return [str(p[F.P_NOMINAL_ID]) if p.get(F.P_NOMINAL_ID) else None for p in source_people]
