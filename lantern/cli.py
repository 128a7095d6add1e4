"""The ``lantern`` command line: the composition root.

Sub-command groups live next to the code they drive (``indexer.cli``, ``portal.cli``) and
are attached here; this module is the one place allowed to import upward (see the
import-linter contracts in pyproject.toml). ``demo-data`` is here because nothing else may
import the ``demo`` package.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from lantern import embedded
from lantern.errors import LauncherError
from lantern.settings import get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Lantern records portal")
opensearch_app = typer.Typer(no_args_is_help=True, help="The embedded OpenSearch node(s)")
app.add_typer(opensearch_app, name="opensearch")
console = Console(stderr=True)


@opensearch_app.command("start")
def opensearch_start(
    nodes: int = typer.Option(1, "--nodes", min=1, max=5, help="JVMs forming one cluster"),
    port: int | None = typer.Option(None, "--port", help="HTTP port of the first node"),
) -> None:
    """Build the launcher if needed, start the node(s), wait for yellow health."""
    settings = get_settings()
    if port is not None:
        settings = settings.model_copy(update={"embedded_port": port})
    try:
        with console.status("starting OpenSearch..."):
            statuses = embedded.start(settings, nodes=nodes)
    except LauncherError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    _print_status(statuses)


@opensearch_app.command("stop")
def opensearch_stop() -> None:
    """Stop the embedded node(s): SIGTERM, then SIGKILL after a grace period."""
    stopped = embedded.stop(get_settings())
    console.print(f"stopped {stopped} node(s)" if stopped else "not running")


@opensearch_app.command("status")
def opensearch_status() -> None:
    """Say whether the embedded node(s) run, with version, pid and cluster health."""
    settings = get_settings()
    statuses = embedded.status(settings)
    _print_status(statuses)
    health = embedded.cluster_health(settings) if any(s.alive for s in statuses) else None
    if health:
        console.print(
            f"cluster {health.get('cluster_name')}: {health.get('status')}, "
            f"{health.get('number_of_nodes')} node(s), "
            f"{health.get('active_shards')} active shard(s)"
        )
    if not any(s.alive for s in statuses):
        raise typer.Exit(3)


def _print_status(statuses: list[embedded.NodeStatus]) -> None:
    table = Table("node", "state", "pid", "http", "version", "home")
    for s in statuses:
        version = f"{s.distribution} {s.version}" if s.version else "-"
        table.add_row(
            s.spec.name,
            "[green]running[/green]" if s.alive else "[red]stopped[/red]",
            str(s.pid or "-"),
            s.spec.url,
            version,
            str(s.spec.home),
        )
    Console().print(table)


@app.command("demo-data")
def demo_data(
    out: Path = typer.Option(..., "--out", help="Output directory"),
    records: int = typer.Option(5000, "--records", min=1, help="Number of records"),
    seed: int = typer.Option(42, "--seed", help="Random seed (same seed, same files)"),
) -> None:
    """Write linked synthetic feed files for all four record types (needs the dev extra)."""
    try:
        # Imported here: the generator needs Faker, a dev extra the product does not install.
        from demo.generator import generate
    except ModuleNotFoundError as exc:
        if exc.name != "faker":
            raise
        console.print(
            "[red]error:[/red] the demo-data generator needs the dev extra (Faker): "
            "pip install -e '.[dev]' (make install does this)"
        )
        raise typer.Exit(2) from exc
    out.mkdir(parents=True, exist_ok=True)
    counts = generate(out, records, seed)
    table = Table("file", "records")
    for name, n in counts.items():
        table.add_row(name, str(n))
    Console().print(table)


@app.command("backup")
def backup_cmd(
    name: str | None = typer.Option(None, "--name", help="snapshot name (default: prefix + time)"),
) -> None:
    """Snapshot every index Lantern owns into the snapshot repository (see README, Operations)."""
    from lantern import backup
    from lantern.audit import AuditLog
    from lantern.search_client import make_client

    settings = get_settings()
    client = make_client(settings, "ingest")
    try:
        out = backup.backup(client, settings, name)
    except backup.BackupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    AuditLog(client, settings).record(
        None, "system.backup", details={"snapshot": out.snapshot, "counts": out.counts}
    )
    for alias, n in out.counts.items():
        console.print(f"{alias}: {n:,} document(s)")
    console.print(f"snapshot {out.snapshot} taken in {out.seconds:.1f}s (audit head {out.audit_head})")


@app.command("restore")
def restore_cmd(
    snapshot: str | None = typer.Argument(None, help="snapshot name (default: the latest of this prefix)"),
    replace: bool = typer.Option(False, "--replace", help="delete live Lantern indices first"),
) -> None:
    """Restore a snapshot, check its counts, reconcile the audit anchor; then run `lantern audit verify`."""
    from lantern import backup
    from lantern.audit import AuditLog
    from lantern.search_client import make_client

    settings = get_settings()
    client = make_client(settings, "ingest")
    try:
        out = backup.restore(client, settings, snapshot, replace=replace)
    except backup.BackupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    details: dict[str, object] = {
        "snapshot": out.snapshot,
        "counts": out.counts,
        "audit_head": out.audit_head,
    }
    if out.lost_audit_events:
        details["lost_audit_events"] = out.lost_audit_events
        details["anchor_archive"] = str(out.anchor_archive)
    AuditLog(client, settings).record(None, "system.restore", details=details)
    for alias, n in out.counts.items():
        console.print(f"{alias}: {n:,} document(s)")
    console.print(f"restored {out.snapshot} in {out.seconds:.1f}s; audit chain head {out.audit_head}")
    if out.lost_audit_events:
        console.print(
            f"[yellow]{out.lost_audit_events} audit event(s) written after the backup are gone; "
            f"the previous anchor is kept at {out.anchor_archive}[/yellow]"
        )


def _register_optional_groups() -> None:
    """Attach the command groups of the top-layer packages."""
    from indexer.cli import register as register_indexer
    from portal.cli import register as register_portal

    register_indexer(app)
    register_portal(app)


def main() -> None:
    _register_optional_groups()
    app()
