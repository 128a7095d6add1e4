"""Reading nominals as a user: everything recomputed from the records they may read.

The persons index is derived data holding every mention; what a user sees of a nominal is
``persons.views.readable_view`` of it with the ids ``SecuredRecords.readable`` returns for
that user. A nominal with no readable record is ``None`` here, exactly like an unknown id.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TypeVar

from opensearchpy import OpenSearch

from lantern import indices
from lantern.errors import IndexMissing
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import person_decisions as D
from mappings import persons as P
from persons import store
from persons.query import PersonCard, candidate_record_ids, person_cards, persons_query
from persons.views import NominalView, readable_view
from search.gateway import SecuredRecords, engine_errors

MAX_CARDS = 5
# Person cards are looked up while the records search runs (cards_alongside): a few threads,
# each one request's second round trip to the engine.
_CARDS_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="person-cards")
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


def cards_alongside(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    name: str | None,
    dob: date | None,
    years: int,
    run: Callable[[], T],
) -> tuple[T, list[PersonCard]]:
    """``run()`` (the records search) and ``find_persons`` at the same time: a search with
    person cards then waits for the slower of the two round trips, not their sum (the cards
    took the name search's p95 from 1x to 1.7x when run one after the other; bench-persons).
    ``name`` None: no person lookup. The lookup runs in a copy of the caller's context."""
    if name is None:
        return run(), []
    ctx = contextvars.copy_context()
    future = _CARDS_POOL.submit(ctx.run, find_persons, client, settings, user, name, dob, years=years)
    try:
        out = run()
    except BaseException:
        future.cancel()
        raise
    return out, future.result()


def nominal_ids_of_record(source_people: list[dict[str, object]]) -> list[str | None]:
    """The nominal of each person of a record document, in the record's people order."""
    from mappings import fields as F

    return [str(p[F.P_NOMINAL_ID]) if p.get(F.P_NOMINAL_ID) else None for p in source_people]
