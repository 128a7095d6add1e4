"""Throughput of Lantern's entity extraction, in words per second.

Texts: the sentences of the labelled eval passages (tests/data/ner_eval), shuffled with a
fixed seed and repeated to ``--sentences`` items (default 4000, about 80k words).

(a) the bare spaCy pipeline with the same components (NER only), ``nlp.pipe``;
(b) Lantern's full ``extract_many`` (rules + model + merge), ``n_process=1``;
(c) the same with ``n_process=2``.
Targets: (b) >= 0.8 x (a); (c) >= 1.5 x (b). Each figure is the best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from entity_extraction import extract_many, find_identifiers  # noqa: E402
from entity_extraction.pipeline import load_model  # noqa: E402

DATA = ROOT / "tests" / "data" / "ner_eval" / "ner_eval.jsonl"


def sentences(n: int, seed: int = 7) -> list[str]:
    rows = [json.loads(x) for x in DATA.read_text(encoding="utf-8").splitlines() if x.strip()]
    sents = []
    for r in rows:
        sents += [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", r["text"]) if s.strip()]
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < n:
        batch = sents[:]
        rng.shuffle(batch)
        out += batch
    return out[:n]


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sentences", type=int, default=4000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    texts = sentences(args.sentences)
    words = sum(len(t.split()) for t in texts)
    nlp = load_model()
    print(f"{len(texts)} sentences, {words} words; pipeline components: {nlp.pipe_names}")
    list(nlp.pipe(texts[:200]))  # warm-up

    bs = args.batch_size
    ta = best_of(args.repeat, lambda: list(nlp.pipe(texts, batch_size=bs)))
    tb = best_of(args.repeat, lambda: list(extract_many(texts, batch_size=bs, n_process=1)))
    tc = best_of(args.repeat, lambda: list(extract_many(texts, batch_size=bs, n_process=2)))
    tr = best_of(args.repeat, lambda: [find_identifiers(t) for t in texts])
    wa, wb, wc, wr = words / ta, words / tb, words / tc, words / tr
    print(f"(a) bare spaCy NER (nlp.pipe)         : {wa:10,.0f} words/s")
    print(
        f"(b) extract_many, n_process=1         : {wb:10,.0f} words/s   b/a = {wb / wa:.2f} "
        f"(target >= 0.80: {'ok' if wb / wa >= 0.8 else 'MISSED'})"
    )
    print(
        f"(c) extract_many, n_process=2         : {wc:10,.0f} words/s   c/b = {wc / wb:.2f} "
        f"(target >= 1.50: {'ok' if wc / wb >= 1.5 else 'MISSED'})"
    )
    print(f"    find_identifiers (rules, no model): {wr:10,.0f} words/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
