"""Pairwise precision and recall of a clustering against known identities."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class PairwiseScore:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def pairwise(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PairwiseScore:
    """``predicted`` and ``truth`` map mention id -> cluster id / person id."""
    ids = [m for m in truth if m in predicted]
    by_pred = Counter(predicted[m] for m in ids)
    by_true = Counter(truth[m] for m in ids)
    by_both = Counter((predicted[m], truth[m]) for m in ids)
    return PairwiseScore(
        true_pairs=sum(_pairs(n) for n in by_true.values()),
        predicted_pairs=sum(_pairs(n) for n in by_pred.values()),
        correct_pairs=sum(_pairs(n) for n in by_both.values()),
    )


def false_merges(
    predicted: Mapping[str, str], truth: Mapping[str, str], limit: int = 20
) -> list[tuple[str, str]]:
    """Pairs put together that are different people (the expensive error)."""
    groups: dict[str, list[str]] = {}
    for m, c in predicted.items():
        groups.setdefault(c, []).append(m)
    out = []
    for members in groups.values():
        for a, b in combinations(sorted(members), 2):
            if truth.get(a) != truth.get(b):
                out.append((a, b))
                if len(out) >= limit:
                    return out
    return out


def missed_links(
    predicted: Mapping[str, str], truth: Mapping[str, str], limit: int = 20
) -> list[tuple[str, str]]:
    groups: dict[str, list[str]] = {}
    for m, p in truth.items():
        groups.setdefault(p, []).append(m)
    out = []
    for members in groups.values():
        for a, b in combinations(sorted(members), 2):
            if predicted.get(a) != predicted.get(b):
                out.append((a, b))
                if len(out) >= limit:
                    return out
    return out
