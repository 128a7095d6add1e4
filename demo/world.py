"""The synthetic world behind the demo records: people, addresses, vehicles, officers.

Nothing is held as a table. Entity *i* of each kind is derived on demand from its own
``random.Random`` seeded by (seed, kind, i), so a world for a million records costs no
more memory than one for a hundred, and the same id always yields the same entity
whichever record asks first. A small LRU keeps the frequently recurring ones hot.

How a *system* recorded an entity (misspelt forename, nickname, DOB typo, surname in
capitals, address abbreviated...) is applied per record on top of the base entity.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Any

from demo import vocab as V
from entity_extraction.identifiers import PNC_CHECK_LETTERS, VRM_STOP_WORDS, pnc_check_letter
from entity_extraction.names import fold

REFERENCE_DATE = date(V.REFERENCE_YEAR, V.REFERENCE_MONTH, V.REFERENCE_DAY)

# Ofcom drama ranges only (numbers reserved for fiction); national format digits.
PHONE_RANGES: tuple[tuple[str, int], ...] = (
    ("07700900", 70),  # + 3 digits
    ("02079460", 15),
    ("01614960", 8),
    ("01134960", 7),
)
_VRM_LETTERS = "ABCDEFGHJKLMNOPRSTUVWXYZ"  # no I or Q in the random letters
_VRM_AREA1 = "ABCDEFGHKLMNOPRSVWY"
_YEAR_LETTERS = "ABCDEFGHJKLMNPRSTVWXY"
_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

_K_PERSON, _K_ADDRESS, _K_VEHICLE, _K_OFFICER = 1, 2, 3, 4


def cro_check_letter(yy: int, serial: int) -> str:
    return PNC_CHECK_LETTERS[int(f"{yy:02d}{serial:06d}") % 23]


def weighted(items: tuple[tuple[Any, int], ...]) -> tuple[tuple[Any, ...], list[int]]:
    values = tuple(v for v, _ in items)
    return values, list(accumulate(w for _, w in items))


_PHONE_VALUES, _PHONE_CUM = weighted(PHONE_RANGES)
_SUFFIX_VALUES, _SUFFIX_CUM = weighted(V.STREET_SUFFIXES)
_COLOUR_VALUES, _COLOUR_CUM = weighted(V.COLOURS)
_MAKE_VALUES, _MAKE_CUM = weighted(tuple(((m, models), w) for m, models, w in V.VEHICLES))


def _pick(rng: random.Random, values: tuple[Any, ...], cum: list[int]) -> Any:
    return rng.choices(values, cum_weights=cum)[0]


@dataclass(frozen=True, slots=True)
class AddressBase:
    number: str
    flat: str | None  # "Flat 12" or None
    block: str | None
    street: str
    suffix: str
    area: str | None
    town: str
    postcode: str  # canonical "N7 8QT"
    borough: str | None


@dataclass(frozen=True, slots=True)
class VehicleBase:
    vrm: str  # canonical, no space
    style: str  # current | prefix | suffix
    make: str
    model: str
    colour: str


@dataclass(frozen=True, slots=True)
class PersonBase:
    idx: int
    origin: str
    gender: str
    forename: str
    middle: str | None
    surname: str
    dob: date
    pnc_id: str | None
    cro_no: str | None
    nino: str | None
    address: int
    phones: tuple[str, ...]
    email: str | None
    street_name: str | None
    alias: str | None
    vehicle: int | None
    offender: bool


@dataclass(frozen=True, slots=True)
class OfficerBase:
    idx: int
    forename: str
    surname: str
    rank: str  # PC DC PS DS Insp DI Supt
    collar: str | None
    borough: int

    @property
    def name(self) -> str:
        return f"{self.forename} {self.surname}"

    @property
    def rank_title(self) -> str:
        return RANK_TITLES[self.rank]

    def short(self) -> str:
        """``PC 4521 Jones`` / ``DS Patel`` / ``Insp Brown`` as written in logs."""
        if self.collar and self.rank in ("PC", "DC", "PS"):
            return f"{self.rank} {self.collar} {self.surname}"
        return f"{self.rank} {self.surname}"

    def as_officer(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "rank": self.rank_title}
        if self.collar:
            out["collar_number"] = self.collar
        return out


RANK_TITLES = {
    "PC": "Police Constable",
    "DC": "Detective Constable",
    "PS": "Police Sergeant",
    "DS": "Detective Sergeant",
    "Insp": "Inspector",
    "DI": "Detective Inspector",
    "Supt": "Superintendent",
    "CI": "Chief Inspector",
}
_RANK_VALUES, _RANK_CUM = weighted(
    (("PC", 55), ("DC", 18), ("PS", 9), ("DS", 8), ("Insp", 6), ("DI", 2), ("CI", 1), ("Supt", 1))
)


class World:
    """Deterministic, lazily derived population sized to the number of records."""

    def __init__(self, seed: int, records: int) -> None:
        self.seed = seed
        self.n_people = max(200, records // 4)
        self.n_offenders = max(80, int(self.n_people * 0.4))
        # Prolific offenders account for a large share of arrests, as in real data.
        self.n_prolific = max(20, self.n_offenders // 20)
        self.n_addresses = max(150, self.n_people * 2 // 3)
        self.n_vehicles = max(80, self.n_people // 3)
        self.n_officers = max(80, min(4000, records // 120))
        self.group_size = 5
        self._origins = V.origins()
        self._origin_cum = list(accumulate(o.weight for o in self._origins))
        self._borough_cum = list(accumulate(10 for _ in V.BOROUGHS))
        self.person = lru_cache(maxsize=30_000)(self._person)
        self.address = lru_cache(maxsize=30_000)(self._address)
        self.vehicle = lru_cache(maxsize=20_000)(self._vehicle)
        self.officer = lru_cache(maxsize=5_000)(self._officer)
        # Officers of each rank group, for reviewers and OICs (ids only: cheap).
        self._by_rank: dict[str, list[int]] = {}
        for i in range(self.n_officers):
            self._by_rank.setdefault(self._officer(i).rank, []).append(i)

    def _rng(self, kind: int, idx: int) -> random.Random:
        return random.Random(((self.seed & 0xFFFFFFFF) << 40) | (kind << 36) | idx)

    # ------------------------------------------------------------------ picking

    def pick_offender(self, rng: random.Random) -> int:
        if rng.random() < 0.35:
            return rng.randrange(self.n_prolific)
        return rng.randrange(self.n_offenders)

    def pick_public(self, rng: random.Random) -> int:
        if rng.random() < 0.08:  # victims and witnesses are sometimes known to police too
            return rng.randrange(self.n_offenders)
        return rng.randrange(self.n_offenders, self.n_people)

    def associates(self, pid: int) -> list[int]:
        """Members of the same criminal network (offenders are grouped in fives)."""
        if pid >= self.n_offenders:
            return []
        g = pid // self.group_size
        start = g * self.group_size
        return [i for i in range(start, min(start + self.group_size, self.n_offenders)) if i != pid]

    def group_vehicle(self, pid: int) -> int:
        """A vehicle a network uses (often registered to someone else)."""
        g = pid // self.group_size
        return (g * 7919 + self.seed) % self.n_vehicles

    def pick_officer(self, rng: random.Random, ranks: tuple[str, ...] = ("PC",)) -> OfficerBase:
        rank = ranks[rng.randrange(len(ranks))]
        pool = self._by_rank.get(rank) or self._by_rank["PC"]
        return self.officer(pool[rng.randrange(len(pool))])

    # ------------------------------------------------------------------ entities

    def _person(self, idx: int) -> PersonBase:
        r = self._rng(_K_PERSON, idx)
        offender = idx < self.n_offenders
        origin = r.choices(self._origins, cum_weights=self._origin_cum)[0]
        gender = "male" if r.random() < (0.82 if offender else 0.5) else "female"
        forenames = origin.male if gender == "male" else origin.female
        forename = forenames[r.randrange(len(forenames))]
        surname = origin.surnames[r.randrange(len(origin.surnames))]
        if origin.key == "polish" and gender == "female" and surname.endswith("ski"):
            surname = surname[:-1] + "a"
        middle = forenames[r.randrange(len(forenames))] if r.random() < 0.3 else None
        if middle == forename:
            middle = None
        if offender:
            age = int(min(70, max(14, r.gauss(27, 9))))
        else:
            age = r.choice((r.randint(5, 17), r.randint(18, 40), r.randint(18, 60), r.randint(41, 88)))
        dob = date(REFERENCE_DATE.year - age, 1, 1) - timedelta(days=r.randrange(365))
        pnc = None
        if r.random() < (0.92 if offender else 0.04):
            year = min(REFERENCE_DATE.year - 1, dob.year + r.randint(13, max(14, age - 1)))
            year = max(year, 1995)
            serial = r.randint(10_000, 1_999_999)
            pnc = f"{year}/{serial:07d}{pnc_check_letter(year, serial)}"
        cro = None
        if pnc and r.random() < 0.6:
            yy, serial = int(pnc[2:4]), r.randint(1, 999_999)
            cro = f"{serial:06d}/{yy:02d}{cro_check_letter(yy, serial)}"
        nino = None
        if age >= 16 and r.random() < 0.55:
            nino = f"QQ{r.randint(0, 999_999):06d}{'ABCD'[r.randrange(4)]}"
        phones: list[str] = []
        for _ in range(r.choices((0, 1, 2), weights=(15, 65, 20))[0] if age >= 12 else 0):
            prefix = _pick(r, _PHONE_VALUES, _PHONE_CUM)
            phones.append(f"{prefix}{r.randint(0, 999):03d}")
        email = None
        if age >= 14 and r.random() < 0.4:
            local = (
                f"{fold(forename)}.{fold(surname)}"
                if r.random() < 0.6
                else f"{fold(forename)}{dob.year % 100:02d}"
            )
            email = f"{local}{r.randint(1, 99) if r.random() < 0.4 else ''}@example.com"
        street_name = (
            V.STREET_NAMES[r.randrange(len(V.STREET_NAMES))] if offender and r.random() < 0.3 else None
        )
        alias = None
        if offender and r.random() < 0.06:
            other = self._origins[0].surnames
            alias = f"{forename} {other[r.randrange(len(other))]}"
        vehicle = r.randrange(self.n_vehicles) if age >= 18 and r.random() < 0.35 else None
        return PersonBase(
            idx,
            origin.key,
            gender,
            forename,
            middle,
            surname,
            dob,
            pnc,
            cro,
            nino,
            r.randrange(self.n_addresses),
            tuple(phones),
            email,
            street_name,
            alias,
            vehicle,
            offender,
        )

    def _address(self, idx: int) -> AddressBase:
        r = self._rng(_K_ADDRESS, idx)
        if r.random() < 0.9:
            b = V.BOROUGHS[r.randrange(len(V.BOROUGHS))]
            outward = b.outward[r.randrange(len(b.outward))]
            town, area, borough = (
                "London",
                (b.areas[r.randrange(len(b.areas))] if r.random() < 0.5 else None),
                b.name,
            )
        else:
            town, outwards = V.OUT_OF_AREA[r.randrange(len(V.OUT_OF_AREA))]
            outward, area, borough = outwards[r.randrange(len(outwards))], None, None
        inward = f"{r.randint(0, 9)}{r.choice(_INWARD_LETTERS)}{r.choice(_INWARD_LETTERS)}"
        flat = block = None
        if r.random() < 0.35:
            flat = f"Flat {r.randint(1, 60)}"
            if r.random() < 0.5:
                block = V.BLOCK_NAMES[r.randrange(len(V.BLOCK_NAMES))]
        number = str(r.randint(1, 240)) + ("A" if r.random() < 0.04 else "")
        street = V.STREET_STEMS[r.randrange(len(V.STREET_STEMS))]
        return AddressBase(
            number,
            flat,
            block,
            street,
            _pick(r, _SUFFIX_VALUES, _SUFFIX_CUM),
            area,
            town,
            f"{outward} {inward}",
            borough,
        )

    def _vehicle(self, idx: int) -> VehicleBase:
        r = self._rng(_K_VEHICLE, idx)

        def letters() -> str:
            while True:
                s = "".join(r.choice(_VRM_LETTERS) for _ in range(3))
                if s not in VRM_STOP_WORDS:  # groups the extractor treats as words
                    return s

        roll = r.random()
        if roll < 0.86:
            year = r.randint(2005, 2025)
            age_id = year % 100 + (50 if r.random() < 0.5 else 0)
            vrm, style = f"{r.choice(_VRM_AREA1)}{r.choice(_VRM_LETTERS)}{age_id:02d}{letters()}", "current"
        elif roll < 0.96:
            vrm, style = f"{r.choice(_YEAR_LETTERS)}{r.randint(1, 999)}{letters()}", "prefix"
        else:
            vrm, style = f"{letters()}{r.randint(1, 999)}{r.choice(_YEAR_LETTERS)}", "suffix"
        make, models = _pick(r, _MAKE_VALUES, _MAKE_CUM)
        return VehicleBase(
            vrm, style, make, models[r.randrange(len(models))], _pick(r, _COLOUR_VALUES, _COLOUR_CUM)
        )

    def _officer(self, idx: int) -> OfficerBase:
        r = self._rng(_K_OFFICER, idx)
        origin = r.choices(self._origins, cum_weights=self._origin_cum)[0]
        male = r.random() < 0.68
        forename = (origin.male if male else origin.female)[
            r.randrange(len(origin.male if male else origin.female))
        ]
        surname = origin.surnames[r.randrange(len(origin.surnames))]
        rank = _pick(r, _RANK_VALUES, _RANK_CUM)
        collar = str(100 + (idx * 7919 + self.seed) % 9800) if rank in ("PC", "DC", "PS", "DS") else None
        return OfficerBase(idx, forename, surname, rank, collar, r.randrange(len(V.BOROUGHS)))


# ---------------------------------------------------------------------- formatting


def vrm_spaced(v: VehicleBase) -> str:
    if v.style == "suffix":
        return f"{v.vrm[:3]} {v.vrm[3:]}"
    return f"{v.vrm[:-3]} {v.vrm[-3:]}"


def fmt_vrm(v: VehicleBase, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.55:
        return vrm_spaced(v)
    if roll < 0.85:
        return v.vrm
    if roll < 0.95:
        return vrm_spaced(v).lower()
    return v.vrm.lower()


def phone_display(digits: str) -> str:
    """Structured-field form: ``07700 900123`` / ``020 7946 0123`` / ``0161 496 0123``."""
    if digits.startswith("07"):
        return f"{digits[:5]} {digits[5:]}"
    if digits.startswith("020"):
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    return f"{digits[:4]} {digits[4:7]} {digits[7:]}"


def fmt_phone(digits: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.4:
        return phone_display(digits)
    if roll < 0.65:
        return digits
    nat = phone_display(digits)[1:]
    if roll < 0.82:
        return f"+44 {nat}"
    if roll < 0.9:
        return f"+44{digits[1:]}"
    if digits.startswith("07"):
        return f"{digits[:5]}-{digits[5:]}"
    area, rest = nat.split(" ", 1)
    return f"+44 (0){area} {rest}" if roll < 0.95 else f"(0{area}) {rest}"


def fmt_postcode(pc: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        return pc
    if roll < 0.9:
        return pc.replace(" ", "")
    return pc.lower()


def fmt_pnc(pnc: str, rng: random.Random) -> str:
    if rng.random() < 0.7:
        return pnc
    return f"{pnc[2:4]}/{int(pnc[5:12])}{pnc[12]}"


def fmt_date(d: date, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return d.strftime("%d/%m/%Y")
    if roll < 0.8:
        return f"{d.day} {d.strftime('%B %Y')}"
    if roll < 0.9:
        return d.strftime("%d.%m.%Y")
    return d.isoformat()


def street_line(a: AddressBase, abbreviate: bool = False) -> str:
    suffix = V.STREET_ABBREV.get(a.suffix, a.suffix) if abbreviate else a.suffix
    return f"{a.number} {a.street} {suffix}"


def address_dict(a: AddressBase, rng: random.Random, style: str) -> dict[str, str]:
    """One system's rendering of an address. Styles: full, short, caps, legacy."""
    abbreviate = style in ("short", "legacy") or rng.random() < 0.15
    street = street_line(a, abbreviate)
    if a.flat and a.block:
        line1 = f"{a.flat}, {a.block}" if style != "short" else f"{a.flat[5:]} {a.block}"
        line2: str | None = street
    elif a.flat:
        line1 = f"{a.flat}, {street}" if rng.random() < 0.7 else f"{a.flat[5:]}/{street}"
        line2 = a.area
    else:
        line1, line2 = street, a.area
    town = a.town
    if a.borough and style == "short":
        town = a.borough if rng.random() < 0.5 else town
    pc = a.postcode if style != "legacy" or rng.random() < 0.5 else a.postcode.replace(" ", "")
    out = {"line1": line1}
    if line2 and style != "legacy":
        out["line2"] = line2
    out["town"] = town
    out["postcode"] = pc
    if style == "caps":
        out = {k: v.upper() for k, v in out.items()}
    return out


def address_text(a: AddressBase, rng: random.Random) -> str:
    """An address as an officer types it into a narrative."""
    street = street_line(a, rng.random() < 0.3)
    pc = fmt_postcode(a.postcode, rng)
    roll = rng.random()
    if roll < 0.4:
        return f"{a.flat + ', ' if a.flat else ''}{street}, {pc}"
    if roll < 0.7:
        return f"{street}, {a.town}, {pc}"
    if roll < 0.85:
        return f"{street} {pc}".upper()
    return f"{a.block + ', ' if a.block else ''}{street}, {a.borough or a.town}"


# ---------------------------------------------------------------------- variation

_FORENAME_GROUPS = {n: g for g in V.FORENAME_VARIANTS for n in g}
_SURNAME_GROUPS = {n: g for g in V.SURNAME_VARIANTS for n in g}


@lru_cache(maxsize=4096)
def nicknames_for(forename: str) -> tuple[str, ...]:
    """Everyday nicknames (``William`` -> Bill, Will, Billy) from the ``nicknames`` package,
    restricted to forms that are in common use as given names so the demo reads naturally."""

    common = _common_forenames()
    out = [n.capitalize() for n in sorted(_namer().nicknames_of(forename.lower())) if len(n) >= 3]
    return tuple(n for n in out if n.lower() in common)


@lru_cache(maxsize=1)
def _namer() -> Any:
    from nicknames import NickNamer

    return NickNamer()


@lru_cache(maxsize=1)
def _common_forenames() -> frozenset[str]:
    from faker.providers.person import en_GB, en_US

    names = {
        n.lower()
        for n in (
            *en_GB.Provider.first_names_male,
            *en_GB.Provider.first_names_female,
            *en_US.Provider.first_names_male,
            *en_US.Provider.first_names_female,
        )
    }
    names |= {
        "bill",
        "bob",
        "bobby",
        "rob",
        "robbie",
        "jim",
        "jimmy",
        "mike",
        "mick",
        "tony",
        "tom",
        "tommy",
        "dan",
        "danny",
        "dave",
        "steve",
        "chris",
        "nick",
        "ben",
        "sam",
        "joe",
        "jack",
        "liz",
        "beth",
        "kate",
        "katie",
        "jenny",
        "jen",
        "sue",
        "maggie",
        "meg",
        "becky",
        "vicky",
        "nicky",
        "andy",
        "alex",
        "ed",
        "eddie",
        "ted",
        "fred",
        "charlie",
        "harry",
        "will",
        "billy",
        "pete",
        "matt",
        "phil",
        "rick",
        "ricky",
        "tim",
        "terry",
        "gerry",
        "jon",
        "johnny",
        "jonny",
        "abi",
        "debbie",
        "lou",
        "pat",
        "patsy",
        "peggy",
        "sally",
        "sandy",
        "ron",
        "ronnie",
        "reg",
        "del",
        "les",
        "ray",
    }
    return frozenset(names)


_LETTER_SWAPS = (
    ("ph", "f"),
    ("ll", "l"),
    ("tt", "t"),
    ("ss", "s"),
    ("ie", "ei"),
    ("ey", "y"),
    ("ou", "o"),
    ("c", "k"),
    ("son", "sen"),
    ("ee", "ea"),
    ("nn", "n"),
    ("mm", "m"),
    ("y", "i"),
    ("i", "y"),
)


def misspell(name: str, groups: dict[str, tuple[str, ...]], rng: random.Random) -> str:
    group = groups.get(name)
    if group:
        others = [g for g in group if g != name]
        return others[rng.randrange(len(others))]
    lower = name.lower()
    candidates = [(a, b) for a, b in _LETTER_SWAPS if a in lower[1:]]
    if candidates and rng.random() < 0.75:
        a, b = candidates[rng.randrange(len(candidates))]
        i = lower.index(a, 1)
        out = name[:i] + b + name[i + len(a) :]
        return out[0].upper() + out[1:]
    if len(name) > 4:  # a transposition typo
        i = rng.randint(1, len(name) - 3)
        return name[:i] + name[i + 1] + name[i] + name[i + 2 :]
    return name


def dob_typo(d: date, rng: random.Random) -> date:
    roll = rng.random()
    if roll < 0.45 and d.day <= 12 and d.day != d.month:
        return d.replace(day=d.month, month=d.day)
    if roll < 0.8:
        return (
            d.replace(year=d.year + (1 if rng.random() < 0.5 else -1))
            if not (d.month == 2 and d.day == 29)
            else d
        )
    return d + timedelta(days=rng.choice((-10, -1, 1, 10)))


# Per system: how names, DOBs and addresses are habitually written, and how error-prone.
SYSTEM_STYLE: dict[str, dict[str, Any]] = {
    "custody": {
        "caps_surname": 0.95,
        "nick": 0.04,
        "misspell_f": 0.04,
        "misspell_s": 0.04,
        "dob_typo": 0.02,
        "address": "caps",
        "pnc": 0.98,
    },
    "crime": {
        "caps_surname": 0.1,
        "nick": 0.12,
        "misspell_f": 0.07,
        "misspell_s": 0.06,
        "dob_typo": 0.05,
        "address": "full",
        "pnc": 0.5,
    },
    "case": {
        "caps_surname": 0.5,
        "nick": 0.02,
        "misspell_f": 0.03,
        "misspell_s": 0.03,
        "dob_typo": 0.03,
        "address": "full",
        "pnc": 0.9,
    },
    "intel": {
        "caps_surname": 0.6,
        "nick": 0.22,
        "misspell_f": 0.08,
        "misspell_s": 0.08,
        "dob_typo": 0.06,
        "address": "short",
        "pnc": 0.6,
    },
    "legacy": {
        "caps_surname": 1.0,
        "nick": 0.08,
        "misspell_f": 0.08,
        "misspell_s": 0.06,
        "dob_typo": 0.06,
        "address": "legacy",
        "pnc": 0.0,
    },
}


@dataclass(slots=True)
class Rendered:
    """How one record names a person: reused for the structured field and the narrative."""

    pid: int
    role: str
    forename: str
    surname: str  # as written in the structured field
    dob: date | None
    base: PersonBase
    data: dict[str, Any]

    @property
    def plain_surname(self) -> str:
        return self.base.surname if self.surname.isupper() else self.surname


def render_person(
    world: World, pid: int, role: str, system: str, rng: random.Random, detail: bool = True
) -> Rendered:
    p = world.person(pid)
    st = SYSTEM_STYLE[system]
    forename = p.forename
    roll = rng.random()
    if roll < st["nick"]:
        nicks = nicknames_for(forename)
        if nicks:
            forename = nicks[rng.randrange(len(nicks))]
    elif roll < st["nick"] + st["misspell_f"]:
        forename = misspell(forename, _FORENAME_GROUPS, rng)
    surname = p.surname
    if rng.random() < st["misspell_s"]:
        surname = misspell(surname, _SURNAME_GROUPS, rng)
    if rng.random() < st["caps_surname"]:
        surname = surname.upper()
    dob: date | None = p.dob
    if rng.random() < st["dob_typo"]:
        dob = dob_typo(p.dob, rng)
    if not detail and rng.random() < 0.35:
        dob = None
    data: dict[str, Any] = {"role": role, "forename": forename, "surname": surname}
    if p.middle and (system in ("custody", "case") or rng.random() < 0.3):
        data["middle_names"] = p.middle.upper() if system == "custody" else p.middle
    if dob is not None:
        data["dob"] = dob.isoformat()
    data["gender"] = p.gender
    if p.pnc_id and rng.random() < st["pnc"]:
        data["pnc_id"] = p.pnc_id
        if p.cro_no and system in ("custody", "case"):
            data["cro_no"] = p.cro_no
    if p.nino and detail and system in ("custody", "case") and rng.random() < 0.5:
        data["nino"] = f"{p.nino[:2]} {p.nino[2:4]} {p.nino[4:6]} {p.nino[6:8]} {p.nino[8]}"
    if detail or rng.random() < 0.5:
        data["address"] = address_dict(world.address(p.address), rng, st["address"])
    if p.phones and (detail or rng.random() < 0.5):
        data["phones"] = [phone_display(d) if rng.random() < 0.7 else d for d in p.phones]
    if p.email and detail and rng.random() < 0.6:
        data["email"] = p.email
    aliases = []
    if p.street_name and system in ("custody", "intel"):
        aliases.append(p.street_name)
    if p.alias and system in ("custody", "intel", "case") and rng.random() < 0.7:
        aliases.append(p.alias)
    if aliases:
        data["aliases"] = aliases
    return Rendered(pid, role, forename, surname, dob, p, data)


def vehicle_dict(v: VehicleBase, rng: random.Random) -> dict[str, str]:
    out = {
        "vrm": vrm_spaced(v) if rng.random() < 0.7 else v.vrm,
        "make": v.make,
        "model": v.model,
        "colour": v.colour,
    }
    return out
