"""``lantern persons ...``: train the linkage model, rebuild every nominal, show one.

Here in the indexer (the top layer) because it joins three lower parts: records read through
search's gateway, resolution in persons/, and the records' ``people.nominal_id`` rewritten
by ``indexer.nominals``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from opensearchpy import OpenSearch
from rich.console import Console
from rich.markup import escape

from indexer.nominals import refresh_record_nominals
from lantern.records import parse_record
from lantern.settings import Settings, get_settings
from persons.features import mentions_from_record
from search.gateway import records_for_resolution

console = Console(stderr=True)


def record_mentions(client: OpenSearch, settings: Settings) -> Iterator[Any]:
    """Every person mention of every record, read as the system through the gateway's
    named resolution path (no user: nothing read here is shown as is)."""
    for raw in records_for_resolution(client, settings):
        yield from mentions_from_record(parse_record(raw))


def register(app: typer.Typer) -> None:
    persons_app = typer.Typer(no_args_is_help=True, help="Person resolution (golden nominals)")
    app.add_typer(persons_app, name="persons")

    @persons_app.command("rebuild")
    def rebuild() -> None:
        """Re-resolve every person mention; ids carried forward, human decisions applied."""
        from lantern.indices import OutdatedIndexError
        from lantern.search_client import make_client
        from persons import store

        logging.getLogger("splink").setLevel(logging.WARNING)
        settings = get_settings()
        client = make_client(settings, "ingest")
        t = time.perf_counter()
        try:
            store.ensure(client, settings)  # an outdated index: said before reading every record
        except OutdatedIndexError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        mentions = list(record_mentions(client, settings))
        res = store.rebuild(client, settings, mentions)
        n = refresh_record_nominals(client, settings, res.moved)
        console.print(f"{len(res.moved)} mentions changed nominal; {n} record(s) updated")
        console.print(
            f"resolved {len(mentions)} mentions into {len(set(res.nominal_of.values()))} nominals "
            f"in {time.perf_counter() - t:.1f}s ({len(res.refused)} merges refused by the consistency rules)"
        )

    @persons_app.command("train")
    def train(
        out: Path | None = typer.Option(None, "--out", help="model file (default: persons/model/v4.json)"),
        max_pairs: float = typer.Option(5e6, "--max-pairs", help="pairs sampled to estimate u"),
        threshold: float | None = typer.Option(
            None, "--threshold", help="match probability to link at (default: keep the current model's)"
        ),
    ) -> None:
        """Re-estimate the model on this force's records: u by seeded random sampling, m by EM."""
        from lantern.search_client import make_client
        from persons import model as pm
        from persons.features import feature_table

        settings = get_settings()
        client = make_client(settings, "ingest")
        mentions = list(record_mentions(client, settings))
        if len(mentions) < 1000:
            console.print(f"[red]error:[/red] {len(mentions)} mentions is too few to estimate a model from")
            raise typer.Exit(2)
        trained = pm.train(feature_table(mentions), max_pairs=max_pairs)
        current = pm.lantern_meta(pm.load_model())
        trained["lantern"] = {
            **current,
            "threshold": threshold if threshold is not None else current.get("threshold", 0.99),
            "trained_on": f"{len(mentions)} mentions of {settings.index_name('records')}",
        }
        path = out or pm.DEFAULT_MODEL_PATH
        pm.save_model(trained, path)
        console.print(f"wrote {path} (threshold {trained['lantern']['threshold']})")

    @persons_app.command("show")
    def show(nominal_id: str) -> None:
        """Print one nominal as stored (operator view, no access filter: for support only)."""
        from lantern.search_client import make_client
        from persons import store

        settings = get_settings()
        doc = store.get_nominal(make_client(settings, "ingest"), settings, nominal_id)
        if doc is None:
            console.print(f"no nominal {nominal_id}")
            raise typer.Exit(1)
        for m in doc.get("mentions", []):
            m.pop("source", None)
        print(json.dumps(doc, indent=1, ensure_ascii=False))
