"""The record model: four record types from the force's legacy systems, and the POLE
objects (people, vehicles, phones, locations) they involve.

Validation is strict on purpose: a data-migration engineer must be told exactly which
field of which row is wrong, rather than have a half-understood record indexed. Unknown
fields are rejected, dates must parse.

What a force's systems legitimately differ on comes from the force profile
(``lantern.profile``): the reference formats of each record type and the code lists
(outcomes, statuses, charging decisions, offence codes, units, stations). Validation reads
the profile from the validation context (``parse_record(data, profile=...)``) or, without
one, the active profile named by the settings.

"Not recorded" is a value: the fields in ``NOT_RECORDABLE`` must be present, but accept
JSON null or one of the profile's not-recorded spellings, which become None. A legacy
export can then say honestly that a custody outcome was never recorded, and nothing
invented reaches facets; what *is* there is still checked strictly.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema, core_schema

from lantern.profile import ForceProfile, active_profile

# Namespace for deterministic document ids: the same source record always maps to the same
# id, so a reload updates instead of duplicating.
RECORD_ID_NAMESPACE = uuid.UUID("6c1f6a2e-4a55-4b8e-9d3c-2a7e0c5b9f10")

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
LongText = Annotated[str, StringConstraints(max_length=100_000)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def _utc(value: datetime) -> datetime:
    # Legacy feeds often omit the offset; they are recorded in UK local time, but the
    # systems we ingest already export UTC, so a naive value is taken as UTC.
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(_utc)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


def profile_of(info: ValidationInfo) -> ForceProfile:
    """The profile this validation runs under: the context's, else the active one."""
    ctx = info.context
    found = ctx.get("profile") if isinstance(ctx, dict) else None
    return found if isinstance(found, ForceProfile) else active_profile()


class CodeValue(str):
    """A code from one of the profile's code lists.

    A plain string; ``.value`` is kept so code written against the former enumerations
    (``record.outcome.value``) reads the same.
    """

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(strip_whitespace=True, min_length=1, max_length=500),
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )


def _code(profile: ForceProfile, list_name: str, value: str | None) -> CodeValue | None:
    if value is None:
        return None
    return CodeValue(profile.check_code(list_name, value))


def _not_recorded_to_none(value: object, info: ValidationInfo) -> object:
    return None if profile_of(info).is_not_recorded(value) else value


def _reference(record_type: str, value: str, info: ValidationInfo) -> str:
    profile = profile_of(info)
    if profile.normalise_reference(record_type, value) is None:
        examples = " or ".join(profile.examples(record_type))
        raise ValueError(
            f"{value!r} is not in a {record_type} reference format of the force profile "
            f"{profile.name!r}, e.g. {examples}"
        )
    return value


# ------------------------------------------------------------------------- enumerations


class RecordType(StrEnum):
    CUSTODY = "custody"
    CRIME = "crime"
    CASE = "case"
    INTEL = "intel"


class Role(StrEnum):
    DETAINEE = "detainee"
    SUSPECT = "suspect"
    VICTIM = "victim"
    WITNESS = "witness"
    DEFENDANT = "defendant"
    SUBJECT = "subject"
    OFFICER = "officer"
    OTHER = "other"


class Sensitivity(StrEnum):
    """Flags that restrict a record beyond its type's default audience."""

    PROTECTED_PERSON = "protected_person"
    CHILD_PROTECTION = "child_protection"
    PROFESSIONAL_STANDARDS = "professional_standards"
    SEXUAL_OFFENCE = "sexual_offence"
    COVERT = "covert"


class HandlingCode(StrEnum):
    """3x5x2 handling code."""

    P = "P"  # lawful sharing permitted
    C = "C"  # lawful sharing permitted with conditions


class SourceEvaluation(StrEnum):
    RELIABLE = "1"
    UNTESTED = "2"
    NOT_RELIABLE = "3"


class IntelAssessment(StrEnum):
    KNOWN_DIRECTLY = "A"
    KNOWN_INDIRECTLY_CORROBORATED = "B"
    KNOWN_INDIRECTLY = "C"
    NOT_KNOWN = "D"
    SUSPECTED_FALSE = "E"


class ReviewType(StrEnum):
    INSPECTOR_6H = "inspector_6h"
    INSPECTOR_15H = "inspector_15h"
    SUPERINTENDENT_24H = "superintendent_24h"
    OTHER = "other"


class HearingType(StrEnum):
    FIRST_APPEARANCE = "first_appearance"
    PLEA = "plea"
    TRIAL = "trial"
    SENTENCE = "sentence"
    MENTION = "mention"
    APPEAL = "appeal"


# ------------------------------------------------------------------------ POLE objects


class Address(Strict):
    line1: ShortText | None = None
    line2: ShortText | None = None
    town: ShortText | None = None
    postcode: ShortText | None = None

    def one_line(self) -> str:
        return ", ".join(p for p in (self.line1, self.line2, self.town, self.postcode) if p)


class Person(Strict):
    """A person as one source system recorded them: spellings and DOBs vary by system."""

    role: Role
    forename: NonEmpty | None = None
    middle_names: ShortText | None = None
    surname: NonEmpty
    dob: date | None = None
    gender: Literal["male", "female", "other", "unknown"] | None = None
    pnc_id: ShortText | None = None
    cro_no: ShortText | None = None
    nino: ShortText | None = None
    address: Address | None = None
    phones: list[ShortText] = Field(default_factory=list, max_length=20)
    email: ShortText | None = None
    aliases: list[ShortText] = Field(default_factory=list, max_length=20)
    # Officers carry a rank and collar number rather than identity details.
    rank: ShortText | None = None
    collar_number: ShortText | None = None

    @field_validator("dob")
    @classmethod
    def _plausible_dob(cls, value: date | None) -> date | None:
        if value is not None and not (date(1900, 1, 1) <= value <= date.today()):
            raise ValueError("date of birth must be between 1900-01-01 and today")
        return value

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.forename, self.middle_names, self.surname) if p)


class Vehicle(Strict):
    vrm: NonEmpty
    make: ShortText | None = None
    model: ShortText | None = None
    colour: ShortText | None = None
    description: ShortText | None = None


class Offence(Strict):
    """Home Office offence classification (codes checked against the profile's list)."""

    code: Code
    description: NonEmpty
    category: ShortText | None = None

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str, info: ValidationInfo) -> str:
        return profile_of(info).check_code("offence", value)


class Officer(Strict):
    name: NonEmpty
    rank: ShortText | None = None
    collar_number: ShortText | None = None


class AccessMarkings(Strict):
    """What restricts who may read a record. Empty means the type's default audience."""

    handling_code: HandlingCode | None = None
    handling_conditions: ShortText | None = None
    sensitivity: list[Sensitivity] = Field(default_factory=list)
    # Only members of these units may read the record (empty: no unit restriction).
    restricted_units: list[Code] = Field(default_factory=list)


class AttachmentKind(StrEnum):
    STATEMENT = "statement"
    EXHIBIT = "exhibit"
    FORM = "form"  # MG forms and the like
    TRANSCRIPT = "transcript"
    CORRESPONDENCE = "correspondence"
    SCANNED_DOCUMENT = "scanned_document"
    PHOTOGRAPH = "photograph"
    OTHER = "other"


def _relative_attachment_path(value: str) -> str:
    # Attachment paths are resolved inside settings.attachments_root by the loader; a feed
    # must not be able to point outside it.
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or (len(value) > 1 and value[1] == ":"):
        raise ValueError("attachment path must be relative to the attachments root")
    if any(p == ".." for p in parts):
        raise ValueError("attachment path must not contain '..'")
    if any(c in value for c in "\t\n\r\0"):
        raise ValueError("attachment path contains control characters")
    return value


class Attachment(Strict):
    """A document attached to a record: a file under the attachments root, with a title."""

    path: Annotated[NonEmpty, AfterValidator(_relative_attachment_path)]
    title: NonEmpty
    kind: AttachmentKind = AttachmentKind.OTHER


# ----------------------------------------------------------------------- record types


class RecordBase(Strict):
    record_type: RecordType
    source_system: Code
    source_id: Code
    title: NonEmpty
    summary: LongText | None = None
    created_at: UtcDateTime
    updated_at: UtcDateTime | None = None
    borough: ShortText | None = None
    unit: ShortText | None = None
    people: list[Person] = Field(default_factory=list, max_length=200)
    vehicles: list[Vehicle] = Field(default_factory=list, max_length=100)
    phones: list[ShortText] = Field(default_factory=list, max_length=100)
    locations: list[Address] = Field(default_factory=list, max_length=100)
    markings: AccessMarkings = Field(default_factory=AccessMarkings)
    review_date: date | None = None
    # Indexed as documents of their own that carry this record's markings (indexer.attachments).
    attachments: list[Attachment] = Field(default_factory=list, max_length=100)

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _code(profile_of(info), "unit", value) if value else value

    @property
    def record_id(self) -> str:
        return record_id(self.source_system, self.source_id)

    @property
    def source_modified_at(self) -> datetime:
        """When the source system last changed the record: the version of its document."""
        return self.updated_at or self.created_at

    @property
    def version(self) -> int:
        """External version for OpenSearch: milliseconds since the epoch of the last change."""
        return int(self.source_modified_at.timestamp() * 1000)

    def not_recorded_fields(self) -> list[str]:
        """The fields the source system explicitly did not record."""
        return [f for f in NOT_RECORDABLE.get(self.record_type, ()) if getattr(self, f) is None]

    @property
    def reference(self) -> str:
        raise NotImplementedError

    @property
    def record_date(self) -> datetime:
        """The date a user thinks of the record by (arrest, offence, charge, report)."""
        return self.created_at

    def free_text(self) -> dict[str, str]:
        """Named narrative fields, the input of entity extraction and full-text search."""
        return {"summary": self.summary} if self.summary else {}

    def all_people(self) -> list[Person]:
        return list(self.people)


class DetentionReview(Strict):
    at: UtcDateTime
    review_type: ReviewType
    reviewer: Officer
    outcome: ShortText | None = None
    notes: LongText | None = None


class Interview(Strict):
    started_at: UtcDateTime
    ended_at: UtcDateTime | None = None
    officer: Officer
    solicitor_present: bool = False
    notes: LongText | None = None


class PropertyItem(Strict):
    reference: ShortText | None = None
    description: NonEmpty


class CustodyRecord(RecordBase):
    record_type: Literal[RecordType.CUSTODY] = RecordType.CUSTODY
    custody_number: NonEmpty
    station: NonEmpty | None
    detainee: Person
    arrest_at: UtcDateTime
    arrest_location: Address | None = None
    arresting_officer: Officer | None
    reason_for_arrest: LongText | None
    offences: list[Offence] = Field(default_factory=list, max_length=50)
    grounds_for_detention: LongText | None = None
    arrived_at: UtcDateTime | None
    reviews: list[DetentionReview] = Field(default_factory=list, max_length=50)
    risk_assessment: LongText | None = None
    property_seized: list[PropertyItem] = Field(default_factory=list, max_length=200)
    interviews: list[Interview] = Field(default_factory=list, max_length=50)
    outcome: CodeValue | None
    outcome_details: LongText | None = None
    released_at: UtcDateTime | None = None
    narrative: LongText | None = None

    _not_recorded = field_validator(
        "station", "arresting_officer", "reason_for_arrest", "arrived_at", "outcome", mode="before"
    )(_not_recorded_to_none)

    @field_validator("custody_number")
    @classmethod
    def _custody_number(cls, value: str, info: ValidationInfo) -> str:
        return _reference("custody", value, info)

    @field_validator("outcome", mode="after")
    @classmethod
    def _outcome(cls, value: str | None, info: ValidationInfo) -> CodeValue | None:
        return _code(profile_of(info), "custody_outcome", value)

    @field_validator("station", mode="after")
    @classmethod
    def _station(cls, value: str | None, info: ValidationInfo) -> CodeValue | None:
        return _code(profile_of(info), "station", value)

    @model_validator(mode="after")
    def _times_in_order(self) -> CustodyRecord:
        if self.arrived_at is not None and self.arrived_at < self.arrest_at:
            raise ValueError("arrived_at is before arrest_at")
        after = self.arrived_at or self.arrest_at
        if self.released_at is not None and self.released_at < after:
            raise ValueError(f"released_at is before {'arrived_at' if self.arrived_at else 'arrest_at'}")
        if self.detainee.role != Role.DETAINEE:
            raise ValueError("detainee must have role 'detainee'")
        return self

    @property
    def reference(self) -> str:
        return self.custody_number

    @property
    def record_date(self) -> datetime:
        return self.arrest_at

    def free_text(self) -> dict[str, str]:
        fields = {
            "summary": self.summary,
            "reason_for_arrest": self.reason_for_arrest,
            "grounds_for_detention": self.grounds_for_detention,
            "risk_assessment": self.risk_assessment,
            "outcome_details": self.outcome_details,
            "narrative": self.narrative,
        }
        for i, interview in enumerate(self.interviews):
            fields[f"interviews.{i}.notes"] = interview.notes
        for i, review in enumerate(self.reviews):
            fields[f"reviews.{i}.notes"] = review.notes
        for i, item in enumerate(self.property_seized):
            fields[f"property_seized.{i}.description"] = item.description
        return {k: v for k, v in fields.items() if v}

    def all_people(self) -> list[Person]:
        return [self.detainee, *self.people]


class InvestigationLogEntry(Strict):
    at: UtcDateTime
    officer: Officer
    text: LongText


class CrimeReport(RecordBase):
    record_type: Literal[RecordType.CRIME] = RecordType.CRIME
    crime_reference: NonEmpty
    offence: Offence | None
    occurred_from: UtcDateTime | None
    occurred_to: UtcDateTime | None = None
    location: Address | None
    modus_operandi: LongText | None
    investigation_log: list[InvestigationLogEntry] = Field(default_factory=list, max_length=500)
    status: CodeValue | None
    outcome_code: ShortText | None = None
    officer_in_case: Officer | None = None

    _not_recorded = field_validator(
        "offence", "occurred_from", "location", "modus_operandi", "status", mode="before"
    )(_not_recorded_to_none)

    @field_validator("crime_reference")
    @classmethod
    def _crime_reference(cls, value: str, info: ValidationInfo) -> str:
        return _reference("crime", value, info)

    @field_validator("status", mode="after")
    @classmethod
    def _status(cls, value: str | None, info: ValidationInfo) -> CodeValue | None:
        return _code(profile_of(info), "crime_status", value)

    @model_validator(mode="after")
    def _check(self) -> CrimeReport:
        if (
            self.occurred_to is not None
            and self.occurred_from is not None
            and self.occurred_to < self.occurred_from
        ):
            raise ValueError("occurred_to is before occurred_from")
        return self

    @property
    def reference(self) -> str:
        return self.crime_reference

    @property
    def record_date(self) -> datetime:
        return self.occurred_from or self.created_at

    def free_text(self) -> dict[str, str]:
        fields = {"summary": self.summary, "modus_operandi": self.modus_operandi}
        for i, entry in enumerate(self.investigation_log):
            fields[f"investigation_log.{i}.text"] = entry.text
        return {k: v for k, v in fields.items() if v}


class Charge(Strict):
    defendant: NonEmpty  # the defendant's name as it appears in `people`
    offence: Offence
    wording: LongText | None = None
    plea: Literal["guilty", "not_guilty", "none"] | None = None
    result: ShortText | None = None


class Hearing(Strict):
    court: NonEmpty
    at: UtcDateTime
    hearing_type: HearingType
    result: ShortText | None = None


class CaseFile(RecordBase):
    record_type: Literal[RecordType.CASE] = RecordType.CASE
    urn: NonEmpty
    charges: list[Charge] = Field(default_factory=list, max_length=200)
    charging_decision: CodeValue | None
    charged_at: UtcDateTime | None = None
    hearings: list[Hearing] = Field(default_factory=list, max_length=200)
    status: CodeValue | None
    final_outcome: ShortText | None = None
    sentence: ShortText | None = None
    case_summary: LongText | None = None
    officer_in_case: Officer | None = None

    _not_recorded = field_validator("charging_decision", "status", mode="before")(_not_recorded_to_none)

    @field_validator("urn")
    @classmethod
    def _urn(cls, value: str, info: ValidationInfo) -> str:
        return _reference("case", value, info)

    @field_validator("status", mode="after")
    @classmethod
    def _status(cls, value: str | None, info: ValidationInfo) -> CodeValue | None:
        return _code(profile_of(info), "case_status", value)

    @field_validator("charging_decision", mode="after")
    @classmethod
    def _decision(cls, value: str | None, info: ValidationInfo) -> CodeValue | None:
        return _code(profile_of(info), "charging_decision", value)

    @model_validator(mode="after")
    def _check(self) -> CaseFile:
        if not any(p.role == Role.DEFENDANT for p in self.people):
            raise ValueError("a case file needs at least one person with role 'defendant'")
        return self

    @property
    def reference(self) -> str:
        return self.urn

    @property
    def record_date(self) -> datetime:
        return self.charged_at or self.created_at

    @property
    def court(self) -> str | None:
        return self.hearings[-1].court if self.hearings else None

    def free_text(self) -> dict[str, str]:
        fields = {"summary": self.summary, "case_summary": self.case_summary}
        for i, charge in enumerate(self.charges):
            fields[f"charges.{i}.wording"] = charge.wording
        return {k: v for k, v in fields.items() if v}


class Grading(Strict):
    source_evaluation: SourceEvaluation
    intelligence_assessment: IntelAssessment
    handling_code: HandlingCode

    def label(self) -> str:
        return f"{self.source_evaluation.value}{self.intelligence_assessment.value}{self.handling_code.value}"


class IntelligenceReport(RecordBase):
    record_type: Literal[RecordType.INTEL] = RecordType.INTEL
    intel_reference: NonEmpty
    created_by: Officer | None
    grading: Grading
    handling_conditions: ShortText | None = None
    intelligence_text: LongText
    sanitised_text: LongText | None = None

    _not_recorded = field_validator("created_by", mode="before")(_not_recorded_to_none)

    @field_validator("intel_reference")
    @classmethod
    def _intel_reference(cls, value: str, info: ValidationInfo) -> str:
        return _reference("intel", value, info)

    @model_validator(mode="after")
    def _check(self) -> IntelligenceReport:
        if self.grading.handling_code == HandlingCode.C and not self.handling_conditions:
            raise ValueError("handling code C requires handling_conditions")
        # The grading's handling code is the record's marking; they must not disagree.
        if self.markings.handling_code not in (None, self.grading.handling_code):
            raise ValueError("markings.handling_code disagrees with grading.handling_code")
        self.markings.handling_code = self.grading.handling_code
        self.markings.handling_conditions = self.handling_conditions
        if not any(p.role == Role.SUBJECT for p in self.people):
            raise ValueError("an intelligence report needs at least one person with role 'subject'")
        return self

    @property
    def reference(self) -> str:
        return self.intel_reference

    def free_text(self) -> dict[str, str]:
        fields = {
            "summary": self.summary,
            "intelligence_text": self.intelligence_text,
            "sanitised_text": self.sanitised_text,
        }
        return {k: v for k, v in fields.items() if v}


Record = Annotated[
    CustodyRecord | CrimeReport | CaseFile | IntelligenceReport,
    Field(discriminator="record_type"),
]
RECORD_ADAPTER: TypeAdapter[CustodyRecord | CrimeReport | CaseFile | IntelligenceReport] = TypeAdapter(Record)
MODEL_FOR_TYPE: dict[RecordType, type[RecordBase]] = {
    RecordType.CUSTODY: CustodyRecord,
    RecordType.CRIME: CrimeReport,
    RecordType.CASE: CaseFile,
    RecordType.INTEL: IntelligenceReport,
}
AnyRecord = CustodyRecord | CrimeReport | CaseFile | IntelligenceReport


def record_id(source_system: str, source_id: str) -> str:
    return str(uuid.uuid5(RECORD_ID_NAMESPACE, f"{source_system}\x1f{source_id}"))


def attachment_id(parent_record_id: str, path: str) -> str:
    """Search-document id of one attached document (``path``: a zip member is ``zip!member``)."""
    return str(uuid.uuid5(RECORD_ID_NAMESPACE, f"{parent_record_id}\x1fattachment\x1f{path}"))


# Fields a legacy export may lack: present, but null / "not recorded" is accepted.
NOT_RECORDABLE: dict[RecordType, tuple[str, ...]] = {
    RecordType.CUSTODY: ("station", "arresting_officer", "reason_for_arrest", "arrived_at", "outcome"),
    RecordType.CRIME: ("offence", "occurred_from", "location", "modus_operandi", "status"),
    RecordType.CASE: ("charging_decision", "status"),
    RecordType.INTEL: ("created_by",),
}
NOT_RECORDED = "not_recorded"


def parse_record(data: object, profile: ForceProfile | None = None) -> AnyRecord:
    """Validate one raw record (dict from JSON/CSV); raises pydantic.ValidationError.

    ``profile``: the force profile to validate against (default: the active one).
    """
    return RECORD_ADAPTER.validate_python(data, context={"profile": profile or active_profile()})
