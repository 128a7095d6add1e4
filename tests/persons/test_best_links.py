"""A nominal's explaining links (``Resolver._best_links``), ranked with numpy, against the
ranking written out plainly: every candidate of a mention inside its group, in the order the
pairs were met, sorted by ``_BY_RANK`` (-probability, partner id), the best three, then the
links already held competing by partner. Random groups, pairs and held links, with ties,
NaN probabilities, a partner held twice and held partners outside the groups."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from persons.resolver import _BY_RANK, _PARTNER, LINKS_KEPT, Resolver, ScoredLink, _ordered, _Pairs, _strength


@pytest.fixture(scope="module")
def resolver() -> Resolver:
    return Resolver(threads=1)


def _plain(
    r: Resolver,
    groups: Sequence[Sequence[str]],
    rows: Sequence[int],
    pairs: _Pairs,
    links: dict[str, ScoredLink],
    more_links: dict[str, list[ScoredLink]],
) -> dict[str, list[ScoredLink]]:
    group_of = {m: i for i, g in enumerate(groups) for m in g}
    cands: dict[str, list[tuple[float, str, int | ScoredLink]]] = {}
    for i in sorted(rows):
        a, b, p = pairs.a[i], pairs.b[i], pairs.p[i]
        if a in group_of and b in group_of and group_of[a] == group_of[b]:
            cands.setdefault(a, []).append((-p, b, i))
            cands.setdefault(b, []).append((-p, a, i))
    out: dict[str, list[ScoredLink]] = {}
    for m in (m for g in groups for m in g):
        if m not in cands:
            continue
        ranked = sorted(cands[m], key=_BY_RANK)[:LINKS_KEPT]
        if m in links:
            new = set(map(_PARTNER, ranked))
            held = {lk.other: lk for lk in (links[m], *more_links.get(m, []))}
            ranked += [(-lk.probability, lk.other, lk) for lk in held.values() if lk.other not in new]
            ranked.sort(key=_BY_RANK)
            del ranked[LINKS_KEPT:]
        out[m] = [
            v if isinstance(v, ScoredLink) else ScoredLink(y, pairs.p[v], *r._waterfalls(pairs, [v])[v])
            for _p, y, v in ranked
        ]
    return out


def _as_compared(lk: ScoredLink) -> tuple[Any, ...]:
    # NaN is not equal to itself: compared as text.
    return (lk.other, repr(lk.probability), lk.weights, lk.labels, lk.stored_reasons)


@pytest.mark.parametrize("seed", range(60))
def test_best_links_rank_as_the_plain_ranking_does(resolver: Resolver, seed: int) -> None:
    rng = random.Random(seed)
    ids = [f"m{rng.randrange(10**6):06d}" for _ in range(rng.randrange(4, 40))]
    ids = list(dict.fromkeys(ids))
    rng.shuffle(ids)
    # Some mentions in no group (their pairs do not count); the rest in groups.
    grouped = ids[: max(2, len(ids) - rng.randrange(4))]
    groups: list[list[str]] = []
    while grouped:
        n = rng.randrange(1, 8)
        groups.append(grouped[:n])
        grouped = grouped[n:]
    probs = [0.6, 0.9, 0.99, 0.999, 1.0, 1.0] + ([math.nan] if seed % 3 == 0 else [])
    seen: set[frozenset[str]] = set()
    a: list[str] = []
    b: list[str] = []
    for _ in range(rng.randrange(1, 80)):
        x, y = rng.sample(ids, 2)
        if frozenset((x, y)) in seen:
            continue
        seen.add(frozenset((x, y)))
        a.append(x)
        b.append(y)
    comps = len(resolver._comps)
    pairs = _Pairs(
        a,
        b,
        [rng.choice(probs) for _ in a],
        np.array([[rng.randrange(3) for _ in range(comps)] for _ in a], dtype=np.int64).reshape(-1, comps),
        np.array([[rng.choice([-2.5, 0.0, 1.25, 3.0]) for _ in range(comps)] for _ in a]).reshape(-1, comps),
    )
    rows = list(range(len(a)))
    rng.shuffle(rows)
    rows = rows[: max(1, len(rows) - rng.randrange(3))]
    # Held links: to members, to mentions outside the groups, a partner held twice, NaN.
    outside = [f"m{rng.randrange(10**6):06d}x" for _ in range(5)]
    links: dict[str, ScoredLink] = {}
    more_links: dict[str, list[ScoredLink]] = {}
    for m in ids:
        if rng.random() < 0.5:
            continue
        held = [
            ScoredLink(rng.choice(ids + outside), rng.choice(probs), {}, {}, ("held",))
            for _ in range(rng.randrange(1, LINKS_KEPT + 1))
        ]
        links[m] = held[0]
        if len(held) > 1 or rng.random() < 0.5:
            more_links[m] = held[1:]
    expected = _plain(resolver, groups, rows, pairs, links, more_links)

    resolver.links, resolver.more_links = dict(links), dict(more_links)
    resolver._best_links(groups, np.array(rows, dtype=np.int64), pairs)

    for m, kept in expected.items():
        got = [resolver.links[m], *resolver.more_links[m]]
        assert [_as_compared(lk) for lk in got] == [_as_compared(lk) for lk in kept], m
        # Held links are kept as held (the same objects).
        assert [lk is h for lk, h in zip(got, kept, strict=True)] == [
            any(h is x for x in (links.get(m), *more_links.get(m, []))) for h in kept
        ]
    untouched = [m for m in ids if m not in expected]
    assert all(resolver.links.get(m) is links.get(m) for m in untouched)
    # Mentions given links for the first time come in the groups' order.
    assert [m for m in resolver.links if m not in links] == [m for m in expected if m not in links]


@pytest.mark.parametrize("bound", [7, 2**30])
def test_keys_combined_sort_as_lexsort_does(bound: int) -> None:
    # 2**30 per key: three do not fit in 64 bits, and lexsort itself sorts them.
    rng = np.random.default_rng(bound)
    keys = [rng.integers(0, bound, 500) for _ in range(3)]
    p = rng.choice([0.5, 0.9, 1.0, np.nan], 500)
    strength = _strength(p)
    got = _ordered((keys[0], bound), strength, (keys[1], bound), (keys[2], bound))
    expected = np.lexsort((keys[2], keys[1], -p, keys[0]))
    assert got.tolist() == expected.tolist()
