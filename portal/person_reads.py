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
from mappings import person_decisions as D
from mappings import persons as P
from persons import store
from persons.query import PersonCard, candidate_record_ids, person_cards, persons_query
from persons.views import NominalView, readable_view
from search.gateway import SecuredRecords, engine_errors, raise_item_error

MAX_CARDS = 5
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


Beside = tuple[str, dict[str, Any]]


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
    then at most one more for the cards.

    ``run(beside)`` runs the records search with the searches ``beside`` in the same request
    (``reads.run_search(beside=...)``) and returns its result, the answers beside it, and the
    ids of the records the search returned. Those records were read through the access
    filter in this very request, so they are known readable; only the candidates' other
    records are asked about (``SecuredRecords.readable_ids``), and nothing is asked when none
    remain. The cards are then exactly ``find_persons``'s: every name, DOB and count from the
    records the user may read.

    One request instead of the records search with a lookup of two round trips running
    beside it in a thread (the previous way): on two cores the three requests' engine and
    client work competed with the records search itself (bench-persons). ``name`` None: no
    person lookup.
    """
    if name is None:
        out, _, _ = run(())
        return out, []
    try:
        body = persons_query(name, dob, years=years, size=MAX_CARDS * 4)
    except ValueError:
        out, _, _ = run(())
        return out, []
    out, answers, shown = run([(indices.read_alias(settings, P), body)])
    answer = answers[0]
    if "error" in answer:
        try:
            raise_item_error(answer)
        except IndexMissing:
            return out, []
    hits = answer["hits"]["hits"]
    candidates = candidate_record_ids(hits)
    known = set(shown)
    readable = {rid for rid in candidates if rid in known}
    rest = [rid for rid in candidates if rid not in known]
    if rest:
        readable |= SecuredRecords(client, settings, user).readable_ids(rest)
    return out, person_cards(hits, readable, name, dob, years)[:MAX_CARDS]


def nominal_ids_of_record(source_people: list[dict[str, object]]) -> list[str | None]:
    """The nominal of each person of a record document, in the record's people order."""
    from mappings import fields as F

    return [str(p[F.P_NOMINAL_ID]) if p.get(F.P_NOMINAL_ID) else None for p in source_people]
