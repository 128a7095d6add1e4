"""Curated weapon and drug lexicon: surface forms (synonyms, slang) -> canonical value.

One compiled alternation finds every surface form in one pass; word-sense traps are then
checked on the few matches only:

* ``mode`` ``A``: always an entity (subject to the topic/venue traps below);
* ``D``: only with a drug cue nearby (``crack``, ``coke``, ``smack``...);
* ``W``: only with a weapon cue shortly before (``armed with a hammer``);
* ``S``: street slang that is an ordinary word (``white``, ``brown``, ``speed``,
  ``charlie``): lowercase, directly after a trade/quantity word (``wraps of white``,
  ``selling brown``) or paired with another drug word (``white and brown``), and not
  followed by a noun (``white van``).

Traps: ``knife crime``/``gun crime``/``firearms officer`` are topics, not weapons;
a capitalised ``Spice``/``Charlie`` inside a capitalised name (``the Spice Lounge``) is
not a drug; ``crack`` in ``a crack in the windscreen`` is not a drug.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from entity_extraction.types import Label

# (canonical, label, mode, surface forms). Plurals are listed where they occur.
_W, _D = Label.WEAPON, Label.DRUG
_ENTRIES: list[tuple[str, str, str, list[str]]] = [
    # ---- weapons
    ("zombie knife", _W, "A", ["zombie knife", "zombie knives", "zombie-style knife"]),
    ("machete", _W, "A", ["machete", "machetes"]),
    ("flick knife", _W, "A", ["flick knife", "flick knives", "switchblade", "switchblades", "gravity knife"]),
    ("butterfly knife", _W, "A", ["butterfly knife", "butterfly knives", "balisong"]),
    (
        "knife",
        _W,
        "A",
        [
            "knife",
            "knives",
            "kitchen knife",
            "kitchen knives",
            "lock knife",
            "lock knives",
            "folding knife",
            "steak knife",
            "hunting knife",
            "combat knife",
            "carving knife",
            "Stanley knife",
            "craft knife",
            "shank",
            "shanks",
            "dagger",
            "daggers",
            "bread knife",
            "flick-knife",
        ],
    ),
    (
        "bladed article",
        _W,
        "A",
        ["bladed article", "bladed articles", "pointed article", "bladed or pointed article"],
    ),
    ("knife", _W, "W", ["blade"]),
    (
        "sword",
        _W,
        "A",
        ["sword", "swords", "samurai sword", "samurai swords", "katana", "machete-style sword"],
    ),
    (
        "knuckleduster",
        _W,
        "A",
        ["knuckleduster", "knuckledusters", "knuckle duster", "knuckle dusters", "brass knuckles"],
    ),
    ("baseball bat", _W, "A", ["baseball bat", "baseball bats"]),
    ("cricket bat", _W, "A", ["cricket bat", "cricket bats"]),
    (
        "CS spray",
        _W,
        "A",
        ["CS spray", "CS gas", "CS canister", "pepper spray", "incapacitant spray", "PAVA spray", "PAVA"],
    ),
    (
        "handgun",
        _W,
        "A",
        [
            "handgun",
            "handguns",
            "pistol",
            "pistols",
            "revolver",
            "revolvers",
            "Glock",
            "self-loading pistol",
            "semi-automatic pistol",
        ],
    ),
    (
        "imitation firearm",
        _W,
        "A",
        ["imitation firearm", "imitation firearms", "replica firearm", "replica gun", "imitation handgun"],
    ),
    ("BB gun", _W, "A", ["BB gun", "BB guns", "ball bearing gun"]),
    (
        "air weapon",
        _W,
        "A",
        ["air rifle", "air rifles", "air pistol", "air pistols", "air weapon", "air weapons"],
    ),
    (
        "shotgun",
        _W,
        "A",
        ["shotgun", "shotguns", "sawn-off shotgun", "sawn-off shotguns", "sawn off shotgun", "sawnoff"],
    ),
    ("rifle", _W, "A", ["rifle", "rifles"]),
    (
        "submachine gun",
        _W,
        "A",
        ["submachine gun", "sub-machine gun", "machine gun", "machine pistol", "Uzi", "MAC-10"],
    ),
    (
        "firearm",
        _W,
        "A",
        [
            "firearm",
            "firearms",
            "gun",
            "guns",
            "converted firearm",
            "converted firearms",
            "converted handgun",
        ],
    ),
    ("stun gun", _W, "A", ["stun gun", "stun guns", "taser", "tasers", "stun baton"]),
    ("crossbow", _W, "A", ["crossbow", "crossbows"]),
    ("corrosive substance", _W, "A", ["corrosive substance", "corrosive liquid", "noxious substance"]),
    ("knuckleduster", _W, "A", ["knuckle-duster", "knuckle-dusters"]),
    ("hammer", _W, "W", ["hammer", "claw hammer"]),
    ("axe", _W, "W", ["axe", "hatchet"]),
    ("crowbar", _W, "W", ["crowbar"]),
    ("screwdriver", _W, "W", ["screwdriver"]),
    ("knife", _W, "W", ["blades"]),
    # ---- drugs
    ("crack cocaine", _D, "A", ["crack cocaine", "crack-cocaine"]),
    ("crack cocaine", _D, "D", ["crack"]),
    ("crack cocaine", _D, "S", ["white"]),
    ("cocaine", _D, "A", ["cocaine", "powder cocaine", "cocaine hydrochloride", "benzoylmethylecgonine"]),
    ("cocaine", _D, "D", ["coke"]),
    ("cocaine", _D, "S", ["charlie"]),
    ("heroin", _D, "A", ["heroin", "diamorphine"]),
    ("heroin", _D, "D", ["smack"]),
    ("heroin", _D, "S", ["brown"]),
    (
        "cannabis",
        _D,
        "A",
        [
            "cannabis",
            "herbal cannabis",
            "cannabis resin",
            "skunk",
            "marijuana",
            "marihuana",
            "hashish",
            "weed",
        ],
    ),
    ("cannabis", _D, "D", ["hash"]),
    ("MDMA", _D, "A", ["MDMA", "ecstasy", "ecstacy"]),
    ("MDMA", _D, "D", ["molly", "mandy"]),
    ("ketamine", _D, "A", ["ketamine", "special k"]),
    ("ketamine", _D, "D", ["ket"]),
    (
        "spice",
        _D,
        "A",
        ["spice", "synthetic cannabinoid", "synthetic cannabinoids", "synthetic cannabis", "mamba"],
    ),
    ("amphetamine", _D, "A", ["amphetamine", "amphetamines", "amphetamine sulphate", "amphetamine paste"]),
    ("amphetamine", _D, "S", ["speed", "whizz"]),
    ("methamphetamine", _D, "A", ["methamphetamine", "crystal meth", "crystal methamphetamine"]),
    ("methamphetamine", _D, "D", ["meth"]),
    ("LSD", _D, "A", ["LSD"]),
    ("magic mushrooms", _D, "A", ["magic mushrooms", "psilocybin"]),
    ("nitrous oxide", _D, "A", ["nitrous oxide", "laughing gas"]),
    ("GHB", _D, "A", ["GHB", "GBL"]),
    ("mephedrone", _D, "A", ["mephedrone", "meow meow", "m-cat"]),
    ("fentanyl", _D, "A", ["fentanyl"]),
    ("methadone", _D, "A", ["methadone"]),
    ("diazepam", _D, "A", ["diazepam", "etizolam", "street valium"]),
    ("anabolic steroids", _D, "A", ["anabolic steroids"]),
    ("opium", _D, "A", ["opium"]),
    ("khat", _D, "A", ["khat"]),
    ("pregabalin", _D, "A", ["pregabalin"]),
]


def _key(surface: str) -> str:
    return re.sub(r"[\s\-]+", " ", surface.strip().lower())


LEXICON: dict[str, tuple[str, str, str]] = {}
for _canon, _label, _mode, _forms in _ENTRIES:
    for _f in _forms:
        LEXICON.setdefault(_key(_f), (_label, _canon, _mode))


def _surface_rx(surface: str) -> str:
    parts = re.split(r"[\s\-]+", surface.lower())
    return r"[\s\-]+".join(re.escape(p) for p in parts)


_ALTERNATION = "|".join(_surface_rx(k) for k in sorted(LEXICON, key=lambda s: (-len(s), s)))
_LEX_RX = re.compile(rf"(?<![\w\-])(?:{_ALTERNATION})(?![\w\-])", re.IGNORECASE)

# Words after a weapon word that make it a topic, a unit or a law, not a weapon.
_TOPIC_AFTER = re.compile(
    r"[\s\-]+(?:crimes?|amnest(?:y|ies)|arch(?:es)?|bins?|wands?|awareness|surrender|"
    r"officers?|units?|licen[cs]es?|licen[cs]ing|certificates?|teams?|commander|"
    r"dealer|act|offences?|related|enabled|incidents?|violence|culture|"
    r"cafe|café|lounge|bar|club|restaurant|house|kitchen|trail|route)\b",
    re.IGNORECASE,
)
_DRUG_TOPIC_AFTER = re.compile(
    r"[\s\-]+(?:anonymous|lounge|bar|club|restaurant|cafe|café|kitchen|rack|girls?)\b",
    re.IGNORECASE,
)
_CAP_WORD_AFTER = re.compile(r"[ \t]+(?:[A-Z][a-z]+|&)")
_CAP_WORD_BEFORE = re.compile(r"(?:[A-Z][a-z']+|The)[ \t]+$")
_SENT_START = re.compile(r"(?:^|[.!?:;\n]\s*|[\"'(]\s*)$")

_DRUG_CUE = re.compile(
    r"\b(?:deal(?:s|er|ers|ing)?|supply(?:ing)?|supplie[sd]|sell(?:s|ing)?|sold|wraps?|"
    r"rocks?|bags?|deals|smok(?:e|es|ed|ing)|pipes?|users?|using|addict(?:s|ed|ion)?|"
    r"class\s+[abc]|heroin|cocaine|county\s+lines?|pwits|possession|grams?|\d+\s?g|"
    r"ounces?|kilos?|scor(?:e|ed|ing)|bought|buy(?:ing)?|drugs?|crack|brown|white|"
    r"runner|trap\s+house|cuckoo(?:ed|ing)?|dealer|snort(?:ed|ing)?|"
    r"cannabis|wrap|stash|plug)\b",
    re.IGNORECASE,
)
_WEAPON_CUE = re.compile(
    r"\b(?:armed|brandish(?:ed|ing)?|wield(?:ed|ing)?|threaten(?:ed|ing)|struck|"
    r"stabb(?:ed|ing)|hit|attack(?:ed|ing)|assault(?:ed|ing)|swung|swinging|carr(?:y|ying|ied)|"
    r"produced|pulled|waved|waving|weapons?|concealed|holding|held|had|has|have|with|"
    r"smash(?:ed|ing)?|threats?)\b[^.\n]{0,30}$",
    re.IGNORECASE,
)
_PUBLIC_PLACE = re.compile(r"\s+(?:in\s+a\s+public\s+place|on\s+school\s+premises)", re.IGNORECASE)
_WEAPON_CUE_AFTER = re.compile(
    r"[^.\n]{0,25}\b(?:wielded|brandished|used\s+as\s+a\s+weapon|to\s+(?:threaten|attack|hit|strike))\b",
    re.IGNORECASE,
)
_QUANTITY_OF = re.compile(
    r"\b(?:wraps?|bags?|deals?|grams?|ounces?|kilos?|\d+\s?g|quantit(?:y|ies)|amount|"
    r"packages?|bundles?|score)\s+of\s+$",
    re.IGNORECASE,
)
_GLASS_TRAP_AFTER = re.compile(
    r"[\s]+(?:in|on|across|down|along|to|through|appeared|running|between)\b", re.IGNORECASE
)
_GLASS_TRAP_BEFORE = re.compile(
    r"\b(?:a|small|large|hairline|visible|long|thin|big|the|loud)\s+$", re.IGNORECASE
)
_SLANG_BEFORE = re.compile(
    r"\b(?:of|selling|sell|sells|sold|dealing|deal|deals|dealt|supplying|supply|supplies|"
    r"supplied|buy|buying|bought|score|scoring|scored|run|running|shotting|bag|"
    r"and|or)\s+$",
    re.IGNORECASE,
)
_SLANG_AFTER_OK = re.compile(
    r"(?:\s*[,.;:!?)\n]|\s*$|\s+(?:and|or|to|from|in|at|for|on|"
    r"with|via|near|around|across|within|throughout|was|were|is|are)\b)"
)


def _window(text: str, start: int, end: int, width: int = 70) -> str:
    return text[max(0, start - width) : start] + " " + text[end : end + width]


_DAMAGE_CUE = re.compile(
    r"\b(?:window|windows|windscreen|glass|screen|mirror|wall|ceiling|pavement|door|bone|"
    r"skull|rib|plaster|paint|tile|tiles|crack(?:ed|ing|s)|smash(?:ed)?|damage[ds]?|pane)\b",
    re.IGNORECASE,
)
# Proper names in the lexicon: capitalised mid-sentence is normal for them.
_PROPER = frozenset(
    {
        "glock",
        "uzi",
        "mac 10",
        "stanley knife",
        "taser",
        "tasers",
        "mdma",
        "lsd",
        "ghb",
        "gbl",
        "pava",
        "pava spray",
        "cs spray",
        "cs gas",
        "cs canister",
        "bb gun",
        "bb guns",
    }
)


def _quoted(text: str, s: int, e: int) -> bool:
    return s > 0 and e < len(text) and text[s - 1] in "'‘\"“" and text[e] in "'’\"”"


def find_lexicon(text: str) -> Iterator[tuple[int, int, str, str]]:
    """Yield ``(start, end, label, canonical)`` for weapon and drug mentions."""
    accepted: set[str] = set()  # context-dependent words already confirmed in this text
    for m in _LEX_RX.finditer(text):
        s, e = m.start(), m.end()
        surface = m.group(0)
        key = _key(surface)
        label, canon, mode = LEXICON[key]
        after = text[e : e + 30]
        before = text[max(0, s - 40) : s]
        if label == Label.WEAPON and (_TOPIC_AFTER.match(after) or _PUBLIC_PLACE.match(after)):
            continue
        if label == Label.DRUG and _DRUG_TOPIC_AFTER.match(after):
            continue
        # A capitalised common noun is part of a name unless it starts the sentence:
        # "the Spice Lounge", "Spice of Life", "Charlie Mensah".
        if (
            surface[0].isupper()
            and not surface.isupper()
            and key not in _PROPER
            and (_CAP_WORD_AFTER.match(after) or not _SENT_START.search(before))
        ):
            continue
        if mode == "A":
            yield s, e, label, canon
        elif mode == "D":
            if surface != surface.lower() and not surface.isupper() and not _SENT_START.search(before):
                continue
            ctx = _window(text, s, e)
            cues = [c for c in _DRUG_CUE.finditer(ctx) if _key(c.group(0)) != key]
            if not cues:
                continue
            if _DAMAGE_CUE.search(ctx) and (
                _GLASS_TRAP_AFTER.match(after) or _GLASS_TRAP_BEFORE.search(before)
            ):
                continue
            yield s, e, label, canon
        elif mode == "W":
            if re.search(r"\brazor\s+$", before, re.IGNORECASE):
                continue
            if key in accepted or _WEAPON_CUE.search(before) or _WEAPON_CUE_AFTER.match(after):
                accepted.add(key)
                yield s, e, label, canon
        elif mode == "S":
            if surface != surface.lower():
                continue
            if _quoted(text, s, e):
                if _DRUG_CUE.search(_window(text, s, e).replace(surface, " ")):
                    yield s, e, label, canon
                continue
            if not _SLANG_AFTER_OK.match(text, e):
                continue
            b = _SLANG_BEFORE.search(before)
            if not b:
                continue
            if b.group(0).strip().lower() in {"and", "or"}:
                # "white and brown": the word before the conjunction must be drug slang/name.
                prev = re.search(r"(\w+)\s+(?:and|or)\s+$", before)
                if (
                    not prev
                    or _key(prev.group(1)) not in LEXICON
                    or LEXICON[_key(prev.group(1))][0] != Label.DRUG
                ):
                    continue
            elif b.group(0).strip().lower() == "of" and not _QUANTITY_OF.search(before):
                continue
            yield s, e, label, canon


def canonical_lexicon(label: str, text: str) -> str | None:
    hit = LEXICON.get(_key(text))
    if hit is None or hit[0] != label:
        return None
    return hit[1]
