"""The search document for one validated record.

A flat projection for search and facets (every field name from ``mappings.fields``), the
entities found in the narrative merged with the identifiers typed into structured fields
(one lookup finds a VRM whether it was typed in a form or mentioned in a narrative), the
mentions with offsets for highlighting, and the validated original under ``record``.

Structured identifiers that fail validation (a PNC ID whose check letter is wrong) stay in
``record`` as typed, are left out of the canonical arrays, and are reported as warnings:
one bad identifier must not cost the whole record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Protocol

from entity_extraction import names
from entity_extraction.names import person_display
from lantern.profile import ForceProfile, active_profile
from lantern.records import (
    AnyRecord,
    CaseFile,
    CrimeReport,
    CustodyRecord,
    IntelligenceReport,
    Offence,
    Person,
)
from mappings import fields as F
from mappings import records as records_index
from persons.features import person_mentions


class EntityLike(Protocol):
    # Read-only, so entity_extraction.Entity (label: a str enum) satisfies it.
    @property
    def label(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def value(self) -> str: ...


# field path of a free-text field -> the entities found in it
Mentions = Mapping[str, Sequence[EntityLike]]

TEXT_SEPARATOR = "\n\n"


@lru_cache(maxsize=1)
def _canonicalise() -> Any:
    # Lazy: importing the extraction package is cheap, but keep documents importable
    # on its own (the rules never load spaCy).
    from entity_extraction import canonicalise

    return canonicalise


def canonical(label: str, value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    result: str | None = _canonicalise()(label, value)
    return result


def _person_entity(person: Person) -> str:
    return person_display(" ".join(p for p in (person.forename, person.surname) if p))


class _Collector:
    """Ordered, de-duplicated entity values per label, plus warnings."""

    def __init__(self, warnings: list[str]) -> None:
        self.values: dict[str, dict[str, None]] = {label: {} for label in F.ENTITY_LABELS}
        self.warnings = warnings

    def add(self, label: str, value: str | None) -> None:
        if value:
            self.values[label][value] = None

    def add_structured(self, label: str, raw: str | None, where: str) -> str | None:
        """Canonicalise a typed identifier; warn (and skip) when it is not valid."""
        if raw is None or not raw.strip():
            return None
        value = canonical(label, raw)
        if value is None:
            self.warnings.append(
                f"{where}: {raw!r} is not a valid {label}; kept in the record, not indexed as {label}"
            )
            return None
        self.add(label, value)
        return value

    def as_fields(self) -> dict[str, list[str]]:
        return {label.lower(): list(vals) for label, vals in self.values.items() if vals}


def _offences(record: AnyRecord) -> list[Offence]:
    if isinstance(record, CustodyRecord):
        return list(record.offences)
    if isinstance(record, CrimeReport):
        return [record.offence] if record.offence is not None else []
    if isinstance(record, CaseFile):
        return [c.offence for c in record.charges]
    return []


def _offences_of(record: AnyRecord) -> list[Offence]:
    return [o for o in _offences(record) if o is not None]


def _status_outcome(record: AnyRecord) -> tuple[str | None, str | None]:
    # "Not recorded" stays absent: facets never show it as if it were a real status.
    if isinstance(record, CustodyRecord):
        return record.outcome, record.outcome
    if isinstance(record, CrimeReport):
        return record.status, record.outcome_code
    if isinstance(record, CaseFile):
        return record.status, record.final_outcome
    return None, None


def _unique(values: Iterable[str | None]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def name_key_fields(forename: str | None, surname: str | None) -> dict[str, Any]:
    """The per-part name keys of one person (folded spellings and phonetic key families).

    Forename keys cover every given name (``Anne Marie``); the surname is split on spaces
    and hyphens so ``Smith-Jones`` is found by ``Jones``.
    """
    fore_tokens = names.name_tokens(forename or "")
    sur_tokens = names.name_tokens(surname or "")
    fore_keys: set[str] = set()
    for t in fore_tokens:
        fore_keys |= names.phonetic_keys(t)
    sur_keys: set[str] = set()
    for t in sur_tokens:
        sur_keys |= names.phonetic_keys(t)
    folded_surname = names.fold(surname or "")
    return {
        F.P_FORENAME_FOLDED: fore_tokens[0] if fore_tokens else None,
        F.P_SURNAME_FOLDED: sorted({*sur_tokens, folded_surname} - {""}),
        F.P_FORENAME_PHONETIC: sorted(fore_keys),
        F.P_SURNAME_PHONETIC: sorted(sur_keys),
    }


def _person_doc(
    person: Person,
    where: str,
    entities: _Collector,
    mention_id: str | None = None,
    nominal_id: str | None = None,
) -> dict[str, Any]:
    pnc = entities.add_structured("PNC_ID", person.pnc_id, f"{where}.pnc_id")
    cro = entities.add_structured("CRO_NO", person.cro_no, f"{where}.cro_no")
    nino = entities.add_structured("NINO", person.nino, f"{where}.nino")
    entities.add_structured("EMAIL", person.email, f"{where}.email")
    for i, phone in enumerate(person.phones):
        entities.add_structured("PHONE", phone, f"{where}.phones[{i}]")
    if person.address is not None:
        entities.add_structured("POSTCODE", person.address.postcode, f"{where}.address.postcode")
    entities.add("PERSON", _person_entity(person))
    phonetic: set[str] = set(names.phonetic_keys_for_name(person.full_name))
    for alias in person.aliases:
        phonetic |= set(names.phonetic_keys_for_name(alias))
    doc: dict[str, Any] = {
        F.P_ROLE: person.role.value,
        F.P_NAME: person.full_name,
        F.P_FORENAME: person.forename,
        F.P_SURNAME: person.surname,
        F.P_NAME_PHONETIC: sorted(phonetic),
        F.P_FORENAME_VARIANTS: sorted(names.forename_variants(person.forename)) if person.forename else [],
        **name_key_fields(person.forename, person.surname),
        F.P_DOB: person.dob.isoformat() if person.dob else None,
        F.P_PNC_ID: pnc,
        F.P_CRO_NO: cro,
        F.P_NINO: nino,
        F.P_PERSON_KEY: names.person_keys(person.forename, person.surname, person.dob, pnc),
        F.P_ALIASES: list(person.aliases) or None,
        F.P_MENTION_ID: mention_id,
        F.P_NOMINAL_ID: nominal_id,
    }
    return {k: v for k, v in doc.items() if v not in (None, [])}


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def build_document(
    record: AnyRecord,
    mentions: Mentions | None = None,
    *,
    warnings: list[str] | None = None,
    indexed_at: datetime | None = None,
    profile: ForceProfile | None = None,
    nominals: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``records`` search document for ``record``.

    ``mentions`` maps each ``record.free_text()`` field to the entities extracted from it
    (None: no extraction). Identifier problems are appended to ``warnings`` if given.
    ``profile``: the force profile the record was validated against (default: active).
    ``nominals`` maps person mention ids to resolved nominal ids (person resolution).
    """
    profile = profile or active_profile()
    warns: list[str] = warnings if warnings is not None else []
    entities = _Collector(warns)
    free_text = record.free_text()

    people_docs: list[dict[str, Any]] = []
    people = record.all_people()
    person_mention_ids = [m.mention_id if m else None for m in person_mentions(record)]
    for i, person in enumerate(people):
        where = (
            "detainee"
            if isinstance(record, CustodyRecord) and i == 0
            else (f"people[{i - 1}]" if isinstance(record, CustodyRecord) else f"people[{i}]")
        )
        mid = person_mention_ids[i]
        nid = (nominals or {}).get(mid) if mid else None
        people_docs.append(_person_doc(person, where, entities, mid, nid))

    for i, vehicle in enumerate(record.vehicles):
        entities.add_structured("VRM", vehicle.vrm, f"vehicles[{i}].vrm")
    for i, phone in enumerate(record.phones):
        entities.add_structured("PHONE", phone, f"phones[{i}]")
    addresses = [(f"locations[{i}]", a) for i, a in enumerate(record.locations)]
    if isinstance(record, CustodyRecord) and record.arrest_location is not None:
        addresses.append(("arrest_location", record.arrest_location))
    if isinstance(record, CrimeReport) and record.location is not None:
        addresses.append(("location", record.location))
    for where, address in addresses:
        entities.add_structured("POSTCODE", address.postcode, f"{where}.postcode")

    mention_docs: list[dict[str, Any]] = []
    for field, found in (mentions or {}).items():
        for ent in found:
            value = person_display(ent.value) if ent.label == "PERSON" else ent.value
            if ent.label in entities.values:
                entities.add(ent.label, value)
            mention_docs.append(
                {
                    "field": field,
                    "label": ent.label,
                    "start": ent.start,
                    "end": ent.end,
                    "text": ent.text,
                    "value": value,
                }
            )

    dumped = record.model_dump(mode="json")
    offences = _offences_of(record)
    reference = profile.normalise_reference(record.record_type.value, record.reference) or record.reference
    status, outcome = _status_outcome(record)
    markings = record.markings
    station = record.station if isinstance(record, CustodyRecord) else None
    court = record.court if isinstance(record, CaseFile) else None

    entity_fields = entities.as_fields()
    identifier_suggestions = [
        v for label in F.IDENTIFIER_LABELS if label != "EMAIL" for v in entity_fields.get(label.lower(), [])
    ]
    suggest = _unique(
        [
            *(p.full_name for p in people),
            *(a for p in people for a in p.aliases),
            reference,
            *identifier_suggestions,
        ]
    )

    doc: dict[str, Any] = {
        F.ID: record.record_id,
        F.RECORD_TYPE: record.record_type.value,
        F.SOURCE_SYSTEM: record.source_system,
        F.SOURCE_ID: record.source_id,
        F.REFERENCE: reference,
        F.TITLE: record.title,
        F.SUMMARY: record.summary,
        F.TEXT: TEXT_SEPARATOR.join(free_text.values()) or None,
        F.RECORD_DATE: _iso(record.record_date),
        F.CREATED_AT: _iso(record.created_at),
        F.UPDATED_AT: _iso(record.updated_at),
        F.INDEXED_AT: _iso(indexed_at or datetime.now(UTC)),
        F.SOURCE_MODIFIED_AT: _iso(record.source_modified_at),
        F.STATION: station,
        F.COURT: court,
        F.BOROUGH: record.borough,
        F.UNIT: record.unit,
        F.STATUS: status,
        F.OUTCOME: outcome,
        F.OFFENCE_CODES: _unique(o.code for o in offences),
        F.OFFENCE_CATEGORIES: _unique(o.category for o in offences),
        F.OFFENCE_TEXT: _unique(o.description for o in offences),
        F.PEOPLE: people_docs,
        F.ENTITIES: entity_fields,
        F.MENTIONS: mention_docs,
        F.SUGGEST: suggest,
        F.ACCESS_SENSITIVITY: sorted({s.value for s in markings.sensitivity}),
        F.ACCESS_SENSITIVITY_COUNT: len(set(markings.sensitivity)),
        F.ACCESS_UNITS: sorted(set(markings.restricted_units)),
        F.ACCESS_HANDLING: markings.handling_code.value if markings.handling_code else None,
        F.REVIEW_DATE: _iso(record.review_date),
        F.NOT_RECORDED: record.not_recorded_fields(),
        F.CONTENT_HASH: content_hash(record, profile, dumped),
        F.NER_TEXT_HASH: text_hash(record) if mentions is not None else None,
        F.RECORD: dumped,
    }
    if isinstance(record, IntelligenceReport):
        doc[F.GRADING] = record.grading.label()
        doc[F.SOURCE_EVALUATION] = record.grading.source_evaluation.value
        doc[F.INTEL_ASSESSMENT] = record.grading.intelligence_assessment.value
    return {k: v for k, v in doc.items() if v is not None and v != [] and v != {}} | {
        # Always present, even at 0: the access filter's terms_set reads it.
        F.ACCESS_SENSITIVITY_COUNT: doc[F.ACCESS_SENSITIVITY_COUNT],
    }


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(
    record: AnyRecord, profile: ForceProfile | None = None, dumped: dict[str, Any] | None = None
) -> str:
    """Of the validated record (before enrichment), the profile and the document layout:
    equal hashes mean re-indexing the row would write the same document. ``dumped``: the
    record's ``model_dump(mode="json")`` if the caller has it already."""
    profile = profile or active_profile()
    body = dumped if dumped is not None else record.model_dump(mode="json")
    return _digest([records_index.VERSION, profile.fingerprint, body])


def text_hash(record: AnyRecord) -> str:
    """Of the free-text fields: equal hashes mean entity extraction would find the same."""
    return _digest(free_text_items(record))


@dataclass(slots=True)
class StoredMention:
    """A mention read back from an indexed document (reused when the text is unchanged)."""

    label: str
    start: int
    end: int
    text: str
    value: str


def mentions_from_doc(stored: Sequence[Mapping[str, Any]]) -> dict[str, list[EntityLike]]:
    out: dict[str, list[EntityLike]] = {}
    for m in stored:
        out.setdefault(str(m["field"]), []).append(
            StoredMention(str(m["label"]), int(m["start"]), int(m["end"]), str(m["text"]), str(m["value"]))
        )
    return out


def free_text_items(record: AnyRecord) -> list[tuple[str, str]]:
    """(field, text) pairs in a stable order: the unit of entity extraction."""
    return list(record.free_text().items())


def add_places(doc: dict[str, Any], points: Mapping[str, tuple[float, float]]) -> dict[str, Any]:
    """``doc`` with a point for each of its postcodes the gazetteer knows (``points``), and the
    ones it does not know kept by name: a record is never dropped from the map silently."""
    postcodes = doc.get(F.ENTITIES, {}).get("postcode", [])  # F.entity("POSTCODE") under F.ENTITIES
    located = [pc for pc in postcodes if pc in points]
    unlocated = [pc for pc in postcodes if pc not in points]
    doc.pop(F.GEO_POINTS, None)
    doc.pop(F.GEO_UNLOCATED, None)
    if located:
        doc[F.GEO_POINTS] = [{"lat": points[pc][0], "lon": points[pc][1]} for pc in located]
    if unlocated:
        doc[F.GEO_UNLOCATED] = unlocated
    return doc
