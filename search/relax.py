"""Why a search found nothing: each part of the query, and the query without it.

When a query returns no results, the page says which part emptied it and offers the query
without that part, with its count ("No results with `2023`; 3 results without it"). This
module only builds the candidate queries (pure); the counts are computed through the
records gateway, so the access filter applies to them like to everything else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from search.parser import And, DateRange, Dob, Ident, Keyword, Name, Near, Node, ParsedQuery, Phrase, Text

MAX_RELAXATIONS = 8


@dataclass(frozen=True)
class Relaxation:
    part: str  # the part as the user would recognise it ("2023", "knife", "type:custody")
    query: ParsedQuery  # the same query without that part


def part_text(node: Node) -> str:
    if isinstance(node, Text):
        return " ".join(node.words)
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Ident | Dob):
        return node.text or (node.value if isinstance(node, Ident) else node.dob.isoformat())
    if isinstance(node, Name):
        return f"name:{node.text}"
    if isinstance(node, Keyword):
        return f"{node.field}:{node.value}"
    if isinstance(node, Near):
        return node.text or f"near:{node.postcode} {node.radius_m}m"
    if isinstance(node, DateRange):
        if node.text:
            return node.text
        lo = node.start.isoformat() if node.start else ""
        hi = node.end.isoformat() if node.end else ""
        return f"{lo}..{hi}"
    return "part of the query"


def _without(items: tuple[Node, ...], i: int, replacement: Node | None = None) -> Node | None:
    rest = [*items[:i], *([replacement] if replacement is not None else []), *items[i + 1 :]]
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else And(tuple(rest))


def relaxations(parsed: ParsedQuery) -> list[Relaxation]:
    """One relaxation per AND-ed part (each word of a run of words counts as a part)."""
    root = parsed.root
    if root is None:
        return []
    items = root.items if isinstance(root, And) else (root,)
    if len(items) == 1 and not (isinstance(items[0], Text) and len(items[0].words) > 1):
        return []
    out: list[Relaxation] = []
    for i, item in enumerate(items):
        if isinstance(item, Text) and len(item.words) > 1:
            for j, word in enumerate(item.words):
                fewer = Text(item.words[:j] + item.words[j + 1 :])
                out.append(Relaxation(word, replace(parsed, root=_without(items, i, fewer), notices=())))
        else:
            out.append(Relaxation(part_text(item), replace(parsed, root=_without(items, i), notices=())))
    return out[:MAX_RELAXATIONS]
