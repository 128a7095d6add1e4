"""Rules for names in police text: role/rank prefixes, ``SURNAME, Forename``,
``Forename SURNAME``, the first-name gazetteer, and the acronyms that are never names.

PERSON value normalisation (documented contract): ``value`` is the name as written, minus
titles, ranks, roles and collar numbers, minus a possessive ``'s``, with whitespace
collapsed; ``SURNAME, Forename`` is reordered to ``Forename SURNAME``. Case is kept
(search-side folding is done by :mod:`entity_extraction.names`). ``text`` is always the
exact source span.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from entity_extraction.types import Label

# Police / agency acronyms and jargon that are never PERSON, ORG or LOCATION.
ACRONYMS = frozenset(
    [
        "PNC",
        "PND",
        "CRO",
        "NHS",
        "SIM",
        "ANPR",
        "IOPC",
        "CPS",
        "RUI",
        "NFA",
        "PWITS",
        "LIVESCAN",
        "DP",
        "IP",
        "DOB",
        "PACE",
        "CCTV",
        "BWV",
        "CAD",
        "CID",
        "MO",
        "URN",
        "VRM",
        "VRN",
        "IMEI",
        "NINO",
        "NI",
        "OIC",
        "FME",
        "HCP",
        "PCSO",
        "SIO",
        "TIC",
        "ASB",
        "ABH",
        "GBH",
        "MG11",
        "MG5",
        "MG3",
        "MG6",
        "DVLA",
        "AFO",
        "ARV",
        "TSG",
        "MASH",
        "MARAC",
        "MAPPA",
        "DASH",
        "BCU",
        "CHIS",
        "RIPA",
        "POCA",
        "MISPER",
        "ETA",
        "RTC",
        "SOCO",
        "CSI",
        "CPIA",
        "NDM",
        "BOLO",
        "PIN",
        "PINS",
        "DSCC",
        "AA",
        "IDENT1",
        "NCA",
        "CRB",
        "DBS",
        "ANPR/PNC",
        "PNC/CRO",
        "PPE",
        "A&E",
        "TASER",
        "PAVA",
        "CS",
        "HMP",
        "HMYOI",
        "IOM",
        "OCG",
        "UC",
        "DNA",
        "GPS",
        "IT",
        "ID",
        "SMS",
        "QQ",
        "RO",
        "PC",
        "DC",
        "DS",
        "DI",
        "DCI",
        "DSU",
        "DCS",
        "SGT",
        "INSP",
        "PCS",
        "SC",
        "MR",
        "MRS",
        "MS",
        "DR",
        "UK",
        "GB",
        "USA",
        "EU",
        "NOK",
        "RV",
        "CCJ",
        "DPP",
        "SFO",
        "HO",
        "CJS",
        "LCJB",
        "SARC",
        "CHISL",
        "PWITS'D",
        "NFA'D",
        "RUI'D",
        "SOP",
        "IMSI",
        "ICCID",
        "BT",
        "EE",
        "O2",
        "VAT",
        "HMRC",
    ]
)

# Capitalised words that are not part of a person's name.
NON_NAME = frozenset(
    w.lower()
    for w in [
        "The",
        "A",
        "An",
        "And",
        "Or",
        "But",
        "On",
        "At",
        "In",
        "Of",
        "To",
        "From",
        "With",
        "By",
        "For",
        "Into",
        "Onto",
        "Upon",
        "Via",
        "Per",
        "As",
        "Is",
        "Was",
        "Were",
        "Be",
        "Been",
        "Being",
        "He",
        "She",
        "They",
        "It",
        "We",
        "I",
        "You",
        "His",
        "Her",
        "Their",
        "Its",
        "Our",
        "My",
        "This",
        "That",
        "These",
        "Those",
        "Then",
        "There",
        "Here",
        "When",
        "While",
        "After",
        "Before",
        "During",
        "Following",
        "Whilst",
        "Where",
        "Who",
        "Custody",
        "Station",
        "Police",
        "Road",
        "Street",
        "Lane",
        "Avenue",
        "Court",
        "Close",
        "Way",
        "Drive",
        "Crescent",
        "Gardens",
        "Place",
        "Square",
        "Terrace",
        "Grove",
        "Walk",
        "Hill",
        "Park",
        "Estate",
        "House",
        "Flat",
        "Block",
        "Tower",
        "Centre",
        "Center",
        "Mews",
        "Row",
        "Parade",
        "Rise",
        "View",
        "Green",
        "Common",
        "Bridge",
        "Wharf",
        "Quay",
        "Yard",
        "Hall",
        "Building",
        "Buildings",
        "Magistrates",
        "Crown",
        "County",
        "Youth",
        "Family",
        "Coroner",
        "Prison",
        "Hospital",
        "School",
        "College",
        "University",
        "Council",
        "Borough",
        "City",
        "Town",
        "Village",
        "North",
        "South",
        "East",
        "West",
        "Upper",
        "Lower",
        "Great",
        "Little",
        "Old",
        "New",
        "Saint",
        "St",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Jan",
        "Feb",
        "Mar",
        "Apr",
        "Jun",
        "Jul",
        "Aug",
        "Sep",
        "Sept",
        "Oct",
        "Nov",
        "Dec",
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
        "Officer",
        "Officers",
        "Witness",
        "Victim",
        "Suspect",
        "Subject",
        "Nominal",
        "Detainee",
        "Defendant",
        "Complainant",
        "Statement",
        "Interview",
        "Vehicle",
        "Car",
        "Van",
        "Phone",
        "Mobile",
        "Address",
        "Report",
        "Intelligence",
        "Crime",
        "Case",
        "Summary",
        "Unit",
        "Team",
        "Sergeant",
        "Inspector",
        "Constable",
        "Detective",
        "Superintendent",
        "Chief",
        "Acting",
        "Temporary",
        "Juvenile",
        "Adult",
        "Mr",
        "Mrs",
        "Ms",
        "Miss",
        "Mx",
        "Dr",
        "Prof",
        "Sir",
        "Dame",
        "Lord",
        "Lady",
        "Section",
        "Act",
        "Offence",
        "Offences",
        "Charge",
        "Charged",
        "Bail",
        "Bailed",
        "Released",
        "Arrested",
        "Arrest",
        "Released",
        "Further",
        "Action",
        "Review",
        "Risk",
        "Assessment",
        "Property",
        "Drugs",
        "Drug",
        "Weapon",
        "Weapons",
        "Knife",
        "Cash",
        "Black",
        "White",
        "Brown",
        "Red",
        "Blue",
        "Grey",
        "Silver",
        "Ford",
        "Vauxhall",
        "Toyota",
        "Honda",
        "Nissan",
        "Audi",
        "BMW",
        "Mercedes",
        "Volkswagen",
        "VW",
        "Peugeot",
        "Renault",
        "Kia",
        "Hyundai",
        "Fiat",
        "Seat",
        "Skoda",
        "Mini",
        "Land",
        "Rover",
        "Range",
        "Tesla",
        "Transit",
        "Corsa",
        "Golf",
        "Focus",
        "Fiesta",
        "Astra",
        "Polo",
        "Clio",
        "Yaris",
        "Civic",
        "Prius",
        "Qashqai",
        "Juke",
        "Street",
        "Lounge",
        "Bar",
        "Club",
        "Pub",
        "Inn",
        "Hotel",
        "Shop",
        "Store",
        "Market",
        "Supermarket",
        "Tesco",
        "Sainsbury",
        "Asda",
        "Morrisons",
        "Aldi",
        "Lidl",
        "Unknown",
        "Male",
        "Female",
        "Person",
        "Persons",
        "Mother",
        "Father",
        "Brother",
        "Sister",
        "Son",
        "Daughter",
        "Partner",
        "Ex",
        "Friend",
        "Neighbour",
        "Manager",
        "Staff",
        "Security",
        "Doctor",
        "Nurse",
        "Paramedic",
        "Ambulance",
        "Fire",
        "Service",
        "Services",
        "Support",
        "Team",
        "England",
        "Wales",
        "Scotland",
        "Ireland",
        "Britain",
        "British",
        "English",
        "Christmas",
        "Easter",
        "Bank",
        "Holiday",
        "Yes",
        "No",
        "Not",
        "Nil",
        "None",
        "Date",
        "Time",
        "Location",
        "Telephone",
        "Tel",
        "Mob",
        "Email",
        "Postcode",
        "Ref",
        "Reference",
        "Number",
        "No",
        "Grade",
        "Handling",
        "Source",
        "Intel",
        "Log",
        "Entry",
        "Update",
        "Note",
        "Notes",
        "Outcome",
        "Status",
        "Result",
        "Remand",
        "Remanded",
        "Sentence",
        "Sentenced",
        "Guilty",
        "Plea",
        "Trial",
        "Hearing",
        "Appeal",
        "Caution",
        "Cautioned",
        "Warning",
        "Dispersal",
        "Order",
        "Notice",
        "Injunction",
    ]
)

# Gazetteer names that are also common capitalised words: not enough on their own for
# the title-case ``Forename Surname`` rule (fine before an ALL-CAPS surname).
AMBIGUOUS_FORENAMES = frozenset(
    [
        "will",
        "may",
        "june",
        "april",
        "august",
        "mark",
        "grace",
        "hope",
        "faith",
        "joy",
        "rose",
        "bill",
        "sue",
        "art",
        "guy",
        "jack",
        "frank",
        "bob",
        "pat",
        "dawn",
        "summer",
        "holly",
        "ivy",
        "lily",
        "jade",
        "ruby",
        "amber",
        "crystal",
        "angel",
        "sunny",
        "chase",
        "hunter",
        "mason",
        "carter",
        "cash",
        "victoria",
        "jordan",
        "chelsea",
        "paris",
        "london",
        "sydney",
        "florence",
        "austin",
        "dallas",
        "georgia",
        "virginia",
        "carolina",
        "brook",
        "brooke",
        "wood",
        "major",
        "young",
        "rich",
        "royal",
        "stone",
        "lane",
        "dean",
        "clay",
        "glen",
        "drew",
        "sterling",
        "miles",
        "ray",
        "don",
        "ken",
        "gene",
        "court",
        "page",
        "chance",
        "christian",
        "diamond",
        "princess",
        "precious",
        "star",
        "storm",
        "sky",
        "river",
        "autumn",
        "heather",
        "hazel",
        "violet",
        "poppy",
        "daisy",
        "iris",
        "lilac",
        "marina",
        "sandy",
        "rusty",
        "dusty",
        "buddy",
        "duke",
        "earl",
        "king",
        "prince",
        "baron",
        "bishop",
        "hall",
        "hill",
        "ford",
        "lincoln",
        "kent",
        "devon",
        "cameron",
        "harley",
        "bentley",
        "morgan",
        "regan",
        "tyler",
        "taylor",
        "parker",
        "porter",
        "spencer",
        "ashley",
        "kelly",
        "shannon",
        "bailey",
        "rowan",
        "reed",
        "reid",
        "woods",
        "west",
        "north",
        "south",
        "tory",
        "trinity",
        "essex",
        "bradley",
        "wesley",
        "cole",
        "colt",
        "dale",
        "dell",
        "gale",
        "gay",
        "jean",
        "joan",
        "may",
        "honey",
        "crack",
        "spice",
        "charlie",
        "white",
        "brown",
        "green",
        "black",
        "gray",
        "grey",
        "police",
        "station",
        "custody",
    ]
)

_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ"
TC = rf"(?:[{_UP}]['’])?[{_UP}][{_LO}]+(?:[{_UP}][{_LO}]+)?(?:-(?:[{_UP}]['’])?[{_UP}][{_LO}]+)?"
CAPS = rf"(?:[{_UP}]['’]|Ma?c)?[{_UP}]{{2,}}(?:-[{_UP}]{{2,}})?"
_TOKEN = rf"(?:{TC}|{CAPS})"

_PREFIX = (
    r"(?:(?:Juvenile|Youth|Adult)\s+)?"
    r"(?:DP|IP|Mr|Mrs|Ms|Miss|Mx|Dr|Prof|PC|WPC|PCSO|SC|DC|DS|DI|DCI|DSI|DSU|DCS|Sgt|Insp|"
    r"Inspector|Sergeant|Constable|Supt|Ch\.?\s?Supt|Superintendent|Ch\.?\s?Insp|"
    r"Chief\s+Inspector|Chief\s+Superintendent|Chief\s+Constable|"
    r"Detective\s+(?:Constable|Sergeant|Inspector|Chief\s+Inspector|Superintendent)|"
    r"Det\.?\s?(?:Con|Sgt|Insp|Supt)|[AT]/(?:Sgt|Insp|DS|DI|DCI|Supt|PS|Ch\s?Insp)|PS|"
    r"Acting\s+(?:Sergeant|Inspector|Sgt|Insp)|HHJ|Judge|Recorder|DJ|Cllr|Rev)\.?"
)
# Capitalised role words before a name ("Victim Ethan Cole"): stripped from model spans,
# and used as a prefix rule only when at least two name tokens follow.
_ROLE = (
    r"(?:Victim|Detainee|Defendant|Suspect|Witness|Complainant|Occupant|Subject|Nominal|"
    r"Offender|Driver|Passenger|Owner|Keeper|Informant|Associate|Caller|Arrested|Accused|"
    r"Occupier|Pupil|Student|Tenant|Resident|Landlord|Landlady|Householder|Homeowner|Cyclist|"
    r"Pedestrian|Rider|Motorist|Patient|Neighbour|Parent|Guardian|Carer|Customer|Employee|"
    r"Manager|Shopkeeper|Claimant|Appellant|Respondent|Deceased|Interpreter|Mother|Father)"
)
ROLE_RX = re.compile(rf"{_ROLE}:?\s+")
ROLE_ONLY_RX = re.compile(rf"{_ROLE}:?")
PREFIX_RX = re.compile(rf"(?:(?<=\s)|(?<=^)|(?<=[(\[\"'“:;,/]))({_PREFIX})(?:\s*\d{{2,6}})?\s+(?=[{_UP}])")
# A prefix followed by up to three name tokens (an optional initial first).
_PREFIXED_NAME = re.compile(
    rf"(?<![\w/])(?P<prefix>{_PREFIX}(?:\s*\d{{2,6}})?\s+)"
    rf"(?P<name>(?:[{_UP}]\.?\s+(?={_TOKEN}))?{_TOKEN}(?:\s+{_TOKEN}){{0,2}})"
)
_ROLE_NAME = re.compile(rf"(?<![\w/])(?:{_ROLE}):?\s+(?P<name>{_TOKEN}(?:\s+{_TOKEN}){{1,2}})")
_SURNAME_COMMA = re.compile(rf"(?<![\w,])(?P<sur>{CAPS})(?:\s*,\s*)(?P<fore>{TC}(?:\s+{TC})?)(?![\w'’-])")
_FORE_CAPS = re.compile(
    rf"(?<![\w'’-])(?P<fore>{TC})(?P<mid>(?:\s+{TC})?)\s+(?P<sur>{CAPS}(?:\s+{CAPS})?)(?![\w'’-])"
)
_ALLCAPS_NAME = re.compile(rf"(?<![\w'’-])(?P<fore>{CAPS})\s+(?P<sur>{CAPS})(?![\w'’-])")
_FORE_SUR = re.compile(rf"(?<![\w'’-])(?P<fore>{TC})\s+(?P<sur>{TC}(?:\s+{TC})?)(?![\w-])")
_POSSESSIVE = re.compile(r"['’]s?$")
_VOWEL = re.compile(r"[AEIOUYÀ-ÖØ-Þ]", re.IGNORECASE)


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "first_names.txt"
    return frozenset(path.read_text(encoding="utf-8").split())


@lru_cache(maxsize=1)
def uk_places() -> frozenset[str]:
    path = Path(__file__).with_name("data") / "uk_places.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    return frozenset(x.strip() for x in lines if x.strip() and not x.startswith("#"))


_ORG_WORDS = frozenset(
    [
        "ltd",
        "limited",
        "plc",
        "llp",
        "bank",
        "group",
        "services",
        "solicitors",
        "school",
        "college",
        "university",
        "hospital",
        "council",
        "trust",
        "club",
        "bar",
        "pub",
        "restaurant",
        "cafe",
        "shop",
        "stores",
        "store",
        "motors",
        "garage",
        "centre",
        "church",
        "mosque",
        "academy",
        "association",
        "company",
        "co",
        "partners",
        "agency",
        "police",
        "court",
    ]
)


def looks_like_person(span: str) -> bool:
    """``Chantelle Morris`` / ``Marcus HILL`` shape with a known forename (for relabelling)."""
    toks = span.split()
    if not 2 <= len(toks) <= 3 or "&" in span:
        return False
    if not is_first_name(toks[0]) or toks[0].lower() in NON_NAME:
        return False
    if any(t.lower() in _ORG_WORDS or not _name_token_ok(t) for t in toks):
        return False
    return all(re.fullmatch(rf"{TC}|{CAPS}", t) for t in toks)


def is_first_name(token: str) -> bool:
    return token.lower() in first_names()


def is_acronym(token: str) -> bool:
    return token.upper().strip(".") in ACRONYMS


def _name_token_ok(tok: str) -> bool:
    t = tok.strip(".")
    if not t or t.lower() in NON_NAME or is_acronym(t):
        return False
    # "PNC", "CRB": consonant clusters are acronyms, not surnames
    return not (t.isupper() and len(t) > 1 and not _VOWEL.search(t))


def _caps_surname_ok(tok: str) -> bool:
    return len(tok.replace("-", "").replace("'", "")) >= 2 and _name_token_ok(tok)


def _trim_tokens(name: str) -> str:
    """Keep the leading run of acceptable name tokens (an initial is fine before a name)."""
    toks = name.split()
    kept: list[str] = []
    for t in toks:
        if not _name_token_ok(t) and not (len(t.rstrip(".")) == 1 and t[0].isupper()):
            break
        kept.append(t)
    while kept and len(kept[-1].rstrip(".")) == 1:
        kept.pop()  # a trailing initial is not a name
    return " ".join(kept)


def strip_possessive(text: str, end: int) -> int:
    """End offset with a trailing ``'s`` / ``'`` removed."""
    m = _POSSESSIVE.search(text[:end][-3:])
    return end - len(m.group(0)) if m else end


def find_people(text: str) -> Iterator[tuple[int, int, str, str, bool]]:
    """Yield ``(start, end, label, value, strong)``; weak ones only fill gaps the model left."""
    for m in _PREFIXED_NAME.finditer(text):
        name = _trim_tokens(m.group("name"))
        if not name:
            continue
        s = m.start("name")
        e = s + len(name)
        # The initial may have been dropped by trimming only at the end, so s is right.
        yield s, e, Label.PERSON, name, True
    for m in _ROLE_NAME.finditer(text):
        name = _trim_tokens(m.group("name"))
        if len(name.split()) >= 2:
            s = m.start("name")
            yield s, s + len(name), Label.PERSON, name, True
    for m in _SURNAME_COMMA.finditer(text):
        sur, fore = m.group("sur"), m.group("fore")
        fore_first = fore.split()[0]
        if not _caps_surname_ok(sur) or not _name_token_ok(fore_first):
            continue
        if not is_first_name(fore_first):
            continue
        yield m.start(), m.end(), Label.PERSON, f"{fore} {sur}", True
    for m in _FORE_CAPS.finditer(text):
        fore, mid, sur = m.group("fore"), m.group("mid"), m.group("sur")
        if not is_first_name(fore) or fore.lower() in NON_NAME:
            continue
        sur_toks = sur.split()
        if not _caps_surname_ok(sur_toks[0]):
            continue
        end = m.end("sur")
        if len(sur_toks) == 2 and not _caps_surname_ok(sur_toks[1]):
            end = m.start("sur") + len(sur_toks[0])
        if mid and not _name_token_ok(mid.strip()):
            continue
        yield m.start(), end, Label.PERSON, " ".join(text[m.start() : end].split()), True
    for m in _ALLCAPS_NAME.finditer(text):
        fore, sur = m.group("fore"), m.group("sur")
        if (
            is_first_name(fore)
            and fore.lower() not in AMBIGUOUS_FORENAMES
            and _caps_surname_ok(sur)
            and _name_token_ok(fore)
        ):
            yield m.start(), m.end(), Label.PERSON, f"{fore} {sur}", True
    for m in _FORE_SUR.finditer(text):
        fore = m.group("fore")
        if not is_first_name(fore) or fore.lower() in AMBIGUOUS_FORENAMES or not _name_token_ok(fore):
            continue
        sur = _trim_tokens(m.group("sur"))
        if not sur:
            continue
        e = m.start("sur") + len(sur)
        yield m.start(), e, Label.PERSON, f"{fore} {sur}", False


def clean_person_span(text: str, start: int, end: int) -> tuple[int, int, str] | None:
    """Strip role prefixes, collar numbers, possessives and stray tokens from a model span."""
    span = text[start:end]
    # Leading prefixes (may repeat: "Juvenile DP", "DC 1234").
    while True:
        m = PREFIX_RX.match(span) or ROLE_RX.match(span)
        if not m:
            break
        start += m.end()
        span = text[start:end]
    # Leading "the"/acronyms.
    while True:
        m = re.match(r"(\S+)\s+", span)
        if m and (is_acronym(m.group(1)) or m.group(1).lower() in {"the", "a", "an"}):
            start += m.end()
            span = text[start:end]
            continue
        break
    end = strip_possessive(text, end)
    span = text[start:end]
    stripped = span.rstrip(" ,.;:-")
    end = start + len(stripped)
    span = stripped
    if "\n" in span:
        span = span.split("\n", 1)[0].rstrip()
        end = start + len(span)
    if not span or any(c.isdigit() for c in span) or ROLE_ONLY_RX.fullmatch(span):
        return None
    toks = span.split()
    if not toks or not toks[0][0].isupper():
        return None
    if all(is_acronym(t) or t.lower() in NON_NAME for t in toks):
        return None
    return start, end, " ".join(toks)
