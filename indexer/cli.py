"""``lantern index ...`` and ``lantern demo-data``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from lantern.settings import get_settings

console = Console(stderr=True)


def register(app: typer.Typer) -> None:
    index_app = typer.Typer(no_args_is_help=True, help="Index definitions and feed loading")
    app.add_typer(index_app, name="index")

    @index_app.command("init")
    def index_init() -> None:
        """Create every index (mappings/*.py) and its aliases that does not exist yet."""
        from lantern import indices
        from lantern.search_client import make_client

        settings = get_settings()
        client = make_client(settings, "ingest")
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

    @index_app.command("migrate")
    def index_migrate(
        name: str | None = typer.Argument(None, help="Logical index name (default: all)"),
    ) -> None:
        """Rebuild an index from its current definition, reindex, swap aliases, drop the old one."""
        from lantern import indices
        from lantern.search_client import make_client

        settings = get_settings()
        client = make_client(settings, "ingest")
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
            from alerts.percolation import alert_hooks

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

    @app.command("demo-data")
    def demo_data(
        out: Path = typer.Option(..., "--out", help="Output directory"),
        records: int = typer.Option(5000, "--records", min=1, help="Number of records"),
        seed: int = typer.Option(42, "--seed", help="Random seed (same seed, same files)"),
    ) -> None:
        """Write linked synthetic feed files for all four record types."""
        from demo.generator import generate

        out.mkdir(parents=True, exist_ok=True)
        counts = generate(out, records, seed)
        table = Table("file", "records")
        for name, n in counts.items():
            table.add_row(name, str(n))
        Console().print(table)
