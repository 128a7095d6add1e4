"""Public value types: :class:`Entity` and :class:`Label`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Label(StrEnum):
    PERSON = "PERSON"
    ORG = "ORG"
    LOCATION = "LOCATION"
    DATE = "DATE"
    POSTCODE = "POSTCODE"
    VRM = "VRM"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    NINO = "NINO"
    PNC_ID = "PNC_ID"
    CRO_NO = "CRO_NO"
    IMEI = "IMEI"
    WEAPON = "WEAPON"
    DRUG = "DRUG"


IDENTIFIER_LABELS: frozenset[str] = frozenset(
    {
        Label.POSTCODE,
        Label.VRM,
        Label.PHONE,
        Label.EMAIL,
        Label.NINO,
        Label.PNC_ID,
        Label.CRO_NO,
        Label.IMEI,
        Label.WEAPON,
        Label.DRUG,
    }
)


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity mention. ``text == source[start:end]``; ``value`` is the canonical form."""

    label: str
    start: int
    end: int
    text: str
    value: str
