"""Record-level access control: the one function every query passes through.

Policy (deny by default):
- a record past its review date (MoPI retention) is out of search for everyone;
- every sensitivity flag on a record must be among the user's clearances;
- a unit-restricted record needs the user to belong to one of its units;
- intelligence needs the ``intel`` clearance, and handling code C also ``intel_c``.

``access_filter`` expresses this inside the OpenSearch query, so counts, facets,
suggestions and aggregations never see what the user may not; ``can_read`` is the same
policy in Python, for decisions made outside a query (notifications, direct views of a
document fetched by id). A test compares the two over a matrix of users and records.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from lantern.principal import INTEL_C_CLEARANCE, INTEL_CLEARANCE, Principal
from mappings import fields as F


def access_filter(user: Principal, today: date) -> dict[str, Any]:
    """A bool query matching exactly the records ``user`` may read on ``today``."""
    filters: list[dict[str, Any]] = [
        # Retention: no review date, or not yet past it.
        {
            "bool": {
                "should": [
                    {"bool": {"must_not": {"exists": {"field": F.REVIEW_DATE}}}},
                    {"range": {F.REVIEW_DATE: {"gte": today.isoformat()}}},
                ],
                "minimum_should_match": 1,
            }
        },
        # Sensitivity: the user must hold every flag the record carries.
        {
            "bool": {
                "should": [
                    {"bool": {"must_not": {"exists": {"field": F.ACCESS_SENSITIVITY}}}},
                    {
                        "terms_set": {
                            F.ACCESS_SENSITIVITY: {
                                "terms": sorted(user.clearances),
                                "minimum_should_match_field": F.ACCESS_SENSITIVITY_COUNT,
                            }
                        }
                    },
                ],
                "minimum_should_match": 1,
            }
        },
        # Unit restriction: none, or one of the user's units.
        {
            "bool": {
                "should": [
                    {"bool": {"must_not": {"exists": {"field": F.ACCESS_UNITS}}}},
                    {"terms": {F.ACCESS_UNITS: sorted(user.units)}},
                ],
                "minimum_should_match": 1,
            }
        },
    ]
    must_not: list[dict[str, Any]] = []
    if INTEL_CLEARANCE not in user.clearances:
        must_not.append({"term": {F.RECORD_TYPE: "intel"}})
    if INTEL_C_CLEARANCE not in user.clearances:
        must_not.append({"term": {F.ACCESS_HANDLING: "C"}})
    query: dict[str, Any] = {"bool": {"filter": filters}}
    if must_not:
        query["bool"]["must_not"] = must_not
    return query


def secure(query: dict[str, Any] | None, user: Principal, today: date) -> dict[str, Any]:
    """Wrap any query so that only records ``user`` may read can match it."""
    inner = query or {"match_all": {}}
    return {"bool": {"must": [inner], "filter": [access_filter(user, today)]}}


def can_read(user: Principal, doc: Mapping[str, Any], today: date) -> bool:
    """The same policy as ``access_filter``, over a search document's ``_source``."""
    review = doc.get(F.REVIEW_DATE)
    if review and date.fromisoformat(str(review)[:10]) < today:
        return False
    flags = set(doc.get(F.ACCESS_SENSITIVITY) or [])
    if not flags.issubset(user.clearances):
        return False
    units = set(doc.get(F.ACCESS_UNITS) or [])
    if units and not units.intersection(user.units):
        return False
    if doc.get(F.RECORD_TYPE) == "intel" and INTEL_CLEARANCE not in user.clearances:
        return False
    return not (doc.get(F.ACCESS_HANDLING) == "C" and INTEL_C_CLEARANCE not in user.clearances)
