"""Saved link charts: owner-only, or shared read-only with one of the owner's units."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from lantern.clock import iso, parse_iso, utcnow
from lantern.errors import NotFound
from lantern.indices import ensure_once, writer_target
from lantern.principal import Principal
from lantern.settings import Settings
from mappings import charts as M

MAX_NAME = 200
MAX_CHARTS_PER_USER = 200


class SavedChartError(ValueError):
    """Bad input for a saved chart (shown to the user; nothing is saved)."""


@dataclass(frozen=True)
class SavedChart:
    id: str
    owner: str
    name: str
    params: tuple[tuple[str, str], ...]
    shared_unit: str | None
    created_at: datetime

    def editable_by(self, user: Principal) -> bool:
        return user.username == self.owner

    def visible_to(self, user: Principal) -> bool:
        return self.editable_by(user) or (self.shared_unit is not None and self.shared_unit in user.units)

    def source(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "owner": self.owner,
            "name": self.name,
            "params": [f"{k}={v}" for k, v in self.params],
            "shared_unit": self.shared_unit,
            "created_at": iso(self.created_at),
        }

    @staticmethod
    def from_source(src: Mapping[str, Any]) -> SavedChart:
        params = tuple(tuple(str(p).split("=", 1)) for p in src.get("params") or [] if "=" in str(p))
        return SavedChart(
            id=str(src["id"]),
            owner=str(src["owner"]),
            name=str(src.get("name") or ""),
            params=params,  # type: ignore[arg-type]
            shared_unit=src.get("shared_unit") or None,
            created_at=parse_iso(str(src["created_at"])),
        )


class ChartStore:
    def __init__(self, client: OpenSearch, settings: Settings) -> None:
        self.client = client
        self.index = settings.index_name(M.NAME)
        self.write_index = writer_target(settings, M)
        ensure_once(client, settings, [M])

    def visible(self, user: Principal, chart_id: str) -> SavedChart:
        """The chart if ``user`` may open it; otherwise exactly like a wrong id."""
        if not chart_id or len(chart_id) > 64:
            raise NotFound("chart not found")
        try:
            doc = self.client.get(index=self.index, id=chart_id)
        except NotFoundError as exc:
            raise NotFound("chart not found") from exc
        chart = SavedChart.from_source(doc["_source"])
        if not chart.visible_to(user):
            raise NotFound("chart not found")
        return chart

    def list_for(self, user: Principal) -> list[SavedChart]:
        should: list[dict[str, Any]] = [{"term": {"owner": user.username}}]
        if user.units:
            should.append({"terms": {"shared_unit": sorted(user.units)}})
        res = self.client.search(
            index=self.index,
            body={
                "query": {"bool": {"should": should, "minimum_should_match": 1}},
                "size": MAX_CHARTS_PER_USER * 2,
                "sort": [{"name.sort": "asc"}, {"created_at": "asc"}],
            },
        )
        found = [SavedChart.from_source(h["_source"]) for h in res["hits"]["hits"]]
        return sorted(
            (c for c in found if c.visible_to(user)), key=lambda c: (not c.editable_by(user), c.name.lower())
        )

    def create(
        self, user: Principal, params: list[tuple[str, str]], *, name: str, shared_unit: str | None = None
    ) -> SavedChart:
        clean = " ".join((name or "").split())
        if not clean:
            raise SavedChartError("Give the chart a name.")
        if len(clean) > MAX_NAME:
            raise SavedChartError(f"The name is longer than {MAX_NAME} characters.")
        unit = (shared_unit or "").strip() or None
        if unit is not None and unit not in user.units:
            raise SavedChartError("You can only share a chart with one of your own units.")
        if not any(k == "n" for k, _ in params):
            raise SavedChartError("There is nothing to save: add a node first.")
        owned = self.client.count(index=self.index, body={"query": {"term": {"owner": user.username}}})[
            "count"
        ]
        if int(owned) >= MAX_CHARTS_PER_USER:
            raise SavedChartError(f"You already have {MAX_CHARTS_PER_USER} saved charts; delete some first.")
        chart = SavedChart(uuid.uuid4().hex, user.username, clean, tuple(params), unit, utcnow())
        self.client.index(index=self.write_index, id=chart.id, body=chart.source(), refresh="wait_for")
        return chart

    def delete(self, user: Principal, chart_id: str) -> SavedChart:
        chart = self.visible(user, chart_id)
        if not chart.editable_by(user):
            raise SavedChartError("This chart is shared with you read-only; only its owner can delete it.")
        self.client.delete(index=self.write_index, id=chart.id, refresh="wait_for")
        return chart
