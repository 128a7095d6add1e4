"""Regenerate ``data/first_names.txt``: ``python -m entity_extraction._build_gazetteer``.

Sources: Faker's first-name lists for the locales whose names are common in the UK
population, the ``nicknames`` package (formal names and nicknames), and a short hand list.
Only names of 2+ letters in Latin script are kept; English stop words are removed.
"""

from __future__ import annotations

import csv
import importlib
from pathlib import Path

import nicknames
from spacy.lang.en.stop_words import STOP_WORDS

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
    names |= set(EXTRA)
    keep = set()
    for n in names:
        n = n.strip()
        if len(n) < 2 or not all(c.isalpha() or c in "-'" for c in n):
            continue
        if not all(ord(c) < 0x250 for c in n):  # Latin script only
            continue
        if n.lower() in STOP_WORDS:
            continue
        keep.add(n.lower())
    return sorted(keep)


if __name__ == "__main__":
    out = Path(__file__).with_name("data") / "first_names.txt"
    names = build()
    out.write_text("\n".join(names) + "\n", encoding="utf-8")
    print(f"{len(names)} names -> {out}")
