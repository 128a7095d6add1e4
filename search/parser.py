"""The search-box language, parsed into a small typed tree.

What a user may type::

    john smith                      words (all must match: in the text or a person's name)
    "stab wound"                    a phrase
    smith OR jones, NOT knife, -knife, (a OR b) c
    type:custody vrm:AB12CDE station:"Brixton" from:2023-01 to:2023-06
    AB12 CDE, 07700 900123, SE1 7PB, 2001/0123456F   identifiers, in any accepted spelling
    12/03/1985, 1985-03-12, 12.3.85, 12 March 1985    dates of birth (``~2`` for +/- 2 years)
    near:SE1 7PB 500m               records with a place within 500 m of a postcode (m, km, mi)

Principles: the parser never raises on user input. Anything it cannot make sense of
degrades to a plain words search, and the user is told (``ParsedQuery.notices``). User
text is never handed to a query-string parser; the builders make structured queries
from this tree.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date

from lantern.profile import active_profile

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 500
MAX_LEAVES = 32
MAX_DOB_YEARS = 10

# ----------------------------------------------------------------------------- the tree


@dataclass(frozen=True)
class Text:
    """Bare words: each must match somewhere (text, title, a person's name)."""

    words: tuple[str, ...]


@dataclass(frozen=True)
class Phrase:
    text: str


@dataclass(frozen=True)
class Ident:
    """An identifier (or weapon/drug term) with its canonical value."""

    label: str
    value: str
    text: str  # as typed


@dataclass(frozen=True)
class Dob:
    """A date of birth, with a tolerance in years either side."""

    dob: date
    years: int = 0
    text: str = ""


@dataclass(frozen=True)
class Name:
    """``name:...``: a person's name, however spelt."""

    text: str


@dataclass(frozen=True)
class Keyword:
    """A filter on a keyword field: type, station, borough, court, status, offence, grading, ref."""

    field: str
    value: str


@dataclass(frozen=True)
class DateRange:
    """``from:`` / ``to:`` on the record date (inclusive days), or a bare year (``text``)."""

    start: date | None = None
    end: date | None = None
    text: str = ""  # as typed, when the range came from a bare year ("2021")


@dataclass(frozen=True)
class Near:
    """``near:POSTCODE RADIUS``: records with a place within ``radius_m`` of the postcode.

    ``point`` is the postcode's (lat, lon) from the gazetteer, filled by :func:`parse` when it
    is given a place lookup; without one (or for a postcode the gazetteer lacks) the builders
    fall back to records at that postcode itself, and the notices say so.
    """

    postcode: str  # canonical
    radius_m: int
    text: str = ""  # as typed
    point: tuple[float, float] | None = None


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


Leaf = Text | Phrase | Ident | Dob | Name | Keyword | DateRange | Near
Node = Leaf | And | Or | Not


@dataclass(frozen=True)
class ParsedQuery:
    raw: str
    root: Node | None  # None: no criteria (everything the user may see)
    notices: tuple[str, ...] = ()
    degraded: bool = False

    def leaves(self, *, positive_only: bool = False) -> list[Leaf]:
        return list(_leaves(self.root, positive_only)) if self.root is not None else []

    @property
    def identifiers(self) -> list[Ident]:
        return [leaf for leaf in self.leaves(positive_only=True) if isinstance(leaf, Ident)]

    @property
    def empty(self) -> bool:
        return self.root is None


def _leaves(node: Node, positive_only: bool) -> Iterator[Leaf]:
    if isinstance(node, And | Or):
        for item in node.items:
            yield from _leaves(item, positive_only)
    elif isinstance(node, Not):
        if not positive_only:
            yield from _leaves(node.item, positive_only)
    else:
        yield node


# ------------------------------------------------------------------------- field names

# Canonical field name for each accepted spelling (the whitelist).
FIELD_ALIASES: dict[str, str] = {
    "type": "type",
    "kind": "type",
    "vrm": "vrm",
    "reg": "vrm",
    "vehicle": "vrm",
    "phone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "postcode": "postcode",
    "pc": "postcode",
    "pnc": "pnc",
    "cro": "cro",
    "nino": "nino",
    "ni": "nino",
    "imei": "imei",
    "email": "email",
    "station": "station",
    "borough": "borough",
    "court": "court",
    "status": "status",
    "offence": "offence",
    "offense": "offence",
    "grading": "grading",
    "grade": "grading",
    "dob": "dob",
    "born": "dob",
    "name": "name",
    "person": "name",
    "ref": "ref",
    "reference": "ref",
    "from": "from",
    "after": "from",
    "since": "from",
    "to": "to",
    "before": "to",
    "until": "to",
    "near": "near",
    "within": "near",
}
FIELD_HELP = (
    "type, vrm, phone, postcode, pnc, cro, nino, imei, email, station, borough, court, status, "
    "offence, grading, dob, name, ref, from, to, near"
)
DEFAULT_NEAR_METRES = 500
MAX_NEAR_METRES = 50_000
_RADIUS = re.compile(r"(\d+(?:\.\d+)?)\s*(m|km|mi|miles?|metres?|meters?)?", re.IGNORECASE)
_UNIT_METRES = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "mile": 1609.344, "miles": 1609.344}
IDENT_FIELDS: dict[str, str] = {
    "vrm": "VRM",
    "phone": "PHONE",
    "postcode": "POSTCODE",
    "pnc": "PNC_ID",
    "cro": "CRO_NO",
    "nino": "NINO",
    "imei": "IMEI",
    "email": "EMAIL",
}
RECORD_TYPES: dict[str, str] = {
    "custody": "custody",
    "detention": "custody",
    "crime": "crime",
    "crimes": "crime",
    "investigation": "crime",
    "case": "case",
    "cases": "case",
    "casefile": "case",
    "case_file": "case",
    "prosecution": "case",
    "intel": "intel",
    "intelligence": "intel",
}

# Record references (custody number, crime reference, URN, intelligence reference) are
# recognised by the force profile's formats (lantern.profile), in any of their spellings:
# ``CR-2021-4417203``, ``CR/2021/4417203`` and ``cr 2021 4417203`` are one reference.
REFERENCE_MAX_WORDS = 4

# ----------------------------------------------------------------------------- dates

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ]
    )
    for m in names
}
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_TOLERANCE = re.compile(r"^(.*?)(?:~|\+/?-|±)(\d{1,2})$")


def _year(text: str, today: date) -> int:
    if len(text) == 4:
        return int(text)
    # Two-digit years are dates of birth: never in the future.
    yy = int(text)
    return 2000 + yy if 2000 + yy <= today.year else 1900 + yy


def parse_date(text: str, today: date | None = None) -> date | None:
    """A full calendar date in a British spelling (day first), or None."""
    today = today or date.today()
    s = text.strip().rstrip(",.")
    try:
        m = _YMD.fullmatch(s)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = _DMY.fullmatch(s)
        if m:
            return date(_year(m.group(3), today), int(m.group(2)), int(m.group(1)))
        parts = s.replace(",", " ").split()
        if len(parts) == 3:
            d, mon, y = parts
            d = re.sub(r"(st|nd|rd|th)$", "", d.lower())
            if d.isdigit() and mon.lower() in _MONTHS and y.isdigit() and len(y) in (2, 4):
                return date(_year(y, today), _MONTHS[mon.lower()], int(d))
    except ValueError:
        return None
    return None


def parse_partial_date(text: str, *, end: bool, today: date | None = None) -> date | None:
    """``2023``, ``2023-06``, ``06/2023`` or a full date: the first (or last) day it covers."""
    s = text.strip()
    full = parse_date(s, today)
    if full is not None:
        return full
    try:
        if re.fullmatch(r"\d{4}", s):
            return date(int(s), 12, 31) if end else date(int(s), 1, 1)
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", s) or re.fullmatch(r"(\d{1,2})/(\d{4})", s)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            year, month = (a, b) if a > 12 else (b, a)
            if not end:
                return date(year, month, 1)
            nxt = date(year + (month == 12), month % 12 + 1, 1)
            return date.fromordinal(nxt.toordinal() - 1)
    except ValueError:
        return None
    return None


def _dob(text: str, default_years: int, today: date) -> Dob | None:
    years = default_years
    m = _TOLERANCE.match(text.strip())
    body = text
    if m:
        body, years = m.group(1), int(m.group(2))
    d = parse_date(body, today)
    if d is None or not (date(1900, 1, 1) <= d <= today):
        return None
    return Dob(d, max(0, min(years, MAX_DOB_YEARS)), text)


# ----------------------------------------------------------------------------- lexer


@dataclass
class _Tok:
    kind: str  # WORD PHRASE FIELD LPAREN RPAREN AND OR NOT LEAF
    text: str
    start: int
    end: int
    neg: bool = False
    field: str = ""
    value: str = ""
    leaf: Leaf | None = None


_QUOTES = '"\u201c\u201d'
_OPERATORS = {"AND": "AND", "&&": "AND", "OR": "OR", "||": "OR", "NOT": "NOT"}
_FIELD_RX = re.compile(r"([A-Za-z_]+):(.*)", re.DOTALL)


class _Notes:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.items:
            self.items.append(text)


def _read_word(s: str, i: int) -> int:
    n = len(s)
    while i < n and not s[i].isspace() and s[i] not in "()" and s[i] not in _QUOTES:
        i += 1
    return i


def _extend_identifier(s: str, label: str, value: str, end: int) -> tuple[str, int]:
    k, words = end, value
    for _ in range(3):
        while k < len(s) and s[k] == " ":
            k += 1
        e = _read_word(s, k)
        if e == k or s[k:e] in _OPERATORS:
            break
        words, k = f"{words} {s[k:e]}", e
        if _canonicalise(label, words) is not None:
            return words, k
    return value, end


def _near_value(s: str, value: str, end: int) -> tuple[str, int]:
    """``near:SE1 7PB 500m``: the postcode may run over two words, then an optional radius."""
    if _canonicalise("POSTCODE", value) is None:
        value, end = _extend_identifier(s, "POSTCODE", value, end)
    k = end
    while k < len(s) and s[k] == " ":
        k += 1
    e = _read_word(s, k)
    if e > k and _RADIUS.fullmatch(s[k:e]):
        return f"{value} {s[k:e]}", e
    return value, end


def _radius_metres(text: str) -> float | None:
    m = _RADIUS.fullmatch(text.strip())
    if not m:
        return None
    unit = (m.group(2) or "m").lower()
    return float(m.group(1)) * _UNIT_METRES.get(unit, 1.0)  # metre(s)/meter(s): 1.0


def _read_quoted(s: str, i: int) -> int | None:
    """Index of the closing quote for the quote at ``i``, or None."""
    for j in range(i + 1, len(s)):
        if s[j] in _QUOTES:
            return j
    return None


def _reference_spans(s: str) -> list[tuple[int, int]]:
    """Where ``s`` spells a record reference over several words (``if 2021 20417``)."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", s)]
    spans: list[tuple[int, int]] = []
    for width in range(min(REFERENCE_MAX_WORDS, len(words)), 1, -1):
        for k in range(len(words) - width + 1):
            if reference(" ".join(s[a:b] for a, b in words[k : k + width])):
                spans.append((words[k][0], words[k + width - 1][1]))
    return spans


def _phone_spans(s: str) -> dict[int, tuple[int, str]]:
    try:
        from search.recognise import phone_spans

        found = {a: (b, v) for a, b, v in phone_spans(s)}
    except Exception:  # a recogniser bug must not take search down
        log.exception("phone recognition failed")
        return {}
    # A reference's serial can look like a phone number ("2021 20417"): the reference wins.
    refs = _reference_spans(s) if found else []
    return {a: (b, v) for a, (b, v) in found.items() if not any(ra < b and a < rb for ra, rb in refs)}


def _lex(s: str, notes: _Notes) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(s)
    # Phone numbers first: "+44 (0)7700 900123" and "(020) 7946 0123" hold brackets and
    # spaces the grammar would otherwise read as a group and several words.
    phones = _phone_spans(s)
    while i < n:
        c = s[i]
        if c.isspace():
            i += 1
            continue
        if i in phones:
            end, value = phones[i]
            toks.append(_Tok("LEAF", s[i:end], i, end, leaf=Ident("PHONE", value, s[i:end])))
            i = end
            continue
        if c in "()":
            toks.append(_Tok("LPAREN" if c == "(" else "RPAREN", c, i, i + 1))
            i += 1
            continue
        if c in _QUOTES:
            j = _read_quoted(s, i)
            if j is None:
                notes.add("A quotation mark was not closed, so it was ignored.")
                i += 1
                continue
            neg = bool(toks) and toks[-1].kind == "WORD" and toks[-1].text == "-" and toks[-1].end == i
            if neg:
                toks.pop()
            content = s[i + 1 : j].strip()
            if content:
                toks.append(_Tok("PHRASE", content, i, j + 1, neg=neg))
            i = j + 1
            continue
        j = _read_word(s, i)
        word = s[i:j]
        op = _OPERATORS.get(word)
        if op:
            toks.append(_Tok(op, word, i, j))
            i = j
            continue
        neg = False
        body = word
        # ``-word`` negates; ``+word`` is the same as ``word``; ``+44 ...`` is a phone number.
        if len(word) > 1 and word[0] in "-+" and not word[1].isdigit():
            neg = word[0] == "-"
            body = word[1:]
        m = _FIELD_RX.fullmatch(body)
        if m and m.group(1).lower() in FIELD_ALIASES:
            value = m.group(2)
            end = j
            vpos = j - len(value)
            if value and vpos in phones and FIELD_ALIASES[m.group(1).lower()] == "phone":
                value, end = s[vpos : phones[vpos][0]], phones[vpos][0]
            elif not value:
                # ``field:"quoted value"`` or ``field: value``
                k = j
                while k < n and s[k] == " ":
                    k += 1
                if k < n and s[k] in _QUOTES:
                    close = _read_quoted(s, k)
                    if close is not None:
                        value, end = s[k + 1 : close].strip(), close + 1
                elif k < n and s[k] not in "()":
                    e = _read_word(s, k)
                    if s[k:e] not in _OPERATORS:
                        value, end = s[k:e], e
            label = IDENT_FIELDS.get(FIELD_ALIASES[m.group(1).lower()])
            if FIELD_ALIASES[m.group(1).lower()] == "near" and value:
                value, end = _near_value(s, value, end)
            elif label and value and _canonicalise(label, value) is None:
                # ``vrm:ab12 cde``, ``phone:07700 900 123``: the value may run over a few words.
                value, end = _extend_identifier(s, label, value, end)
            toks.append(
                _Tok("FIELD", s[i:end], i, end, neg=neg, field=FIELD_ALIASES[m.group(1).lower()], value=value)
            )
            i = end
            continue
        if m and not m.group(1).isdigit() and m.group(2):
            notes.add(f"'{m.group(1)}' is not a field Lantern knows ({FIELD_HELP}); it was searched as text.")
            body = f"{m.group(1)} {m.group(2)}"
        toks.append(_Tok("WORD", body, i, j, neg=neg))
        i = j
    return toks


# ------------------------------------------------------------- identifiers and dates


def _find_identifiers(text: str) -> list[tuple[int, int, str, str]]:
    try:
        from entity_extraction import find_identifiers

        return [(e.start, e.end, str(e.label), e.value) for e in find_identifiers(text)]
    except Exception:  # a recogniser bug must not take search down
        log.exception("identifier recognition failed")
        return []


def _canonicalise(label: str, text: str) -> str | None:
    try:
        from entity_extraction import canonicalise

        return canonicalise(label, text)
    except Exception:
        log.exception("canonicalise failed")
        return None


# Single tokens the recognisers skip (e.g. lowercase ``se17pb``) are retried one label at a time.
_FALLBACK_LABELS = ("PNC_ID", "CRO_NO", "NINO", "IMEI", "POSTCODE", "VRM", "PHONE", "EMAIL")


def _single_identifier(word: str) -> tuple[str, str] | None:
    if len(word) < 5:
        return None
    if "@" not in word and not any(ch.isdigit() for ch in word):
        return None
    for label in _FALLBACK_LABELS:
        value = _canonicalise(label, word)
        if value:
            return label, value
    return None


def reference(text: str) -> str | None:
    """The normalised record reference ``text`` spells, or None (the force profile decides)."""
    found = active_profile().find_reference(text)
    return found[1] if found else None


def _reference(word: str) -> str | None:
    return reference(word)


def _recognise(s: str, toks: list[_Tok], dob_years: int, today: date) -> list[_Tok]:
    """Turn runs of plain words into identifier, reference and date-of-birth leaves."""
    out: list[_Tok] = []
    i = 0
    while i < len(toks):
        if toks[i].kind != "WORD" or toks[i].neg:
            out.append(_single(toks[i], dob_years, today))
            i += 1
            continue
        j = i
        while j < len(toks) and toks[j].kind == "WORD" and not toks[j].neg:
            j += 1
        out.extend(_recognise_run(s, toks[i:j], dob_years, today))
        i = j
    return out


def _single(tok: _Tok, dob_years: int, today: date) -> _Tok:
    if tok.kind != "WORD":
        return tok
    leaf = _word_leaf(tok.text, dob_years, today)
    if leaf is not None:
        return replace(tok, kind="LEAF", leaf=leaf)
    return tok


def _word_leaf(word: str, dob_years: int, today: date) -> Leaf | None:
    ref = _reference(word)
    if ref:
        return Keyword("ref", ref)
    d = _dob(word, dob_years, today)
    if d:
        return d
    found = _find_identifiers(word)
    if len(found) == 1 and found[0][0] == 0 and found[0][1] == len(word):
        return Ident(found[0][2], found[0][3], word)
    single = _single_identifier(word)
    if single:
        return Ident(single[0], single[1], word)
    return None


def _year_leaf(word: str) -> DateRange | None:
    """A bare year that is not part of an identifier or a date: the record's date, that year."""
    from search.recognise import bare_year

    year = bare_year(word)
    if year is None:
        return None
    return DateRange(date(year, 1, 1), date(year, 12, 31), text=word.strip())


def _recognise_run(s: str, run: list[_Tok], dob_years: int, today: date) -> list[_Tok]:
    base = run[0].start
    text = s[base : run[-1].end]
    starts = {t.start - base: k for k, t in enumerate(run)}
    ends = {t.end - base: k for k, t in enumerate(run)}
    claimed: dict[int, tuple[int, Leaf]] = {}  # first token index -> (last token index, leaf)
    used: set[int] = set()

    def claim(a: int, b: int, leaf: Leaf) -> None:
        if any(k in used for k in range(a, b + 1)):
            return
        used.update(range(a, b + 1))
        claimed[a] = (b, leaf)

    # References typed with spaces ("cr 2021 4417203"), longest first.
    for width in range(min(REFERENCE_MAX_WORDS, len(run)), 1, -1):
        for k in range(len(run) - width + 1):
            ref = reference(" ".join(t.text for t in run[k : k + width]))
            if ref:
                claim(k, k + width - 1, Keyword("ref", ref))
    # Multi-word dates first ("12 March 1985"), then identifiers, then single words.
    for k in range(len(run) - 2):
        words = f"{run[k].text} {run[k + 1].text} {run[k + 2].text}"
        if run[k + 1].text.lower().strip(",") in _MONTHS:
            d = _dob(words, dob_years, today)
            if d:
                claim(k, k + 2, d)
    for start, end, label, value in _find_identifiers(text):
        if start in starts and end in ends and starts[start] <= ends[end]:
            claim(starts[start], ends[end], Ident(label, value, text[start:end]))
    # Two-word identifiers the recognisers leave to context (``se1 7pb``, ``ab12 cde``).
    for k in range(len(run) - 1):
        pair = f"{run[k].text}{run[k + 1].text}"
        if k in used or k + 1 in used or not any(ch.isdigit() for ch in pair):
            continue
        for label in ("POSTCODE", "VRM"):
            pair_value = _canonicalise(label, pair)
            if pair_value and len(run[k].text) <= 4 and len(run[k + 1].text) <= 4:
                claim(k, k + 1, Ident(label, pair_value, f"{run[k].text} {run[k + 1].text}"))
                break
    for k, tok in enumerate(run):
        if k not in used:
            leaf = _word_leaf(tok.text, dob_years, today) or _year_leaf(tok.text)
            if leaf is not None:
                claim(k, k, leaf)
    out: list[_Tok] = []
    k = 0
    while k < len(run):
        if k in claimed:
            last, leaf = claimed[k]
            out.append(
                _Tok(
                    "LEAF",
                    text[run[k].start - base : run[last].end - base],
                    run[k].start,
                    run[last].end,
                    leaf=leaf,
                )
            )
            k = last + 1
        else:
            out.append(run[k])
            k += 1
    return out


# --------------------------------------------------------------------------- fields


def _field_leaf(tok: _Tok, dob_years: int, today: date, notes: _Notes) -> Leaf | None:
    name, value = tok.field, tok.value.strip()
    if not value:
        notes.add(f"'{name}:' had no value, so it was ignored.")
        return None
    if name in IDENT_FIELDS:
        label = IDENT_FIELDS[name]
        canonical = _canonicalise(label, value)
        if canonical is None and label == "VRM":
            # The index normalises VRMs (case, spaces), so even an unusual plate can be looked up.
            canonical = re.sub(r"[\s\-.]+", "", value).upper() or None
        if canonical is None:
            notes.add(f"'{value}' is not a valid {label.replace('_', ' ')}; it was searched as text.")
            return Text(tuple(value.split()))
        return Ident(label, canonical, value)
    if name == "type":
        rtype = RECORD_TYPES.get(value.lower())
        if rtype is None:
            notes.add(f"'{value}' is not a record type (custody, crime, case, intel); it was ignored.")
            return None
        return Keyword("type", rtype)
    if name == "dob":
        born = _dob(value, dob_years, today)
        if born is None:
            notes.add(
                f"'{value}' is not a date of birth Lantern understands (try 12/03/1985); it was ignored."
            )
            return None
        return born
    if name == "near":
        return _near_leaf(value, tok.text.lstrip("+-"), notes)
    if name == "name":
        return Name(value)
    if name == "ref":
        return Keyword("ref", value.upper())
    if name in ("from", "to"):
        d = parse_partial_date(value, end=name == "to", today=today)
        if d is None:
            notes.add(
                f"'{value}' is not a date Lantern understands (try 2024-03-12 or 2024-03); it was ignored."
            )
            return None
        return DateRange(start=d) if name == "from" else DateRange(end=d)
    if name == "grading":
        return Keyword("grading", value.upper().replace(" ", ""))
    if name == "status":
        return Keyword("status", "_".join(value.lower().split()))
    return Keyword(name, value)


def _near_leaf(value: str, typed: str, notes: _Notes) -> Near | None:
    words = value.split()
    radius: float | None = None
    if len(words) > 1 and _RADIUS.fullmatch(words[-1]) and _canonicalise("POSTCODE", " ".join(words)) is None:
        radius = _radius_metres(words[-1])
        words = words[:-1]
    postcode = _canonicalise("POSTCODE", " ".join(words))
    if postcode is None:
        notes.add(
            f"'{' '.join(words)}' is not a postcode Lantern knows how to read (try near:SE1 7PB 500m); "
            "near: was ignored."
        )
        return None
    metres = DEFAULT_NEAR_METRES if radius is None else radius
    if metres > MAX_NEAR_METRES:
        notes.add(
            f"near: searches at most {MAX_NEAR_METRES // 1000} km from a postcode; the radius was reduced."
        )
        metres = MAX_NEAR_METRES
    return Near(postcode, max(1, round(metres)), typed)


# --------------------------------------------------------------------------- grammar


class _SyntaxProblem(Exception):
    pass


class _Parser:
    """``or := and (OR and)*``; ``and := unary ((AND)? unary)*``; ``unary := NOT unary | primary``."""

    def __init__(self, toks: list[_Tok], dob_years: int, today: date, notes: _Notes) -> None:
        self.toks = toks
        self.pos = 0
        self.dob_years = dob_years
        self.today = today
        self.notes = notes
        self.leaves = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def parse(self) -> Node | None:
        if not self.toks:
            return None
        node = self.or_expr()
        if self.peek() is not None:
            raise _SyntaxProblem("a closing bracket has no opening bracket")
        return node

    def or_expr(self) -> Node | None:
        items: list[Node] = []
        seen_or = False
        while True:
            before = self.pos
            node = self.and_expr()
            if self.pos == before and (seen_or or self._at("OR")):
                raise _SyntaxProblem("OR needs something on both sides")
            if node is not None:  # None: only ignored terms (already explained in a notice)
                items.append(node)
            if not self._at("OR"):
                break
            self.pos += 1
            seen_or = True
        if not items:
            return None
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _at(self, kind: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == kind

    def and_expr(self) -> Node | None:
        items: list[Node] = []
        expect_operand = False
        while (tok := self.peek()) is not None and tok.kind not in ("OR", "RPAREN"):
            if tok.kind == "AND":
                if not items or expect_operand:
                    raise _SyntaxProblem("AND needs something on both sides")
                self.pos += 1
                expect_operand = True
                continue
            node = self.unary()
            expect_operand = False
            if node is not None:
                items.append(node)
        if expect_operand:
            raise _SyntaxProblem("AND needs something on both sides")
        return _and(items)

    def unary(self) -> Node | None:
        tok = self.peek()
        assert tok is not None
        if tok.kind == "NOT":
            self.pos += 1
            nxt = self.peek()
            if nxt is None or nxt.kind in ("AND", "OR", "RPAREN"):
                raise _SyntaxProblem("NOT needs something after it")
            inner = self.unary()
            return Not(inner) if inner is not None else None
        return self.primary()

    def primary(self) -> Node | None:
        tok = self.peek()
        assert tok is not None
        self.pos += 1
        if tok.kind == "LPAREN":
            node = self.or_expr()
            close = self.peek()
            if close is None or close.kind != "RPAREN":
                raise _SyntaxProblem("a bracket was not closed")
            self.pos += 1
            return node
        if tok.kind == "RPAREN":
            raise _SyntaxProblem("a closing bracket has no opening bracket")
        leaf = self.leaf(tok)
        if leaf is None:
            return None
        return Not(leaf) if tok.neg else leaf

    def leaf(self, tok: _Tok) -> Leaf | None:
        self.leaves += 1
        if self.leaves > MAX_LEAVES:
            self.notes.add(f"Only the first {MAX_LEAVES} terms were used.")
            return None
        if tok.kind == "LEAF":
            return tok.leaf
        if tok.kind == "PHRASE":
            return Phrase(tok.text)
        if tok.kind == "FIELD":
            return _field_leaf(tok, self.dob_years, self.today, self.notes)
        words = tuple(w for w in (_clean_word(x) for x in tok.text.split()) if w)
        return Text(words) if words else None


def _clean_word(word: str) -> str:
    # Punctuation that only separates words (the analyzers drop it anyway).
    return word.strip(".,;:!?*&|{}[]<>^~=\\`")


def _and(items: list[Node]) -> Node | None:
    """AND of ``items``, with bare words merged into one run (a name often spans them)."""
    words: list[str] = []
    out: list[Node] = []
    text_at: int | None = None
    for item in items:
        if isinstance(item, Text):
            if text_at is None:
                text_at = len(out)
                out.append(item)
            words.extend(item.words)
        elif isinstance(item, And):
            for sub in item.items:
                if isinstance(sub, Text):
                    if text_at is None:
                        text_at = len(out)
                        out.append(sub)
                    words.extend(sub.words)
                else:
                    out.append(sub)
        else:
            out.append(item)
    if text_at is not None:
        out[text_at] = Text(tuple(words))
    if not out:
        return None
    return out[0] if len(out) == 1 else And(tuple(out))


def _degrade(toks: list[_Tok], dob_years: int, today: date, notes: _Notes) -> Node | None:
    """Drop operators and brackets: every remaining term must match."""
    parser = _Parser([], dob_years, today, notes)
    items: list[Node] = []
    for tok in toks:
        if tok.kind in ("LPAREN", "RPAREN", "AND", "OR", "NOT"):
            continue
        leaf = parser.leaf(tok)
        if leaf is not None:
            items.append(Not(leaf) if tok.neg else leaf)
    return _and(items)


PlaceLookup = Callable[[str], "tuple[float, float] | None"]


def _resolve_near(node: Node, places: PlaceLookup, notes: _Notes) -> Node:
    if isinstance(node, And | Or):
        return type(node)(tuple(_resolve_near(i, places, notes) for i in node.items))
    if isinstance(node, Not):
        return Not(_resolve_near(node.item, places, notes))
    if isinstance(node, Near) and node.point is None:
        point = places(node.postcode)
        if point is None:
            notes.add(
                f"{node.postcode} is not in the gazetteer, so near: could not measure distances from it; "
                f"records at {node.postcode} itself were searched instead."
            )
            return node
        return replace(node, point=point)
    return node


def parse(
    raw: str | None, *, dob_years: int = 0, today: date | None = None, places: PlaceLookup | None = None
) -> ParsedQuery:
    """Parse a search-box query. Never raises on user input.

    ``places`` (postcode -> (lat, lon) or None, e.g. the gazetteer) resolves ``near:``; the
    parser does no I/O of its own.
    """
    text = (raw or "").replace("\x00", " ")
    today = today or date.today()
    dob_years = max(0, min(int(dob_years or 0), MAX_DOB_YEARS))
    notes = _Notes()
    if len(text) > MAX_QUERY_CHARS:
        notes.add(f"The query was longer than {MAX_QUERY_CHARS} characters and was shortened.")
        text = text[:MAX_QUERY_CHARS]
    try:
        toks = _recognise(text, _lex(text, notes), dob_years, today)
    except Exception:  # defensive: a parser bug must not become a 500
        log.exception("query lexing failed for %r", text)
        words = tuple(w for w in (_clean_word(x) for x in text.split()) if w)
        notes.add("The query could not be fully understood; it was searched as plain words.")
        return ParsedQuery(text, Text(words) if words else None, tuple(notes.items), degraded=True)
    degraded = False
    try:
        root = _Parser(toks, dob_years, today, notes).parse()
    except _SyntaxProblem as problem:
        notes.add(
            f"The query could not be fully understood ({problem}); all its terms were searched for instead."
        )
        root = _degrade(toks, dob_years, today, notes)
        degraded = True
    except Exception:
        log.exception("query parsing failed for %r", text)
        notes.add("The query could not be fully understood; all its terms were searched for instead.")
        root = _degrade(toks, dob_years, today, notes)
        degraded = True
    if root is not None and places is not None:
        root = _resolve_near(root, places, notes)
    if root is not None:
        for leaf in _leaves(root, positive_only=True):
            if isinstance(leaf, DateRange) and leaf.text:
                notes.add(
                    f"{leaf.text} was read as a year: only records dated {leaf.text} are shown "
                    f'(search "{leaf.text}" in quotes to find the number in the text).'
                )
    return ParsedQuery(text, root, tuple(notes.items), degraded)
