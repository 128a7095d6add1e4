"""Regenerate ``data/first_names.txt``: ``python -m entity_extraction._build_gazetteer``.

Sources: Faker's first-name lists for the locales whose names are common in the UK
population, the ``nicknames`` package (formal names and nicknames), the curated variant
table (``data/name_variants.csv``), a short hand list, and the ``names-dataset`` package
(first names from 100+ countries, ranked per country): the names ranked in the top
``ND_RANK`` of a country whose people a London force meets, unless the word is a common
English word (wordfreq Zipf >= ``ND_MAX_ZIPF``: "the", "will", "park" are ranked names in
that crawled data). Only names of 2+ letters in Latin script are kept; English stop words
are removed.

names-dataset loads about 1 GB into memory, so it is read here, at build time only, and the
derived list is committed: nothing loads it at run time. Build-time dependencies (dev
extra): names-dataset, wordfreq, faker.
"""

from __future__ import annotations

import csv
import importlib
from pathlib import Path

import nicknames
from spacy.lang.en.stop_words import STOP_WORDS

from entity_extraction.names import load_variant_groups

# Countries (ISO codes as names-dataset has them) of London's largest communities and
# visitors; Romania is not in the dataset, Moldova (MD) stands in for Romanian names and
# Djibouti/Ethiopia (DJ/ET) for Somali ones.
ND_COUNTRIES = (
    *("GB", "IE", "US", "CA", "PL", "LT", "MD", "BG", "AL", "RS", "HR", "HU", "GR", "CY"),
    *("TR", "PT", "BR", "IT", "ES", "FR", "DE", "NL"),
    *("NG", "GH", "ZA", "JM", "ET", "DJ", "SD", "EG", "MA", "DZ", "TN", "LY"),
    *("IN", "BD", "AF", "IR", "IQ", "SY", "LB", "JO", "PS", "YE", "SA", "KW", "AE"),
    *("CN", "HK", "MY", "PH"),
)
ND_RANK = 1500
ND_RANK_HOME = 4000  # GB and IE: deeper, for Welsh, Scottish and Irish names
ND_MAX_ZIPF = 3.0
# A name near the top of a country's list may be a commoner English word ("Alfie", "Rahul"):
# allowed up to this Zipf frequency when ranked within ND_TOP_RANK (GB/IE) / ND_TOP_RANK_ABROAD.
ND_TOP_MAX_ZIPF = 4.0
ND_TOP_RANK = 1000
ND_TOP_RANK_ABROAD = 300
# Words that are never a forename in police text, whatever a crawled dataset says.
NEVER = {
    *("occupier", "pupil", "driver", "passenger", "victim", "suspect", "witness", "owner"),
    *("tenant", "resident", "caller", "student", "officer", "nominal", "subject", "stolen"),
    *("arson", "police", "custody", "station", "court", "road", "street", "bank", "app"),
}
WELSH = [
    *("Dafydd", "Gethin", "Iolo", "Rhodri", "Gruffydd", "Llywelyn", "Ieuan", "Owain", "Emyr"),
    *("Hywel", "Aled", "Geraint", "Rhys", "Cerys", "Eleri", "Ffion", "Gwenllian", "Rhiannon"),
    *("Siân", "Catrin", "Angharad", "Bethan", "Meinir", "Nia", "Gwyneth", "Llinos", "Elin"),
]

LOCALES = [
    "en_GB",
    "en_US",
    "en_IE",
    "en_IN",
    "en_NZ",
    "tr_TR",
    "pl_PL",
    "it_IT",
    "es_ES",
    "fr_FR",
    "pt_PT",
    "nl_NL",
    "ro_RO",
    "yo_NG",
    "zu_ZA",
    "tw_GH",
]
EXTRA = [
    "Mohammed",
    "Muhammad",
    "Mohammad",
    "Mohamed",
    "Ahmed",
    "Ahmad",
    "Ali",
    "Hassan",
    "Hussein",
    "Hussain",
    "Omar",
    "Umar",
    "Yusuf",
    "Yusuf",
    "Ibrahim",
    "Amir",
    "Imran",
    "Irfan",
    "Tariq",
    "Zain",
    "Zainab",
    "Aisha",
    "Ayesha",
    "Fatima",
    "Maryam",
    "Khadija",
    "Amina",
    "Priya",
    "Raj",
    "Rajesh",
    "Sanjay",
    "Deepak",
    "Anil",
    "Sunil",
    "Arjun",
    "Ravi",
    "Kiran",
    "Sunita",
    "Anita",
    "Harpreet",
    "Gurpreet",
    "Jaspreet",
    "Manpreet",
    "Sukhdeep",
    "Kwame",
    "Kofi",
    "Kwabena",
    "Ama",
    "Chidi",
    "Chinedu",
    "Emeka",
    "Ngozi",
    "Oluwaseun",
    "Olu",
    "Tunde",
    "Babatunde",
    "Adebayo",
    "Ade",
    "Yemi",
    "Folake",
    "Abdi",
    "Abdullahi",
    "Hamza",
    "Bilal",
    "Ayaan",
    "Wei",
    "Jun",
    "Mei",
    "Ling",
    "Hui",
    "Chen",
    "Minh",
    "Duc",
    "Anh",
    "Thanh",
    "Emre",
    "Mehmet",
    "Mustafa",
    "Elif",
    "Zeynep",
    "Murat",
    "Kemal",
    "Tomasz",
    "Piotr",
    "Krzysztof",
    "Agnieszka",
    "Katarzyna",
    "Andrzej",
    "Marek",
    "Pawel",
    "Lukasz",
    "Jakub",
    "Darius",
    "Dariusz",
    "Mihai",
    "Ionut",
    "Andrei",
    "Bogdan",
    "Vasile",
    "Florin",
    "Rashid",
    "Nasser",
    "Samir",
    "Karim",
    "Leila",
    "Layla",
    "Nadia",
    "Rania",
    "Shanice",
    "Tyrone",
    "Jermaine",
    "Dwayne",
    "Leroy",
    "Marcus",
    "Kyle",
    "Jamal",
    "Andre",
    "Tremaine",
    "Levi",
    "Reece",
    "Kai",
]


def build() -> list[str]:
    names: set[str] = set()
    for loc in LOCALES:
        provider = importlib.import_module(f"faker.providers.person.{loc}").Provider
        for attr in ("first_names", "first_names_male", "first_names_female"):
            v = getattr(provider, attr, None)
            if v:
                names |= set(v.keys() if isinstance(v, dict) else v)
    csv_path = Path(nicknames.__file__).with_name("names.csv")
    with csv_path.open(newline="") as f:
        for row in csv.DictReader(f):
            names.add(row["name1"].title())
            names.add(row["name2"].title())
    names |= set(EXTRA) | set(WELSH)
    for g in load_variant_groups():
        names |= set(g.names)
    names |= _names_dataset()
    keep = set()
    for n in names:
        n = n.strip()
        if len(n) < 2 or not all(c.isalpha() or c in "-'" for c in n):
            continue
        if not all(ord(c) < 0x250 for c in n):  # Latin script only
            continue
        if n.lower() in STOP_WORDS or n.lower() in NEVER:
            continue
        keep.add(n.lower())
    return sorted(keep)


def _names_dataset() -> set[str]:
    import gzip
    import pickle

    import names_dataset
    from wordfreq import zipf_frequency

    path = Path(names_dataset.__file__).with_name("v3") / "first_names.pkl.gz"
    with gzip.open(path, "rb") as f:
        data = pickle.load(f)  # noqa: S301 - the package's own data file
    out: set[str] = set()
    for name, info in data.items():
        ranks = {c: r for c, r in (info.get("rank") or {}).items() if c in ND_COUNTRIES and r is not None}
        home = ("GB", "IE")
        ok = any(r <= (ND_RANK_HOME if c in home else ND_RANK) for c, r in ranks.items())
        if not ok or len(name) < 3 or not name[0].isupper() or not name[1:].islower():
            continue
        top = any(r <= (ND_TOP_RANK if c in home else ND_TOP_RANK_ABROAD) for c, r in ranks.items())
        zipf = zipf_frequency(name.lower(), "en")
        if zipf >= (ND_TOP_MAX_ZIPF if top else ND_MAX_ZIPF):
            continue
        out.add(name)
    return out


if __name__ == "__main__":
    out = Path(__file__).with_name("data") / "first_names.txt"
    names = build()
    out.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"{len(names)} names -> {out}")
