"""Labelled synthetic people for evaluating person resolution (who is who is known).

Each synthetic person is keyed by several source systems, each with its own habits: custody
is careful and usually has the PNC ID, crime reports key what a victim says, intelligence is
sparse and spelt by ear. The hard cases a force meets are generated on purpose: keying slips,
day/month-swapped and one-digit DOBs, 1 January defaults, missing DOBs, transliterations,
diacritics, diminutives, surname/forename swaps, double-barrelled names, father and son with
the same name and address, twins, siblings, hostels shared by many people, and very common
names. Faker (en_GB) supplies English names and addresses; the other communities' names are
curated below with their real variant spellings.

Used by ``make eval-persons``, ``make bench-persons`` and the tests; like the rest of demo/
it needs the dev extra (Faker), and nothing in the product imports it.
"""

from __future__ import annotations

import gc
import random
import string
from bisect import bisect
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TypeVar

from anyascii import anyascii

from entity_extraction.identifiers import pnc_check_letter
from persons.features import Mention

if TYPE_CHECKING:
    from faker import Faker

T = TypeVar("T")

# (canonical, [variants as other systems key them]) -------------------------------------
# Variants are spellings seen for the same person: transliterations, spelling by ear,
# diminutives, diacritics dropped.
FORENAMES: dict[str, dict[str, list[tuple[str, list[str]]]]] = {
    "en": {
        "male": [
            ("William", ["Bill", "Will", "Billy"]),
            ("Robert", ["Bob", "Rob", "Bobby"]),
            ("James", ["Jim", "Jimmy", "Jamie"]),
            ("Thomas", ["Tom", "Tommy"]),
            ("Michael", ["Mike", "Mick"]),
            ("Richard", ["Rich", "Dick"]),
            ("Daniel", ["Dan", "Danny"]),
            ("Christopher", ["Chris"]),
            ("Anthony", ["Tony"]),
            ("Joseph", ["Joe"]),
            ("Edward", ["Ed", "Eddie", "Ted"]),
            ("Alexander", ["Alex"]),
            ("Matthew", ["Matt"]),
            ("Jonathan", ["Jon"]),
            ("Stephen", ["Steven", "Steve"]),
            ("Liam", []),
            ("Connor", ["Conor"]),
            ("Callum", ["Calum"]),
            ("Kieran", ["Ciaran"]),
            ("Jack", []),
            ("Harry", []),
            ("Oliver", ["Ollie"]),
        ],
        "female": [
            ("Elizabeth", ["Liz", "Beth", "Lizzie"]),
            ("Margaret", ["Maggie", "Peggy"]),
            ("Katherine", ["Kate", "Katie", "Catherine"]),
            ("Rebecca", ["Becky"]),
            ("Jennifer", ["Jenny"]),
            ("Victoria", ["Vicky"]),
            ("Samantha", ["Sam"]),
            ("Abigail", ["Abbie"]),
            ("Jessica", ["Jess"]),
            ("Charlotte", ["Charlie"]),
            ("Emma", []),
            ("Chloe", []),
            ("Leanne", ["Leann"]),
            ("Stephanie", ["Steph"]),
            ("Natalie", ["Nat"]),
            ("Amy", ["Aimee"]),
        ],
    },
    "pl": {
        "male": [
            ("Łukasz", ["Lukasz"]),
            ("Tomasz", ["Tomek"]),
            ("Wojciech", ["Wojtek"]),
            ("Krzysztof", ["Krzys"]),
            ("Paweł", ["Pawel"]),
            ("Grzegorz", ["Grzesiek"]),
        ],
        "female": [
            ("Małgorzata", ["Gosia", "Malgorzata"]),
            ("Katarzyna", ["Kasia"]),
            ("Agnieszka", ["Aga"]),
            ("Joanna", ["Asia"]),
        ],
    },
    "ro": {
        "male": [
            ("Nicolae", ["Nicu", "Nicolai"]),
            ("Ionuț", ["Ionut"]),
            ("Gheorghe", ["George"]),
            ("Mihai", ["Mihail"]),
            ("Ștefan", ["Stefan"]),
        ],
        "female": [("Andreea", ["Andrea"]), ("Ioana", []), ("Mădălina", ["Madalina"])],
    },
    "ie": {
        "male": [
            ("Pádraig", ["Padraig", "Patrick"]),
            ("Seán", ["Sean", "Shaun"]),
            ("Eoin", ["Owen"]),
            ("Oisín", ["Oisin", "Osheen"]),
            ("Ciarán", ["Ciaran", "Kieran"]),
        ],
        "female": [
            ("Siobhán", ["Siobhan", "Shivaun"]),
            ("Sinéad", ["Sinead", "Shinead"]),
            ("Niamh", ["Neve", "Neeve"]),
            ("Aoife", ["Eefa"]),
            ("Gráinne", ["Grainne", "Grania"]),
        ],
    },
    "tr": {
        "male": [
            ("Mehmet", ["Memo", "Mehmed"]),
            ("Çağlar", ["Caglar"]),
            ("Yusuf", ["Yousuf"]),
            ("Hüseyin", ["Huseyin", "Hussein"]),
        ],
        "female": [("Ayşe", ["Ayse", "Aysha"]), ("Gülşen", ["Gulsen"]), ("Özlem", ["Ozlem"])],
    },
    "so": {
        "male": [
            ("Mohamed", ["Mohammed", "Muhammad", "Mohamud", "Mo"]),
            ("Abdirahman", ["Abdulrahman", "Abdi"]),
            ("Abdullahi", ["Abdilahi"]),
            ("Ahmed", ["Ahmad", "Axmed"]),
        ],
        "female": [
            ("Fadumo", ["Fatuma", "Faduma"]),
            ("Hodan", []),
            ("Amina", ["Aamina"]),
            ("Khadija", ["Khadra", "Hadija"]),
        ],
    },
    "yo": {
        "male": [
            ("Ayodeji", ["Deji"]),
            ("Oluwaseun", ["Seun"]),
            ("Adebayo", ["Bayo"]),
            ("Oluwatobi", ["Tobi"]),
        ],
        "female": [("Folasade", ["Sade"]), ("Oluwakemi", ["Kemi"]), ("Adenike", ["Nike"])],
    },
    "vi": {
        "male": [("Minh", []), ("Tuấn", ["Tuan"]), ("Đức", ["Duc"])],
        "female": [("Lan", []), ("Hương", ["Huong"]), ("Thảo", ["Thao"])],
    },
    "pt": {
        "male": [("João", ["Joao"]), ("Gonçalo", ["Goncalo"]), ("Luís", ["Luis"])],
        "female": [("Conceição", ["Conceicao"]), ("Inês", ["Ines"])],
    },
}

SURNAMES: dict[str, list[tuple[str, list[str]]]] = {
    "pl": [
        ("Wiśniewski", ["Wisniewski", "Visnevski"]),
        ("Wójcik", ["Wojcik"]),
        ("Kowalczyk", ["Kovalchik"]),
        ("Zieliński", ["Zielinski"]),
        ("Szymański", ["Szymanski", "Shimanski"]),
        ("Lewandowski", []),
    ],
    "ro": [
        ("Popescu", []),
        ("Ionescu", []),
        ("Țurcanu", ["Turcanu", "Tzurcanu"]),
        ("Stănescu", ["Stanescu"]),
        ("Dumitrescu", []),
    ],
    "ie": [
        ("O'Sullivan", ["OSullivan", "O Sullivan"]),
        ("Kavanagh", ["Cavanagh"]),
        ("McCarthy", ["MacCarthy"]),
        ("O'Donoghue", ["O'Donohue", "Donoghue"]),
        ("Ní Bhriain", ["Ni Bhriain"]),
    ],
    "tr": [
        ("Yılmaz", ["Yilmaz"]),
        ("Öztürk", ["Ozturk"]),
        ("Çelik", ["Celik", "Chelik"]),
        ("Şahin", ["Sahin"]),
    ],
    "so": [
        ("Hassan", ["Hasan", "Xasan"]),
        ("Warsame", ["Warsane"]),
        ("Farah", ["Faarah"]),
        ("Abdullahi", ["Abdilahi"]),
        ("Osman", ["Cusmaan"]),
    ],
    "yo": [("Adeyemi", []), ("Ogunleye", []), ("Balogun", []), ("Oyelaran", [])],
    "vi": [("Nguyễn", ["Nguyen"]), ("Trần", ["Tran"]), ("Phạm", ["Pham"]), ("Lê", ["Le"])],
    "pt": [("Gonçalves", ["Goncalves"]), ("Conceição", ["Conceicao"]), ("Magalhães", ["Magalhaes"])],
}

CULTURE_WEIGHTS = {
    "en": 0.62,
    "pl": 0.06,
    "ro": 0.05,
    "ie": 0.06,
    "tr": 0.04,
    "so": 0.06,
    "yo": 0.05,
    "vi": 0.03,
    "pt": 0.03,
}

COMMON_NAMES = [
    ("John", "Smith"),
    ("David", "Jones"),
    ("Michael", "Williams"),
    ("Paul", "Brown"),
    ("Mohamed", "Ali"),
    ("Sarah", "Taylor"),
]

SOURCES = {
    # source: (p_typo, p_variant, p_dob_missing, p_dob_error, p_pnc_if_known, p_address)
    "custody": (0.03, 0.08, 0.02, 0.06, 0.9, 0.8),
    "case": (0.02, 0.05, 0.04, 0.04, 0.6, 0.6),
    "crime": (0.06, 0.18, 0.12, 0.10, 0.15, 0.6),
    "intel": (0.08, 0.25, 0.25, 0.10, 0.3, 0.4),
}
LOCALES = {
    "pl": "pl_PL",
    "ro": "ro_RO",
    "ie": "ga_IE",
    "tr": "tr_TR",
    "yo": "yo_NG",
    "vi": "vi_VN",
    "pt": "pt_PT",
}
ROLE_FOR_SOURCE = {
    "custody": ["detainee"],
    "case": ["defendant", "witness"],
    "crime": ["suspect", "victim", "witness"],
    "intel": ["subject"],
}


@dataclass
class TruePerson:
    pid: str
    culture: str
    gender: str
    forename: str
    forename_variants: list[str]
    surname: str
    surname_variants: list[str]
    dob: date
    middle: str | None = None
    pnc: str | None = None
    cro: str | None = None
    addresses: list[tuple[str, str]] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    vrms: list[str] = field(default_factory=list)
    kind: str = "plain"  # plain | father | son | twin | sibling | common | hostel


@dataclass(frozen=True)
class LabelledMention:
    mention: Mention
    pid: str
    kind: str
    errors: tuple[str, ...]


# ---------------------------------------------------------------- draws
# The output for a seed is pinned (scripts/eval_persons.py's held-out verdict and the tests
# depend on it; tests/demo_data/test_demo_persons.py pins it to the original code), so every draw below
# takes the same numbers from the same stream, in the same order, as ``random.Random`` and
# Faker's providers do; what is saved is their per-call overhead (a million mentions make
# ~15 million draws).
_CULTURES = tuple(CULTURE_WEIGHTS)
_CULTURE_CUM = list(accumulate(CULTURE_WEIGHTS.values()))
_SOURCES = tuple(SOURCES)
_SOURCE_CUM = list(accumulate([3, 2, 4, 2]))
_GENDERS = ("male", "female")
_N_ADDRESSES = (1, 1, 1, 2, 3)
_N_PHONES = (0, 0, 1, 1, 1, 2, 3)
_N_VRMS = (0, 0, 0, 0, 1, 1, 2)
_DOB_ERRORS = ("swap", "digit", "default", "year", "digit")
_TYPO_OPS = ("sub", "del", "swap", "dup")
_DIGIT_POSITIONS = (2, 3, 5, 6, 8, 9)
_PLUS_MINUS = (-1, 1)
_VRM_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_PHONES = tuple(f"07700 900{i:03d}" for i in range(1000))
_RECORD_DATES = tuple((date(2015, 1, 1) + timedelta(days=d)).isoformat() for d in range(3651))
_DOB_START = date(1950, 1, 1).toordinal()


def _below(bits: Callable[[int], int], n: int) -> int:
    """``random.Random._randbelow`` (CPython's, with getrandbits): what ``choice``, ``randint``
    and ``randrange`` draw with."""
    k = n.bit_length()
    r = bits(k)
    while r >= n:
        r = bits(k)
    return r


def _weighted(rnd: Callable[[], float], population: Sequence[T], cum: Sequence[float]) -> T:
    """``random.choices(population, cum_weights=cum)[0]``: the same float, the same bisection."""
    return population[bisect(cum, rnd() * (cum[-1] + 0.0), 0, len(population) - 1)]


_ascii = lru_cache(maxsize=1 << 16)(anyascii)


class _FakerDraws:
    """The few Faker methods used here, drawing from the Faker's own random stream as its
    providers do (``BaseProvider.random_element``: ``random.choice`` of a sequence,
    ``random.choices`` with the weights of an OrderedDict), without the proxy, the provider
    lookup, the weights accumulated on every call and the template parser. A method whose
    provider overrides the base implementation read here is left to Faker."""

    def __init__(self, fake: Faker) -> None:
        from faker.providers import BaseProvider
        from faker.providers import address as fa
        from faker.providers import person as fp
        from faker.providers.address import en_GB as fa_gb

        self._bits = fake.random.getrandbits
        self._rnd = fake.random.random
        self._base_element = BaseProvider.random_element, BaseProvider.random_elements
        # Base implementations that are a single random_element of one attribute.
        simple = {
            "first_name": (fp.Provider.first_name, "first_names"),
            "last_name": (fp.Provider.last_name, "last_names"),
            "first_name_male": (fp.Provider.first_name_male, "first_names_male"),
            "first_name_female": (fp.Provider.first_name_female, "first_names_female"),
            "street_suffix": (fa.Provider.street_suffix, "street_suffixes"),
        }
        draws: dict[str, Callable[[], str]] = {}
        for name, (base, attr) in simple.items():
            draw = self._simple(fake, name, base, attr)
            if draw is not None:
                draws[name] = draw
        self.first_name_male: Callable[[], str] = draws.get("first_name_male", fake.first_name_male)
        self.first_name_female: Callable[[], str] = draws.get("first_name_female", fake.first_name_female)
        self.last_name: Callable[[], str] = draws.get("last_name", fake.last_name)
        self.street_name: Callable[[], str] = self._street_name(fake, fa.Provider.street_name, draws)
        self.postcode: Callable[[], str] = self._postcode(fake, fa_gb.Provider.postcode)

    def _provider(self, fake: Faker, name: str, base: object) -> Any:
        prov = getattr(fake, name).__self__
        cls = type(prov)
        if getattr(cls, name) is not base or (cls.random_element, cls.random_elements) != self._base_element:
            return None
        return prov

    def _element(self, prov: Any, elements: Any) -> Callable[[], str] | None:
        bits, rnd = self._bits, self._rnd
        if isinstance(elements, dict):
            if not isinstance(elements, OrderedDict):
                return None  # Faker refuses it: leave it to Faker
            keys = tuple(elements)
            if not prov.__use_weighting__:
                return lambda: keys[_below(bits, len(keys))]
            cum = list(accumulate(elements.values()))
            return lambda: _weighted(rnd, keys, cum)
        if not isinstance(elements, (tuple, list, str)) or not elements:
            return None
        seq = elements
        n = len(seq)
        return lambda: seq[_below(bits, n)]

    def _simple(self, fake: Faker, name: str, base: object, attr: str) -> Callable[[], str] | None:
        prov = self._provider(fake, name, base)
        if prov is None or not hasattr(prov, attr):
            return None
        return self._element(prov, getattr(prov, attr))

    def _street_name(
        self, fake: Faker, base: object, draws: dict[str, Callable[[], str]]
    ) -> Callable[[], str]:
        from faker.generator import _re_token

        prov = self._provider(fake, "street_name", base)
        formats = getattr(prov, "street_name_formats", None)
        if prov is None or not isinstance(formats, (tuple, list)) or not formats:
            return fake.street_name
        # Each format as its literal text and the draws of its tokens, in the parser's order.
        compiled: list[list[str | Callable[[], str]]] = []
        for fmt in formats:
            parts: list[str | Callable[[], str]] = []
            at = 0
            for m in _re_token.finditer(fmt):
                if m.group(2) or m.group(1) not in draws:
                    return fake.street_name
                parts += [fmt[at : m.start()], draws[m.group(1)]]
                at = m.end()
            parts.append(fmt[at:])
            compiled.append(parts)
        bits, n = self._bits, len(compiled)

        def street_name() -> str:
            return "".join(p if isinstance(p, str) else p() for p in compiled[_below(bits, n)])

        return street_name

    def _postcode(self, fake: Faker, base: object) -> Callable[[], str]:
        prov = self._provider(fake, "postcode", base)
        if prov is None:
            return fake.postcode
        sets = prov._postcode_sets
        formats = prov.postcode_formats
        if not isinstance(formats, (tuple, list)) or not all(
            isinstance(sets[c], (tuple, list, str)) and sets[c] for f in formats for c in f
        ):
            return fake.postcode
        # Each placeholder's set with its size and bit count: ``_below`` inlined (a postcode is
        # eight draws, a third of a person's).
        patterns = [[(sets[c], len(sets[c]), len(sets[c]).bit_length()) for c in f] for f in formats]
        bits, n = self._bits, len(patterns)

        def postcode() -> str:
            out = []
            for s, size, k in patterns[_below(bits, n)]:
                r = bits(k)
                while r >= size:
                    r = bits(k)
                out.append(s[r])
            return "".join(out)

        return postcode


class Generator:
    def __init__(self, seed: int, prefix: str = "") -> None:
        from faker import Faker

        self.rng = random.Random(seed)
        self._rnd = self.rng.random
        self._bits = self.rng.getrandbits
        self.fake = Faker("en_GB")
        self.fake.seed_instance(seed)
        self._n = 0
        self.prefix = prefix
        self.locales = {}
        for culture, loc in LOCALES.items():
            f = Faker(loc)
            f.seed_instance(seed)
            self.locales[culture] = f
        self._fake = _FakerDraws(self.fake)
        self._loc = {culture: _FakerDraws(f) for culture, f in self.locales.items()}
        self._pnc_serial = self._randint(1000, 50_000)
        self.hostels = [
            (f"{self._randint(1, 300)} {self._fake.street_name()}", self._fake.postcode()) for _ in range(6)
        ]

    # ---------------------------------------------------------------- draws
    def _randint(self, a: int, b: int) -> int:
        """``self.rng.randint(a, b)``."""
        return a + _below(self._bits, b - a + 1)

    def _choice(self, seq: Sequence[T]) -> T:
        """``self.rng.choice(seq)``."""
        return seq[_below(self._bits, len(seq))]

    # ---------------------------------------------------------------- people
    def _pid(self) -> str:
        self._n += 1
        return f"{self.prefix}P{self._n:07d}"

    def _pnc(self, dob: date) -> str:
        self._pnc_serial += self._randint(1, 40)
        year = min(dob.year + self._randint(14, 30), 2025)
        return f"{year}/{self._pnc_serial:07d}{pnc_check_letter(year, self._pnc_serial)}"

    def _cro(self) -> str:
        return f"{self._randint(1, 999_999):06d}/{self._randint(0, 99):02d}{self._choice('ABCDEFGHJK')}"

    def _address(self) -> tuple[str, str]:
        return (f"{self._randint(1, 250)} {self._fake.street_name()}", self._fake.postcode())

    def _phone(self) -> str:
        return _PHONES[_below(self._bits, 1000)]

    def _vrm(self) -> str:
        bits, up = self._bits, string.ascii_uppercase
        return (
            f"{up[_below(bits, 26)]}{up[_below(bits, 26)]}{10 + _below(bits, 65)} "
            f"{''.join(_VRM_LETTERS[_below(bits, 23)] for _ in range(3))}"
        )

    def _names(self, culture: str, gender: str) -> tuple[str, list[str], str, list[str]]:
        rnd = self._rnd
        if culture == "en":
            fake = self._fake
            if rnd() < 0.5:
                fore, fvars = self._choice(FORENAMES["en"][gender])
            else:
                fore = fake.first_name_male() if gender == "male" else fake.first_name_female()
                fvars = []
            sur = fake.last_name()
            svars: list[str] = []
            if rnd() < 0.04:
                other = fake.last_name()
                if other != sur:
                    sur = f"{sur}-{other}"
            return fore, list(fvars), sur, svars
        fore, fvars = self._choice(FORENAMES[culture][gender])
        sur, svars = self._choice(SURNAMES[culture])
        loc = self._loc.get(culture)
        # Half from the community's Faker locale, so names collide only as often as they do.
        if loc is not None and rnd() < 0.5:
            fore = loc.first_name_male() if gender == "male" else loc.first_name_female()
            fvars = [_ascii(fore)] if _ascii(fore) != fore else []
        if loc is not None and rnd() < 0.5:
            sur = loc.last_name()
            svars = [_ascii(sur)] if _ascii(sur) != sur else []
        return fore, list(fvars), sur, list(svars)

    def person(self, culture: str | None = None, kind: str = "plain") -> TruePerson:
        rnd = self._rnd
        culture = culture or _weighted(rnd, _CULTURES, _CULTURE_CUM)
        gender = self._choice(_GENDERS)
        fore, fvars, sur, svars = self._names(culture, gender)
        dob = date.fromordinal(_DOB_START + _below(self._bits, 365 * 58 + 1))
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
            middle=self._fake.first_name_male() if (culture == "en" and rnd() < 0.3) else None,
        )
        if culture == "vi":
            p.middle = "Thi" if gender == "female" else "Van"
        p.pnc = self._pnc(dob) if rnd() < 0.55 else None
        p.cro = self._cro() if p.pnc and rnd() < 0.5 else None
        p.addresses = [self._address() for _ in range(self._choice(_N_ADDRESSES))]
        p.phones = [self._phone() for _ in range(self._choice(_N_PHONES))]
        p.vrms = [self._vrm() for _ in range(self._choice(_N_VRMS))]
        return p

    def population(self, n_people: int) -> list[TruePerson]:
        rnd = self._rnd
        people: list[TruePerson] = []
        while len(people) < n_people:
            roll = rnd()
            p = self.person()
            if roll < 0.04:  # father and son: same name, same address, different DOB
                p.kind = "father"
                son = replace(
                    p,
                    pid=self._pid(),
                    kind="son",
                    dob=p.dob + timedelta(days=self._randint(18 * 365, 36 * 365)),
                    pnc=None,
                    cro=None,
                    addresses=[p.addresses[0]],
                    phones=[self._phone()] if rnd() < 0.5 else [],
                    vrms=[],
                    middle=p.middle if rnd() < 0.5 else None,
                )
                if son.dob > date(2010, 1, 1):
                    son.dob = date(2009, self._randint(1, 12), self._randint(1, 28))
                if rnd() < 0.5:
                    son.pnc = self._pnc(son.dob)
                people += [p, son]
            elif roll < 0.07:  # twins: same surname, DOB and address, different forename
                p.kind = "twin"
                for _ in range(10):
                    g = self._choice(_GENDERS)
                    fore, fvars, _s, _v = self._names(p.culture, g)
                    if fore != p.forename and fore not in p.forename_variants:
                        break
                twin = replace(
                    p,
                    pid=self._pid(),
                    gender=g,
                    forename=fore,
                    forename_variants=fvars,
                    pnc=self._pnc(p.dob) if rnd() < 0.5 else None,
                    cro=None,
                    addresses=[p.addresses[0]],
                    phones=[],
                    vrms=[],
                    middle=None,
                )
                people += [p, twin]
            elif roll < 0.10:  # siblings a few years apart at one address
                p.kind = "sibling"
                g = self._choice(_GENDERS)
                fore, fvars, _s, _v = self._names(p.culture, g)
                sib = replace(
                    p,
                    pid=self._pid(),
                    gender=g,
                    forename=fore,
                    forename_variants=fvars,
                    dob=p.dob + timedelta(days=self._choice(_PLUS_MINUS) * self._randint(400, 2500)),
                    pnc=None,
                    cro=None,
                    addresses=[p.addresses[0]],
                    phones=[],
                    vrms=[],
                    middle=None,
                )
                people += [p, sib]
            elif roll < 0.15:  # a very common name, different DOB
                fore, sur = self._choice(COMMON_NAMES)
                p.forename, p.surname, p.forename_variants, p.surname_variants = fore, sur, [], []
                p.kind = "common"
                p.gender = "female" if fore == "Sarah" else "male"
                people.append(p)
            elif roll < 0.20:  # lives in a hostel shared with many others
                p.kind = "hostel"
                p.addresses = [self._choice(self.hostels)]
                people.append(p)
            else:
                people.append(p)
        return people[:n_people]

    # ---------------------------------------------------------------- keying
    def _typo(self, s: str) -> str:
        if len(s) < 4:
            return s
        i = self._randint(1, len(s) - 2)
        op = self._choice(_TYPO_OPS)
        if op == "sub":
            return s[:i] + self._choice("aeioulnrst") + s[i + 1 :]
        if op == "del":
            return s[:i] + s[i + 1 :]
        if op == "swap":
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        return s[:i] + s[i] + s[i:]

    def _dob_error(self, d: date, errors: list[str]) -> date | None:
        kind = self._choice(_DOB_ERRORS)
        if kind == "swap" and d.day <= 12 and d.day != d.month:
            errors.append("dob_swapped")
            return date(d.year, d.day, d.month)
        if kind == "default":
            errors.append("dob_default")
            return date(d.year, 1, 1)
        if kind == "year":
            errors.append("dob_year")
            return date(d.year + self._choice(_PLUS_MINUS), d.month, min(d.day, 28))
        # one digit off in day, month or year (what a keyboard slip produces)
        for _ in range(10):
            s = list(d.isoformat())
            pos = self._choice(_DIGIT_POSITIONS)
            s[pos] = str((int(s[pos]) + self._choice(_PLUS_MINUS)) % 10)
            try:
                nd = date.fromisoformat("".join(s))
            except ValueError:
                continue
            if date(1900, 1, 1) <= nd <= date(2025, 12, 31) and nd != d:
                errors.append("dob_digit")
                return nd
        return d

    def mention(self, p: TruePerson) -> LabelledMention:
        rnd = self._rnd
        source = _weighted(rnd, _SOURCES, _SOURCE_CUM)
        p_typo, p_var, p_dob_missing, p_dob_err, p_pnc, p_addr = SOURCES[source]
        role = self._choice(ROLE_FOR_SOURCE[source])
        if role in ("victim", "witness"):
            p_pnc = 0.05
        errors: list[str] = []
        fore: str | None = p.forename
        sur = p.surname
        if p.forename_variants and rnd() < p_var:
            fore = self._choice(p.forename_variants)
            errors.append("forename_variant")
        elif rnd() < p_typo:
            fore = self._typo(p.forename)
            errors.append("forename_typo")
        elif rnd() < 0.02:
            fore = p.forename[0]
            errors.append("forename_initial")
        if p.surname_variants and rnd() < p_var:
            sur = self._choice(p.surname_variants)
            errors.append("surname_variant")
        elif "-" in sur and rnd() < 0.4:
            sur = self._choice(sur.split("-"))
            errors.append("double_barrel_half")
        elif rnd() < p_typo:
            sur = self._typo(p.surname)
            errors.append("surname_typo")
        if rnd() < 0.25:
            # Many systems drop diacritics on the way in.
            fore = _ascii(fore) if fore else fore
            sur = _ascii(sur)
        middle = p.middle if rnd() < 0.5 else None
        if (p.culture == "vi" and rnd() < 0.3) or rnd() < 0.02:
            fore, sur = sur, fore or sur
            errors.append("name_swap")
        dob: date | None = p.dob
        if rnd() < p_dob_missing:
            dob = None
            errors.append("dob_missing")
        elif rnd() < p_dob_err:
            dob = self._dob_error(p.dob, errors)
        pnc = p.pnc if (p.pnc and rnd() < p_pnc) else None
        if pnc and rnd() < 0.3:
            pnc = f"{pnc[2:4]}/{int(pnc[5:12])}{pnc[12]}"  # short form 07/3649X
        cro = p.cro if (p.cro and rnd() < p_pnc * 0.6) else None
        addr = None
        if rnd() < p_addr:
            addr = p.addresses[0] if rnd() < 0.7 else self._choice(p.addresses)
        phones = (self._choice(p.phones),) if (p.phones and rnd() < 0.4) else ()
        vrms = (self._choice(p.vrms),) if (p.vrms and rnd() < 0.3) else ()
        gender = p.gender if rnd() < 0.85 else None
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
            record_date=_RECORD_DATES[_below(self._bits, 3651)],
        )
        return LabelledMention(m, p.pid, p.kind, tuple(errors))

    def mentions_for(self, people: list[TruePerson], mean_mentions: float = 3.0) -> list[LabelledMention]:
        r = self.rng
        out: list[LabelledMention] = []
        for p in people:
            # Many people appear once; a few (prolific offenders) a dozen times.
            k = 1 if r.random() < 0.35 else min(1 + int(r.expovariate(1 / (mean_mentions - 1))) + 1, 15)
            out += [self.mention(p) for _ in range(k)]
        # random.Random.shuffle, drawing as it does.
        bits = self._bits
        for i in reversed(range(1, len(out))):
            j = _below(bits, i + 1)
            out[i], out[j] = out[j], out[i]
        return out


def generate(n_mentions: int, seed: int, prefix: str = "") -> list[LabelledMention]:
    """``n_mentions`` labelled mentions; ``prefix`` keeps ids apart from another generation's."""
    # A million mentions are millions of small objects kept alive: the cyclic collector's
    # full passes over them cost a fifth or more of the run, and nothing here makes cycles.
    was = gc.isenabled()
    gc.disable()
    try:
        g = Generator(seed, prefix)
        people = g.population(max(2, int(n_mentions / 2.9)))
        ms = g.mentions_for(people)
        return ms[:n_mentions]
    finally:
        if was:
            gc.enable()
