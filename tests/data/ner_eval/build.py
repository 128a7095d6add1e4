"""Build ``ner_eval.jsonl`` from the marked-up sources in ``passages/*.txt``.

Source format: one passage per line, ``style<TAB>text``; ``#`` lines are comments.
Inline markup ``[span text](LABEL)`` marks an entity; offsets are computed here, never by
hand. Macros produce identifiers whose check characters cannot be written by hand:

* ``{{PNC:2011/0012345}}`` -> ``[2011/0012345K](PNC_ID)`` (correct check letter);
  ``{{PNCBAD:...}}`` -> the same with a wrong letter and no label (a hard negative);
  ``{{PNCNS:...}}`` / ``{{PNCNSBAD:...}}`` -> the same written without the slash;
* ``{{IMEI:35 209900 176148 }}`` -> digits + Luhn check digit, labelled IMEI;
  ``{{IMEIBAD:...}}`` -> a wrong check digit, no label.

Passages alternate dev (odd ids) / test (even ids): tune on dev, report both.
Run: ``python tests/data/ner_eval/build.py`` (writes ``ner_eval.jsonl``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from entity_extraction.identifiers import luhn_ok, pnc_check_letter  # noqa: E402

_MACRO = re.compile(r"\{\{(PNCNSBAD|PNCNS|PNCBAD|PNC|IMEIBAD|IMEI):([^}]*)\}\}")
_MARK = re.compile(r"\[([^\[\]]+)\]\(([A-Z_]+)\)")
LABELS = {
    "PERSON",
    "ORG",
    "LOCATION",
    "DATE",
    "POSTCODE",
    "VRM",
    "PHONE",
    "EMAIL",
    "NINO",
    "PNC_ID",
    "CRO_NO",
    "IMEI",
    "WEAPON",
    "DRUG",
}


def _pnc(body: str, good: bool, slash: bool = True) -> str:
    year_s, serial_s = body.split("/")
    yy = int(year_s[-2:])
    year = (2000 + yy if yy <= 26 else 1900 + yy) if len(year_s) == 2 else int(year_s)
    letter = pnc_check_letter(year, int(serial_s))
    if not good:
        letter = "ZABCDEFGHJKLMNPQRTUVWXY"[("ZABCDEFGHJKLMNPQRTUVWXY".index(letter) + 5) % 23]
    if not slash:
        body = body.replace("/", "")
    return f"[{body}{letter}](PNC_ID)" if good else f"{body}{letter}"


def _imei(body: str, good: bool) -> str:
    digits = re.sub(r"\D", "", body)
    assert len(digits) == 14, body
    check = next(d for d in "0123456789" if luhn_ok(digits + d))
    if not good:
        check = str((int(check) + 3) % 10)
        assert not luhn_ok(digits + check)
    return f"[{body}{check}](IMEI)" if good else f"{body}{check}"


def expand_macros(src: str) -> str:
    def sub(m: re.Match[str]) -> str:
        kind, body = m.group(1), m.group(2)
        if kind.startswith("PNC"):
            return _pnc(body, kind in ("PNC", "PNCNS"), slash=not kind.startswith("PNCNS"))
        return _imei(body, kind == "IMEI")

    return _MACRO.sub(sub, src)


def parse_markup(src: str) -> tuple[str, list[dict[str, object]]]:
    """``"[Grace OYELARAN](PERSON) was"`` -> (``"Grace OYELARAN was"``, entities)."""
    src = expand_macros(src)
    out: list[str] = []
    ents: list[dict[str, object]] = []
    pos = 0
    length = 0
    for m in _MARK.finditer(src):
        before = src[pos : m.start()]
        out.append(before)
        length += len(before)
        span, label = m.group(1), m.group(2)
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r} in {src!r}")
        ents.append({"start": length, "end": length + len(span), "label": label})
        out.append(span)
        length += len(span)
        pos = m.end()
    out.append(src[pos:])
    text = "".join(out)
    if "[" in text and "](" in text:
        raise ValueError(f"unparsed markup in {src!r}")
    return text, ents


def build() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    n = 0
    for path in sorted((HERE / "passages").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            style, _, src = line.partition("\t")
            text, ents = parse_markup(src.strip())
            n += 1
            rows.append(
                {
                    "id": f"p{n:03d}",
                    "style": style.strip(),
                    "split": "dev" if n % 2 else "test",
                    "text": text,
                    "entities": ents,
                }
            )
    return rows


if __name__ == "__main__":
    rows = build()
    with (HERE / "ner_eval.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts: dict[str, int] = {}
    for r in rows:
        for e in r["entities"]:  # type: ignore[attr-defined]
            counts[e["label"]] = counts.get(e["label"], 0) + 1
    print(f"{len(rows)} passages; entities per label: {dict(sorted(counts.items()))}")
