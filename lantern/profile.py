"""The force profile: a force's own reference formats and code lists, in TOML.

Lantern ships ``lantern/default_profile.toml``; a force points ``LANTERN_FORCE_PROFILE``
at its own copy to accept its legacy systems' references (``IF/2021/20417``,
``CR-2021-4417203``) and to extend its code lists (outcomes, statuses, offence codes,
units, stations) without code changes. The record model validates against the active
profile (``lantern.records``), the indexer stores each reference in its normalised form,
and the search parser recognises references through the same patterns.

Reference matching: a value is upper-cased and every run of separators (whitespace, ``/``,
``-``, ``.``, ``_``) becomes a single ``/``; the format's pattern must match the whole of
that, and its ``normalised`` template is filled from the pattern's named groups. So in a
pattern ``/`` stands for "any separator", and ``CR/2021/4417203``, ``CR-2021-4417203`` and
``cr 2021 4417203`` are one reference.
"""

from __future__ import annotations

import hashlib
import re
import string
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_PROFILE = Path(__file__).parent / "default_profile.toml"  # package data (*.toml)
RECORD_TYPES = ("custody", "crime", "case", "intel")
# The code lists the record model consults; a profile must define each of them.
CODE_LISTS = (
    "custody_outcome",
    "crime_status",
    "case_status",
    "charging_decision",
    "offence",
    "unit",
    "station",
)

_SEPARATORS = re.compile(r"[\s/\-._]+")


class ProfileError(ValueError):
    """The profile file is missing, not TOML, or does not describe a valid profile."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReferenceFormat(_Strict):
    pattern: str
    normalised: str
    example: str
    compiled: Any = Field(default=None, exclude=True)

    @model_validator(mode="after")
    def _compile(self) -> ReferenceFormat:
        try:
            compiled = re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"pattern {self.pattern!r} is not a valid regular expression: {exc}") from exc
        groups = set(compiled.groupindex)
        used = {name for _, name, _, _ in string.Formatter().parse(self.normalised) if name}
        if not used <= groups:
            raise ValueError(
                f"normalised {self.normalised!r} uses {sorted(used - groups)}, "
                f"which the pattern does not name (named groups: {sorted(groups)})"
            )
        object.__setattr__(self, "compiled", compiled)
        if self.match(self.example) is None:
            raise ValueError(f"example {self.example!r} does not match its own pattern {self.pattern!r}")
        return self

    def match(self, value: str) -> str | None:
        m = self.compiled.fullmatch(separators_canonical(value))
        if m is None:
            return None
        return self.normalised.format(**m.groupdict(default=""))


class ReferenceSpec(_Strict):
    field: str
    formats: list[ReferenceFormat] = Field(min_length=1)


class CodeList(_Strict):
    closed: bool = True
    values: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _closed_needs_values(self) -> CodeList:
        if self.closed and not self.values:
            raise ValueError("a closed code list needs at least one value")
        return self


class NotRecorded(_Strict):
    spellings: list[str] = Field(default_factory=lambda: ["not_recorded"])

    @field_validator("spellings")
    @classmethod
    def _fold(cls, value: list[str]) -> list[str]:
        return [v.strip().casefold() for v in value if v.strip()]


class ForceProfile(_Strict):
    name: str
    description: str = ""
    not_recorded: NotRecorded = Field(default_factory=NotRecorded)
    references: dict[str, ReferenceSpec]
    codes: dict[str, CodeList]
    fingerprint: str = ""  # sha256 of the file: part of every record's content hash

    @model_validator(mode="after")
    def _complete(self) -> ForceProfile:
        missing = [t for t in RECORD_TYPES if t not in self.references]
        unknown = [t for t in self.references if t not in RECORD_TYPES]
        if missing or unknown:
            raise ValueError(
                f"[references] needs exactly the record types {', '.join(RECORD_TYPES)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            )
        missing_codes = [c for c in CODE_LISTS if c not in self.codes]
        if missing_codes:
            raise ValueError(f"[codes] is missing the list(s) {', '.join(missing_codes)}")
        return self

    # ------------------------------------------------------------------ references

    def reference_spec(self, record_type: str) -> ReferenceSpec:
        return self.references[record_type]

    def normalise_reference(self, record_type: str, value: str) -> str | None:
        """The normalised form of ``value`` as a ``record_type`` reference, or None."""
        for fmt in self.references[record_type].formats:
            found = fmt.match(value)
            if found is not None:
                return found
        return None

    def find_reference(self, value: str) -> tuple[str, str] | None:
        """``(record_type, normalised)`` for the first record type whose formats match."""
        for record_type in RECORD_TYPES:
            found = self.normalise_reference(record_type, value)
            if found is not None:
                return record_type, found
        return None

    def examples(self, record_type: str) -> list[str]:
        return [f.example for f in self.references[record_type].formats]

    # ------------------------------------------------------------------ code lists

    def check_code(self, list_name: str, value: str) -> str:
        """``value`` if the list accepts it; ValueError naming the allowed codes otherwise."""
        codes = self.codes[list_name]
        if not codes.closed or value in codes.values:
            return value
        allowed = ", ".join(codes.values)
        raise ValueError(
            f"{value!r} is not in the force profile's {list_name} list ({allowed}); "
            f"add it to [codes.{list_name}] in the profile if it is a real code"
        )

    def label(self, list_name: str, code: str | None) -> str | None:
        if code is None:
            return None
        return self.codes[list_name].values.get(code, code)

    # ------------------------------------------------------------------ not recorded

    def is_not_recorded(self, value: object) -> bool:
        return value is None or (
            isinstance(value, str) and value.strip().casefold() in self.not_recorded.spellings
        )


def separators_canonical(value: str) -> str:
    return _SEPARATORS.sub("/", value.strip().upper()).strip("/")


def reference_key(value: str) -> str:
    """The reference as the index's ``reference`` normalizer keys it: letters and digits only."""
    return re.sub(r"[^0-9A-Za-z]", "", value).upper()


def load_profile(path: Path | None = None) -> ForceProfile:
    """Read and check a profile file (the shipped default when ``path`` is None)."""
    source = path or DEFAULT_PROFILE
    try:
        raw_bytes = source.read_bytes()
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except OSError as exc:
        raise ProfileError(f"force profile {source}: cannot read it: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"force profile {source}: not valid TOML: {exc}") from exc
    raw["fingerprint"] = hashlib.sha256(raw_bytes).hexdigest()
    try:
        return ForceProfile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors(include_url=False)
        )
        raise ProfileError(f"force profile {source}: {problems}") from exc


@lru_cache(maxsize=8)
def _cached(path: Path | None) -> ForceProfile:
    return load_profile(path)


def active_profile() -> ForceProfile:
    """The profile named by ``LANTERN_FORCE_PROFILE`` (the shipped default if unset)."""
    from lantern.settings import get_settings  # lazy: settings is the heavier import

    return _cached(get_settings().force_profile)


def profile_for(path: Path | None) -> ForceProfile:
    return _cached(path)
