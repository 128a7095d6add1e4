"""From engine responses to what templates and the API show.

No HTML is built here. Highlighted snippets and narratives are split into segments
(plain text, marked text, linked entity) and the templates let Jinja escape each one;
the engine's highlight markers are private-use characters, never markup.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from documents.pages import first_mention, mention_page, page_for_fragment, page_text
from lantern.principal import INTEL_CLEARANCE, Principal
from lantern.profile import active_profile
from mappings import fields as F
from search.builders import FACETS, HIGHLIGHT_POST, HIGHLIGHT_PRE

try:
    LONDON: ZoneInfo | None = ZoneInfo("Europe/London")
except ZoneInfoNotFoundError:  # no tz database: show UTC rather than fail
    LONDON = None

TYPE_LABELS = {"custody": "Custody", "crime": "Crime", "case": "Case file", "intel": "Intelligence"}
ENTITY_LABEL_NAMES = {
    "PERSON": "Person",
    "ORG": "Organisation",
    "LOCATION": "Place",
    "DATE": "Date",
    "POSTCODE": "Postcode",
    "VRM": "Vehicle",
    "PHONE": "Phone",
    "EMAIL": "Email",
    "NINO": "NI number",
    "PNC_ID": "PNC ID",
    "CRO_NO": "CRO number",
    "IMEI": "IMEI",
    "WEAPON": "Weapon",
    "DRUG": "Drug",
}
# Entity chips shown on a result, in this order.
CHIP_LABELS = ("VRM", "PHONE", "PNC_ID", "POSTCODE", "EMAIL", "NINO", "CRO_NO", "IMEI", "WEAPON", "DRUG")
MAX_CHIPS = 8


@dataclass(frozen=True)
class Segment:
    text: str
    mark: bool = False
    label: str | None = None  # an entity mention
    value: str | None = None
    href: str | None = None


def entity_href(label: str, value: str) -> str:
    return f"/entity/{quote(label, safe='')}/{quote(value, safe='')}"


def highlight_segments(fragment: str) -> list[Segment]:
    """Split an engine highlight fragment (sentinel-marked) into plain and marked segments.

    Stray or nested markers (including any a record's own text might contain) are dropped.
    """
    out: list[Segment] = []
    buf: list[str] = []
    marked = False
    for ch in fragment:
        if ch in (HIGHLIGHT_PRE, HIGHLIGHT_POST):
            if buf:
                out.append(Segment("".join(buf), mark=marked))
                buf = []
            marked = ch == HIGHLIGHT_PRE
            continue
        buf.append(ch)
    if buf:
        out.append(Segment("".join(buf), mark=marked))
    return [s for s in out if s.text]


def strip_markers(text: str) -> str:
    return text.replace(HIGHLIGHT_PRE, "").replace(HIGHLIGHT_POST, "")


def mention_segments(text: str, mentions: Iterable[Mapping[str, Any]]) -> list[Segment]:
    """A narrative split into plain text and linked entity mentions (offsets from the indexer).

    Overlapping, out-of-range or inconsistent mentions are skipped rather than trusted.
    """
    spans = []
    for m in mentions:
        try:
            start, end = int(m["start"]), int(m["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if 0 <= start < end <= len(text):
            spans.append((start, end, str(m.get("label", "")), str(m.get("value") or text[start:end])))
    spans.sort()
    out: list[Segment] = []
    pos = 0
    for start, end, label, value in spans:
        if start < pos:
            continue
        if start > pos:
            out.append(Segment(text[pos:start]))
        href = entity_href(label, value) if label in ENTITY_LABEL_NAMES else None
        out.append(Segment(text[start:end], label=label, value=value, href=href))
        pos = end
    if pos < len(text):
        out.append(Segment(text[pos:]))
    return out


def sees_full_intelligence(user: Principal) -> bool:
    """Who reads intelligence text in full; other readers get the sanitised text.

    Everyone who may read an intelligence record at all (``intel`` clearance, plus
    ``intel_c`` for handling code C, enforced by ``search.access``) reads it in full. A
    narrower "sanitised only" audience would still match words of the withheld text and
    entities extracted from it through search, facets and entity pages, which turns the
    search box into an oracle for what the page hides; the sanitised text is therefore
    shown beside the full text as the version cleared for wider dissemination.
    """
    return INTEL_CLEARANCE in user.clearances


# ----------------------------------------------------------------------- results


@dataclass
class PersonRef:
    name: str
    role: str
    dob: str | None = None


@dataclass
class Chip:
    label: str
    value: str
    href: str
    label_name: str


@dataclass
class ResultItem:
    id: str
    record_type: str
    type_label: str
    reference: str
    title: list[Segment]
    title_text: str
    date: str | None
    facts: list[tuple[str, str]]
    people: list[PersonRef]
    snippets: list[list[Segment]]
    chips: list[Chip]
    score: float | None = None
    href: str = ""
    # An attached document: "Statement, page 3" (None for a record).
    document: str | None = None


def _local(dt: datetime) -> datetime:
    # Stored in UTC; officers read UK local time (BST in summer).
    return dt.astimezone(LONDON) if dt.tzinfo is not None and LONDON is not None else dt


def _fmt_date(value: str | None) -> str | None:
    if not value:
        return None
    if len(value) <= 10:
        try:
            return date.fromisoformat(value).strftime("%d %b %Y")
        except ValueError:
            return value
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return _local(dt).strftime("%d %b %Y %H:%M")


def fmt_date(value: object) -> str:
    """Jinja filter: ISO dates and datetimes the British way, in UK local time."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return _local(value).strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    return _fmt_date(str(value)) or ""


def code_label(code: str | None, list_name: str) -> str:
    """The force profile's label for a code of one of its lists (the code humanised if the
    list gives none), so a force's own codes (``CHG``) read as it defines them."""
    if not code:
        return ""
    label = active_profile().codes[list_name].values.get(str(code))
    return label or humanise(str(code))


def humanise(value: str | None) -> str:
    return (value or "").replace("_", " ")


DOCUMENT_KIND_LABELS = {
    "statement": "Statement",
    "exhibit": "Exhibit",
    "form": "Form",
    "transcript": "Transcript",
    "correspondence": "Correspondence",
    "scanned_document": "Scanned document",
    "photograph": "Photograph",
    "other": "Document",
}


def document_href(doc_id: str, page: int | None = None) -> str:
    base = f"/documents/{quote(doc_id, safe='')}"
    return f"{base}?page={page}" if page and page > 1 else base


def _document_page(
    src: Mapping[str, Any], hl: Mapping[str, list[str]], idents: Sequence[str]
) -> tuple[int, list[Segment] | None]:
    """The page a document hit is about, and a snippet from it when the engine gave none."""
    for frag in hl.get(F.TEXT, []):
        page = page_for_fragment(src, strip_markers(frag))
        if page is not None:
            return page, None
    mention = first_mention(src, idents)
    if mention is not None:
        page = mention_page(mention) or 1
        text = page_text(src, page)
        start, end = int(mention["start"]), int(mention["end"])
        if 0 <= start < end <= len(text):
            lo, hi = max(0, start - 90), min(len(text), end + 90)
            before, after = " ".join(text[lo:start].split()), " ".join(text[end:hi].split())
            return page, [Segment(before + " "), Segment(text[start:end], mark=True), Segment(" " + after)]
        return page, None
    return 1, None


def result_item(hit: Mapping[str, Any], user: Principal, idents: Sequence[str] = ()) -> ResultItem:
    """One result; ``idents`` (canonical identifiers searched for) place a document hit on its page."""
    src: Mapping[str, Any] = hit.get("_source") or {}
    hl: Mapping[str, list[str]] = hit.get("highlight") or {}
    rtype = str(src.get(F.RECORD_TYPE, ""))
    restricted_intel = rtype == "intel" and not sees_full_intelligence(user)
    facts: list[tuple[str, str]] = []
    for key, label in ((F.STATION, "Station"), (F.COURT, "Court"), (F.BOROUGH, "Borough"), (F.UNIT, "Unit")):
        if src.get(key):
            facts.append((label, str(src[key])))
    if src.get(F.STATUS):
        facts.append(("Status", humanise(str(src[F.STATUS]))))
    if src.get(F.GRADING):
        facts.append(("Grading", str(src[F.GRADING])))
    cats = src.get(F.OFFENCE_CATEGORIES) or []
    if cats:
        facts.append(("Offence", ", ".join(str(c) for c in cats[:3])))
    people = [
        PersonRef(str(p.get(F.P_NAME, "")), str(p.get(F.P_ROLE, "")), p.get(F.P_DOB))
        for p in (src.get(F.PEOPLE) or [])
        if p.get(F.P_ROLE) != "officer"
    ][:6]
    snippets: list[list[Segment]] = []
    if restricted_intel:
        # Full-text highlights would disclose what the sanitised text withholds.
        sanitised = ((src.get(F.RECORD) or {}).get("sanitised_text") or "").strip()
        if sanitised:
            snippets.append([Segment(_clip(sanitised))])
    else:
        for frag in [*hl.get(F.TEXT, []), *hl.get(F.SUMMARY, [])][:2]:
            snippets.append(highlight_segments(frag))
        if not snippets and src.get(F.SUMMARY):
            snippets.append([Segment(_clip(strip_markers(str(src[F.SUMMARY]))))])
    title_text = strip_markers(str(src.get(F.TITLE, "")))
    title = highlight_segments(hl[F.TITLE][0]) if hl.get(F.TITLE) else [Segment(title_text)]
    chips: list[Chip] = []
    entities: Mapping[str, list[str]] = src.get(F.ENTITIES) or {}
    for label in CHIP_LABELS:
        for value in entities.get(label.lower(), [])[:3]:
            chips.append(Chip(label, value, entity_href(label, value), ENTITY_LABEL_NAMES[label]))
    rid = str(src.get(F.ID) or hit.get("_id"))
    href = f"/records/{quote(rid, safe='')}"
    document_label = None
    doc = src.get(F.DOCUMENT)
    if isinstance(doc, Mapping):
        page, snippet = _document_page(src, hl, idents)
        kind = DOCUMENT_KIND_LABELS.get(str(doc.get(F.D_KIND)), "Document")
        document_label = f"{kind}, page {page}"
        href = document_href(rid, page)
        if snippet is not None and not restricted_intel:
            snippets = [snippet]
        # A document's own people are not structured: the record's are in its original.
        people = []
    return ResultItem(
        id=rid,
        record_type=rtype,
        type_label=TYPE_LABELS.get(rtype, rtype),
        reference=str(src.get(F.REFERENCE, "")),
        title=title,
        title_text=title_text,
        date=_fmt_date(src.get(F.RECORD_DATE)),
        facts=facts,
        people=people,
        snippets=snippets,
        chips=chips[:MAX_CHIPS],
        score=hit.get("_score"),
        href=href,
        document=document_label,
    )


def _clip(text: str, n: int = 240) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


# ------------------------------------------------------------------------ facets


@dataclass
class FacetValue:
    value: str
    label: str
    count: int
    selected: bool
    href: str


@dataclass
class FacetView:
    key: str
    label: str
    values: list[FacetValue] = field(default_factory=list)


def _buckets(agg: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    inner = agg.get("values", agg)
    return list(inner.get("buckets", []))


def facet_views(
    aggs: Mapping[str, Any],
    selected: Mapping[str, Sequence[str]],
    href_for: Any,
) -> list[FacetView]:
    """Facet blocks with counts; ``href_for(key, value)`` gives the toggle link."""
    out: list[FacetView] = []
    for facet in FACETS:
        agg = aggs.get(facet.key)
        if not agg:
            continue
        chosen = set(selected.get(facet.key, ()))
        view = FacetView(facet.key, facet.label)
        seen: set[str] = set()
        for b in _buckets(agg):
            value = str(b.get("key_as_string", b.get("key")))
            count = int(b.get("doc_count", 0))
            if count <= 0:
                continue
            seen.add(value)
            label = TYPE_LABELS.get(value, value) if facet.key == "type" else humanise(value)
            view.values.append(FacetValue(value, label, count, value in chosen, href_for(facet.key, value)))
        # A selected value no longer in the top buckets stays visible, so it can be cleared.
        for value in sorted(chosen - seen):
            view.values.append(FacetValue(value, humanise(value), 0, True, href_for(facet.key, value)))
        if view.values:
            out.append(view)
    return out


def total_hits(resp: Mapping[str, Any]) -> int:
    total = (resp.get("hits") or {}).get("total") or 0
    return int(total.get("value", 0)) if isinstance(total, Mapping) else int(total)
