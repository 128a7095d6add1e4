"""What a viewer may see of a nominal, computed only from the records they may read.

A nominal is derived data: its names, DOBs, identifiers, record list, counts, reasons and
decisions are recomputed here from the mentions in readable records. A nominal with no
readable mention does not exist for that viewer (callers answer exactly as for an unknown id).

Links are shown only between readable mentions: a readable mention whose explaining links
all lead to unreadable records is left out, because showing it would say "something you
cannot see ties this record to this person". The mentions shown are those connected to each
other through readable links (the largest such group; ties broken by earliest mention).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mappings import person_decisions as D
from mappings import persons as P

# The identifiers a nominal shows (the API's ``identifiers`` keys), each read from the
# mentions the viewer may read: a restricted record's NI number is as hidden as its name.
IDENTIFIER_FIELDS: dict[str, str] = {
    "pnc_id": P.M_PNC_ID,
    "cro_no": P.M_CRO_NO,
    "nino": P.M_NINO,
    "email": P.M_EMAIL,
}


@dataclass(frozen=True)
class RecordLink:
    record_id: str
    mention_id: str
    role: str
    name: str
    dob: str | None
    probability: float | None
    reasons: tuple[str, ...]
    linked_to: str | None
    decided: bool


@dataclass
class NominalView:
    id: str
    names: list[str]
    dobs: list[str]
    identifiers: dict[str, list[str]]
    records: list[RecordLink]
    decisions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def record_count(self) -> int:
        return len({r.record_id for r in self.records})

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "names": self.names,
            "dobs": self.dobs,
            "identifiers": self.identifiers,
            "records": [
                {
                    "id": r.record_id,
                    "role": r.role,
                    "probability": r.probability,
                    "reasons": list(r.reasons),
                }
                for r in self.records
            ],
            "decisions": self.decisions,
        }


def _links_of(entry: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    if entry.get(P.M_LINKED_TO):
        out.append(entry)
    out.extend(entry.get(P.M_MORE_LINKS, []) or [])
    return out


def readable_view(
    doc: Mapping[str, Any],
    readable_records: Collection[str],
    decisions: Sequence[Mapping[str, Any]] = (),
) -> NominalView | None:
    """The nominal as ``readable_records`` show it, or None when it shows nothing."""
    mentions = [m for m in doc.get(P.MENTIONS, []) if m[P.M_RECORD_ID] in readable_records]
    if not mentions:
        return None
    by_id = {m[P.M_ID]: m for m in mentions}
    # Components of readable mentions joined by readable links (union-find, tiny sizes).
    parent = {mid: mid for mid in by_id}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    decided_pairs = {
        (min(d[D.MENTION_A], d[D.MENTION_B]), max(d[D.MENTION_A], d[D.MENTION_B]))
        for d in decisions
        if d.get(D.SAME)
    }
    for mid, m in by_id.items():
        for link in _links_of(m):
            other = link[P.M_LINKED_TO]
            if other in by_id:
                parent[find(mid)] = find(other)
    for a, b in decided_pairs:
        if a in by_id and b in by_id:
            parent[find(a)] = find(b)
    groups: dict[str, list[str]] = {}
    for mid in by_id:
        groups.setdefault(find(mid), []).append(mid)
    order = {m[P.M_ID]: i for i, m in enumerate(doc.get(P.MENTIONS, []))}  # stored earliest first
    shown = max(groups.values(), key=lambda g: (len(g), -min(order[x] for x in g)))
    shown_set = set(shown)

    records: list[RecordLink] = []
    names: list[str] = []
    dobs: list[str] = []
    # Identifier kind (API key) -> values, from the shown mentions only.
    idents: dict[str, list[str]] = {k: [] for k in IDENTIFIER_FIELDS}
    for mid in sorted(shown, key=lambda x: order[x]):
        m = by_id[mid]
        best = next((lk for lk in _links_of(m) if lk[P.M_LINKED_TO] in shown_set), None)
        records.append(
            RecordLink(
                record_id=m[P.M_RECORD_ID],
                mention_id=mid,
                role=m[P.M_ROLE],
                name=m[P.M_NAME],
                dob=m.get(P.M_DOB),
                probability=best.get(P.M_PROBABILITY) if best else None,
                reasons=tuple(best.get(P.M_REASONS, [])) if best else (),
                linked_to=best[P.M_LINKED_TO] if best else None,
                decided=bool(m.get(P.M_DECIDED)),
            )
        )
        for value, bucket in ((m[P.M_NAME], names), (m.get(P.M_DOB), dobs)):
            if value and value not in bucket:
                bucket.append(value)
        for kind, mention_field in IDENTIFIER_FIELDS.items():
            value = m.get(mention_field)
            if value and value not in idents[kind]:
                idents[kind].append(value)
    shown_decisions = [
        {
            "same": d[D.SAME],
            "reason": d.get(D.REASON, ""),
            "by": d.get(D.BY, ""),
            "role": d.get(D.BY_ROLE, ""),
            "at": d.get(D.AT),
            "mentions": [d[D.MENTION_A], d[D.MENTION_B]],
        }
        for d in decisions
        # Both records must be readable: a decision names both of its mentions.
        if d[D.RECORD_A] in readable_records
        and d[D.RECORD_B] in readable_records
        and (d[D.MENTION_A] in shown_set or d[D.MENTION_B] in shown_set)
    ]
    return NominalView(
        id=doc[P.ID],
        names=sorted(names),
        dobs=sorted(dobs),
        identifiers={kind: sorted(values) for kind, values in idents.items()},
        records=records,
        decisions=shown_decisions,
    )
