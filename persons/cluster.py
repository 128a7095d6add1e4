"""Clustering scored pairs into nominals, with human decisions and stable ids.

Hand-written rather than Splink's ``cluster_pairwise_predictions_at_threshold``: that is
plain connected components, which lets one ambiguous mention (a father's record without a
DOB) chain two people together, and it has no cannot-link. Here edges are merged strongest
first and a merge is refused when the two groups hold contradictory evidence (two different
PNC IDs or CRO numbers, DOBs no keying error explains, or a human "not the same person").
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

import jellyfish
import numpy as np

from persons.features import is_short_form

NOMINAL_NAMESPACE = uuid.UUID("b7a4f0d2-5e1c-4c8b-9a36-1f2e8d7c6b54")
# A mention without DOB or identifier that scores at least this against two people who
# cannot be one is ambiguous, even when only one of the two links would merge on its own.
# Chosen on the tuning split (scripts/eval_persons.py): 0.5 to 1.0 trade recall for precision.
AMBIGUOUS_PROBABILITY = 0.8


class Edge(NamedTuple):
    # A tuple, not a frozen dataclass: a batch makes ~15,000 (a dataclass cost twice as much
    # to build), and the clustering only reads them.
    a: str
    b: str
    probability: float


@dataclass
class Attrs:
    """What a mention contributes to its group's consistency checks."""

    dob: str | None = None
    pnc: str | None = None
    cro: str | None = None
    forename: str | None = None  # folded
    surname: str | None = None  # folded
    # Variant and sound-alike keys of the forename: sharing one makes two forenames compatible.
    forename_keys: frozenset[str] = frozenset()
    # Sound-alike keys of the surname (read as a forename when the names are keyed swapped).
    surname_keys: frozenset[str] = frozenset()


# What a mention without attributes contributes (one shared instance, only ever read: built
# afresh for every lookup it cost more than the lookups).
_NO_ATTRS = Attrs()


class _Given(NamedTuple):
    # A tuple: hashed and compared in C (as a frozen dataclass, its generated ``__hash__`` and
    # ``__eq__`` were most of the cost of building a nominal's forenames).
    name: str
    keys: frozenset[str]


def forenames_compatible(a: _Given, b: _Given) -> bool:
    """Could these two keyed forenames be the same person's? (equal, an initial, a known
    variant, sound-alike, or a plausible slip)."""
    if a.name == b.name or a.keys & b.keys:
        return True
    if (len(a.name) == 1 or len(b.name) == 1) and a.name[0] == b.name[0]:
        return True
    if is_short_form(a.name, b.name):
        return True
    return jellyfish.jaro_winkler_similarity(a.name, b.name) >= 0.85


@lru_cache(maxsize=65_536)
def _surname_like(name: str, surnames: frozenset[str]) -> bool:
    """Is ``name`` one of ``surnames`` give or take a keying slip? (the slip half of the
    model's alike-swap level; its sound-alike half is checked with the keys)."""
    return name in surnames or any(jellyfish.jaro_winkler_similarity(name, s) >= 0.9 for s in surnames)


@dataclass
class _Group:
    members: list[str]
    dobs: set[str] = field(default_factory=set)
    pncs: set[str] = field(default_factory=set)
    cros: set[str] = field(default_factory=set)
    givens: set[_Given] = field(default_factory=set)
    surnames: set[str] = field(default_factory=set)
    # Sound-alike keys of ``surnames``.
    surname_keys: set[str] = field(default_factory=set)
    # ``surnames`` as a frozenset, the key ``_surname_like`` caches by, rebuilt when it has
    # grown (it never shrinks). Built afresh for every check (three a merge), it was a
    # fifth of a merge's cost at 100,000 held, growing with the nominal.
    _known: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    def known_surnames(self) -> frozenset[str]:
        if len(self._known) != len(self.surnames):
            self._known = frozenset(self.surnames)
        return self._known


def _damerau1(a: str, b: str) -> bool:
    if len(a) != len(b):
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


def dobs_compatible(a: str, b: str) -> bool:
    """Could one keyed DOB be a keying error of the other? (ISO strings)."""
    if a == b or _damerau1(a, b):
        return True
    da, db = date.fromisoformat(a), date.fromisoformat(b)
    if (da.day, da.month) == (db.month, db.day) and da.year == db.year:
        return True
    if da.year == db.year and ((da.month, da.day) == (1, 1) or (db.month, db.day) == (1, 1)):
        return True
    # A year keyed one out (an age given instead of a date, a year worked back from it) often
    # comes with a day that is a guess or clamped to the month's end: the month still agrees.
    # Father and son (decades), siblings (a year or more, and another forename) stay apart.
    return abs(da.year - db.year) == 1 and da.month == db.month


class Clusterer:
    def __init__(self, attrs: Mapping[str, Attrs], cannot: Iterable[tuple[str, str]] = ()) -> None:
        self.attrs = attrs
        self.parent: dict[str, str] = {}
        self.groups: dict[str, _Group] = {}
        self.cannot: dict[str, set[str]] = {}
        for a, b in cannot:
            self.cannot.setdefault(a, set()).add(b)
            self.cannot.setdefault(b, set()).add(a)
        self.refused: list[tuple[str, str, str]] = []

    def add(self, mid: str) -> None:
        if mid in self.parent:
            return
        self.parent[mid] = mid
        at = self.attrs.get(mid, _NO_ATTRS)
        self.groups[mid] = _Group(
            [mid],
            {at.dob} if at.dob else set(),
            {at.pnc} if at.pnc else set(),
            {at.cro} if at.cro else set(),
            {_Given(at.forename, at.forename_keys)} if at.forename else set(),
            {at.surname} if at.surname else set(),
            set(at.surname_keys) if at.surname else set(),
        )

    def find(self, x: str) -> str:
        parent = self.parent
        root = parent[x]
        # Most mentions hang directly from their root (a seeded group's members do): one
        # look-up, no walk.
        if parent[root] == root:
            return root
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def conflict(self, ra: str, rb: str) -> str | None:
        return self._checked(ra, rb)[0]

    def _checked(
        self, ra: str, rb: str
    ) -> tuple[str | None, tuple[_Group, tuple[set[_Given], set[str]]] | None]:
        """``conflict``, and the smaller group's names as read against the larger
        (``_oriented``) when the check read them: a merge that follows adds those (reading
        them again was a fifth of a merge)."""
        ga, gb = self.groups[ra], self.groups[rb]
        small, big = (ga, gb) if len(ga.members) <= len(gb.members) else (gb, ga)
        cannot = self.cannot
        # The larger group's members as a set only when a cannot-link could meet them
        # (decisions are rare; building it on every check cost more than the rest).
        if cannot:
            against = [cannot[m] for m in small.members if m in cannot]
            if against:
                big_set = set(big.members)
                if any(x & big_set for x in against):
                    return "a user decided these are not the same person", None
        if ga.pncs and gb.pncs and not (ga.pncs & gb.pncs):
            return "different PNC IDs", None
        if ga.cros and gb.cros and not (ga.cros & gb.cros):
            return "different CRO numbers", None
        # Each DOB of the smaller group must be a keying error away from one of the larger's
        # (all pairs would be too strict: a swap and a slip of one DOB are two hops apart).
        # A 1 January default fits any date of its year, so like an initial it is no bridge:
        # when both groups hold real dates, those must agree with each other.
        small_real = {d for d in small.dobs if not d.endswith("-01-01")}
        big_real = {d for d in big.dobs if not d.endswith("-01-01")}
        both_real = bool(small_real and big_real)
        for d in small_real if both_real else small.dobs:
            check = big_real if both_real else big.dobs
            # A DOB the other group holds too needs no search (most merges).
            if check and d not in check and not any(dobs_compatible(d, y) for y in check):
                return "dates of birth no keying error explains", None
        if ga.pncs & gb.pncs or ga.cros & gb.cros:
            return None, None
        # Twins and siblings share surname, address and (twins) DOB: only the forename tells
        # them apart. Each forename of the smaller group must be explained (same, variant,
        # sound-alike, slip, initial, or keyed into the surname box) by one of the larger
        # group's, unless an identifier joins them.
        # An initial is compatible with every forename it starts, so it is no bridge: when
        # both groups hold full forenames, those must agree with each other (twins "L. Nunes",
        # "Luis Nunes" and "Ricardo Nunes" stay two people).
        # Names keyed the other way round are read the way the larger group holds them, so a
        # swapped "Thompson Maurice" is compared as Maurice (twins "Stephen Thompson" and
        # "Maurice Thompson" are not bridged by it).
        oriented = self._oriented(small, big)
        small_givens = oriented[0]
        big_givens = big.givens
        small_full = {x for x in small_givens if len(x.name) > 1}
        big_full = {y for y in big_givens if len(y.name) > 1}
        small_check = small_full if (small_full and big_full) else small_givens
        big_check = big_full if (small_full and big_full) else big_givens
        for x in small_check:
            if big_check and x not in big_check and not any(forenames_compatible(x, y) for y in big_check):
                return "forenames no variant or keying error explains", None
        return None, (small, oriented)

    def _oriented(self, small: _Group, big: _Group) -> tuple[set[_Given], set[str]]:
        """``small``'s forenames and surnames with each mention keyed forename-for-surname
        relative to ``big`` (its forename is like one of big's surnames, its surname is not)
        turned round. "Like": equal, a slip, or sounding alike (the model's swap levels)."""
        givens: set[_Given] = set()
        fams: set[str] = set()
        big_surnames = big.known_surnames()
        for m in small.members:
            at = self.attrs.get(m, _NO_ATTRS)
            f, s = at.forename, at.surname
            if (
                f
                and s
                and (f in big_surnames or self._like_surname(f, at.forename_keys, big))
                and not self._like_surname(s, at.surname_keys, big)
            ):
                # Read as a forename, the surname brings its sound-alike keys.
                givens.add(_Given(s, at.surname_keys))
                fams.add(f)
                continue
            if f:
                givens.add(_Given(f, at.forename_keys))
            if s:
                fams.add(s)
        return givens, fams

    def seed(self, members: Sequence[str]) -> None:
        """``members`` (an existing nominal's) as one group: the group that forcing
        ``union(members[0], m)`` for each other member in turn gives, with the same root and
        member order, built directly: without making each member a group of its own and
        merging it in (an incremental batch seeds a few thousand held mentions).
        ``members[0]`` may be held already, as a group on its own; no other member may be."""
        root, rest = members[0], members[1:]
        parent, attrs = self.parent, self.attrs
        if (
            root in parent and len(self.groups.get(root, _Group([])).members) != 1
        ) or not parent.keys().isdisjoint(rest):
            raise ValueError(f"seed group of {root}: a member is grouped already")
        self.add(root)
        g = self.groups[root]
        dobs, pncs, cros, givens = g.dobs, g.pncs, g.cros, g.givens
        surnames, surname_keys = g.surnames, g.surname_keys
        # ``surnames`` as a frozenset for ``_surname_like`` (cached by it): rebuilt only when
        # a member adds a surname.
        known = frozenset(surnames)
        for m in rest:
            parent[m] = root
            at = attrs.get(m, _NO_ATTRS)
            if at.dob:
                dobs.add(at.dob)
            if at.pnc:
                pncs.add(at.pnc)
            if at.cro:
                cros.add(at.cro)
            if len(known) != len(surnames):
                known = frozenset(surnames)
            f, s = at.forename, at.surname
            # ``_oriented`` of the member against the group so far, then ``union``'s update
            # of the group's names with what it gave (``fam``: its surname as read).
            if (
                f
                and s
                and (f in known or at.forename_keys & surname_keys or _surname_like(f, known))
                and not (at.surname_keys & surname_keys or _surname_like(s, known))
            ):
                givens.add(_Given(s, at.surname_keys))
                fam: str | None = f
            else:
                if f:
                    givens.add(_Given(f, at.forename_keys))
                fam = s
            if fam:
                surnames.add(fam)
                if s == fam:
                    surname_keys |= at.surname_keys
                elif f == fam:
                    surname_keys |= {k for k in at.forename_keys if ":" in k}
        g.members.extend(rest)

    @staticmethod
    def _like_surname(name: str, keys: frozenset[str], group: _Group) -> bool:
        return bool(keys & group.surname_keys) or _surname_like(name, group.known_surnames())

    def union(self, a: str, b: str, *, force: bool = False) -> bool:
        self.add(a)
        self.add(b)
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        read = None
        if not force:
            why, read = self._checked(ra, rb)
            if why:
                self.refused.append((a, b, why))
                return False
        ga, gb = self.groups[ra], self.groups[rb]
        if len(ga.members) < len(gb.members):
            ra, rb, ga, gb = rb, ra, gb, ga
        self.parent[rb] = ra
        ga.members += gb.members
        ga.dobs |= gb.dobs
        ga.pncs |= gb.pncs
        ga.cros |= gb.cros
        givens, fams = read[1] if read is not None and read[0] is gb else self._oriented(gb, ga)
        ga.givens |= givens
        ga.surnames |= fams
        for m in gb.members:
            at = self.attrs.get(m, _NO_ATTRS)
            if at.surname in fams:
                ga.surname_keys |= at.surname_keys
            elif at.forename in fams:
                ga.surname_keys |= {k for k in at.forename_keys if ":" in k}
        del self.groups[rb]
        return True

    def clusters(self) -> list[list[str]]:
        return [sorted(g.members) for g in self.groups.values()]


def cluster(
    mention_ids: Iterable[str],
    edges: Sequence[Edge],
    threshold: float,
    attrs: Mapping[str, Attrs],
    must: Sequence[tuple[str, str]] = (),
    cannot: Sequence[tuple[str, str]] = (),
    seed_groups: Iterable[Sequence[str]] = (),
    *,
    attach: float | None = None,
    ambiguous: float = AMBIGUOUS_PROBABILITY,
    attach_dob: float | None = None,
    margin: float | None = None,
) -> tuple[list[list[str]], list[tuple[str, str, str]]]:
    """Groups of mention ids, and the merges refused (a, b, why).

    ``seed_groups`` are existing nominals (incremental resolution): their members start
    together; ``must`` pairs are human "same person" decisions, applied before any edge.
    ``attach`` (optional, below ``threshold``): a group with no DOB joins its strongest
    scored neighbour at this probability when its other neighbours could be that same
    person (see ``_attach_unique``);
    ``attach_dob`` (optional, below ``threshold``): the same second pass for a group that has
    a DOB, at its own level;
    ``ambiguous``: see ``_detach_ambiguous``;
    ``margin`` (optional, bits): a mention without a DOB that could be either of two people
    is given to one when its link to that one is stronger by this many bits (see
    ``_favoured``); None: never.
    """
    c = Clusterer(attrs, cannot)
    seeds = [g for g in seed_groups if len(g) > 1]
    grouped = {m for g in seeds for m in g}
    if len(grouped) == sum(len(g) for g in seeds):
        # Disjoint (nominals are): each is built at once (``Clusterer.seed``); a member but
        # the first is never a group of its own, so it is not added as one first.
        joined = grouped.difference(g[0] for g in seeds)
        for mid in mention_ids:
            if mid not in joined:
                c.add(mid)
        for group in seeds:
            c.seed(group)
    else:
        for mid in mention_ids:
            c.add(mid)
        for group in seeds:
            for other in group[1:]:
                c.union(group[0], other, force=True)
    for a, b in must:
        # A human "same" beats automatic evidence, but never a human "not the same".
        c.add(a)
        c.add(b)
        ra, rb = c.find(a), c.find(b)
        why = c.conflict(ra, rb) if ra != rb else None
        if why and why.startswith("a user"):
            c.refused.append((a, b, why))
            continue
        c.union(a, b, force=True)
    arrays = _EdgeArrays.of(edges)
    # Strongest first, then by ids (sorted with numpy: the codes are in id order).
    strong = np.flatnonzero(arrays.p >= threshold)
    strong = strong[np.lexsort((arrays.b[strong], arrays.a[strong], -arrays.p[strong]))]
    parent, find = c.parent, c.find
    for x, y in zip(arrays.ids(arrays.a[strong]), arrays.ids(arrays.b[strong]), strict=True):
        # Most strong edges join two mentions already together (a new mention's links to
        # the members of its nominal after the first): only a merge needs ``union``. Most
        # mentions hang from their root: its look-up is inlined (a call per end cost more).
        rx, ry = parent.get(x), parent.get(y)
        if rx is not None and ry is not None:
            if parent[rx] != rx:
                rx = find(x)
            if parent[ry] != ry:
                ry = find(y)
            if rx == ry:
                continue
        c.union(x, y)
    levels = (
        attach if attach is not None and attach < threshold else None,
        attach_dob if attach_dob is not None and attach_dob < threshold else None,
    )
    if levels != (None, None):
        _attach_unique(c, arrays, levels, margin=margin)
    likely = np.flatnonzero(arrays.p >= ambiguous)
    _detach_ambiguous(c, arrays, likely, {m for pair in must for m in pair}, margin)
    return c.clusters(), c.refused


def _bits(p: float) -> float:
    """A match probability as a match weight (log2 of the odds): what Splink summed."""
    return math.log2(p / (1 - p)) if p < 1 else math.inf


def _favoured(p: float, rival: float, margin: float | None) -> bool:
    """Is a link of probability ``p`` stronger than ``rival`` by at least ``margin`` bits?

    The difference of two match weights against the same mention is the log likelihood
    ratio of "this person" over "that one" (the prior cancels): a DOB-less record that
    shares a name and address with father and son, and a phone number with the father only,
    is the father's by the phone's weight (2^9 to one). Two links that both round to
    probability 1 are not told apart."""
    if margin is None:
        return False
    diff = _bits(p) - _bits(rival)
    return not math.isnan(diff) and diff >= margin


@dataclass(frozen=True)
class _EdgeArrays:
    """The edges as numpy arrays, for the passes over all of them (a batch has ~15,000: a
    Python loop over every edge in each pass cost more than the clustering's decisions).
    Each mention is a code, its rank by id, so codes sort as the ids do."""

    names: np.ndarray[Any, Any]  # id per code (objects), in id order
    a: np.ndarray[Any, Any]  # code of each edge's first id
    b: np.ndarray[Any, Any]
    p: np.ndarray[Any, Any]  # probability of each edge
    probs: list[float]  # the same, as the edges hold them

    @classmethod
    def of(cls, edges: Sequence[Edge]) -> _EdgeArrays:
        ends_a, ends_b, probs = (list(col) for col in zip(*edges, strict=True)) if edges else ([], [], [])
        names = sorted(set(ends_a).union(ends_b))
        code = dict(zip(names, range(len(names)), strict=True))
        return cls(
            np.array(names, dtype=object),
            np.fromiter(map(code.__getitem__, ends_a), np.int64, len(ends_a)),
            np.fromiter(map(code.__getitem__, ends_b), np.int64, len(ends_b)),
            np.array(probs, dtype=np.float64),
            probs,
        )

    def ids(self, codes: np.ndarray[Any, Any]) -> list[str]:
        out: list[str] = self.names[codes].tolist()
        return out


def _attach_unique(
    c: Clusterer,
    edges: _EdgeArrays,
    attach: tuple[float | None, float | None],
    rounds: int = 3,
    *,
    margin: float | None = None,
) -> None:
    """A group without a DOB (a name with an address, a phone, or nothing else) rarely
    scores above the merge threshold however rare its name, because the evidence that would
    lift it is not recorded. It joins its strongest scored neighbour (every edge the scorer
    kept, down to its floor) when the link reaches ``attach`` and every other neighbour could
    be the same person as that one: a name shared by two people (father and son, two "Paul
    Brown"s with other DOBs) gives it neighbours that contradict each other, and it stays
    alone; neighbours that do not (one person's records split by a keying error no edge
    bridged) are parts of one person, not people to choose between (as in
    ``_detach_ambiguous``). The usual conflict checks still apply.

    ``attach`` is (level for a group without a DOB, level for a group with one; None: that
    kind does not attach). A group with a DOB scores under the threshold against its own
    person when the DOB was keyed with an error and little else was recorded ("Joe White"
    with the year one out against "Joseph White"); the same uniqueness test applies, and the
    conflict checks refuse a DOB no keying error explains."""
    no_dob, with_dob = attach
    find = c.find
    # Which edges join two groups, with numpy: each mention's group is looked up once a round
    # (not once per edge end), and groups only grow here, so an edge inside one stays inside
    # it: each round reads only the edges the round before found between two groups.
    ca, cb, probs, names = edges.a, edges.b, edges.probs, edges.names.tolist()
    pending = np.arange(len(ca))
    for _ in range(rounds):
        roots = np.array([find(m) for m in names], dtype=object)
        ra, rb = roots[ca], roots[cb]
        across = np.flatnonzero(ra != rb)
        best: dict[str, dict[str, float]] = {}
        for x, y, i in zip(ra[across].tolist(), rb[across].tolist(), pending[across].tolist(), strict=True):
            p = probs[i]
            near = best.setdefault(x, {})
            if p > near.get(y, 0.0):
                near[y] = p
            near = best.setdefault(y, {})
            if p > near.get(x, 0.0):
                near[x] = p
        ca, cb, pending = ca[across], cb[across], pending[across]
        cands = []
        for g, near in best.items():
            has_dob = bool(c.groups[g].dobs)
            level = with_dob if has_dob else no_dob
            if level is None:
                continue
            h, p = min(near.items(), key=lambda kv: (-kv[1], kv[0]))
            if p < level or any(
                c.conflict(h, o) and (has_dob or not _favoured(p, q, margin))
                for o, q in near.items()
                if o != h
            ):
                continue
            # With a DOB it joins only a group with DOBs to check it against (joining a
            # DOB-less group is that group's own choice), and only when the choice is unique
            # from that side too: a group whose other neighbours could not be ``g`` (a second
            # Joseph White) is no more ``g``'s than theirs.
            if has_dob and (not c.groups[h].dobs or any(c.conflict(g, o) for o in best.get(h, {}) if o != g)):
                continue
            cands.append((p, g, h))
        joined = False
        for _p, g, h in sorted(cands, key=lambda t: (-t[0], t[1], t[2])):
            if c.find(g) != g or c.find(h) == g:
                continue
            joined = c.union(g, c.find(h)) or joined
        if not joined:
            return


def _detach_ambiguous(
    c: Clusterer,
    edges: _EdgeArrays,
    likely: np.ndarray[Any, Any],
    pinned: set[str],
    margin: float | None = None,
) -> None:
    """A mention without DOB or identifier that matches two people who cannot be one (a
    father's record with no DOB matches father and son alike) belongs to neither: it is put
    on its own rather than guessed. "Matches" counts links too weak to merge on their own:
    a record that is nearly as like the son as the father is no evidence for the father,
    unless it is more like one of them by ``margin`` bits (``_favoured``)."""
    reach: dict[str, set[str]] = {}
    best: dict[str, dict[str, float]] = {}
    # Only a mention without DOB or identifier, and not pinned by a decision, can be detached:
    # the neighbours of the others are not gathered (most mentions have a DOB, so most edges
    # are passed over, with numpy). The edges read are the likely ones, in their order.
    attrs = c.attrs
    open_ = np.array(
        [
            not (m in pinned or (at := attrs.get(m, _NO_ATTRS)).dob or at.pnc or at.cro)
            for m in edges.names.tolist()
        ],
        dtype=bool,
    )
    hits = likely[open_[edges.a[likely]] | open_[edges.b[likely]]]
    ends = zip(edges.a[hits].tolist(), edges.b[hits].tolist(), hits.tolist(), strict=True)
    names, is_open = edges.names.tolist(), open_.tolist()
    for ca, cb, i in ends:
        a, b, p = names[ca], names[cb], edges.probs[i]
        # A neighbour a user has said is someone else does not make the mention ambiguous.
        if b in c.cannot.get(a, ()):
            continue
        for cx, x, y in ((ca, a, b), (cb, b, a)):
            if not is_open[cx]:
                continue
            root = c.find(y)
            reach.setdefault(x, set()).add(root)
            near = best.setdefault(x, {})
            near[root] = max(near.get(root, 0.0), p)
    # ``reach`` holds detachable mentions only.
    for mid, roots in reach.items():
        own = c.find(mid)
        others = roots - {own}
        if not others:
            continue
        # Two groups that could be one (no contradiction) are the same person not yet joined,
        # not two people to choose between.
        rivals = [r for r in others if r in c.groups and own in c.groups and c.conflict(own, r)]
        if not rivals:
            continue
        mine = best[mid].get(own)
        if mine is not None and all(_favoured(mine, best[mid][r], margin) for r in rivals):
            continue
        group = c.groups[own]
        if len(group.members) == 1:
            continue
        group.members.remove(mid)
        c.parent[mid] = mid
        if own == mid:
            # The detached mention was the root: re-root the rest of the group.
            new_root = group.members[0]
            for m in group.members:
                c.parent[m] = new_root
            c.groups[new_root] = group
        c.groups[mid] = _Group([mid])
        c.refused.append((mid, mid, "matches two different people equally: left unlinked"))


def derive_id(mention_id: str) -> str:
    return "N-" + uuid.uuid5(NOMINAL_NAMESPACE, mention_id).hex[:20]


def assign_ids(
    clusters: Sequence[Sequence[str]],
    order_key: Mapping[str, str],
    previous: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Nominal id per mention id, stable across rebuilds.

    A cluster keeps the id most of its members had before (the larger cluster wins a split);
    a new cluster takes an id derived from its earliest mention (``order_key``: record date
    then mention id), so a reload of unchanged records produces the same ids even from empty.
    """
    previous = previous or {}
    taken: set[str] = set()
    out: dict[str, str] = {}
    for members in sorted(clusters, key=lambda ms: (-len(ms), min(order_key.get(m, m) for m in ms))):
        votes = Counter(previous[m] for m in members if m in previous)
        chosen = None
        for nid, _n in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0])):
            if nid not in taken:
                chosen = nid
                break
        if chosen is None:
            earliest = min(members, key=lambda m: (order_key.get(m, ""), m))
            cand, n = derive_id(earliest), 0
            # Taken when a split leaves the earliest mention outside the cluster that kept
            # its id: salt deterministically.
            while cand in taken:
                n += 1
                cand = derive_id(f"{earliest}#{n}")
            chosen = cand
        taken.add(chosen)
        for m in members:
            out[m] = chosen
    return out
