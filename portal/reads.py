"""What the pages and the API ask of the records index, as typed operations.

Every function takes the :class:`~lantern.principal.Principal` and reads through
:class:`search.gateway.SecuredRecords`; the routes add auditing and rendering.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import urlencode

from opensearchpy import OpenSearch
from pydantic import ValidationError

from entity_extraction.names import fold, person_display
from lantern.clock import today_utc
from lantern.principal import Principal
from lantern.records import AnyRecord, parse_record
from lantern.settings import Settings
from mappings import fields as F
from portal.present import (
    ENTITY_LABEL_NAMES,
    ResultItem,
    entity_href,
    result_item,
    total_hits,
)
from search import builders as B
from search.access import can_read
from search.cursor import Cursor
from search.gateway import SecuredRecords
from search.parser import reference

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- search


@dataclass
class SearchOutcome:
    request: B.SearchRequest
    items: list[ResultItem]
    total: int
    aggs: Mapping[str, Any]
    took_ms: int
    page: int
    pages: int  # every page of the results (past the window, reached one at a time)
    size: int
    capped: bool  # more results exist than numbered paging (from/size) can reach
    # Pages past the window: where "Next" and "Previous" go (None: a numbered page, or none).
    next_cursor: Cursor | None = None
    prev_cursor: Cursor | None = None
    window_pages: int = 0  # pages reachable by number (from/size)
    asked_beyond: bool = False  # a page past the window was asked for without a cursor
    # The answers of the searches run beside this one (``run_search(beside=...)``), in order.
    beside: list[dict[str, Any]] = field(default_factory=list)

    @property
    def deep(self) -> bool:
        """Paging one page at a time (at or past the last numbered page of a capped search)."""
        return self.capped and self.page >= self.window_pages


def _idents(req: B.SearchRequest) -> list[str]:
    from search.parser import Ident

    return [leaf.value for leaf in req.parsed.leaves(positive_only=True) if isinstance(leaf, Ident)]


def run_search(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    req: B.SearchRequest,
    *,
    today: date | None = None,
    cursor: Cursor | None = None,
    beside: Sequence[tuple[str | None, Mapping[str, Any]]] = (),
) -> SearchOutcome:
    """One page of results. Pages inside ``MAX_WINDOW`` are read with ``from``/``size``; past
    it, ``cursor`` (from the previous page's outcome) continues with ``search_after`` in a
    point in time, so an analyst can page through every result, one page at a time.

    ``beside``: searches sent in the same request (``SearchOutcome.beside`` holds their
    answers; ``SecuredRecords.search_beside``); numbered pages only."""
    records = SecuredRecords(client, settings, user)
    _, size = B.page_window(req.page, req.size)
    window_pages = B.MAX_WINDOW // size
    pit: str | None = None
    answers: list[dict[str, Any]] = []
    if beside and cursor is not None:
        raise ValueError("searches beside a page are sent with numbered pages only")
    if beside:
        resp, answers = records.search_beside(B.build_search(req), beside, today=today)
        hits = resp.get("hits", {}).get("hits", [])
        start, _ = B.page_window(req.page, req.size)
        page = start // size + 1
    elif cursor is None:
        resp = records.search(B.build_search(req), today=today)
        hits = resp.get("hits", {}).get("hits", [])
        start, _ = B.page_window(req.page, req.size)
        page = start // size + 1
    else:
        body = B.build_search_after(req, cursor.after, reverse=cursor.direction == "prev")
        resp, pit = records.search_in_pit(body, cursor.pit, today=today)
        hits = resp.get("hits", {}).get("hits", [])
        if cursor.direction == "prev":
            hits = list(reversed(hits))
        page = cursor.page
    total = total_hits(resp)
    pages = max(1, math.ceil(total / size))
    capped = total > window_pages * size
    next_cursor = prev_cursor = None
    if capped and hits and page >= window_pages and page < pages:
        next_cursor = Cursor(page + 1, tuple(hits[-1]["sort"]), "next", pit)
    if cursor is not None and hits and page - 1 > window_pages:
        prev_cursor = Cursor(page - 1, tuple(hits[0]["sort"]), "prev", pit)
    return SearchOutcome(
        request=req,
        items=[result_item(h, user, _idents(req)) for h in hits],
        total=total,
        aggs=resp.get("aggregations", {}),
        took_ms=int(resp.get("took", 0)),
        page=page,
        pages=pages if capped else max(1, math.ceil(min(total, B.MAX_WINDOW) / size)),
        size=size,
        capped=capped,
        next_cursor=next_cursor,
        prev_cursor=prev_cursor,
        window_pages=window_pages,
        asked_beyond=cursor is None and req.page > window_pages,
        beside=answers,
    )


@dataclass(frozen=True)
class Relaxed:
    """A part of an empty search, and how many records the search finds without it."""

    part: str  # as the user typed it ("2023", "knife", "Record type: custody")
    count: int
    q: str  # the query text without the part (unchanged when the part is a facet selection)
    facets: tuple[tuple[str, tuple[str, ...]], ...]  # the facet selections without the part


def _without_part(raw: str, part: str) -> str:
    out = re.sub(rf"(?<!\S){re.escape(part)}(?!\S)", " ", raw, count=1)
    return " ".join(out.split())


def explain_empty(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    req: B.SearchRequest,
    *,
    today: date | None = None,
    limit: int = 3,
) -> list[Relaxed]:
    """For a search that found nothing: each part whose removal finds records, most first.

    The parts are the AND-ed terms of the query (each word of a run of words, a year, a DOB,
    an identifier, a field filter) and the facet selections. Every count is a search through
    the records gateway, so the access filter applies: a part is never reported as the
    culprit because of records the user may not read.
    """
    from search.relax import relaxations

    facets = {k: tuple(v) for k, v in req.facets.items() if v}
    cands: list[tuple[str, Any, dict[str, tuple[str, ...]]]] = [
        (r.part, r.query, facets) for r in relaxations(req.parsed)
    ]
    for key, values in facets.items():
        label = B.FACETS_BY_KEY[key].label if key in B.FACETS_BY_KEY else key
        fewer = {k: v for k, v in facets.items() if k != key}
        cands.append((f"{label}: {', '.join(values)}", req.parsed, fewer))
    if not cands:
        return []
    bodies = [
        B.build_search(B.SearchRequest(parsed, facets=f, size=1, with_facets=False, with_highlight=False))
        for _, parsed, f in cands
    ]
    out: list[Relaxed] = []
    responses = SecuredRecords(client, settings, user).msearch(bodies, today=today)
    for (part, parsed, f), resp in zip(cands, responses, strict=True):
        n = 0 if "error" in resp else total_hits(resp)
        if n:
            q = req.parsed.raw if parsed is req.parsed else _without_part(req.parsed.raw, part)
            out.append(Relaxed(part, n, q, tuple(f.items())))
    out.sort(key=lambda r: -r.count)
    return out[:limit]


# ------------------------------------------------------------------------ suggestions


@dataclass(frozen=True)
class Suggestion:
    text: str
    kind: str  # PERSON, an identifier label, or REFERENCE
    href: str


def _suggestion_kind(value: str) -> tuple[str, str]:
    from entity_extraction import find_identifiers

    ref = reference(value)
    if ref:
        return "REFERENCE", ref
    found = find_identifiers(value)
    if len(found) == 1 and found[0].start == 0 and found[0].end == len(value):
        return str(found[0].label), found[0].value
    return "PERSON", value


def suggest(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    prefix: str,
    *,
    size: int = 8,
    today: date | None = None,
) -> list[Suggestion]:
    """People and identifiers starting with what was typed (min 2 characters), most frequent first."""
    prefix = prefix.strip()[:100]
    tokens = [t for t in (fold(x) for x in prefix.split()) if t]
    squashed = "".join(ch for ch in prefix.upper() if ch.isalnum())
    if len(prefix) < 2 or not (tokens or squashed):
        return []
    resp = SecuredRecords(client, settings, user).search(B.build_suggest(prefix, size), today=today)
    counts: Counter[str] = Counter()
    for hit in resp.get("hits", {}).get("hits", []):
        for value in (hit.get("_source") or {}).get(F.SUGGEST, []) or []:
            value = str(value)
            words = [fold(w) for w in value.split()]
            as_name = bool(tokens) and all(any(w.startswith(t) for w in words) for t in tokens)
            value_squashed = "".join(ch for ch in value.upper() if ch.isalnum())
            as_ident = len(squashed) >= 2 and value_squashed.startswith(squashed)
            if as_name or as_ident:
                counts[value] += 1
    out: list[Suggestion] = []
    seen: set[tuple[str, str]] = set()
    for value, _ in sorted(counts.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0])):
        kind, canonical = _suggestion_kind(value)
        if kind == "PERSON":
            canonical = person_display(value)
        key = (kind, canonical.lower())
        if key in seen:
            continue
        seen.add(key)
        if kind == "REFERENCE":
            href = f"/search?{urlencode({'q': canonical})}"
        else:
            href = entity_href(kind, canonical)
        out.append(Suggestion(canonical if kind != "PERSON" else value, kind, href))
        if len(out) >= size:
            break
    return out


# ----------------------------------------------------------------------- records


@dataclass
class RecordHit:
    source: dict[str, Any]
    record: AnyRecord | None


def fetch_record(
    client: OpenSearch, settings: Settings, user: Principal, record_id: str, *, today: date | None = None
) -> RecordHit | None:
    """The record if ``user`` may read it, else None (not found and not allowed look the same)."""
    if not record_id or len(record_id) > 100:
        return None
    day = today or today_utc()
    resp = SecuredRecords(client, settings, user).search(B.build_get(record_id), today=day)
    hits = resp.get("hits", {}).get("hits", [])
    if not hits:
        return None
    source: dict[str, Any] = hits[0].get("_source") or {}
    # Belt and braces: the same policy in Python over the document itself.
    if not can_read(user, source, day):
        log.error("access filter and can_read disagree on record %s for %s", record_id, user.username)
        return None
    record: AnyRecord | None = None
    try:
        record = parse_record(source.get(F.RECORD) or {})
    except ValidationError:
        log.exception("record %s no longer validates; showing the search document only", record_id)
    return RecordHit(source, record)


@dataclass(frozen=True)
class AttachedDocumentLink:
    title: str
    kind: str
    pages: int
    ocr_pages: int
    href: str


def record_documents(
    client: OpenSearch, settings: Settings, user: Principal, record_id: str, *, today: date | None = None
) -> list[AttachedDocumentLink]:
    """The documents attached to a record that ``user`` may read (same filter as the record)."""
    from portal.present import DOCUMENT_KIND_LABELS, document_href

    body: dict[str, Any] = {
        "query": {"term": {F.document(F.D_PARENT_ID): record_id}},
        "size": 100,
        "_source": [
            F.ID,
            F.document(F.D_TITLE),
            F.document(F.D_KIND),
            F.document(F.D_PAGE_COUNT),
            F.document(F.D_OCR_PAGES),
        ],
        "sort": [{F.document(F.D_PATH): "asc"}],
    }
    out = []
    for hit in SecuredRecords(client, settings, user).search(body, today=today)["hits"]["hits"]:
        src = hit.get("_source") or {}
        doc = src.get(F.DOCUMENT) or {}
        out.append(
            AttachedDocumentLink(
                title=str(doc.get(F.D_TITLE) or "Document"),
                kind=DOCUMENT_KIND_LABELS.get(str(doc.get(F.D_KIND)), "Document"),
                pages=int(doc.get(F.D_PAGE_COUNT) or 0),
                ocr_pages=int(doc.get(F.D_OCR_PAGES) or 0),
                href=document_href(str(src.get(F.ID) or hit["_id"])),
            )
        )
    return out


@dataclass
class LinkedRecord:
    item: ResultItem
    reasons: list[str]


LINK_GROUP_LABELS: dict[str, str] = {
    "person": "Same person or PNC ID",
    "vehicle_phone": "Shared vehicle, phone or email",
    "address": "Shared address",
}


@dataclass
class LinkedGroup:
    """Records whose strongest link to this one is ``reason``: how many, and the first few."""

    reason: str  # one of search.builders.LINK_TIERS
    label: str
    total: int
    records: list[LinkedRecord] = field(default_factory=list)
    page: int = 1
    pages: int = 1

    @property
    def more(self) -> int:
        """How many of the group are not listed here."""
        return max(0, self.total - len(self.records))


def _person_key_reason(key: str, names: Mapping[str, str]) -> str:
    who = names.get(key, "")
    if key.startswith("pnc:"):
        return f"same PNC ID {key[4:]}" + (f" ({who})" if who else "")
    parts = key.split(":")
    dob = parts[1] if len(parts) > 1 else ""
    return f"same person: {who or 'name'} born {dob}"


@dataclass(frozen=True)
class _Links:
    seeds: B.LinkSeeds
    key_names: Mapping[str, str]


def _links(hit: RecordHit) -> _Links:
    src = hit.source
    key_names: dict[str, str] = {}
    for p in src.get(F.PEOPLE) or []:
        if p.get(F.P_ROLE) == "officer":
            continue  # officers appear on thousands of records: not a meaningful link
        for k in p.get(F.P_PERSON_KEY) or []:
            key_names.setdefault(k, str(p.get(F.P_NAME, "")))
    entities: Mapping[str, list[str]] = src.get(F.ENTITIES) or {}
    wanted = {label: list(entities.get(label.lower(), [])) for label in B.LINK_LABELS}
    seeds = B.LinkSeeds(str(src.get(F.ID)), tuple(sorted(key_names)), wanted)
    return _Links(seeds, key_names)


def _linked_record(h: Mapping[str, Any], links: _Links, user: Principal) -> LinkedRecord:
    """One linked record and why, strongest reason first (values this record shows already)."""
    other = h.get("_source") or {}
    reasons: list[str] = []
    other_keys = {k for p in other.get(F.PEOPLE) or [] for k in (p.get(F.P_PERSON_KEY) or [])}
    for k in sorted(other_keys & set(links.key_names)):
        reasons.append(_person_key_reason(k, links.key_names))
    other_ents: Mapping[str, list[str]] = other.get(F.ENTITIES) or {}
    for label in B.LINK_LABELS:
        for v in sorted(set(links.seeds.entities.get(label, ())) & set(other_ents.get(label.lower(), []))):
            if label == "PNC_ID" and f"pnc:{v}" in other_keys:
                continue  # already given as "same PNC ID"
            reasons.append(f"same {ENTITY_LABEL_NAMES[label].lower()} {v}")
    return LinkedRecord(result_item(h, user), reasons or ["linked"])


def linked_records(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    hit: RecordHit,
    *,
    per_group: int = B.LINKED_PER_GROUP,
    today: date | None = None,
) -> list[LinkedGroup]:
    """Records sharing a person, vehicle, phone or address with this one, by strength of link.

    One group per link tier (strongest first), each with its count and the ``per_group``
    strongest records; read through the gateway, so counts and records are what ``user`` may read.
    """
    links = _links(hit)
    body = B.build_linked(links.seeds, per_group)
    if body is None:
        return []
    resp = SecuredRecords(client, settings, user).search(body, today=today)
    buckets: Mapping[str, Any] = ((resp.get("aggregations") or {}).get("groups") or {}).get("buckets") or {}
    out: list[LinkedGroup] = []
    for tier in B.LINK_TIERS:
        bucket = buckets.get(tier)
        if not bucket or not bucket.get("doc_count"):
            continue
        hits = ((bucket.get("top") or {}).get("hits") or {}).get("hits") or []
        total = int(bucket["doc_count"])
        out.append(
            LinkedGroup(
                tier,
                LINK_GROUP_LABELS[tier],
                total,
                [_linked_record(h, links, user) for h in hits],
                pages=max(1, math.ceil(min(total, B.MAX_WINDOW) / B.LINKED_PAGE_SIZE)),
            )
        )
    return out


def linked_group(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    hit: RecordHit,
    reason: str,
    *,
    page: int = 1,
    today: date | None = None,
) -> LinkedGroup | None:
    """One page of every linked record in one group ("show all N"); None for an unknown group."""
    tier = next((t for t in B.LINK_TIERS if t == reason), None)
    if tier is None:
        return None
    links = _links(hit)
    body = B.build_linked_group(links.seeds, tier, page)
    if body is None:
        return LinkedGroup(reason, LINK_GROUP_LABELS[reason], 0)
    resp = SecuredRecords(client, settings, user).search(body, today=today)
    total = total_hits(resp)
    pages = max(1, math.ceil(min(total, B.MAX_WINDOW) / B.LINKED_PAGE_SIZE))
    return LinkedGroup(
        reason,
        LINK_GROUP_LABELS[reason],
        total,
        [_linked_record(h, links, user) for h in resp.get("hits", {}).get("hits", [])],
        page=min(max(1, page), pages),
        pages=pages,
    )


# ------------------------------------------------------------------------ entities


@dataclass
class NameVariant:
    name: str
    dob: str | None
    pnc_id: str | None
    reasons: list[str]
    records: int


@dataclass
class Bucket:
    key: str
    count: int
    href: str = ""


@dataclass
class EntityPage:
    label: str
    value: str
    total: int
    items: list[ResultItem]
    timeline: list[Bucket]
    types: list[Bucket]
    co_occurring: dict[str, list[Bucket]]
    variants: list[NameVariant]
    page: int
    pages: int


def _person_links(
    client: OpenSearch, settings: Settings, user: Principal, value: str, today: date | None
) -> tuple[list[str], list[NameVariant]]:
    """Linking keys of the people called ``value``, and the other spellings sharing them."""
    resp = SecuredRecords(client, settings, user).search(B.build_person_keys(value), today=today)
    keys: dict[str, dict[str, Any]] = {}
    for h in resp.get("hits", {}).get("hits", []):
        for ih in ((h.get("inner_hits") or {}).get(F.PEOPLE) or {}).get("hits", {}).get("hits", []):
            p = ih.get("_source") or {}
            if p.get(F.P_ROLE) == "officer":
                continue
            for k in p.get(F.P_PERSON_KEY) or []:
                keys.setdefault(k, p)
    if not keys:
        return [], []
    resp = SecuredRecords(client, settings, user).search(
        B.build_person_variants(sorted(keys)[:50]), today=today
    )
    variants: dict[tuple[str, str | None], NameVariant] = {}
    for h in resp.get("hits", {}).get("hits", []):
        seen_here: set[tuple[str, str | None]] = set()
        for ih in ((h.get("inner_hits") or {}).get(F.PEOPLE) or {}).get("hits", {}).get("hits", []):
            p = ih.get("_source") or {}
            name = str(p.get(F.P_NAME, ""))
            shared = sorted(set(p.get(F.P_PERSON_KEY) or []) & set(keys))
            if not shared:
                continue
            vkey = (fold(name), p.get(F.P_DOB))
            if vkey in seen_here:
                continue
            seen_here.add(vkey)
            v = variants.get(vkey)
            if v is None:
                reasons = []
                for k in shared:
                    if k.startswith("pnc:"):
                        reasons.append(f"shares PNC ID {k[4:]}")
                    else:
                        reasons.append(f"same date of birth ({k.split(':')[1]}) and a similar-sounding name")
                v = variants[vkey] = NameVariant(name, p.get(F.P_DOB), p.get(F.P_PNC_ID), reasons, 0)
            v.records += 1
    ordered = sorted(variants.values(), key=lambda v: (-v.records, v.name))
    return sorted(keys), ordered


def entity_page(
    client: OpenSearch,
    settings: Settings,
    user: Principal,
    label: str,
    value: str,
    *,
    page: int = 1,
    size: int = 25,
    today: date | None = None,
) -> EntityPage:
    label = label.upper()
    keys: list[str] = []
    variants: list[NameVariant] = []
    if label == "PERSON":
        keys, variants = _person_links(client, settings, user, value, today)
    body = B.build_entity(label, value, size=size, page=page, extra_keys=keys)
    resp = SecuredRecords(client, settings, user).search(body, today=today)
    aggs = resp.get("aggregations", {})
    total = total_hits(resp)
    folded_variants = {fold(v.name) for v in variants} | {fold(value)}
    co: dict[str, list[Bucket]] = {}
    for other in B.ENTITY_FACET_LABELS:
        buckets = []
        for b in aggs.get(f"co_{other.lower()}", {}).get("buckets", []):
            key = str(b["key"])
            if other == label and (key == value or (label == "PERSON" and fold(key) in folded_variants)):
                continue
            buckets.append(Bucket(key, int(b["doc_count"]), entity_href(other, key)))
        if buckets:
            co[other] = buckets[:10]
    start, size = B.page_window(page, size)
    return EntityPage(
        label=label,
        value=value,
        total=total,
        items=[result_item(h, user, [value]) for h in resp.get("hits", {}).get("hits", [])],
        timeline=[
            Bucket(str(b.get("key_as_string")), int(b["doc_count"]))
            for b in aggs.get("timeline", {}).get("buckets", [])
        ],
        types=[Bucket(str(b["key"]), int(b["doc_count"])) for b in aggs.get("types", {}).get("buckets", [])],
        co_occurring=co,
        variants=variants,
        page=start // size + 1,
        pages=max(1, math.ceil(min(total, B.MAX_WINDOW) / size)),
    )


def canonical_entity_value(label: str, value: str) -> str:
    """The canonical spelling of an entity value (so every URL for it lands on one page)."""
    from entity_extraction import canonicalise

    label = label.upper()
    value = value.strip()
    if label == "PERSON":
        return person_display(value)
    if label in F.IDENTIFIER_LABELS or label in ("WEAPON", "DRUG"):
        return canonicalise(label, value) or value
    return value
