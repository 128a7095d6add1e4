"""Rule recognisers for UK police identifiers, and their canonical forms.

Each recogniser is one compiled regular expression plus a validator/canonicaliser, so
the whole rule pass is a handful of C-speed scans over the text. Recognisers never load
spaCy; :func:`find_identifiers` in the package is the fast path for search-box queries.

Overlaps between recognisers are settled in :func:`resolve_overlaps` (longest span
first, then the label priority below).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date

import phonenumbers

from entity_extraction.types import Entity, Label

# --------------------------------------------------------------------------- helpers

_WS = re.compile(r"[\s\-]+")


def _squash(text: str) -> str:
    return _WS.sub("", text)


# Label priority for ties of equal length (lower wins).
PRIORITY: dict[str, int] = {
    Label.EMAIL: 0,
    Label.PNC_ID: 1,
    Label.CRO_NO: 2,
    Label.IMEI: 3,
    Label.NINO: 4,
    Label.POSTCODE: 5,
    Label.VRM: 6,
    Label.PHONE: 7,
    Label.WEAPON: 8,
    Label.DRUG: 9,
}

# --------------------------------------------------------------------------- POSTCODE

# The postcode areas of the UK (plus Crown dependencies and the non-geographic BF/BX).
POSTCODE_AREAS = frozenset(
    [
        "AB",
        "AL",
        "B",
        "BA",
        "BB",
        "BD",
        "BF",
        "BH",
        "BL",
        "BN",
        "BR",
        "BS",
        "BT",
        "BX",
        "CA",
        "CB",
        "CF",
        "CH",
        "CM",
        "CO",
        "CR",
        "CT",
        "CV",
        "CW",
        "DA",
        "DD",
        "DE",
        "DG",
        "DH",
        "DL",
        "DN",
        "DT",
        "DY",
        "E",
        "EC",
        "EH",
        "EN",
        "EX",
        "FK",
        "FY",
        "G",
        "GL",
        "GU",
        "GY",
        "HA",
        "HD",
        "HG",
        "HP",
        "HR",
        "HS",
        "HU",
        "HX",
        "IG",
        "IM",
        "IP",
        "IV",
        "JE",
        "KA",
        "KT",
        "KW",
        "KY",
        "L",
        "LA",
        "LD",
        "LE",
        "LL",
        "LN",
        "LS",
        "LU",
        "M",
        "ME",
        "MK",
        "ML",
        "N",
        "NE",
        "NG",
        "NN",
        "NP",
        "NR",
        "NW",
        "OL",
        "OX",
        "PA",
        "PE",
        "PH",
        "PL",
        "PO",
        "PR",
        "RG",
        "RH",
        "RM",
        "S",
        "SA",
        "SE",
        "SG",
        "SK",
        "SL",
        "SM",
        "SN",
        "SO",
        "SP",
        "SR",
        "SS",
        "ST",
        "SW",
        "SY",
        "TA",
        "TD",
        "TF",
        "TN",
        "TQ",
        "TR",
        "TS",
        "TW",
        "UB",
        "W",
        "WA",
        "WC",
        "WD",
        "WF",
        "WN",
        "WR",
        "WS",
        "WV",
        "YO",
        "ZE",
    ]
)

_POSTCODE = re.compile(
    r"(?<![A-Za-z0-9])([A-Za-z]{1,2})([0-9][0-9A-Za-z]?)( ?)([0-9][A-Za-z]{2})(?![A-Za-z0-9])"
)
_POSTCODE_FULL = re.compile(r"([A-Z]{1,2})([0-9][0-9A-Z]?) ?([0-9][A-Z]{2})")


# Royal Mail never uses these letters in the inward code's last two characters: checking
# them turns away most word-like tokens that happen to have a postcode's shape.
_INWARD_NEVER = frozenset("CIKMOV")


def _postcode_value(area: str, district: str, inward: str) -> str | None:
    area_u = area.upper()
    if area_u not in POSTCODE_AREAS:
        return None
    if any(c in _INWARD_NEVER for c in inward[1:].upper()):
        return None
    # District: one digit, two digits, or digit + letter. Royal Mail allows different final
    # letters after a one-letter area (W1D, N1C, E1W) than after a two-letter one (EC1A, SW1A).
    if len(district) == 2 and district[1].isalpha():
        allowed = "ABCDEFGHJKPSTUW" if len(area_u) == 1 else "ABEHMNPRVWXY"
        if district[1].upper() not in allowed:
            return None
    return f"{area_u}{district.upper()} {inward.upper()}"


def canonical_postcode(text: str) -> str | None:
    s = text.strip().upper()
    if s == "GIR 0AA" or s == "GIR0AA":
        return "GIR 0AA"
    m = _POSTCODE_FULL.fullmatch(s)
    if not m:
        return None
    return _postcode_value(m.group(1), m.group(2), m.group(3))


def _one_case(s: str) -> bool:
    letters = [c for c in s if c.isalpha()]
    return all(c.isupper() for c in letters) or all(c.islower() for c in letters)


def _find_postcodes(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _POSTCODE.finditer(text):
        area, district, _space, inward = m.groups()
        whole = m.group(0)
        if not _one_case(whole):
            continue  # "Se1 7pb": mixed case is prose, not a postcode
        # Lower case without the space ("cr06tl") is how officers type them; the area list
        # and the inward letters (never C I K M O V) keep ordinary tokens out.
        value = _postcode_value(area, district, inward)
        if value:
            yield m.start(), m.end(), value


# --------------------------------------------------------------------------- VRM

# Three-letter words that follow "aa12"/"A123" shapes in prose and are not registrations.
VRM_STOP_WORDS = frozenset(
    [
        "AND",
        "THE",
        "WAS",
        "FOR",
        "HAS",
        "HAD",
        "HIS",
        "HER",
        "HIM",
        "YOU",
        "ARE",
        "NOT",
        "BUT",
        "WHO",
        "SHE",
        "OUR",
        "CAN",
        "DID",
        "GOT",
        "NEW",
        "OLD",
        "ALL",
        "ANY",
        "OFF",
        "OUT",
        "DAY",
        "WAY",
        "NOW",
        "SAW",
        "VIA",
        "PER",
        "GUN",
        "BUS",
        "CAR",
        "VAN",
        "ONE",
        "TWO",
        "SIX",
        "TEN",
        "AGE",
        "DOB",
        "PNC",
        "CRO",
        "NHS",
        "SIM",
        "CPS",
        "RUI",
        "NFA",
        "CID",
        "CAD",
        "MOD",
        "PCS",
        "POL",
        "SEC",
        "APP",
        "ANY",
        "HRS",
        "MIN",
        "MPH",
        "KPH",
    ]
)
_VEHICLE_CUE = re.compile(
    r"(?:\b(?:vrm|vrn|reg|registration|registered|index|plates?|vehicle|car|van|motorcycle"
    r"|moped|taxi|drive|drives|driving|driven|drove|anpr|keeper)\b)[^.\n]{0,40}$",
    re.IGNORECASE,
)
_VRM_CURRENT = re.compile(r"(?<![\w/-])([A-Za-z]{2}[0-9]{2}) ?([A-Za-z]{3})(?![\w/-])")
_VRM_PREFIX = re.compile(r"(?<![\w/-])([A-Za-z][1-9][0-9]{0,2}) ?([A-Za-z]{3})(?![\w/-])")
_VRM_SUFFIX = re.compile(r"(?<![\w/-])([A-Za-z]{3}) ?([1-9][0-9]{0,2})([A-Za-z])(?![\w/-])")
_YEAR_LETTERS = set("ABCDEFGHJKLMNPRSTVWXY")  # no I O Q U Z as prefix/suffix year letters


def _vrm_current(a: str, b: str) -> str | None:
    v = (a + b).upper()
    if b.upper() in VRM_STOP_WORDS:
        return None
    return v


def _vrm_prefix(a: str, b: str) -> str | None:
    v = (a + b).upper()
    if v[0] not in _YEAR_LETTERS or b.upper() in VRM_STOP_WORDS:
        return None
    return v


def _vrm_suffix(a: str, digits: str, y: str) -> str | None:
    if y.upper() not in _YEAR_LETTERS or a.upper() in VRM_STOP_WORDS:
        return None
    return (a + digits + y).upper()


def canonical_vrm(text: str) -> str | None:
    s = text.strip()
    for rx, fn in ((_VRM_CURRENT, _vrm_current), (_VRM_PREFIX, _vrm_prefix)):
        m = rx.fullmatch(s)
        if m:
            return fn(m.group(1), m.group(2))
    m = _VRM_SUFFIX.fullmatch(s)
    if m:
        return _vrm_suffix(m.group(1), m.group(2), m.group(3))
    return None


# Current-format VRMs: the first letter is a DVLA region (never I, J, Q, T, U, Z) and the
# two digits an age identifier (March: 02..yy, September: 51..yy+50).
_VRM_REGIONS = frozenset("ABCDEFGHKLMNOPRSVWXY")


def _valid_age_identifier(digits: str, today: date | None = None) -> bool:
    n = int(digits)
    yy = (today or date.today()).year % 100
    return 2 <= n <= yy or 51 <= n <= yy + 50


def _title_groups(*groups: str) -> bool:
    """``Ly68 Ycj``: each group written capitalised (as autocorrect and some forms do)."""
    for g in groups:
        letters = [c for c in g if c.isalpha()]
        if not letters or not letters[0].isupper() or any(c.isupper() for c in letters[1:]):
            return False
    return True


def _find_vrms(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _VRM_CURRENT.finditer(text):
        a, b = m.group(1), m.group(2)
        whole = m.group(0)
        if not whole.isupper():
            # Lower or mixed case is prose-like: the plate must be a valid current-format
            # one (region letter, age identifier); mixed case only as capitalised groups
            # with the space ("Ly68 Ycj"), so "Tx99 Abc" or "Go68" stay prose.
            if a[0].upper() not in _VRM_REGIONS or not _valid_age_identifier(a[2:]):
                continue
            if not _one_case(whole) and not (_title_groups(a, b) and " " in whole):
                continue
        v = _vrm_current(m.group(1), m.group(2))
        if v:
            yield m.start(), m.end(), v
    # Older formats look more like ordinary tokens ("A1 and", "Apt 4B"): uppercase only,
    # unless a vehicle word comes shortly before.
    for rx, n in ((_VRM_PREFIX, 2), (_VRM_SUFFIX, 3)):
        for m in rx.finditer(text):
            whole = m.group(0)
            if not _one_case(whole):
                continue
            if not whole.isupper() and not _VEHICLE_CUE.search(text, max(0, m.start() - 60), m.start()):
                continue
            v = _vrm_prefix(*m.groups()) if n == 2 else _vrm_suffix(*m.groups())
            if v:
                yield m.start(), m.end(), v


# --------------------------------------------------------------------------- PHONE

_PHONE = re.compile(
    r"(?<![\w+/.:£$€-])"
    r"(?:(?:\+|00)\s?\d{1,3}\s?(?:\(0\)\s?)?\(?\d|\(?0\d)"
    r"(?:\d|[ \-.]\d|\)\s?\d){7,13}"
    r"(?![\w/:£%])(?![ \-.]?\d)"
)


def canonical_phone(text: str) -> str | None:
    raw = text.strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 9 or len(digits) > 15:
        return None
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        num = phonenumbers.parse(raw, "GB")
    except phonenumbers.NumberParseException:
        return None
    if num.country_code == 44:
        nsn = phonenumbers.national_significant_number(num)
        ok = phonenumbers.is_valid_number(num) or (
            phonenumbers.is_possible_number(num) and len(nsn) in (9, 10) and nsn[0] in "1237"
        )
    else:
        ok = phonenumbers.is_valid_number(num)
    if not ok:
        return None
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def _find_phones(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _PHONE.finditer(text):
        s = m.start()
        if text[s] == "(" and ")" not in m.group(0):
            s += 1  # "(07700 900385)": the bracket belongs to the prose
        v = canonical_phone(text[s : m.end()])
        if v:
            yield s, m.end(), v


# --------------------------------------------------------------------------- EMAIL

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![\w@])"
)


def canonical_email(text: str) -> str | None:
    s = text.strip()
    return s.lower() if _EMAIL.fullmatch(s) else None


def _find_emails(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), m.group(0).lower()


# --------------------------------------------------------------------------- NINO

_NINO = re.compile(r"(?<![\w/-])([A-Za-z]{2}) ?([0-9]{2}) ?([0-9]{2}) ?([0-9]{2}) ?([A-Za-z])(?![\w/-])")
_NINO_BAD_FIRST = set("DFIQUV")
_NINO_BAD_SECOND = set("DFIOQUV")
_NINO_BAD_PREFIX = {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}
_NINO_SPECIMEN = {"QQ", "ZZ"}  # specimen / administrative prefixes used in test data


def _nino_value(prefix: str, digits: str, suffix: str) -> str | None:
    p, s = prefix.upper(), suffix.upper()
    if p in _NINO_SPECIMEN:
        return f"{p}{digits}{s}"
    if p[0] in _NINO_BAD_FIRST or p[1] in _NINO_BAD_SECOND or p in _NINO_BAD_PREFIX:
        return None
    if s not in "ABCD":
        return None
    return f"{p}{digits}{s}"


def canonical_nino(text: str) -> str | None:
    m = _NINO.fullmatch(text.strip())
    if not m or not _one_case(m.group(1) + m.group(5)):
        return None
    return _nino_value(m.group(1), m.group(2) + m.group(3) + m.group(4), m.group(5))


def _find_ninos(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _NINO.finditer(text):
        if not _one_case(m.group(1) + m.group(5)):
            continue
        v = _nino_value(m.group(1), m.group(2) + m.group(3) + m.group(4), m.group(5))
        if v:
            yield m.start(), m.end(), v


# --------------------------------------------------------------------------- PNC ID

PNC_CHECK_LETTERS = "ZABCDEFGHJKLMNPQRTUVWXY"
_PNC = re.compile(r"(?<![\w/])([0-9]{4}|[0-9]{2})/([0-9]{1,7}) ?([A-Za-z])(?![\w/])")
# Without the slash the serial must be its full seven digits (otherwise the year/serial
# boundary is ambiguous); the check letter then decides.
_PNC_NOSLASH = re.compile(r"(?<![\w/])(19[0-9]{2}|20[0-9]{2}|[0-9]{2})([0-9]{7})([A-Za-z])(?![\w/])")


def pnc_check_letter(year: int, serial: int) -> str:
    """Check letter of a PNC ID: ``int(yy + 7-digit serial) mod 23`` into the table."""
    return PNC_CHECK_LETTERS[int(f"{year % 100:02d}{serial:07d}") % 23]


def _expand_year(yy: str, today: date | None = None) -> int:
    current = (today or date.today()).year % 100
    n = int(yy)
    return 2000 + n if n <= current else 1900 + n


def _pnc_value(year_s: str, serial_s: str, letter: str) -> str | None:
    if len(year_s) == 4:
        year = int(year_s)
        if not 1900 <= year <= date.today().year:
            return None
    else:
        year = _expand_year(year_s)
    serial = int(serial_s)
    if serial == 0 or letter.upper() != pnc_check_letter(year, serial):
        return None
    return f"{year}/{serial:07d}{letter.upper()}"


def canonical_pnc(text: str) -> str | None:
    s = text.strip()
    m = _PNC.fullmatch(s) or _PNC_NOSLASH.fullmatch(s)
    return _pnc_value(*m.groups()) if m else None


def _find_pncs(text: str) -> Iterator[tuple[int, int, str]]:
    for rx in (_PNC, _PNC_NOSLASH):
        for m in rx.finditer(text):
            v = _pnc_value(*m.groups())
            if v:
                yield m.start(), m.end(), v


# --------------------------------------------------------------------------- CRO number

_CRO = re.compile(r"(?<![\w/])([0-9]{1,6})/([0-9]{2}) ?([A-Za-z])(?![\w/])")
_CRO_CUE = re.compile(r"\b(?:CRO|SF|CRO/SF)\b[^.\n]{0,25}$", re.IGNORECASE)


def _cro_value(serial: str, yy: str, letter: str) -> str | None:
    if int(serial) == 0:
        return None
    return f"{int(serial):06d}/{yy}{letter.upper()}"


def canonical_cro(text: str) -> str | None:
    """``123456/98K`` (serial zero-padded to six digits). The check letter is not verified:
    its algorithm is not published with the data standard we were given."""
    m = _CRO.fullmatch(text.strip())
    return _cro_value(*m.groups()) if m else None


def _find_cros(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _CRO.finditer(text):
        serial = m.group(1)
        # Short serials ("3/12A") are too common in addresses and references without a cue.
        if len(serial) < 4 and not _CRO_CUE.search(text, max(0, m.start() - 40), m.start()):
            continue
        v = _cro_value(*m.groups())
        if v:
            yield m.start(), m.end(), v


# --------------------------------------------------------------------------- IMEI

_IMEI = re.compile(r"(?<![\w+/.-])[0-9](?:[ -]?[0-9]){14}(?![\w/]|[.-][0-9])(?![ -][0-9])")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def canonical_imei(text: str) -> str | None:
    s = text.strip()
    if not re.fullmatch(r"[0-9](?:[ -]?[0-9]){14}", s):
        return None
    d = _squash(s)
    return d if luhn_ok(d) else None


def _find_imeis(text: str) -> Iterator[tuple[int, int, str]]:
    for m in _IMEI.finditer(text):
        d = _squash(m.group(0))
        if luhn_ok(d):
            yield m.start(), m.end(), d


# --------------------------------------------------------------------------- registry

Finder = Callable[[str], Iterator[tuple[int, int, str]]]

FINDERS: tuple[tuple[str, Finder], ...] = (
    (Label.EMAIL, _find_emails),
    (Label.PNC_ID, _find_pncs),
    (Label.CRO_NO, _find_cros),
    (Label.IMEI, _find_imeis),
    (Label.NINO, _find_ninos),
    (Label.POSTCODE, _find_postcodes),
    (Label.VRM, _find_vrms),
    (Label.PHONE, _find_phones),
)

CANONICALISERS: dict[str, Callable[[str], str | None]] = {
    Label.POSTCODE: canonical_postcode,
    Label.VRM: canonical_vrm,
    Label.PHONE: canonical_phone,
    Label.EMAIL: canonical_email,
    Label.NINO: canonical_nino,
    Label.PNC_ID: canonical_pnc,
    Label.CRO_NO: canonical_cro,
    Label.IMEI: canonical_imei,
}

# Quick pre-filters: a finder is skipped when the text cannot contain its pattern.
_HAS_DIGIT = re.compile(r"[0-9]")


def identifier_candidates(text: str) -> list[Entity]:
    """All identifier matches (may overlap; see :func:`resolve_overlaps`)."""
    out: list[Entity] = []
    has_digit = _HAS_DIGIT.search(text) is not None
    for label, finder in FINDERS:
        if label != Label.EMAIL and not has_digit:
            continue
        if label == Label.EMAIL and "@" not in text:
            continue
        for start, end, value in finder(text):
            out.append(Entity(label, start, end, text[start:end], value))
    return out


def resolve_overlaps(entities: list[Entity]) -> list[Entity]:
    """Keep a non-overlapping subset: longer spans first, then label priority, then start."""
    ranked = sorted(entities, key=lambda e: (-(e.end - e.start), PRIORITY.get(e.label, 50), e.start))
    taken: list[tuple[int, int]] = []
    kept: list[Entity] = []
    for e in ranked:
        if any(e.start < b and a < e.end for a, b in taken):
            continue
        taken.append((e.start, e.end))
        kept.append(e)
    kept.sort(key=lambda e: e.start)
    return kept
