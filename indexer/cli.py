"""``lantern index ...``."""

from __future__ import annotations

from pathlib import Path

import typer
from opensearchpy import OpenSearch
from rich.console import Console
from rich.table import Table

from alerts.percolation import alert_hooks, sync_percolator
from lantern.settings import Settings, get_settings

console = Console(stderr=True)


def _sync_alerts(client: OpenSearch, settings: Settings) -> None:
    """Bring the percolator in step with the records mapping and the saved queries.

    Done here, where mappings change (and at the start of every load), so no page request
    ever rebuilds it.
    """
    report = sync_percolator(client, settings, force=True)
    state = "rebuilt" if report.rebuilt else "in step"
    invalid = f"; {len(report.invalid)} saved query(ies) now invalid" if report.invalid else ""
    console.print(f"alerts: percolator {state}, {report.registered} saved query(ies) registered{invalid}")


def register(app: typer.Typer) -> None:
    index_app = typer.Typer(no_args_is_help=True, help="Index definitions and feed loading")
    app.add_typer(index_app, name="index")

    @index_app.command("init")
    def index_init() -> None:
        """Create every index (mappings/*.py) and its aliases that does not exist yet."""
        from lantern import indices
        from lantern.search_client import make_client

        settings = get_settings()
        # Creating indices, aliases and the audit guard pipeline is the admin's job.
        client = make_client(settings, "admin")
        table = Table("index", "read alias", "write alias", "physical index")
        for name, module in indices.discover().items():
            physical = indices.ensure(client, settings, module)
            table.add_row(
                name,
                indices.read_alias(settings, module),
                indices.write_alias(settings, module) if indices.has_write_alias(module) else "-",
                physical,
            )
        Console().print(table)
        _sync_alerts(client, settings)

    @index_app.command("migrate")
    def index_migrate(
        name: str | None = typer.Argument(None, help="Logical index name (default: all)"),
    ) -> None:
        """Rebuild an index from its current definition, reindex, swap aliases, drop the old one."""
        from lantern import indices
        from lantern.search_client import make_client

        settings = get_settings()
        client = make_client(settings, "admin")
        modules = indices.discover()
        if name is not None and name not in modules:
            console.print(f"[red]error:[/red] unknown index {name!r}; known: {', '.join(modules)}")
            raise typer.Exit(2)
        targets = {name: modules[name]} if name else modules
        for module in targets.values():
            try:
                indices.migrate(client, settings, module, on_step=lambda m: console.print(m))
            except indices.MigrationError as exc:
                console.print(f"[red]migration failed:[/red] {exc}")
                raise typer.Exit(1) from exc
        _sync_alerts(client, settings)

    @index_app.command("load")
    def index_load(
        paths: list[Path] = typer.Argument(..., help="NDJSON (.ndjson/.jsonl) or CSV feed files"),
        record_type: str | None = typer.Option(None, "--type", help="Every row must be this record type"),
        mapping: Path | None = typer.Option(None, "--mapping", help="TOML column mapping for CSV files"),
        rejects: Path | None = typer.Option(None, "--rejects", help="Rejects file (NDJSON)"),
        allow_rejects: bool = typer.Option(False, "--allow-rejects", help="Exit 0 despite rejects"),
        no_entities: bool = typer.Option(False, "--no-entities", help="Skip entity extraction"),
        restart: bool = typer.Option(False, "--restart", help="Ignore checkpoints; load from line 1"),
        rebuild: bool = typer.Option(
            False, "--rebuild", help="Load into a new index version, then swap the aliases to it"
        ),
        no_alerts: bool = typer.Option(
            False, "--no-alerts", help="Do not match new records against saved queries (no notifications)"
        ),
    ) -> None:
        """Validate, enrich and bulk-index feed files; bad rows go to the rejects file."""
        from indexer.loader import run_load_command
        from indexer.pipeline import Hook

        settings = get_settings()
        hooks: list[Hook] = []
        if not no_alerts:
            # Saved-query alerts: each acknowledged batch is percolated (alerts.percolation).
            hooks = list(alert_hooks(settings))
        code = run_load_command(
            paths,
            settings=settings,
            record_type=record_type,
            mapping=mapping,
            rejects=rejects,
            allow_rejects=allow_rejects,
            extract_entities=not no_entities,
            restart=restart,
            rebuild=rebuild,
            console=console,
            hooks=hooks,
        )
        for hook in hooks:
            flush = getattr(hook, "flush", None)
            if callable(flush) and code != 130:  # everything it holds was acknowledged
                flush()
            summary = getattr(hook, "summary", None)
            if callable(summary):
                console.print(summary())
        raise typer.Exit(code)
