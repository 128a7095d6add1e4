"""Finding nominals from a search box: name (+ DOB with keying-error tolerance).

Pure functions (typed in, dict out) so the search layer composes them and tests compare
dicts. The persons index is searched for candidates; what is shown is then re-checked
against the viewer's readable view of each nominal (``view_matches``), so a name or DOB
known only from a record the viewer may not read never makes a nominal match.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from entity_extraction import names as nk
from mappings import persons as P
from persons.views import NominalView

SWAPPED = "DOB matched with day and month swapped"
ONE_DIGIT = "DOB matched with one digit different"
DEFAULT_DAY = "DOB matched a 1 January default date in the same year"


@dataclass(frozen=True)
class DobCandidate:
    value: date
    tolerance: str | None  # None: exact


def _valid(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def dob_candidates(dob: date, years: int = 0) -> list[DobCandidate]:
    """Dates a keyed DOB may really be: itself, day/month swapped, one digit or one adjacent
    transposition different, 1 January of the year, and ±``years`` years."""
    out: dict[date, str | None] = {dob: None}
    swapped = _valid(dob.year, dob.day, dob.month)
    if swapped:
        out.setdefault(swapped, SWAPPED)
    iso = dob.isoformat()
    this_year = date.today().year
    positions = [0, 1, 2, 3, 5, 6, 8, 9]
    for pos in positions:
        for digit in "0123456789":
            if digit == iso[pos]:
                continue
            cand = iso[:pos] + digit + iso[pos + 1 :]
            got = _valid(int(cand[:4]), int(cand[5:7]), int(cand[8:]))
            if got and 1900 <= got.year <= this_year:
                out.setdefault(got, ONE_DIGIT)
    for i, j in itertools.pairwise(positions):
        if j == i + 1 and iso[i] != iso[j]:
            cand = iso[:i] + iso[j] + iso[i] + iso[j + 1 :]
            got = _valid(int(cand[:4]), int(cand[5:7]), int(cand[8:]))
            if got:
                out.setdefault(got, ONE_DIGIT)
    jan1 = date(dob.year, 1, 1)
    out.setdefault(jan1, DEFAULT_DAY)
    for k in range(1, years + 1):
        for y in (dob.year - k, dob.year + k):
            got = _valid(y, dob.month, min(dob.day, 28) if dob.month == 2 else dob.day)
            if got:
                out.setdefault(got, f"DOB matched {k} year{'s' if k > 1 else ''} apart")
    return [DobCandidate(d, t) for d, t in out.items()]


_M, _L = P.MENTIONS, f"{P.MENTIONS}.{P.M_MORE_LINKS}"
# The fields of a nominal a card is computed from: its record ids (to check which the viewer
# may read) and per mention what joins readable mentions into the group shown (links and
# decided flags) and what the card shows of it (name, DOB). Not the links' probabilities and
# reasons: a card shows neither (the person page reads the whole nominal), and they are most
# of what a nominal with many mentions would send.
CARD_SOURCE: tuple[str, ...] = (
    P.ID,
    P.RECORD_IDS,
    *(f"{_M}.{f}" for f in (P.M_ID, P.M_RECORD_ID, P.M_ROLE, P.M_NAME, P.M_DOB, P.M_DECIDED, P.M_LINKED_TO)),
    f"{_L}.{P.M_LINKED_TO}",
)


def _token_clause(token: str) -> dict[str, Any]:
    folded = nk.fold(token)
    should: list[dict[str, Any]] = [
        {"term": {P.SURNAMES: {"value": folded, "boost": 3.0}}},
        {"term": {P.FORENAMES: {"value": folded, "boost": 3.0}}},
        {"term": {P.FORENAME_VARIANTS: {"value": folded, "boost": 1.5}}},
    ]
    keys = list(nk.phonetic_keys(token))
    if keys:
        should.append({"terms": {P.NAME_KEYS: keys}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def persons_query(name: str, dob: date | None = None, *, years: int = 0, size: int = 10) -> dict[str, Any]:
    """Search body for nominals whose names match every token of ``name`` (exactly, as a
    variant, or sounding alike), and, with ``dob``, a DOB within keying-error tolerance."""
    tokens = [t for t in nk.name_tokens(name) if t]
    if not tokens:
        raise ValueError("a person search needs a name")
    must = [_token_clause(t) for t in tokens]
    filters: list[dict[str, Any]] = []
    should: list[dict[str, Any]] = [{"match": {P.NAMES: {"query": name, "operator": "and", "boost": 2.0}}}]
    if dob is not None:
        cands = dob_candidates(dob, years)
        filters.append({"terms": {P.DOBS: [c.value.isoformat() for c in cands]}})
        should.append({"term": {P.DOBS: {"value": dob.isoformat(), "boost": 5.0}}})
    return {
        "query": {"bool": {"must": must, "filter": filters, "should": should}},
        "size": size,
        # A card shows names, DOBs and counts: only what ``persons.views.readable_view``
        # reads for them comes back (the mentions as keyed, the match-weight waterfalls, the
        # identifiers and the nominal-level lists, the bulk of a large nominal, stay).
        "_source": {"includes": list(CARD_SOURCE)},
    }


def _token_matches(token: str, names: Iterable[str]) -> bool:
    folded = nk.fold(token)
    keys = set(nk.phonetic_keys(token))
    variants = set(nk.forename_variants(token))
    for name in names:
        for t in nk.name_tokens(name):
            if t == folded or keys & set(nk.phonetic_keys(t)) or variants & set(nk.forename_variants(t)):
                return True
    return False


def view_matches(
    view: NominalView, name: str, dob: date | None = None, years: int = 0
) -> tuple[bool, str | None]:
    """Does the viewer's readable view of a nominal match the query? And with which DOB
    tolerance (None: exact or no DOB asked). Re-checked here so that only readable names and
    DOBs can make a nominal match."""
    tokens = nk.name_tokens(name)
    if not tokens or not all(_token_matches(t, view.names) for t in tokens):
        return False, None
    if dob is None:
        return True, None
    readable = set(view.dobs)
    hits = [c for c in dob_candidates(dob, years) if c.value.isoformat() in readable]
    if not hits:
        return False, None
    if any(c.tolerance is None for c in hits):
        return True, None
    return True, hits[0].tolerance


@dataclass(frozen=True)
class PersonCard:
    """A matched nominal as the viewer may see it (for the top of the results and the API)."""

    id: str
    names: list[str]
    dobs: list[str]
    record_ids: list[str]
    score: float
    reasons: list[str]
    tolerance: str | None  # the DOB notice to show, None when the DOB matched exactly

    @property
    def record_count(self) -> int:
        return len(self.record_ids)

    def as_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "names": self.names,
            "dobs": self.dobs,
            "record_count": self.record_count,
            "score": round(self.score, 4),
            "reasons": self.reasons,
        }


def candidate_record_ids(hits: Iterable[dict[str, Any]]) -> list[str]:
    """Every record id behind the candidate nominals: the caller asks the records gateway
    which of them the viewer may read (one filtered ids query), then calls ``person_cards``."""
    out: dict[str, None] = {}
    for h in hits:
        for rid in h["_source"].get(P.RECORD_IDS, []):
            out[rid] = None
    return list(out)


def sound_keys(name: str) -> list[str]:
    """The sound-alike keys of every token of ``name`` (``nk.phonetic_keys``), each once."""
    return sorted({k for t in nk.name_tokens(name) for k in nk.phonetic_keys(t)})


def records_named_alike(hits: Iterable[dict[str, Any]], keys: Iterable[str]) -> set[str]:
    """The candidates' records holding a mention whose name shares one of ``keys``.

    A record's people are indexed with the keys of their full name (``people.name_phonetic``
    is ``nk.phonetic_keys_for_name`` of it, with their aliases'; indexer/documents.py) and a
    mention's name is that same full name (persons/features.py), so each of these records
    matches a records search for ``people.name_phonetic`` in ``keys`` whoever runs it: if
    that search, run through the viewer's access filter and known complete, did not return
    one, the viewer may not read it (``portal.person_reads.cards_beside``)."""
    wanted = set(keys)
    alike: dict[str, bool] = {}  # a nominal's mentions repeat a few names many times
    out: set[str] = set()
    for h in hits:
        for m in h["_source"].get(P.MENTIONS, []):
            name = m[P.M_NAME]
            if name not in alike:
                alike[name] = not wanted.isdisjoint(nk.phonetic_keys_for_name(name))
            if alike[name]:
                out.add(m[P.M_RECORD_ID])
    return out


def person_cards(
    hits: Iterable[dict[str, Any]],
    readable_records: set[str],
    name: str,
    dob: date | None = None,
    years: int = 0,
    decisions: Iterable[dict[str, Any]] = (),
) -> list[PersonCard]:
    """Cards for the candidate nominals that still match on what the viewer may read."""
    from persons.views import readable_view

    cards: list[PersonCard] = []
    decided = list(decisions)
    for h in hits:
        view = readable_view(h["_source"], readable_records, decided)
        if view is None:
            continue
        ok, tolerance = view_matches(view, name, dob, years)
        if not ok:
            continue
        reasons = ["name matches"]
        if dob is not None:
            reasons.append(tolerance or "DOB matches")
        cards.append(
            PersonCard(
                id=view.id,
                names=view.names,
                dobs=view.dobs,
                record_ids=sorted({r.record_id for r in view.records}),
                score=float(h.get("_score") or 0.0),
                reasons=reasons,
                tolerance=tolerance,
            )
        )
    return cards


_DOB_PATTERNS = (
    re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})\b"),  # 07/03/1984 (UK order)
    re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"),  # 1984-03-07
)


def split_name_dob(q: str) -> tuple[str, date | None]:
    """``"Pawel Wisniewski 07/03/1984"`` -> ("Pawel Wisniewski", date(1984, 3, 7)).

    A date that does not exist (31/02/1990) is left in the name part, so the caller finds no
    person rather than a wrong one.
    """
    for i, pat in enumerate(_DOB_PATTERNS):
        m = pat.search(q)
        if not m:
            continue
        a, b, c = (int(x) for x in m.groups())
        got = _valid(c, b, a) if i == 0 else _valid(a, b, c)
        if got is None:
            continue
        name = (q[: m.start()] + " " + q[m.end() :]).strip()
        return " ".join(name.split()), got
    return " ".join(q.split()), None


_DATE_WORD = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")


@dataclass(frozen=True)
class PersonIntent:
    name: str
    dob: date | None = None
    years: int = 0
    # Set when the typed DOB only exists with day and month the other way round (06/21/1984).
    notice: str | None = None


def person_intent(parsed: Any) -> PersonIntent | None:
    """The person a parsed search box query names: only bare words / ``name:`` terms (at most
    five words) and at most one DOB, nothing else; otherwise None.

    ``parsed`` is a ``search.parser.ParsedQuery``; read duck-typed so this module stays
    free of the parser's internals (which evolve with the search work). A date the parser
    left as a word because it is impossible day-first (06/21/1984) is read month-first, with
    the swapped-DOB notice.
    """
    if getattr(parsed, "empty", True) or parsed.leaves() != parsed.leaves(positive_only=True):
        return None
    if type(parsed.root).__name__ in ("Or", "Not"):
        return None
    words: list[str] = []
    dob: date | None = None
    years = 0
    notice: str | None = None
    for leaf in parsed.leaves():
        kind = type(leaf).__name__
        if kind == "Text":
            for w in leaf.words:
                m = _DATE_WORD.match(w)
                swapped = _valid(int(m.group(3)), int(m.group(1)), int(m.group(2))) if m else None
                if m and dob is None and swapped is not None:
                    dob, notice = swapped, SWAPPED
                else:
                    words.append(w)
        elif kind == "Name":
            words.extend(leaf.text.split())
        elif kind == "Dob" and dob is None:
            dob, years = leaf.dob, leaf.years
        else:
            return None
    if not words or len(words) > 5 or not all(any(ch.isalpha() for ch in w) for w in words):
        return None
    return PersonIntent(" ".join(words), dob, years, notice)
