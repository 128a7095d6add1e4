"""The persons store in OpenSearch: nominal documents and human decisions.

``rebuild`` resolves every mention and rewrites the index (ids carried forward from the
index as it was, decisions applied); ``IncrementalResolver`` is what ingest uses: it loads
the resolved state once, resolves each batch of new mentions, and rewrites only the
nominals the batch touched.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError
from opensearchpy.helpers import bulk, scan

from entity_extraction import names as nk
from lantern import indices
from lantern.settings import Settings
from mappings import person_decisions as D
from mappings import persons as P
from persons import model as pm
from persons.features import Mention, features
from persons.resolver import Decision, Resolution, Resolver, ScoredLink

DECISION_NAMESPACE = uuid.UUID("4d5e0a61-7f0b-4b0e-a1c3-6e2f9b8d7c15")


def ensure(client: OpenSearch, settings: Settings) -> None:
    indices.ensure(client, settings, P)
    indices.ensure(client, settings, D)
    # Said before resolving, not as a strict-mapping refusal of the first write after it.
    if indices.is_outdated(client, settings, P):
        raise indices.OutdatedIndexError(
            f"the persons index predates version {P.VERSION} of its mapping "
            "(NI numbers and emails as identifiers); run `lantern index migrate persons` first"
        )


# ------------------------------------------------------------------------ mention (de)serialisation


def mention_to_source(m: Mention) -> dict[str, Any]:
    out = dataclasses.asdict(m)
    out["dob"] = m.dob.isoformat() if m.dob else None
    out["phones"], out["vrms"] = list(m.phones), list(m.vrms)
    return out


def mention_from_source(src: dict[str, Any]) -> Mention:
    data = dict(src)
    data["dob"] = date.fromisoformat(data["dob"]) if data.get("dob") else None
    data["phones"], data["vrms"] = tuple(data.get("phones") or ()), tuple(data.get("vrms") or ())
    return Mention(**data)


# ------------------------------------------------------------------------ documents


def _link_source(link: ScoredLink) -> dict[str, Any]:
    return {
        P.M_LINKED_TO: link.other,
        P.M_PROBABILITY: round(link.probability, 6),
        P.M_WEIGHTS: {k: v for k, v in link.weights.items() if k in P.WEIGHT_FIELDS},
        P.M_REASONS: link.reasons(),
    }


def _link_from_source(src: dict[str, Any]) -> ScoredLink:
    return ScoredLink(
        src[P.M_LINKED_TO],
        src[P.M_PROBABILITY],
        src.get(P.M_WEIGHTS, {}),
        {},
        tuple(src.get(P.M_REASONS, [])),
    )


def nominal_document(
    nominal_id: str,
    members: Sequence[Mention],
    links: dict[str, ScoredLink],
    decided: set[str],
    model_version: str,
    more_links: dict[str, list[ScoredLink]] | None = None,
) -> dict[str, Any]:
    names, surnames, forenames, keys, variants, dobs, pncs, cros, ninos, emails = (set() for _ in range(10))
    nested = []
    for m in sorted(members, key=lambda m: (m.record_date, m.mention_id)):
        f = features(m)
        names.add(m.full_name)
        if f["surname"]:
            surnames.add(f["surname"])
        if f["forename"]:
            forenames.add(f["forename"])
        # Keyed from the names as written (not folded): the keys hear Romanian ș as "sh".
        keys |= set(nk.phonetic_keys_for_name(m.full_name))
        variants |= set(f["forename_variants"] or [])
        if m.dob:
            dobs.add(m.dob.isoformat())
        if f["pnc"]:
            pncs.add(f["pnc"])
        if f["cro"]:
            cros.add(f["cro"])
        if f["nino"]:
            ninos.add(f["nino"])
        if f["email"]:
            emails.add(f["email"])
        link = links.get(m.mention_id)
        entry: dict[str, Any] = {
            P.M_ID: m.mention_id,
            P.M_RECORD_ID: m.record_id,
            P.M_ROLE: m.role,
            P.M_NAME: m.full_name,
            P.M_DOB: m.dob.isoformat() if m.dob else None,
            P.M_PNC_ID: f["pnc"],
            P.M_CRO_NO: f["cro"],
            P.M_NINO: f["nino"],
            P.M_EMAIL: f["email"],
            P.M_DECIDED: m.mention_id in decided,
            P.M_SOURCE: mention_to_source(m),
        }
        if link is not None:
            entry.update(_link_source(link))
            more = (more_links or {}).get(m.mention_id, [])
            if more:
                entry[P.M_MORE_LINKS] = [_link_source(lk) for lk in more]
        nested.append(entry)
    return {
        P.ID: nominal_id,
        P.NAMES: sorted(names),
        P.SURNAMES: sorted(surnames),
        P.FORENAMES: sorted(forenames),
        P.NAME_KEYS: sorted(keys),
        P.FORENAME_VARIANTS: sorted(variants),
        P.DOBS: sorted(dobs),
        P.PNC_IDS: sorted(pncs),
        P.CRO_NOS: sorted(cros),
        P.NINOS: sorted(ninos),
        P.EMAILS: sorted(emails),
        P.RECORD_IDS: sorted({m.record_id for m in members}),
        P.MENTION_COUNT: len(members),
        P.MODEL_VERSION: model_version,
        P.UPDATED_AT: datetime.now(UTC).isoformat(),
        P.MENTIONS: nested,
    }


def _model_version(resolver: Resolver) -> str:
    return f"v{pm.lantern_meta(resolver.model).get('version', pm.MODEL_VERSION)}"


def _decided_mentions(decisions: Iterable[Decision]) -> set[str]:
    return {x for d in decisions for x in (d.a, d.b)}


def _write_nominals(
    client: OpenSearch, settings: Settings, resolver: Resolver, ids: Iterable[str], *, refresh: bool
) -> tuple[int, int]:
    """Index the nominals ``ids`` as the resolver holds them; delete those it no longer has."""
    wanted = set(ids)
    # By nominal (not a scan of every mention held: ingest writes a few nominals per batch);
    # ``nominal_document`` orders the members itself.
    held = resolver.members
    members = {nid: [resolver.mentions[m] for m in held[nid]] for nid in wanted if nid in held}
    decided = _decided_mentions(resolver.decisions)
    version = _model_version(resolver)
    target = indices.writer_target(settings, P)

    def actions() -> Iterator[dict[str, Any]]:
        for nid in sorted(wanted):
            if nid in members:
                doc = nominal_document(
                    nid, members[nid], resolver.links, decided, version, resolver.more_links
                )
                yield {"_op_type": "index", "_index": target, "_id": nid, "_source": doc}
            else:
                yield {"_op_type": "delete", "_index": target, "_id": nid}

    ok, errors = bulk(client, actions(), raise_on_error=False, refresh=refresh, chunk_size=500)
    failed = [e for e in errors if not (isinstance(e, dict) and e.get("delete", {}).get("status") == 404)]
    if failed:
        raise RuntimeError(f"persons index: {len(failed)} nominal(s) failed to write: {failed[:3]}")
    return ok, len(members)


def forget_record(client: OpenSearch, settings: Settings, record_id: str) -> int:
    """A record deleted at source (issue 12's tombstones) leaves the persons index too: each
    nominal that held one of its people is rewritten from its other mentions (names, DOBs and
    identifiers recomputed, links that pointed at the deleted mention replaced by the next
    one kept), or deleted when none remain. Returns the nominals touched.

    A nominal the deleted mention was the only bridge of stays one until the next
    ``lantern persons rebuild`` (which reads only the records still indexed)."""
    alias = indices.read_alias(settings, P)
    if not client.indices.exists(index=alias):
        return 0
    client.indices.refresh(index=alias)
    target = indices.writer_target(settings, P)
    hits = scan(client, index=alias, query={"query": {"term": {P.RECORD_IDS: record_id}}}, size=100)
    touched = 0
    for hit in list(hits):
        doc = hit["_source"]
        entries = doc.get(P.MENTIONS, [])
        keep = [e for e in entries if e[P.M_RECORD_ID] != record_id]
        touched += 1
        if not keep:
            client.delete(index=target, id=doc[P.ID], ignore=[404], refresh=True)
            continue
        gone = {e[P.M_ID] for e in entries} - {e[P.M_ID] for e in keep}
        links: dict[str, ScoredLink] = {}
        more: dict[str, list[ScoredLink]] = {}
        for e in keep:
            held = ([_link_from_source(e)] if e.get(P.M_LINKED_TO) else []) + [
                _link_from_source(x) for x in e.get(P.M_MORE_LINKS, [])
            ]
            held = [lk for lk in held if lk.other not in gone]
            if held:
                links[e[P.M_ID]], more[e[P.M_ID]] = held[0], held[1:]
        members = [mention_from_source(e[P.M_SOURCE]) for e in keep]
        decided = {e[P.M_ID] for e in keep if e.get(P.M_DECIDED)}
        new = nominal_document(doc[P.ID], members, links, decided, str(doc.get(P.MODEL_VERSION, "")), more)
        client.index(index=target, id=doc[P.ID], body=new, refresh=True)
    return touched


# ------------------------------------------------------------------------ reading


def _scan(client: OpenSearch, settings: Settings) -> Iterator[dict[str, Any]]:
    alias = indices.read_alias(settings, P)
    # Incremental writes do not refresh; whoever resumes from the index must see all of them.
    client.indices.refresh(index=alias)
    for hit in scan(client, index=alias, query={"query": {"match_all": {}}}, size=500):
        yield hit["_source"]


@dataclasses.dataclass
class StoredState:
    mentions: list[Mention]
    nominal_of: dict[str, str]
    links: dict[str, ScoredLink]
    more_links: dict[str, list[ScoredLink]]


def load_state(client: OpenSearch, settings: Settings) -> StoredState:
    """Every stored mention with its nominal (and its stored links), to resume resolution."""
    state = StoredState([], {}, {}, {})
    for doc in _scan(client, settings):
        for entry in doc.get(P.MENTIONS, []):
            m = mention_from_source(entry[P.M_SOURCE])
            state.mentions.append(m)
            state.nominal_of[m.mention_id] = doc[P.ID]
            if entry.get(P.M_LINKED_TO):
                state.links[m.mention_id] = _link_from_source(entry)
                state.more_links[m.mention_id] = [_link_from_source(x) for x in entry.get(P.M_MORE_LINKS, [])]
    return state


def get_nominal(client: OpenSearch, settings: Settings, nominal_id: str) -> dict[str, Any] | None:
    # A get by id is real-time: it sees a nominal written by a batch not yet refreshed.
    try:
        doc: dict[str, Any] = client.get(index=indices.read_alias(settings, P), id=nominal_id)["_source"]
    except NotFoundError:
        return None
    return doc


def nominal_of_mentions(client: OpenSearch, settings: Settings, mention_ids: Sequence[str]) -> dict[str, str]:
    """Nominal id per mention id (for records: each person carries its nominal)."""
    if not mention_ids:
        return {}
    res = client.search(
        index=indices.read_alias(settings, P),
        body={
            "query": {
                "nested": {
                    "path": P.MENTIONS,
                    "query": {"terms": {f"{P.MENTIONS}.{P.M_ID}": list(mention_ids)}},
                }
            },
            "size": len(mention_ids),
            "_source": [P.ID, f"{P.MENTIONS}.{P.M_ID}"],
        },
    )
    wanted = set(mention_ids)
    out: dict[str, str] = {}
    for hit in res["hits"]["hits"]:
        for entry in hit["_source"].get(P.MENTIONS, []):
            if entry[P.M_ID] in wanted:
                out[entry[P.M_ID]] = hit["_source"][P.ID]
    return out


# ------------------------------------------------------------------------ decisions


def add_decision(
    client: OpenSearch,
    settings: Settings,
    decision: Decision,
    *,
    record_a: str,
    record_b: str,
    by_role: str,
    refresh: bool = True,
) -> str:
    """Store a human decision (callers check the role and write the audit event)."""
    if by_role not in ("analyst", "supervisor"):
        raise PermissionError(
            "only an analyst or a supervisor may decide whether two mentions are one person"
        )
    if decision.a == decision.b:
        raise ValueError("a decision needs two different mentions")
    at = decision.at or datetime.now(UTC).isoformat()
    did = str(uuid.uuid5(DECISION_NAMESPACE, f"{decision.a}\x1f{decision.b}\x1f{at}\x1f{decision.by}"))
    # Created, never overwritten: the index is append-only (mappings/person_decisions.py).
    client.index(
        index=indices.writer_target(settings, D),
        id=did,
        body={
            D.ID: did,
            D.MENTION_A: decision.a,
            D.MENTION_B: decision.b,
            D.RECORD_A: record_a,
            D.RECORD_B: record_b,
            D.SAME: decision.same,
            D.REASON: decision.reason,
            D.BY: decision.by,
            D.BY_ROLE: by_role,
            D.AT: at,
        },
        op_type="create",
        refresh=refresh,
    )
    return did


def decisions_for(client: OpenSearch, settings: Settings, mention_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Stored decisions touching any of ``mention_ids``, oldest first (raw documents)."""
    if not mention_ids:
        return []
    ids = list(mention_ids)
    try:
        res = client.search(
            index=indices.read_alias(settings, D),
            body={
                "query": {"bool": {"should": [{"terms": {D.MENTION_A: ids}}, {"terms": {D.MENTION_B: ids}}]}},
                "size": 500,
                "sort": [{D.AT: "asc"}],
            },
        )
    except NotFoundError:
        return []
    return [h["_source"] for h in res["hits"]["hits"]]


def load_decisions(client: OpenSearch, settings: Settings) -> list[Decision]:
    """Every decision, oldest first (the latest on a pair wins)."""
    alias = indices.read_alias(settings, D)
    out = [
        Decision(
            a=h["_source"][D.MENTION_A],
            b=h["_source"][D.MENTION_B],
            same=h["_source"][D.SAME],
            reason=h["_source"].get(D.REASON, ""),
            by=h["_source"].get(D.BY, ""),
            at=h["_source"][D.AT],
        )
        for h in scan(client, index=alias, query={"query": {"match_all": {}}}, size=500)
    ]
    return sorted(out, key=lambda d: (d.at, d.a, d.b))


# ------------------------------------------------------------------------ resolution


def rebuild(
    client: OpenSearch,
    settings: Settings,
    mentions: Sequence[Mention],
    *,
    resolver: Resolver | None = None,
    refresh: bool = True,
) -> Resolution:
    """Re-resolve everything; nominal ids carried forward from the index, decisions applied."""
    ensure(client, settings)
    previous = load_state(client, settings).nominal_of
    decisions = load_decisions(client, settings)
    resolver = resolver or Resolver()
    res = resolver.rebuild(mentions, decisions, previous)
    res.moved = {m: n for m, n in res.nominal_of.items() if previous.get(m) != n}
    gone = set(previous.values()) - set(res.nominal_of.values())
    _write_nominals(client, settings, resolver, set(res.nominal_of.values()) | gone, refresh=refresh)
    return res


class IncrementalResolver:
    """Ingest-time resolution: load once, then ``resolve(batch)`` per batch of records."""

    def __init__(self, client: OpenSearch, settings: Settings, resolver: Resolver | None = None) -> None:
        self.client, self.settings = client, settings
        ensure(client, settings)
        self.resolver = resolver or Resolver()
        state = load_state(client, settings)
        self.resolver.load_existing(
            state.mentions, state.nominal_of, load_decisions(client, settings), state.links, state.more_links
        )
        # Splink's batch SQL rendered now, with the load's set-up, not in its first batch.
        self.resolver.prepare()

    def resolve(self, mentions: Sequence[Mention], *, refresh: bool = False) -> dict[str, str]:
        out = self.resolver.resolve_new(mentions)
        if self.resolver.last_changed:
            _write_nominals(
                self.client, self.settings, self.resolver, self.resolver.last_changed, refresh=refresh
            )
        return out
