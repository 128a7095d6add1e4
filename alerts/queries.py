"""A saved search: its stored fields <-> its URL state, and its alert query (pure functions).

The alert query is the saved search's query and facet filters, WITHOUT the access filter:
access is per reader and is applied to every match before a notification is created.
Sort, paging and the recency bonus do not change which records match, so they are left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from search.parser import PlaceLookup
from search.urlstate import SearchState, base_query, from_params


def state_from_doc(doc: Mapping[str, Any]) -> SearchState:
    """The search page state a saved query re-runs as."""
    items: list[tuple[str, str]] = [("q", str(doc.get("q") or ""))]
    for pair in doc.get("facets") or []:
        key, _, value = str(pair).partition("=")
        items.append((key, value))
    if doc.get("sort"):
        items.append(("sort", str(doc["sort"])))
    if doc.get("dob_years"):
        items.append(("dob_years", str(doc["dob_years"])))
    return from_params(items)


def doc_fields(state: SearchState) -> dict[str, Any]:
    """The stored fields for a search state (the inverse of :func:`state_from_doc`)."""
    return {
        "q": state.q,
        "facets": [f"{k}={v}" for k, values in state.facets for v in values],
        "sort": state.sort,
        "dob_years": state.dob_years,
    }


def alert_query(
    state: SearchState, today: date | None = None, places: PlaceLookup | None = None
) -> dict[str, Any]:
    """The query stored in the percolator for a saved search (matching only, no ranking).

    ``places`` (the gazetteer) turns each ``near:`` into a ``geo_distance`` around the
    postcode's point, fixed when the query is registered (a postcode's point does not move);
    new records carry their own points (``geo_points``, set by the indexer) when percolated.
    """
    query: dict[str, Any] = match_only(base_query(state, today, places))
    return query


def match_only(query: Any) -> Any:
    """The same matching, without what only ranks: cheaper for the percolator to verify.

    ``function_score`` -> its query; ``dis_max`` -> ``bool.should``; ``constant_score`` ->
    its filter; a bool's ``should`` clauses are dropped when they cannot change whether a
    document matches (a ``must``/``filter`` is present and ``minimum_should_match`` is 0 or
    unset); nested ``score_mode``/``inner_hits`` and boosts go.
    """
    if isinstance(query, list):
        return [match_only(q) for q in query]
    if not isinstance(query, dict):
        return query
    if len(query) != 1:
        return {k: match_only(v) for k, v in query.items()}
    ((kind, body),) = query.items()
    if kind == "function_score":
        return match_only(body.get("query", {"match_all": {}}))
    if kind == "dis_max":
        return {"bool": {"should": [match_only(q) for q in body["queries"]], "minimum_should_match": 1}}
    if kind == "constant_score":
        return match_only(body["filter"])
    if kind == "nested":
        return {"nested": {"path": body["path"], "query": match_only(body["query"]), "score_mode": "none"}}
    if kind == "bool":
        out: dict[str, Any] = {}
        required = bool(body.get("must") or body.get("filter"))
        msm = body.get("minimum_should_match")
        for key in ("must", "filter", "must_not"):
            if body.get(key):
                clauses = body[key] if isinstance(body[key], list) else [body[key]]
                # Scores do not matter here: everything required is a filter.
                out.setdefault("filter" if key != "must_not" else "must_not", []).extend(
                    match_only(c) for c in clauses
                )
        should = body.get("should")
        if should and not (required and msm in (None, 0, "0")):
            out["should"] = [match_only(c) for c in (should if isinstance(should, list) else [should])]
            out["minimum_should_match"] = msm if msm not in (None, 0, "0") else 1
        if not out:
            return {"match_all": {}}
        return {"bool": out}
    return {kind: _strip_boost(body)}


def _strip_boost(body: Any) -> Any:
    if isinstance(body, dict):
        return {k: _strip_boost(v) for k, v in body.items() if k != "boost"}
    return body


# ------------------------------------------------------------------------ fuzzy clauses
#
# Fuzzy clauses (names matched with ``fuzziness: AUTO``) are most of what percolation costs:
# the percolator builds a Levenshtein automaton for each of them, for every stored query, in
# every request. On a batch where no indexed term is within reach of a clause's words, the
# clause matches nothing, exactly as its exact form does; so each query is also stored with
# its fuzzy clauses made exact (``split_fuzzy``) and ``alerts.percolation`` runs that form
# for the queries none of whose fuzzy clauses can match anything in the batch.


@dataclass(frozen=True)
class Fuzzy:
    """One fuzzy clause: ``mode`` "match" (``text`` is analysed by ``field``'s analyser) or
    "term" (a ``fuzzy`` query: ``text`` is the term)."""

    mode: str
    field: str
    text: str
    fuzziness: str
    prefix_length: int

    def key(self) -> str:
        return json.dumps(
            [self.mode, self.field, self.text, self.fuzziness, self.prefix_length], separators=(",", ":")
        )

    @classmethod
    def from_key(cls, key: str) -> Fuzzy:
        mode, field_name, text, fuzziness, prefix = json.loads(key)
        return cls(str(mode), str(field_name), str(text), str(fuzziness), int(prefix))

    def max_edits(self, token: str) -> int:
        """Edits allowed for ``token`` (OpenSearch's ``AUTO``/``AUTO:low,high`` or a number)."""
        value = self.fuzziness.upper()
        if value.startswith("AUTO"):
            low, high = 3, 6
            if ":" in value:
                low, high = (int(x) for x in value[5:].split(","))
            n = len(token)
            return 0 if n < low else 1 if n < high else 2
        try:
            return min(2, int(float(value)))
        except ValueError:
            return 2


def split_fuzzy(query: Any) -> tuple[Any, list[Fuzzy]]:
    """``query`` with every fuzzy clause made exact (a subset of what it matched), and those clauses."""
    found: list[Fuzzy] = []

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((kind, body),) = node.items()
            if kind == "match" and isinstance(body, dict) and len(body) == 1:
                ((name, spec),) = body.items()
                if isinstance(spec, dict) and "fuzziness" in spec:
                    found.append(_fuzzy("match", name, spec.get("query"), spec))
                    return {"match": {name: _exact(spec)}}
            if kind == "multi_match" and isinstance(body, dict) and "fuzziness" in body:
                for name in body.get("fields") or []:
                    found.append(_fuzzy("match", str(name).split("^")[0], body.get("query"), body))
                return {"multi_match": _exact(body)}
            if kind == "fuzzy" and isinstance(body, dict) and len(body) == 1:
                ((name, spec),) = body.items()
                spec = spec if isinstance(spec, dict) else {"value": spec}
                found.append(_fuzzy("term", name, spec.get("value"), spec))
                return {"term": {name: spec.get("value")}}
        return {k: walk(v) for k, v in node.items()}

    exact = walk(query)
    unique = {f.key(): f for f in found}
    return exact, [unique[k] for k in sorted(unique)]


def _fuzzy(mode: str, name: str, text: Any, spec: Mapping[str, Any]) -> Fuzzy:
    return Fuzzy(
        mode, name, str(text or ""), str(spec.get("fuzziness", "AUTO")), int(spec.get("prefix_length") or 0)
    )


def _exact(spec: Mapping[str, Any]) -> dict[str, Any]:
    drop = ("fuzziness", "prefix_length", "max_expansions", "fuzzy_transpositions", "fuzzy_rewrite")
    return {k: v for k, v in spec.items() if k not in drop}
