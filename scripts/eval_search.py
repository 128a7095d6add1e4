"""Search relevance on the deterministic demo data: recall@10 and MRR per query kind.

    python scripts/eval_search.py [--records 2000] [--per-kind 40] [--prefix P] [--fresh] [--show-misses]

Loads ``--records`` demo records (``lantern demo-data`` generator, seed 42, entity extraction
on) plus a few near-collision records (below) into ``<prefix>records`` on the running node,
or reuses that index when it already holds exactly those records. Then builds a judged query
set **programmatically from the data** (every query knows which record ids must be found) and
runs each query through the portal's own search path (parser -> query builders -> secured
records search, as an analyst cleared for everything, so only retention hides records).

Query kinds: phones, VRMs, postcodes and PNC IDs in every accepted spelling; exact names,
surname-first names, name + DOB, sound-alike respellings, diminutives/variants, free text
with a year; near-misses (an injected person one letter different with a different DOB must
not take a top-3 place); negatives (identifiers and names that are not in the data: no
results). Positive kinds are scored by recall@10 (found / min(relevant, 10)); near-miss and
negative kinds by their pass rate.

Every query belongs to one half of a fixed split (a hash of its target): ``tuning`` (look at
it, tune on it) and ``held-out`` (never tuned on). Both halves are printed; the verdict is the
held-out half: every kind's score >= 0.95, else exit 1. ``--show-misses`` lists the tuning
half's misses only.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jellyfish

from entity_extraction.identifiers import pnc_check_letter
from entity_extraction.names import fold, forename_variants
from indexer.documents import build_document
from lantern.records import AnyRecord, Sensitivity, parse_record
from lantern.search_client import make_client
from lantern.settings import Settings, get_settings
from mappings import fields as F
from mappings import records as records_index

TARGET = 0.95
SEED = 42
TOP = 10
NEAR_PREFIX = "EVAL-NEAR-"


# ------------------------------------------------------------------ the search path


def _search_api() -> tuple[Any, ...]:
    """The portal's own search path: ``portal.reads.run_search`` (parser -> builders -> gateway)."""
    from lantern.clock import today_utc
    from lantern.principal import INTEL_C_CLEARANCE, INTEL_CLEARANCE, Principal
    from portal.reads import run_search
    from search import builders as B
    from search.parser import parse

    return Principal, B, parse, run_search, today_utc, INTEL_CLEARANCE, INTEL_C_CLEARANCE


# ------------------------------------------------------------------ data


@dataclass
class Data:
    docs: dict[str, dict[str, Any]]  # record id -> search document built without NER
    visible: set[str] = field(default_factory=set)
    units: set[str] = field(default_factory=set)


def near_collision_raw(i: int, forename: str, surname: str, dob: date) -> dict[str, Any]:
    """A crime record naming only the near-collision person (no narrative mentioning anyone)."""
    return {
        "record_type": "crime",
        "source_system": "EVAL-NEAR",
        "source_id": f"{NEAR_PREFIX}{i}",
        "title": "Theft from a shop",
        "summary": "Goods taken from a display.",
        "created_at": "2024-03-02T10:00:00Z",
        "borough": "Hackney",
        "unit": "CID",
        "people": [{"role": "suspect", "forename": forename, "surname": surname, "dob": dob.isoformat()}],
        "crime_reference": f"CR/9{i:05d}/24",
        "offence": {"code": "46/1", "description": "Theft from a shop", "category": "Theft"},
        "occurred_from": "2024-03-01T22:00:00Z",
        "location": {"line1": "Mare Street", "town": "London", "postcode": "E8 1HE"},
        "modus_operandi": "Items concealed in a bag; left without paying.",
        "status": "under_investigation",
    }


def one_letter_off(surname: str, rng: random.Random, taken: set[str]) -> str | None:
    """``Kowalski`` -> ``Kowalsko``: one interior letter substituted, not an existing surname."""
    s = surname
    for _ in range(20):
        i = rng.randrange(1, len(s) - 1) if len(s) > 2 else len(s) - 1
        if not s[i].isalpha():
            continue
        pool = "aeiou" if s[i].lower() in "aeiou" else "bdfgklmnprt"
        c = rng.choice([x for x in pool if x != s[i].lower()])
        c = c.upper() if s[i].isupper() else c
        out = s[:i] + c + s[i + 1 :]
        if fold(out) not in taken:
            return out
    return None


def person_rows(docs: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [(rid, p) for rid, d in docs.items() for p in d.get(F.PEOPLE, [])]


def build_data(records: int) -> tuple[list[AnyRecord], Data, list[tuple[str, str, date, str]]]:
    """Demo records + near-collision records, their documents, and the near-collision cases."""
    from demo.generator import iter_raw

    recs: list[AnyRecord] = []
    for raw in iter_raw(records, SEED):
        try:
            recs.append(parse_record(raw))
        except ValueError:
            continue  # the generator keeps a few invalid rows for the rejects path
    docs = {r.record_id: build_document(r, None) for r in recs}
    surnames = {fold(str(p.get(F.P_SURNAME, ""))) for _, p in person_rows(docs)}
    by_name: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for rid, p in person_rows(docs):
        if p.get(F.P_FORENAME) and p.get(F.P_DOB) and p.get(F.P_ROLE) != "officer":
            by_name[(str(p[F.P_FORENAME]), str(p[F.P_SURNAME]), str(p[F.P_DOB]))].add(rid)
    rng = random.Random(SEED + 1)
    candidates = sorted(k for k, ids in by_name.items() if 1 <= len(ids) <= 4 and len(k[1]) >= 4)
    rng.shuffle(candidates)
    cases: list[tuple[str, str, date, str]] = []
    for i, (fore, sur, dob_s) in enumerate(candidates[:60]):
        other = one_letter_off(sur.title() if sur.isupper() else sur, rng, surnames)
        if other is None:
            continue
        dob = date.fromisoformat(dob_s)
        shift = rng.choice((5, 6, 8, 9))
        other_dob = dob.replace(year=dob.year + (-shift if dob.year > 1960 else shift), day=min(dob.day, 28))
        rec = parse_record(near_collision_raw(i, fore, other, other_dob))
        recs.append(rec)
        docs[rec.record_id] = build_document(rec, None)
        cases.append((fore, sur, dob, rec.record_id))
    return recs, Data(docs), cases


def ensure_index(settings: Settings, recs: list[AnyRecord], fresh: bool) -> None:
    from indexer.pipeline import index_records
    from lantern import indices

    # On the secured node only the admin may delete and create indices (as `lantern index
    # init`); the load itself runs as the indexer, as in production.
    admin = make_client(settings, "admin")
    alias = settings.index_name(records_index.NAME)
    if admin.indices.exists(index=alias):
        have = int(admin.count(index=alias)["count"])
        if have == len(recs) and not fresh:
            print(f"reusing {alias} ({have:,} records)")
            return
        for name in admin.indices.get_alias(index=alias):
            admin.indices.delete(index=name)
    indices.forget_ensured()
    indices.ensure_all(admin, settings)
    print(f"loading {len(recs):,} records into {alias} (entity extraction on) ...", flush=True)
    t = time.perf_counter()
    client = make_client(settings, "ingest")
    result = index_records(recs, settings, client, extract_entities=True, refresh=True)
    print(f"loaded in {time.perf_counter() - t:.0f}s: {result}", flush=True)


# ------------------------------------------------------------------ queries


@dataclass
class Query:
    kind: str
    text: str
    relevant: frozenset[str]
    group: str  # what the split is keyed on (the target)
    forbidden: frozenset[str] = frozenset()  # near-miss: must not be in the top min(3, |relevant|)
    negative: bool = False

    @property
    def half(self) -> str:
        return "held-out" if zlib.crc32(self.group.encode()) % 2 else "tuning"


# Spelt-by-ear respellings (written from how the names are heard, not from the search code's
# phonetic keys): (pattern, replacement) applied at one matching position.
RESPELL: tuple[tuple[str, str], ...] = (
    ("sh", "s"),
    ("s(?=[aeiou])", "sh"),
    ("sz", "sh"),
    ("cz", "ch"),
    ("tz", "ts"),
    ("ts", "tz"),
    ("k", "c"),
    ("c(?=[aou])", "k"),
    ("ck", "k"),
    ("ph", "f"),
    ("f", "ph"),
    ("w(?=[aeiou])", "v"),
    ("v", "w"),
    ("y", "i"),
    ("i(?=[^aeiou])", "y"),
    ("ee", "i"),
    ("ou", "u"),
    ("oo", "u"),
    ("([bdfglmnprt])\\1", "\\1"),
    ("(?<=[aeiou])([lmnrt])(?=[aeiou])", "\\1\\1"),
    ("aa", "a"),
    ("(?<=[^aeiou])a(?=[^aeiou])", "aa"),
    ("(?<=[^aeiou])e(?=[^aeiou])", "ee"),
    ("ski$", "sky"),
    ("sky$", "ski"),
    ("kh", "k"),
    ("gh", "g"),
    ("x", "ks"),
    ("ie", "ee"),
    ("ei", "ie"),
    ("th", "t"),
)


def respell(name: str, rng: random.Random) -> str | None:
    low = fold(name)
    if len(low) < 3:
        return None
    out = low
    for _ in range(1 if rng.random() < 0.6 else 2):
        options = [(m, rep) for pat, rep in RESPELL for m in re.finditer(pat, out)]
        if not options:
            break
        m, rep = options[rng.randrange(len(options))]
        out = out[: m.start()] + m.expand(rep) + out[m.end() :]
    return out.title() if out != low else None


def display(fore: str, sur: str, rng: random.Random) -> str:
    sur_t = sur.title() if sur.isupper() else sur
    style = rng.random()
    if style < 0.5:
        return f"{fore} {sur_t}"
    if style < 0.8:
        return f"{fore} {sur_t.upper()}"
    return f"{fore} {sur_t}".lower()


def phone_spellings(e164: str) -> list[str]:
    """Ways officers write one number: national groupings (from phonenumbers), brackets
    round the area code, +44 with and without ``(0)``, 0044, dashes, no spaces."""
    import phonenumbers

    num = phonenumbers.parse(e164, "GB")
    national = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.NATIONAL)
    area, _, rest = national.partition(" ")
    squashed = national.replace(" ", "")
    return [
        national,
        squashed,
        f"({area}) {rest}",
        f"+44 {area[1:]} {rest}",
        f"+44 (0){area[1:]} {rest}",
        f"+44(0){squashed[1:]}",
        f"0044 {area[1:]} {rest}",
        f"{area}-{rest.replace(' ', '-')}",
        e164,
    ]


def vrm_spellings(v: str) -> list[str]:
    a, b = (v[:4], v[4:]) if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z]{3}", v) else (v[:-3], v[-3:])
    out = [v, f"{a} {b}", v.lower(), f"{a} {b}".lower()]
    if re.fullmatch(r"[A-Z]{2}\d{2}[A-Z]{3}", v):
        out.append(f"{a.title()} {b.title()}")
    return out


def postcode_spellings(pc: str) -> list[str]:
    squashed = pc.replace(" ", "")
    return [pc, squashed, pc.lower(), squashed.lower()]


def pnc_spellings(pnc: str) -> list[str]:
    year, rest = pnc.split("/")
    serial, letter = rest[:-1], rest[-1]
    return [
        pnc,
        f"{year}{serial}{letter}",
        f"{year[2:]}/{int(serial)}{letter}",
        f"{year}/{serial}{letter.lower()}",
    ]


Lookup = Callable[[dict[str, Any]], set[str]]
# Words of offence descriptions too general to stand for an offence in a query.
GENERAL = {"other", "offence", "offences", "under", "without", "section", "person", "against", "having"}


def make_queries(
    data: Data, near: list[tuple[str, str, date, str]], per_kind: int, lookup: Lookup
) -> list[Query]:
    rng = random.Random(SEED + 2)
    docs = {rid: d for rid, d in data.docs.items() if rid in data.visible}
    queries: list[Query] = []

    # ---- people, keyed by the name as written (folded), and with the DOB
    by_name: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_name_dob: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    shown: dict[tuple[str, str], tuple[str, str]] = {}
    near_ids = {n[3] for n in near}
    for rid, p in person_rows(docs):
        if rid in near_ids or not p.get(F.P_FORENAME) or p.get(F.P_ROLE) == "officer":
            continue
        key = (fold(str(p[F.P_FORENAME])), fold(str(p[F.P_SURNAME])))
        if not key[0] or not key[1]:
            continue
        by_name[key].add(rid)
        shown.setdefault(key, (str(p[F.P_FORENAME]), str(p[F.P_SURNAME])))
        if p.get(F.P_DOB):
            by_name_dob[(*key, str(p[F.P_DOB]))].add(rid)
    surnames = {k[1] for k in by_name}
    forenames_by_surname: dict[str, set[str]] = defaultdict(set)
    for f, s in by_name:
        forenames_by_surname[s].add(f)
    # The demo generator writes one person differently in different systems (nicknames,
    # misspellings); those records are the same person but not this spelling's truth. Targets
    # are therefore people recorded under one spelling only: every record with their surname
    # and date of birth spells them the same way.
    dobs_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    by_surname_dob: dict[tuple[str, str], set[str]] = defaultdict(set)
    for (f, s_, d), ids in by_name_dob.items():
        dobs_of[(f, s_)].add(d)
        by_surname_dob[(s_, d)] |= ids

    def one_spelling(k: tuple[str, str]) -> bool:
        dobs = dobs_of.get(k)
        if not dobs:
            return False
        together = set().union(*(by_surname_dob[(k[1], d)] for d in dobs))
        return together == by_name[k]

    people = sorted(k for k, ids in by_name.items() if len(ids) <= 6 and len(k[0]) > 1 and one_spelling(k))
    rng.shuffle(people)

    def take(kind: str, make: Callable[[Any], Query | None], pool: Iterable[Any]) -> None:
        n = 0
        for item in pool:
            q = make(item)
            if q is None or not q.relevant:
                continue
            queries.append(q)
            n += 1
            if n >= per_kind:
                return

    def exact(k: tuple[str, str]) -> Query:
        fore, sur = shown[k]
        return Query("exact name", display(fore, sur, rng), frozenset(by_name[k]), "|".join(k))

    def surname_first(k: tuple[str, str]) -> Query:
        fore, sur = shown[k]
        sur_t = sur.title() if sur.isupper() else sur
        text = rng.choice([f"{sur_t.upper()}, {fore}", f"{sur_t}, {fore}", f"{sur_t} {fore}"])
        return Query("surname first", text, frozenset(by_name[k]), "|".join(k))

    surnames_by_forename: dict[str, set[str]] = defaultdict(set)
    for f, s_ in by_name:
        surnames_by_forename[f].add(s_)

    def ambiguous(k: tuple[str, str]) -> bool:
        # Another person with this forename and a surname within two edits ("Rehman" and
        # "Rahman"): a respelling of either is a fair match for both, so it proves nothing.
        return any(
            o != k[1] and jellyfish.levenshtein_distance(o, k[1]) <= 2 for o in surnames_by_forename[k[0]]
        )

    def sounds_like(k: tuple[str, str]) -> Query | None:
        fore, sur = shown[k]
        if ambiguous(k):
            return None
        sur_t = sur.title() if sur.isupper() else sur
        roll = rng.random()
        new_sur = respell(sur, rng) if roll < 0.75 else None  # surname (50%), both (25%)
        new_fore = respell(fore, rng) if roll >= 0.5 else None  # forename (25%), both
        if new_sur is not None and fold(new_sur) in surnames:
            return None
        if new_fore is not None and fold(new_fore) in forenames_by_surname[k[1]]:
            return None
        if new_sur is None and new_fore is None:
            return None
        text = f"{new_fore or fore} {new_sur or sur_t}"
        return Query("sound-alike", text, frozenset(by_name[k]), "|".join(k))

    def diminutive(k: tuple[str, str]) -> Query | None:
        fore, sur = shown[k]
        options = sorted(v for v in forename_variants(fore) - {k[0]} if len(v) > 1)
        options = [v for v in options if v not in forenames_by_surname[k[1]]]
        if not options:
            return None
        sur_t = sur.title() if sur.isupper() else sur
        return Query(
            "diminutive/variant", f"{rng.choice(options).title()} {sur_t}", frozenset(by_name[k]), "|".join(k)
        )

    with_dob = sorted(
        k for k, ids in by_name_dob.items() if len(ids) <= 6 and len(k[0]) > 1 and one_spelling((k[0], k[1]))
    )
    rng.shuffle(with_dob)

    def name_dob(k: tuple[str, str, str]) -> Query:
        fore, sur = shown[(k[0], k[1])]
        d = date.fromisoformat(k[2])
        spelt = rng.choice([d.strftime("%d/%m/%Y"), d.isoformat(), d.strftime("%d.%m.%Y")])
        return Query(
            "name + DOB", f"{display(fore, sur, rng)} {spelt}", frozenset(by_name_dob[k]), "|".join(k)
        )

    take("exact name", exact, people)
    take("surname first", surname_first, people[per_kind:])
    take("sound-alike", sounds_like, people)
    take("diminutive/variant", diminutive, people)
    take("name + DOB", name_dob, with_dob)

    # ---- identifiers, truth by the canonical value on the documents (structured fields)
    def ident_kind(kind: str, label: str, spellings: Callable[[str], list[str]]) -> None:
        # Values typed into structured fields; the truth is every visible record carrying the
        # canonical value, structured or found in a narrative (a term lookup on the index).
        values = sorted({v for d in docs.values() for v in d.get(F.ENTITIES, {}).get(label.lower(), [])})
        rng.shuffle(values)
        n = 0
        for v in values:
            rel = lookup({"term": {F.entity(label): v}})
            if not 1 <= len(rel) <= 8:
                continue
            queries.append(Query(kind, rng.choice(spellings(v)), frozenset(rel), v))
            n += 1
            if n >= per_kind:
                break

    ident_kind("phone", "PHONE", phone_spellings)
    ident_kind("VRM", "VRM", vrm_spellings)
    ident_kind("postcode", "POSTCODE", postcode_spellings)
    ident_kind("PNC ID", "PNC_ID", pnc_spellings)

    # ---- free text with a year: "<offence word> <borough> <year>"
    combos: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for rid, doc in docs.items():
        year = str(doc.get(F.RECORD_DATE, ""))[:4]
        borough = doc.get(F.BOROUGH)
        if not year or not borough:
            continue
        words = {w.lower() for t in doc.get(F.OFFENCE_TEXT, []) for w in re.findall(r"[A-Za-z]+", t)}
        for word in words:
            if len(word) >= 5 and word not in GENERAL:
                combos[(word, borough, year)].add(rid)
    keys = sorted(k for k, ids in combos.items() if len(ids) <= 10)
    rng.shuffle(keys)
    for word, borough, year in keys[:per_kind]:
        queries.append(
            Query(
                "text + year",
                f"{word} {borough} {year}",
                frozenset(combos[(word, borough, year)]),
                f"{word}|{borough}|{year}",
            )
        )

    # ---- near-misses: the injected one-letter-off person must not take a top-3 place
    for fore, sur, dob, near_id in near[:per_kind]:
        key = (fold(fore), fold(sur))
        sur_t = sur.title() if sur.isupper() else sur
        add_dob = rng.random() < 0.5
        text = f"{fore} {sur_t}" + (f" {dob.strftime('%d/%m/%Y')}" if add_dob else "")
        rel = by_name_dob[(*key, dob.isoformat())] if add_dob else by_name[key]
        queries.append(Query("near-miss", text, frozenset(rel), "|".join(key), frozenset({near_id})))

    # ---- negatives: things that are not in the data
    all_vrms = {v for d in docs.values() for v in d.get(F.ENTITIES, {}).get("vrm", [])}
    all_phones = {v for d in docs.values() for v in d.get(F.ENTITIES, {}).get("phone", [])}
    all_pncs = {v for d in docs.values() for v in d.get(F.ENTITIES, {}).get("pnc_id", [])}
    syll = ["zor", "vex", "quon", "blix", "drav", "mof", "tuz", "yib", "glor", "frem", "kwat", "plin"]
    neg_rng = random.Random(SEED + 3)
    n = 0
    while n < per_kind:
        roll = neg_rng.random()
        if roll < 0.25:
            region = neg_rng.choice("LMNPRSVWY") + neg_rng.choice("ABCDEFGHJKLMNPRSTUVWXY")
            age = neg_rng.choice(["19", "20", "21", "68", "70", "71"])
            v = region + age + "".join(neg_rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3))
            if v in all_vrms or lookup({"term": {F.entity("VRM"): v}}):
                continue
            text, group = v, f"neg-vrm-{v}"
        elif roll < 0.5:
            v = f"+447700900{neg_rng.randrange(1000):03d}"
            if v in all_phones or lookup({"term": {F.entity("PHONE"): v}}):
                continue
            text, group = "0" + v[3:], f"neg-phone-{v}"
        elif roll < 0.7:
            pyear, serial = neg_rng.randint(1996, 2023), neg_rng.randint(2_000_000, 9_999_999)
            v = f"{pyear}/{serial:07d}{pnc_check_letter(pyear, serial)}"
            if v in all_pncs or lookup({"term": {F.entity("PNC_ID"): v}}):
                continue
            text, group = v, f"neg-pnc-{v}"
        else:
            sur = "".join(neg_rng.choice(syll) for _ in range(2)).title()
            fore = "".join(neg_rng.choice(syll) for _ in range(2)).title()
            if any(jellyfish.levenshtein_distance(fold(sur), s) < 3 for s in surnames):
                continue
            text, group = f"{fore} {sur}", f"neg-name-{sur}"
        queries.append(Query("negative", text, frozenset(), group, negative=True))
        n += 1
    return queries


# ------------------------------------------------------------------ scoring


@dataclass
class Outcome:
    query: Query
    top: list[str]
    total: int

    @property
    def recall(self) -> float:
        rel = self.query.relevant
        return len(rel & set(self.top[:TOP])) / min(len(rel), TOP) if rel else 1.0

    @property
    def rr(self) -> float:
        for i, rid in enumerate(self.top, start=1):
            if rid in self.query.relevant:
                return 1 / i
        return 0.0

    @property
    def passed(self) -> bool:
        q = self.query
        if q.negative:
            return self.total == 0
        if q.forbidden:
            k = min(3, len(q.relevant))
            return not (set(self.top[:k]) & q.forbidden) and self.recall == 1.0
        return self.recall == 1.0

    @property
    def score(self) -> float:
        return float(self.passed) if (self.query.negative or self.query.forbidden) else self.recall


def report(outcomes: list[Outcome], half: str) -> bool:
    print(f"\n== {half} half" + (" (decides the verdict)" if half == "held-out" else " (tuning)"))
    print(f"{'kind':<20}{'queries':>8}{'score':>8}{'recall@10':>11}{'MRR':>7}  target")
    ok = True
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        if o.query.half == half:
            kinds[o.query.kind].append(o)
    for kind, items in kinds.items():
        score = sum(o.score for o in items) / len(items)
        pos = [o for o in items if not o.query.negative]
        recall = sum(o.recall for o in pos) / len(pos) if pos else float("nan")
        mrr = sum(o.rr for o in pos) / len(pos) if pos else float("nan")
        met = score >= TARGET
        ok &= met
        measure = "pass rate" if items[0].query.negative or items[0].query.forbidden else "recall@10"
        print(
            f"{kind:<20}{len(items):>8}{score:>8.3f}{recall:>11.3f}{mrr:>7.3f}"
            f"  {measure} >= {TARGET} {'ok' if met else 'MISSED'}"
        )
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--per-kind", type=int, default=40)
    ap.add_argument("--prefix", default=None, help="index prefix (default: lantern-evalsearch-v<N>-)")
    ap.add_argument("--fresh", action="store_true", help="rebuild the index even if it can be reused")
    ap.add_argument("--show-misses", action="store_true", help="list the tuning half's misses")
    args = ap.parse_args()
    (Principal, B, parse, run_search, today_utc, intel, intel_c) = _search_api()

    base = get_settings()
    prefix = args.prefix or f"lantern-evalsearch-v{records_index.VERSION}-"
    settings = base.model_copy(
        update={
            "index_prefix": prefix,
            "state_dir": Path(base.state_dir) / "eval-search",
            "audit_head_file": Path(base.state_dir) / "eval-search" / "audit-head.log",
        }
    )
    Path(settings.state_dir).mkdir(parents=True, exist_ok=True)
    recs, data, near = build_data(args.records)
    ensure_index(settings, recs, args.fresh)

    data.units = {u for r in recs for u in r.markings.restricted_units}
    user = Principal(
        "eval-analyst",
        "Eval Analyst",
        frozenset({"analyst"}),
        frozenset(data.units),
        frozenset({*(s.value for s in Sensitivity), intel, intel_c}),
    )
    client = make_client(settings, "serving")
    today = today_utc()
    from search.gateway import SecuredRecords

    # The truth is read through the same gateway (the user's access filter applies).
    records = SecuredRecords(client, settings, user)

    def lookup(query: dict[str, Any]) -> set[str]:
        body = {"query": query, "size": 10_000, "_source": False}
        return {h["_id"] for h in records.search(body, today=today)["hits"]["hits"]}

    data.visible = lookup({"match_all": {}})

    queries = make_queries(data, near, args.per_kind, lookup)
    halves = {h: sum(1 for q in queries if q.half == h) for h in ("tuning", "held-out")}
    print(
        f"{len(data.visible):,} visible records; {len(queries)} judged queries "
        f"({halves['tuning']} tuning, {halves['held-out']} held out)"
    )

    outcomes: list[Outcome] = []
    t = time.perf_counter()
    for q in queries:
        req = B.SearchRequest(parse(q.text, today=today))
        out = run_search(client, settings, user, req, today=today)
        outcomes.append(Outcome(q, [item.id for item in out.items], out.total))
    print(f"ran {len(queries)} queries in {time.perf_counter() - t:.1f}s")

    report(outcomes, "tuning")
    verdict = report(outcomes, "held-out")
    if args.show_misses:
        print("\nmisses (tuning half only):")
        for o in outcomes:
            if o.query.half == "tuning" and not o.passed:
                print(
                    f"  [{o.query.kind}] {o.query.text!r}: found {len(o.query.relevant & set(o.top[:TOP]))}"
                    f"/{len(o.query.relevant)}, total {o.total}, rr {o.rr:.2f}"
                )
    print(f"\nEvery kind >= {TARGET} on the held-out half: {'MET' if verdict else 'NOT MET'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    raise SystemExit(main())
