"""The synthetic-people generator as it was before it was made fast: the reference its output is
pinned to.

``demo/persons.py`` draws the same random numbers in the same order with cheaper calls (Faker's
draws taken from its data directly, weights accumulated once, integers drawn from the bits as
``random.Random`` does); the held-out evaluation (scripts/eval_persons.py) and the tests depend
on its exact output, so ``test_demo_persons.py`` compares the two mention for mention. This file
is the original code, kept verbatim apart from the imports; change it only together with an
intended change of the generated data.
"""

from __future__ import annotations

import random
import string
from dataclasses import replace
from datetime import date, timedelta

from anyascii import anyascii

from demo.persons import (
    COMMON_NAMES,
    CULTURE_WEIGHTS,
    FORENAMES,
    LOCALES,
    ROLE_FOR_SOURCE,
    SOURCES,
    SURNAMES,
    LabelledMention,
    TruePerson,
)
from entity_extraction.identifiers import pnc_check_letter
from persons.features import Mention


class Generator:
    def __init__(self, seed: int, prefix: str = "") -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self.fake = Faker("en_GB")
        self.fake.seed_instance(seed)
        self._n = 0
        self.prefix = prefix
        self.locales = {}
        for culture, loc in LOCALES.items():
            f = Faker(loc)
            f.seed_instance(seed)
            self.locales[culture] = f
        self._pnc_serial = self.rng.randint(1000, 50_000)
        self.hostels = [
            (f"{self.rng.randint(1, 300)} {self.fake.street_name()}", self.fake.postcode()) for _ in range(6)
        ]

    # ---------------------------------------------------------------- people
    def _pid(self) -> str:
        self._n += 1
        return f"{self.prefix}P{self._n:07d}"

    def _pnc(self, dob: date) -> str:
        self._pnc_serial += self.rng.randint(1, 40)
        year = min(dob.year + self.rng.randint(14, 30), 2025)
        return f"{year}/{self._pnc_serial:07d}{pnc_check_letter(year, self._pnc_serial)}"

    def _cro(self) -> str:
        return (
            f"{self.rng.randint(1, 999_999):06d}/{self.rng.randint(0, 99):02d}{self.rng.choice('ABCDEFGHJK')}"
        )

    def _address(self) -> tuple[str, str]:
        return (f"{self.rng.randint(1, 250)} {self.fake.street_name()}", self.fake.postcode())

    def _phone(self) -> str:
        return f"07700 900{self.rng.randint(0, 999):03d}"

    def _vrm(self) -> str:
        r = self.rng
        return (
            f"{r.choice(string.ascii_uppercase)}{r.choice(string.ascii_uppercase)}{r.randint(10, 74)} "
            f"{''.join(r.choice('ABCDEFGHJKLMNPRSTUVWXYZ') for _ in range(3))}"
        )

    def _names(self, culture: str, gender: str) -> tuple[str, list[str], str, list[str]]:
        r = self.rng
        if culture == "en":
            if r.random() < 0.5:
                fore, fvars = r.choice(FORENAMES["en"][gender])
            else:
                fore = self.fake.first_name_male() if gender == "male" else self.fake.first_name_female()
                fvars = []
            sur = self.fake.last_name()
            svars: list[str] = []
            if r.random() < 0.04:
                other = self.fake.last_name()
                if other != sur:
                    sur = f"{sur}-{other}"
            return fore, list(fvars), sur, svars
        fore, fvars = r.choice(FORENAMES[culture][gender])
        sur, svars = r.choice(SURNAMES[culture])
        loc = self.locales.get(culture)
        # Half from the community's Faker locale, so names collide only as often as they do.
        if loc is not None and r.random() < 0.5:
            fore = loc.first_name_male() if gender == "male" else loc.first_name_female()
            fvars = [anyascii(fore)] if anyascii(fore) != fore else []
        if loc is not None and r.random() < 0.5:
            sur = loc.last_name()
            svars = [anyascii(sur)] if anyascii(sur) != sur else []
        return fore, list(fvars), sur, list(svars)

    def person(self, culture: str | None = None, kind: str = "plain") -> TruePerson:
        r = self.rng
        culture = culture or r.choices(list(CULTURE_WEIGHTS), weights=list(CULTURE_WEIGHTS.values()))[0]
        gender = r.choice(["male", "female"])
        fore, fvars, sur, svars = self._names(culture, gender)
        dob = date(1950, 1, 1) + timedelta(days=r.randint(0, 365 * 58))
        p = TruePerson(
            pid=self._pid(),
            culture=culture,
            gender=gender,
            forename=fore,
            forename_variants=fvars,
            surname=sur,
            surname_variants=svars,
            dob=dob,
            kind=kind,
            middle=self.fake.first_name_male() if (culture == "en" and r.random() < 0.3) else None,
        )
        if culture == "vi":
            p.middle = "Thi" if gender == "female" else "Van"
        p.pnc = self._pnc(dob) if r.random() < 0.55 else None
        p.cro = self._cro() if p.pnc and r.random() < 0.5 else None
        p.addresses = [self._address() for _ in range(r.choice([1, 1, 1, 2, 3]))]
        p.phones = [self._phone() for _ in range(r.choice([0, 0, 1, 1, 1, 2, 3]))]
        p.vrms = [self._vrm() for _ in range(r.choice([0, 0, 0, 0, 1, 1, 2]))]
        return p

    def population(self, n_people: int) -> list[TruePerson]:
        r = self.rng
        people: list[TruePerson] = []
        while len(people) < n_people:
            roll = r.random()
            p = self.person()
            if roll < 0.04:  # father and son: same name, same address, different DOB
                p.kind = "father"
                son = replace(
                    p,
                    pid=self._pid(),
                    kind="son",
                    dob=p.dob + timedelta(days=r.randint(18 * 365, 36 * 365)),
                    pnc=None,
                    cro=None,
                    addresses=[p.addresses[0]],
                    phones=[self._phone()] if r.random() < 0.5 else [],
                    vrms=[],
                    middle=p.middle if r.random() < 0.5 else None,
                )
                if son.dob > date(2010, 1, 1):
                    son.dob = date(2009, r.randint(1, 12), r.randint(1, 28))
                if r.random() < 0.5:
                    son.pnc = self._pnc(son.dob)
                people += [p, son]
            elif roll < 0.07:  # twins: same surname, DOB and address, different forename
                p.kind = "twin"
                for _ in range(10):
                    g = r.choice(["male", "female"])
                    fore, fvars, _s, _v = self._names(p.culture, g)
                    if fore != p.forename and fore not in p.forename_variants:
                        break
                twin = replace(
                    p,
                    pid=self._pid(),
                    gender=g,
                    forename=fore,
                    forename_variants=fvars,
                    pnc=self._pnc(p.dob) if r.random() < 0.5 else None,
                    cro=None,
                    addresses=[p.addresses[0]],
                    phones=[],
                    vrms=[],
                    middle=None,
                )
                people += [p, twin]
            elif roll < 0.10:  # siblings a few years apart at one address
                p.kind = "sibling"
                g = r.choice(["male", "female"])
                fore, fvars, _s, _v = self._names(p.culture, g)
                sib = replace(
                    p,
                    pid=self._pid(),
                    gender=g,
                    forename=fore,
                    forename_variants=fvars,
                    dob=p.dob + timedelta(days=r.choice([-1, 1]) * r.randint(400, 2500)),
                    pnc=None,
                    cro=None,
                    addresses=[p.addresses[0]],
                    phones=[],
                    vrms=[],
                    middle=None,
                )
                people += [p, sib]
            elif roll < 0.15:  # a very common name, different DOB
                fore, sur = r.choice(COMMON_NAMES)
                p.forename, p.surname, p.forename_variants, p.surname_variants = fore, sur, [], []
                p.kind = "common"
                p.gender = "female" if fore == "Sarah" else "male"
                people.append(p)
            elif roll < 0.20:  # lives in a hostel shared with many others
                p.kind = "hostel"
                p.addresses = [r.choice(self.hostels)]
                people.append(p)
            else:
                people.append(p)
        return people[:n_people]

    # ---------------------------------------------------------------- keying
    def _typo(self, s: str) -> str:
        r = self.rng
        if len(s) < 4:
            return s
        i = r.randint(1, len(s) - 2)
        op = r.choice(["sub", "del", "swap", "dup"])
        if op == "sub":
            return s[:i] + r.choice("aeioulnrst") + s[i + 1 :]
        if op == "del":
            return s[:i] + s[i + 1 :]
        if op == "swap":
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        return s[:i] + s[i] + s[i:]

    def _dob_error(self, d: date, errors: list[str]) -> date | None:
        r = self.rng
        kind = r.choice(["swap", "digit", "default", "year", "digit"])
        if kind == "swap" and d.day <= 12 and d.day != d.month:
            errors.append("dob_swapped")
            return date(d.year, d.day, d.month)
        if kind == "default":
            errors.append("dob_default")
            return date(d.year, 1, 1)
        if kind == "year":
            errors.append("dob_year")
            return date(d.year + r.choice([-1, 1]), d.month, min(d.day, 28))
        # one digit off in day, month or year (what a keyboard slip produces)
        for _ in range(10):
            s = list(d.isoformat())
            pos = r.choice([2, 3, 5, 6, 8, 9])
            s[pos] = str((int(s[pos]) + r.choice([-1, 1])) % 10)
            try:
                nd = date.fromisoformat("".join(s))
            except ValueError:
                continue
            if date(1900, 1, 1) <= nd <= date(2025, 12, 31) and nd != d:
                errors.append("dob_digit")
                return nd
        return d

    def mention(self, p: TruePerson) -> LabelledMention:
        r = self.rng
        source = r.choices(list(SOURCES), weights=[3, 2, 4, 2])[0]
        p_typo, p_var, p_dob_missing, p_dob_err, p_pnc, p_addr = SOURCES[source]
        role = r.choice(ROLE_FOR_SOURCE[source])
        if role in ("victim", "witness"):
            p_pnc = 0.05
        errors: list[str] = []
        fore: str | None = p.forename
        sur = p.surname
        if p.forename_variants and r.random() < p_var:
            fore = r.choice(p.forename_variants)
            errors.append("forename_variant")
        elif r.random() < p_typo:
            fore = self._typo(p.forename)
            errors.append("forename_typo")
        elif r.random() < 0.02:
            fore = p.forename[0]
            errors.append("forename_initial")
        if p.surname_variants and r.random() < p_var:
            sur = r.choice(p.surname_variants)
            errors.append("surname_variant")
        elif "-" in sur and r.random() < 0.4:
            sur = r.choice(sur.split("-"))
            errors.append("double_barrel_half")
        elif r.random() < p_typo:
            sur = self._typo(p.surname)
            errors.append("surname_typo")
        if r.random() < 0.25:
            # Many systems drop diacritics on the way in.
            fore = anyascii(fore) if fore else fore
            sur = anyascii(sur)
        middle = p.middle if r.random() < 0.5 else None
        if (p.culture == "vi" and r.random() < 0.3) or r.random() < 0.02:
            fore, sur = sur, fore or sur
            errors.append("name_swap")
        dob: date | None = p.dob
        if r.random() < p_dob_missing:
            dob = None
            errors.append("dob_missing")
        elif r.random() < p_dob_err:
            dob = self._dob_error(p.dob, errors)
        pnc = p.pnc if (p.pnc and r.random() < p_pnc) else None
        if pnc and r.random() < 0.3:
            pnc = f"{pnc[2:4]}/{int(pnc[5:12])}{pnc[12]}"  # short form 07/3649X
        cro = p.cro if (p.cro and r.random() < p_pnc * 0.6) else None
        addr = None
        if r.random() < p_addr:
            addr = p.addresses[0] if r.random() < 0.7 else r.choice(p.addresses)
        phones = (r.choice(p.phones),) if (p.phones and r.random() < 0.4) else ()
        vrms = (r.choice(p.vrms),) if (p.vrms and r.random() < 0.3) else ()
        gender = p.gender if r.random() < 0.85 else None
        self._n += 1
        rec = f"{self.prefix}rec-{self._n:08d}"
        m = Mention(
            mention_id=f"{self.prefix}m-{self._n:08d}",
            record_id=rec,
            role=role,
            surname=sur or p.surname,
            forename=fore,
            middle_names=middle,
            dob=dob,
            gender=gender,
            pnc_id=pnc,
            cro_no=cro,
            postcode=addr[1] if addr else None,
            address_line=addr[0] if addr else None,
            phones=phones,
            vrms=vrms,
            record_date=(date(2015, 1, 1) + timedelta(days=r.randint(0, 3650))).isoformat(),
        )
        return LabelledMention(m, p.pid, p.kind, tuple(errors))

    def mentions_for(self, people: list[TruePerson], mean_mentions: float = 3.0) -> list[LabelledMention]:
        r = self.rng
        out: list[LabelledMention] = []
        for p in people:
            # Many people appear once; a few (prolific offenders) a dozen times.
            k = 1 if r.random() < 0.35 else min(1 + int(r.expovariate(1 / (mean_mentions - 1))) + 1, 15)
            out += [self.mention(p) for _ in range(k)]
        r.shuffle(out)
        return out


def generate(n_mentions: int, seed: int, prefix: str = "") -> list[LabelledMention]:
    """``n_mentions`` labelled mentions; ``prefix`` keeps ids apart from another generation's."""
    g = Generator(seed, prefix)
    people = g.population(max(2, int(n_mentions / 2.9)))
    ms = g.mentions_for(people)
    return ms[:n_mentions]
