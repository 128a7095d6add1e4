"""Anomaly flags set on audit events as they are written (issue 13, finding 6).

- ``no_reference``: an action on data with no purpose reference (every audited data action,
  not only searches);
- ``colleague_search``: a search naming another user of Lantern (a display name, rank
  stripped, with spelling and nickname tolerance);
- ``own_postcode``: a search for a postcode the user lives at (``home_postcodes`` on the account);
- ``out_of_hours_bulk``: an export or batch search outside the force's working hours;
- ``review_sample``: a random 1-in-N sample of data actions queued for supervisor review
  (PNC practice: a sample of checks is re-asked for its justification).

``self_search`` stays in :mod:`lantern.audit`. Volume spikes against a user's own baseline
need the user's history, so they are found when the auditor asks (``portal.security.auditq``).
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import TTLCache
from opensearchpy import OpenSearch
from opensearchpy.exceptions import OpenSearchException

from entity_extraction.identifiers import canonical_postcode
from entity_extraction.names import fold, forename_variants, name_tokens, phonetic_keys
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import users as users_mapping

# Police ranks and titles that may lead a display name ("PC Olivia Okafor", "DS J. Patel").
RANK_WORDS = frozenset(
    fold(w)
    for w in (
        *("PC", "WPC", "DC", "TDC", "PCSO", "SC", "PS", "DS", "Sgt", "Insp", "DI", "DCI", "Supt"),
        *("DSupt", "Ch", "ChSupt", "CI", "Chief", "Cmdr", "Commander", "Det", "Detective"),
        *("Constable", "Sergeant", "Inspector", "Superintendent", "Acting", "A"),
        *("Mr", "Mrs", "Ms", "Miss", "Dr", "Mx"),
    )
)
SEARCH_LIKE = frozenset({"search", "api.search", "suggest", "batch_search"})
DATA_ACTIONS = frozenset(
    {
        "search",
        "api.search",
        "suggest",
        "record.view",
        "api.record.view",
        "record.linked",
        "api.record.linked",
        "entity.view",
        "api.entity.view",
        "export",
        "batch_search",
        "notifications.view",
        "saved_query.open",
        "saved_query.view",
    }
)
BULK_ACTIONS = frozenset({"export", "batch_search"})
POSTCODE_IN_TEXT = re.compile(r"\b([A-Za-z]{1,2}\d[A-Za-z\d]?)\s*(\d[A-Za-z]{2})\b")


def strip_rank(display_name: str) -> str:
    """The name without leading ranks and titles ("A/DS Sam Ng" -> "Sam Ng")."""
    words = display_name.replace("/", " ").split()
    while len(words) > 1 and fold(words[0].rstrip(".")) in RANK_WORDS:
        words.pop(0)
    return " ".join(words)


def names_person(query: str, display_name: str) -> bool:
    """Whether ``query`` names the person called ``display_name`` (surname and a forename or
    nickname of it, sound-alike tolerant; a one-word name needs the surname only)."""
    own = name_tokens(strip_rank(display_name))
    words = name_tokens(query)
    if not own or not words:
        return False

    def same(a: str, b: str) -> bool:
        return fold(a) == fold(b) or bool(phonetic_keys(a) & phonetic_keys(b))

    surname = own[-1]
    if not any(same(w, surname) for w in words):
        return False
    if len(own) == 1:
        return True
    forenames = set(forename_variants(own[0])) | {own[0]}
    others = [w for w in words if not same(w, surname)]
    return any(w in forenames or same(w, own[0]) for w in others)


def postcodes_in(text: str) -> set[str]:
    out = set()
    for m in POSTCODE_IN_TEXT.finditer(text):
        pc = canonical_postcode(f"{m.group(1)} {m.group(2)}")
        if pc:
            out.add(pc)
    return out


@dataclass(frozen=True)
class Colleague:
    username: str
    display_name: str
    home_postcodes: frozenset[str]


@dataclass(frozen=True)
class _Named:
    """One account's full name, keyed once for :class:`Colleagues`."""

    username: str
    surname: str
    surname_keys: frozenset[str]
    forename: str
    forename_keys: frozenset[str]
    forenames: frozenset[str]  # the forename, its nicknames and formal forms


class Colleagues:
    """Which accounts a text names: the answer ``names_person`` gives against each account's
    display name (surname, then a forename or nickname of it, sound-alike tolerant), found
    through an index on the surnames' folded forms and sound-alike keys instead of comparing
    every account. The audit flags every search this way, and a force has tens of thousands
    of accounts: comparing each was 150 ms per search against 5,000 display names.

    Only full names (two words or more, rank stripped) are indexed: a one-word display name
    would match any query with that word in it."""

    def __init__(self, people: Iterable[Colleague]) -> None:
        self._by_key: dict[str, list[_Named]] = defaultdict(list)
        for c in people:
            own = name_tokens(strip_rank(c.display_name))
            if len(own) < 2:
                continue
            named = _Named(
                c.username,
                own[-1],
                frozenset(phonetic_keys(own[-1])),
                own[0],
                frozenset(phonetic_keys(own[0])),
                frozenset(forename_variants(own[0])) | {own[0]},
            )
            # "=" marks the folded form; sound-alike keys carry a family prefix ("dm:", ...).
            for key in {f"={named.surname}", *named.surname_keys}:
                self._by_key[key].append(named)

    def named_in(self, text: str) -> set[str]:
        """Usernames of the accounts ``text`` names."""
        words = [(w, frozenset(phonetic_keys(w))) for w in name_tokens(text)]
        candidates = {
            n.username: n for w, keys in words for k in (f"={w}", *keys) for n in self._by_key.get(k, ())
        }
        out = set()
        for named in candidates.values():
            # A candidate's surname is among the words (it was found by one); now a forename
            # among the other words, as names_person asks.
            others = [(w, k) for w, k in words if w != named.surname and not k & named.surname_keys]
            if any(w in named.forenames or k & named.forename_keys for w, k in others):
                out.add(named.username)
        return out


class UserDirectory:
    """Every account's name and home postcodes, cached for ``ttl`` seconds (one query a while,
    not one per audited search), with the names indexed for :class:`Colleagues`."""

    def __init__(self, client: OpenSearch, settings: Settings, ttl: float = 300.0) -> None:
        self.client = client
        self.index = settings.index_name(users_mapping.NAME)
        self._cache: TTLCache[str, tuple[dict[str, Colleague], Colleagues]] = TTLCache(maxsize=1, ttl=ttl)
        self._lock = threading.Lock()

    def _loaded(self) -> tuple[dict[str, Colleague], Colleagues]:
        with self._lock:
            found = self._cache.get("all")
            if found is None:
                people = self._load()
                found = (people, Colleagues(people.values()))
                self._cache["all"] = found
            return found

    def all(self) -> dict[str, Colleague]:
        return self._loaded()[0]

    def colleagues(self) -> Colleagues:
        return self._loaded()[1]

    def _load(self) -> dict[str, Colleague]:
        try:
            res = self.client.search(
                index=self.index,
                body={"size": 10_000, "_source": ["username", "display_name", "home_postcodes"]},
            )
        except OpenSearchException:
            return {}  # flags are advisory: a missing directory must not stop the audit
        out = {}
        for h in res["hits"]["hits"]:
            src = h["_source"]
            name = str(src.get("username") or "")
            raw = src.get("home_postcodes") or []
            pcs = frozenset(p for p in (canonical_postcode(str(x)) for x in raw) if p)
            out[name] = Colleague(name, str(src.get("display_name") or name), pcs)
        return out

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


def _texts(details: Mapping[str, Any]) -> list[str]:
    texts = [str(details["query"])] if details.get("query") else []
    texts.extend(str(x) for x in details.get("lines") or [] if x)
    return texts


def extra_flags(
    action: str,
    principal: Principal | None,
    purpose: Any,
    details: Mapping[str, Any],
    *,
    settings: Settings,
    directory: UserDirectory | None,
    now: datetime,
    already: Iterable[str] = (),
) -> list[str]:
    if principal is None or action not in DATA_ACTIONS:
        return []
    have = set(already)
    flags: list[str] = []
    if "no_reference" not in have and (purpose is None or not getattr(purpose, "reference", None)):
        flags.append("no_reference")
    texts = _texts(details) if action in SEARCH_LIKE else []
    if texts and directory is not None:
        people = directory.all()
        colleagues = directory.colleagues()
        if any(colleagues.named_in(t) - {principal.username} for t in texts):
            flags.append("colleague_search")
        me = people.get(principal.username)
        if me is not None and me.home_postcodes and any(postcodes_in(t) & me.home_postcodes for t in texts):
            flags.append("own_postcode")
    if action in BULK_ACTIONS and not (settings.working_hours_start <= now.hour < settings.working_hours_end):
        flags.append("out_of_hours_bulk")
    n = settings.review_sample_one_in
    if n and secrets.randbelow(n) == 0:
        flags.append("review_sample")
    return flags
