"""``lantern index ...``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from opensearchpy import OpenSearch
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from alerts.percolation import alert_hooks, sync_percolator
from lantern.settings import Settings, get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from indexer.pipeline import Hook
    from indexer.service_accounts import ServiceAccounts

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
        created = indices.ensure_all(client, settings)
        for name, module in indices.discover().items():
            physical = created[name]
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
        outdated: bool = typer.Option(
            False, "--outdated", help="Only the indices built from an older version of their definition"
        ),
    ) -> None:
        """Rebuild an index from its current definition, reindex, swap aliases, drop the old one.

        After upgrading Lantern, ``--outdated`` migrates exactly the indices whose definition
        changed (and lists them), rather than every index (the records too) or one at a time."""
        from lantern import indices
        from lantern.search_client import make_client

        settings = get_settings()
        client = make_client(settings, "admin")
        modules = indices.discover()
        if name is not None and name not in modules:
            console.print(f"[red]error:[/red] unknown index {name!r}; known: {', '.join(modules)}")
            raise typer.Exit(2)
        if name is not None and outdated:
            console.print("[red]error:[/red] give an index name or --outdated, not both")
            raise typer.Exit(2)
        if outdated:
            targets = {m.NAME: m for m in indices.outdated(client, settings)}
            console.print(f"outdated: {', '.join(targets) or 'none, nothing to do'}")
        else:
            targets = {name: modules[name]} if name else modules
        for module in targets.values():
            try:
                indices.migrate(client, settings, module, on_step=lambda m: console.print(m))
            except indices.MigrationError as exc:
                console.print(f"[red]migration failed:[/red] {escape(str(exc))}")
                raise typer.Exit(1) from exc
        _sync_alerts(client, settings)

    @index_app.command("load")
    def index_load(
        paths: list[Path] = typer.Argument(None, help="NDJSON (.ndjson/.jsonl) or CSV feed files"),
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
        retry_rejects: Path | None = typer.Option(
            None,
            "--retry-rejects",
            help="Re-read the rows of this rejects file, load those that now pass, report which still fail",
        ),
        no_persons: bool = typer.Option(
            False,
            "--no-persons",
            help="Do not resolve people to nominals (run `lantern persons rebuild` later)",
        ),
    ) -> None:
        """Validate, enrich and bulk-index feed files; bad rows go to the rejects file."""
        from indexer.loader import run_load_command
        from lantern.profile import ProfileError, profile_for

        settings = get_settings()
        if bool(paths) == bool(retry_rejects):
            console.print("[red]error:[/red] give feed files, or --retry-rejects FILE (not both)")
            raise typer.Exit(2)
        try:
            profile_for(settings.force_profile)
        except ProfileError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        hooks: list[Hook] = []
        if not no_alerts:
            # Saved-query alerts: each acknowledged batch is percolated (alerts.percolation).
            hooks = list(alert_hooks(settings))
        if retry_rejects is not None:
            code = _retry(
                retry_rejects,
                settings,
                mapping,
                rejects,
                allow_rejects,
                not no_entities,
                hooks,
                not no_persons,
            )
        else:
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
                resolve_people=not no_persons and not rebuild,
            )
        for hook in hooks:
            flush = getattr(hook, "flush", None)
            if callable(flush) and code != 130:  # everything it holds was acknowledged
                flush()
            summary = getattr(hook, "summary", None)
            if callable(summary):
                console.print(summary())
        raise typer.Exit(code)

    @index_app.command("delete")
    def index_delete(
        source_system: str = typer.Argument(..., help="The source system's name, as in its feeds"),
        source_id: str = typer.Argument(..., help="The record's id in that system"),
        reason: str = typer.Option(..., "--reason", help="expunged | disposal | duplicate"),
    ) -> None:
        """Delete a record at source: it leaves search and alerts, and a tombstone keeps any
        later reload of an old export from bringing it back."""
        import getpass

        from indexer.deletion import DeleteReasonError, delete_record
        from lantern.search_client import make_client

        settings = get_settings()
        client = make_client(settings, "ingest")
        try:
            result = delete_record(
                client, settings, source_system, source_id, reason=reason, by=f"cli:{getpass.getuser()}"
            )
        except DeleteReasonError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from exc
        state = "deleted" if result.found else "not in the index (tombstone written)"
        if result.already_deleted:
            state += "; it was already tombstoned"
        console.print(
            f"{source_system}/{source_id} ({result.record_id}): {state}", highlight=False, markup=False
        )

    ingest_app = typer.Typer(no_args_is_help=True, help="The ingest API for source systems")
    app.add_typer(ingest_app, name="ingest")

    @ingest_app.command("serve")
    def ingest_serve(
        host: str = typer.Option("127.0.0.1", "--host"),
        port: int = typer.Option(8001, "--port"),
        workers: int = typer.Option(1, "--workers", min=1),
    ) -> None:
        """Serve the ingest API on its own (e.g. on an interface only source systems reach).

        ``lantern serve`` serves it too, beside the portal. OpenAPI: /api/ingest/openapi.json.
        """
        import uvicorn

        uvicorn.run(
            "indexer.cli:ingest_app_factory",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            server_header=False,
        )

    accounts_app = typer.Typer(
        no_args_is_help=True, help="Service accounts of the ingest API (one per source system)"
    )
    app.add_typer(accounts_app, name="ingest-account")

    def _accounts() -> ServiceAccounts:
        from indexer.service_accounts import ServiceAccounts
        from lantern.search_client import make_client

        settings = get_settings()
        # Account administration is the admin's: the indexer's OpenSearch user (which the
        # ingest API runs as) may only read accounts to verify tokens.
        return ServiceAccounts(make_client(settings, "admin"), settings)

    @accounts_app.command("create")
    def account_create(
        source_system: str = typer.Argument(..., help="The source system's name, as in its records"),
        types: str = typer.Option(..., "--types", help="Record types it may write, comma-separated"),
        valid_days: int = typer.Option(365, "--valid-days", min=1, help="Days until the token expires"),
    ) -> None:
        """Create the account of a source system and print its token (shown only now)."""
        from indexer.service_accounts import AccountError

        try:
            acc, token = _accounts().create(
                source_system, [t.strip() for t in types.split(",") if t.strip()], valid_days=valid_days
            )
        except AccountError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        console.print(
            f"account {acc.account} for {acc.source_system}: {', '.join(acc.record_types)}; "
            f"expires {acc.expires_at:%Y-%m-%d}. Its token (store it now, it is not shown again):",
            highlight=False,
        )
        typer.echo(token)

    @accounts_app.command("rotate")
    def account_rotate(
        account: str = typer.Argument(..., help="Account name (lantern ingest-account list)"),
        valid_days: int | None = typer.Option(None, "--valid-days", min=1, help="New expiry, days from now"),
    ) -> None:
        """Issue a new token; the old one stops working at once."""
        from indexer.service_accounts import AccountError

        try:
            acc, token = _accounts().rotate(account, valid_days=valid_days)
        except AccountError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        console.print(f"new token for {acc.account} (expires {acc.expires_at:%Y-%m-%d}):", highlight=False)
        typer.echo(token)

    @accounts_app.command("disable")
    def account_disable(
        account: str = typer.Argument(...),
        enable: bool = typer.Option(False, "--enable", help="Enable it again instead"),
    ) -> None:
        """Refuse (or accept again) the account's token."""
        from indexer.service_accounts import AccountError

        try:
            acc = _accounts().update(account, disabled=not enable)
        except AccountError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        console.print(f"{acc.account}: {'disabled' if acc.disabled else 'enabled'}")

    @accounts_app.command("set-types")
    def account_types(
        account: str = typer.Argument(...),
        types: str = typer.Option(..., "--types", help="Record types it may write, comma-separated"),
    ) -> None:
        """Change the record types the account may write."""
        from indexer.service_accounts import AccountError

        try:
            acc = _accounts().update(account, record_types=[t.strip() for t in types.split(",") if t.strip()])
        except AccountError as exc:
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            raise typer.Exit(2) from exc
        console.print(f"{acc.account}: {', '.join(acc.record_types)}")

    @accounts_app.command("list")
    def account_list() -> None:
        """Every service account (never the tokens)."""
        table = Table("account", "source system", "record types", "token id", "expires", "rotated", "state")
        for acc in _accounts().all():
            state = "disabled" if acc.disabled else ("expired" if acc.expired() else "active")
            table.add_row(
                acc.account,
                acc.source_system,
                ", ".join(acc.record_types),
                acc.token_id,
                f"{acc.expires_at:%Y-%m-%d}",
                f"{acc.rotated_at:%Y-%m-%d}" if acc.rotated_at else "-",
                state,
            )
        Console().print(table)


def _retry(
    rejects_file: Path,
    settings: Settings,
    mapping: Path | None,
    out: Path | None,
    allow_rejects: bool,
    extract_entities: bool,
    hooks: list[Hook],
    resolve_people: bool = True,
) -> int:
    from indexer.csv_mapping import MappingError
    from indexer.retry import RejectsFileError, print_retry_report, retry_rejects
    from lantern.search_client import make_client

    client = make_client(settings, "ingest")
    people_resolver = None
    if resolve_people:
        from indexer.nominals import ingest_resolver
        from lantern.indices import OutdatedIndexError

        try:
            people_resolver = ingest_resolver(client, settings)
        except OutdatedIndexError as exc:  # before anything is loaded
            console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
            return 2
    try:
        report = retry_rejects(
            rejects_file,
            settings,
            client,
            mapping=mapping,
            out=out,
            extract_entities=extract_entities,
            hooks=hooks,
            people_resolver=people_resolver,
        )
    except (RejectsFileError, MappingError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2
    print_retry_report(report, console)
    if report.passed < len(report.rows) and not allow_rejects:
        return 1
    return 0


def ingest_app_factory() -> FastAPI:
    """The ingest API on its own (``lantern ingest serve``): audit trail and alert hooks."""
    from indexer.api import create_ingest_app
    from lantern.audit import AuditLog
    from lantern.search_client import make_client

    settings = get_settings()
    client = make_client(settings, "ingest")
    return create_ingest_app(settings, client, AuditLog(client, settings))
