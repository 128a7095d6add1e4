"""Reading nominals as a user: everything recomputed from the records they may read.

The persons index is derived data holding every mention; what a user sees of a nominal is
``persons.views.readable_view`` of it with the ids ``SecuredRecords.readable`` returns for
that user. A nominal with no readable record is ``None`` here, exactly like an unknown id.
"""

from __future__ import annotations

from datetime import date

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


def nominal_ids_of_record(source_people: list[dict[str, object]]) -> list[str | None]:
    """The nominal of each person of a record document, in the record's people order."""
    from mappings import fields as F

    return [str(p[F.P_NOMINAL_ID]) if p.get(F.P_NOMINAL_ID) else None for p in source_people]
